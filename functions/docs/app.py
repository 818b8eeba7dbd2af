"""Serves the OpenAPI document of the whole API and a Swagger UI (assets inlined: works offline)."""

from aws_lambda_powertools.event_handler import Response, content_types

from casework.http.analytics_routes import analytics_routes
from casework.http.api import API_TITLE, API_VERSION, describe_api, lambda_handler, make_app
from casework.http.booking_routes import booking_routes
from casework.http.customer_routes import customer_routes
from casework.http.directory_routes import directory_routes
from casework.http.erp_routes import erp_read_routes
from casework.http.import_routes import import_routes
from casework.http.routes import (
    admin_routes,
    approval_routes,
    change_routes,
    read_routes,
    register_routes,
)

app = make_app(
    register_routes(),
    read_routes(),
    change_routes(),
    approval_routes(),
    admin_routes(),
    customer_routes(),
    import_routes(),
)
app.include_router(erp_read_routes())
app.include_router(directory_routes())
app.include_router(booking_routes())
app.include_router(analytics_routes())
describe_api(app)
app.enable_swagger(path="/docs", title=API_TITLE, version=API_VERSION)


@app.get("/openapi.json", include_in_schema=False)
def openapi():
    return Response(200, content_types.APPLICATION_JSON, app.get_openapi_json_schema())


handler = lambda_handler(app)
