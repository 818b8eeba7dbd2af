"""Customers (accounts), contacts and customer profiling: create, find, view, edit, move, delete."""

from casework.http.api import lambda_handler, make_app
from casework.http.customer_routes import customer_routes

app = make_app(customer_routes())
handler = lambda_handler(app)
