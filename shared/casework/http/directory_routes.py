"""The directory's Admin API (served by functions/admin): users, business units, area routing rules and
their audit trail. Managers (Admin, Sales Manager, Team Lead) read; only an Admin changes. A PUT body is
the record's own fields plus an optional ``expected_version`` (the version read; 0 for a new record),
checked whole by casework.domain.directory_admin: 422 INVALID_DIRECTORY_ENTRY lists every problem
(``details.problems``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from casework.http.api import caller
from casework.http.responses import Cursor, Limit, ok, page
from casework.http.wiring import directory_admin

Fields = Annotated[
    dict[str, Any],
    Body(description="The record's fields (README: The directory) and optionally expected_version."),
]


def directory_routes() -> Router:
    router = Router()
    tags = ["directory"]

    @router.get("/directory/users", tags=tags, summary="A business unit's active users", responses=ok())
    def list_users(unit: Annotated[str, Query(min_length=1, max_length=40)]) -> dict:
        return page(directory_admin().users_of_unit(caller(router), unit))

    @router.get("/directory/users/<username>", tags=tags, summary="A user", responses=ok())
    def get_user(username: str) -> dict:  # path values arrive percent-encoded (rawPath)
        return directory_admin().get(caller(router), "user", unquote(username))

    @router.put(
        "/directory/users/<username>",
        tags=tags,
        summary="Create or change a user (Admin): roles, business units, default unit, active",
        responses=ok(),
    )
    def put_user(username: str, body: Fields) -> dict:
        return directory_admin().put_user(caller(router), unquote(username), body)

    @router.get("/directory/units", tags=tags, summary="Every business unit", responses=ok())
    def list_units() -> dict:
        return page(directory_admin().units(caller(router)))

    @router.get("/directory/units/<code>", tags=tags, summary="A business unit", responses=ok())
    def get_unit(code: str) -> dict:
        return directory_admin().get(caller(router), "unit", unquote(code))

    @router.put(
        "/directory/units/<code>",
        tags=tags,
        summary="Create or change a business unit (Admin): name, responsibles, approval rules",
        responses=ok(),
    )
    def put_unit(code: str, body: Fields) -> dict:
        return directory_admin().put_unit(caller(router), unquote(code), body)

    @router.get(
        "/directory/areas/<area>", tags=tags, summary="A geographic area's routing rule", responses=ok()
    )
    def get_area(area: str) -> dict:
        return directory_admin().get(caller(router), "area", unquote(area))

    @router.put(
        "/directory/areas/<area>",
        tags=tags,
        summary="Route a geographic area's service requests to a business unit (Admin)",
        responses=ok(),
    )
    def put_area(area: str, body: Fields) -> dict:
        return directory_admin().put_area(caller(router), unquote(area), body)

    @router.get(
        "/directory/audit",
        tags=tags,
        summary="Who changed a directory record, when, before and after (newest first)",
        responses=ok(),
    )
    def audit(
        kind: Literal["user", "unit", "area"],
        key: Annotated[str, Query(min_length=1, max_length=128)],
        cursor: Cursor = None,
        limit: Limit = 25,
    ) -> dict:
        return page(directory_admin().audit(caller(router), kind, key, cursor, limit))

    return router
