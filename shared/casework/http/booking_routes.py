"""Resources, availability and bookings over the API (served by functions/resources)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, ConfigDict, Field

from casework.http.api import caller
from casework.http.responses import Cursor, Limit, ok, page
from casework.http.wiring import booking_service

ResourceBody = Annotated[
    dict[str, Any],
    Body(
        description="id, name, kind (person|vehicle|equipment), unit, services (product codes), owner (who "
        "confirms its bookings), timezone (IANA), weekly_hours {mon: [{from, to}], ...}, exceptions "
        "[{date, hours}]; a PUT adds expected_version"
    ),
]
Code = Annotated[str, Query(min_length=1, max_length=64)]
Instant = Annotated[str, Query(min_length=1, max_length=40, description="ISO 8601 with offset, e.g. ...Z")]


class BookResource(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    resource_id: str = Field(min_length=1, max_length=64)
    service: str = Field(min_length=1, max_length=64, description="One of the activity type's services")
    starts: str = Field(alias="from", max_length=40, description="UTC instant on the 30-minute mark")
    ends: str = Field(alias="to", max_length=40, description="UTC instant on the 30-minute mark")


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")


def booking_routes() -> Router:
    router = Router()

    @router.post(
        "/resources", status_code=201, tags=["resources"], summary="Add a resource (Admin)", responses=ok(201)
    )
    def create_resource(body: ResourceBody) -> dict:
        return booking_service().create_resource(caller(router), body)

    @router.put("/resources/<resource_id>", tags=["resources"], summary="Replace a resource (Admin)")
    def replace_resource(resource_id: str, body: ResourceBody) -> dict:
        expected = body.pop("expected_version", None) if isinstance(body, dict) else None
        if not isinstance(expected, int) or isinstance(expected, bool):
            from casework.domain.errors import ValidationFailed

            raise ValidationFailed(
                "MISSING_FIELDS",
                "Name the version you read (expected_version).",
                {"fields": ["expected_version"]},
            )
        return booking_service().replace_resource(caller(router), resource_id, body, expected)

    @router.get(
        "/resources",
        tags=["resources"],
        summary="The resources of a unit providing a service",
        responses=ok(),
    )
    def list_resources(unit: Code, service: Code, cursor: Cursor = None, limit: Limit = 50) -> dict:
        return page(
            booking_service().list_resources(
                caller(router), unit=unit, service=service, cursor=cursor, limit=limit
            )
        )

    @router.get(
        "/resources/availability",
        tags=["resources"],
        summary="Who of a unit provides a service, and when they are free in a window (at most 7 days)",
        responses=ok(),
    )
    def availability(
        service: Code,
        unit: Code,
        starts: Annotated[str, Query(alias="from", min_length=1, max_length=40)],
        ends: Annotated[str, Query(alias="to", min_length=1, max_length=40)],
        minutes: Annotated[int, Query(ge=30, le=720, description="shortest free stretch wanted")] = 30,
        cursor: Cursor = None,
    ) -> dict:
        return booking_service().availability(
            caller(router),
            service=service,
            unit=unit,
            starts=starts,
            ends=ends,
            minutes=minutes,
            cursor=cursor,
        )

    # after /resources/availability: Powertools tries routes in order
    @router.get("/resources/<resource_id>", tags=["resources"], summary="A resource", responses=ok())
    def get_resource(resource_id: str) -> dict:
        return booking_service().get_resource(caller(router), resource_id)

    @router.post(
        "/cases/<case_id>/bookings",
        status_code=201,
        tags=["resources"],
        summary="Book a resource for a slot on one of the activity's services",
        responses=ok(201),
    )
    def book(case_id: str, body: BookResource) -> dict:
        return booking_service().book(
            caller(router),
            case_id,
            resource_id=body.resource_id,
            service=body.service,
            starts=body.starts,
            ends=body.ends,
        )

    @router.get("/bookings/<booking_id>", tags=["resources"], summary="A booking", responses=ok())
    def get_booking(booking_id: str) -> dict:
        return booking_service().get_booking(caller(router), booking_id)

    @router.post(
        "/bookings/<booking_id>/confirm", tags=["resources"], summary="Confirm (owner)", responses=ok()
    )
    def confirm(booking_id: str, body: Decision) -> dict:
        return booking_service().decide(caller(router), booking_id, confirm=True)

    @router.post(
        "/bookings/<booking_id>/decline", tags=["resources"], summary="Decline (owner)", responses=ok()
    )
    def decline(booking_id: str, body: Decision) -> dict:
        return booking_service().decide(caller(router), booking_id, confirm=False)

    @router.post(
        "/bookings/<booking_id>/cancel",
        tags=["resources"],
        summary="Cancel (the people on the activity, the owner): the time is free again",
        responses=ok(),
    )
    def cancel(booking_id: str, body: Decision) -> dict:
        return booking_service().cancel(caller(router), booking_id)

    return router
