"""Serves the OpenAPI document of the whole API and a Swagger UI (assets inlined: works offline).

The document is Powertools' OpenAPIMerge of each API function's own resolver: the routers it serves, as
template.yaml routes them (a test checks that every template route is in it). OpenAPIMerge could discover
the functions' files, but they are not in this function's package; the routers are, in the shared layer.
The resolver itself is built by the first request: the OpenAPI models, the Swagger UI and every router
cost import time that serving the two pages needs once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response, content_types

from casework.http.api import API_TITLE, API_VERSION, lambda_handler, make_app, openapi_metadata

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import Router
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge


def routers_by_function() -> dict[str, tuple[Router, ...]]:
    """What each API function serves (the same routers its functions/<name>/app.py includes)."""
    from casework.http.analytics_routes import analytics_routes
    from casework.http.approval_routes import approval_routes
    from casework.http.booking_routes import booking_routes
    from casework.http.config_routes import admin_routes
    from casework.http.customer_routes import customer_routes
    from casework.http.directory_routes import directory_routes
    from casework.http.erp_routes import erp_read_routes
    from casework.http.import_routes import import_routes
    from casework.http.read_routes import read_routes
    from casework.http.routes import (
        change_routes,
        register_routes,
    )
    from casework.http.rule_routes import rule_routes

    return {
        "RegisterFunction": (register_routes(),),
        "ReadFunction": (read_routes(), erp_read_routes()),
        "TransitionFunction": (change_routes(),),
        "ApproveFunction": (approval_routes(),),
        "AdminFunction": (admin_routes(), directory_routes(), rule_routes()),
        "CustomersFunction": (customer_routes(),),
        "ImportsApiFunction": (import_routes(),),
        "ResourcesFunction": (booking_routes(),),
        "AnalyticsFunction": (analytics_routes(),),
    }


@cache
def merged() -> OpenAPIMerge:
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

    # on_conflict="error": two functions serving one method and path would be a template mistake
    merge = OpenAPIMerge(**openapi_metadata(), on_conflict="error")
    for routers in routers_by_function().values():
        merge.add_schema(make_app(*routers).get_openapi_schema().model_dump(by_alias=True, exclude_none=True))
    return merge


def openapi_document() -> str:
    """The merged document as GET /openapi.json serves it (also what a checked-in copy is compared with)."""
    return merged().get_openapi_json_schema()


@cache
def docs_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The resolver, built by the first request: enable_swagger imports the OpenAPI models."""
    app = make_app()
    app.enable_swagger(path="/docs", title=API_TITLE, version=API_VERSION)
    # enable_swagger's page shows the merged document when the resolver holds one where Powertools'
    # configure_openapi_merge puts it (that method only takes files to discover).
    app._openapi_merge = merged()

    @app.get("/openapi.json", include_in_schema=False)
    def openapi():  # no return annotation: validation would model the Response
        return Response(200, content_types.APPLICATION_JSON, openapi_document())

    return lambda_handler(app)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return docs_handler()(event, context)
