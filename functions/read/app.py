"""Reads: cases, lists, history, notes and related lists. GetItem or Query only."""

from casework.http.api import lambda_handler, make_app
from casework.http.routes import read_routes

app = make_app(read_routes())
handler = lambda_handler(app)
