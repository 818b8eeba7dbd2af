"""The care modules' configuration: read it, and (Admin) replace it with a new version."""

from casework.http.api import lambda_handler, make_app
from casework.http.routes import admin_routes

app = make_app(admin_routes())
handler = lambda_handler(app)
