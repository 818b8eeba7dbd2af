"""Approval decisions: the API and the email-link pages."""

from casework.http.api import lambda_handler, make_app
from casework.http.approval_routes import approval_routes

app = make_app(approval_routes())
handler = lambda_handler(app)
