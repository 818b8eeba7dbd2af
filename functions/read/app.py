"""Reads: cases, lists, history, notes and related lists; products and orders from the ERP. GetItem or Query
only."""

from casework.http.api import lambda_handler, make_app
from casework.http.erp_routes import erp_read_routes
from casework.http.read_routes import read_routes

app = make_app(read_routes())
app.include_router(erp_read_routes())
handler = lambda_handler(app)
