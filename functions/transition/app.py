"""Status changes, edits, assignment, related lists and notes."""

from casework.http.api import lambda_handler, make_app
from casework.http.routes import change_routes

app = make_app(change_routes())
handler = lambda_handler(app)
