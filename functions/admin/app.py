"""Administration: the care modules' configuration, and the directory (users, business units, area routing
rules and their audit trail). Read by managers; changed by an Admin, each change versioned and audited."""

from casework.http.api import lambda_handler, make_app
from casework.http.config_routes import admin_routes
from casework.http.directory_routes import directory_routes
from casework.http.rule_routes import rule_routes

app = make_app(admin_routes(), directory_routes(), rule_routes())
handler = lambda_handler(app)
