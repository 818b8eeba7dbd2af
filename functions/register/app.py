"""Registers cases (POST /cases)."""

from casework.http.api import lambda_handler, make_app
from casework.http.routes import register_routes

app = make_app(register_routes())
handler = lambda_handler(app)
