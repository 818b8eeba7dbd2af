"""Resource booking over the API handlers on moto: an Admin's resources and calendars, availability by Query,
bookings that hold a resource's time (never twice: a real race of threads), the owner's confirmation, and an
activity that cannot start without the resource its type requires."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key

from casework.domain.errors import Conflict
from casework.http.wiring import booking_service
from tests.functional.test_api_handlers import Api, ok, refused

FRED = {
    "id": "TECH-FRED",
    "name": "Fred (field technician)",
    "kind": "person",
    "unit": "FIELD",
    "services": ["SVC-VISIT", "SVC-REPAIR"],
    "owner": "fred",
    "timezone": "UTC",
    "weekly_hours": {
        d: [{"from": "08:00", "to": "12:00"}, {"from": "13:00", "to": "17:00"}]
        for d in ("mon", "tue", "wed", "thu", "fri")
    },
}


def monday() -> date:
    """A Monday at least a week ahead: bookings cannot start in the past."""
    today = datetime.now(UTC).date()
    return today + timedelta(days=7 + (7 - today.weekday()) % 7)


def at(day: date, hhmm: str) -> str:
    return f"{day.isoformat()}T{hhmm}:00Z"


def add_resource(api: Api, **overrides: Any) -> dict[str, Any]:
    reply = api("POST /resources", user="admin", body={**FRED, **overrides})
    assert reply.status == 201, reply.text
    return reply.json


def visit(api: Api) -> dict[str, Any]:
    sr = api(
        "POST /cases",
        user="dave",
        body={
            "type": "service_request",
            "subtype": "FAULTY_ITEM",
            "title": "Router",
            "contact_id": "CON-2001",
            "assignee": "dave",
        },
    )
    assert sr.status == 201, sr.text
    reply = api(
        "POST /cases/{case_id}/activities",
        {"case_id": sr.json["id"]},
        user="dave",
        body={"subtype": "VISIT", "title": "Replace the router", "assignee": "fred", "gbu": "FIELD"},
    )
    assert reply.status == 201, reply.text
    return reply.json


def book(api: Api, activity_id: str, start: str, end: str, user: str = "dave", **body: Any) -> Any:
    payload = {"resource_id": "TECH-FRED", "service": "SVC-VISIT", "from": start, "to": end, **body}
    return api("POST /cases/{case_id}/bookings", {"case_id": activity_id}, user=user, body=payload)


def slots(table: str) -> list[str]:
    items = (
        boto3.resource("dynamodb")
        .Table(table)
        .query(
            KeyConditionExpression=Key("pk").eq("RESOURCE#TECH-FRED") & Key("sk").begins_with("SLOT#"),
            ConsistentRead=True,
        )["Items"]
    )
    return [i["sk"] for i in items]


def require_resources(api: Api, *, confirmation: bool) -> None:
    """An Admin makes site visits need a booked (and confirmed) technician."""
    current = ok(api("GET /config/{module}", {"module": "activity"}, user="admin"))
    config = current["config"]
    for t in config["types"]:
        if t["code"] == "VISIT":
            t["services"][0] |= {"resource_required": True, "resource_confirmation": confirmation}
    saved = api(
        "PUT /config/{module}",
        {"module": "activity"},
        user="admin",
        body={"config": config, "expected_version": current["version"]},
    )
    assert saved.status == 200, saved.text


# --- resources ----------------------------------------------------------------------------------------------


def test_an_admin_adds_and_replaces_resources_and_bad_ones_are_refused_with_every_problem(api: Api) -> None:
    refused(api("POST /resources", user="tina", body=FRED), 403, "NOT_ALLOWED")
    bad = {
        **FRED,
        "unit": "NOWHERE",
        "services": ["SVC-NOPE"],
        "timezone": "Mars/Olympus",
        "weekly_hours": {"mon": [{"from": "08:10", "to": "12:00"}]},
    }
    problems = refused(api("POST /resources", user="admin", body=bad), 422, "INVALID_RESOURCE")["details"]
    locations = {p["location"] for p in problems["problems"]}
    assert {"timezone", "unit", "services.0"} <= locations  # the shape's problems and the references' at once
    assert any(loc.startswith("weekly_hours.mon") for loc in locations)
    bad_refs = refused(
        api("POST /resources", user="admin", body={**FRED, "unit": "NOWHERE", "services": ["SVC-NOPE"]}),
        422,
        "INVALID_RESOURCE",
    )["details"]["problems"]
    assert {p["location"] for p in bad_refs} == {"unit", "services.0"}

    created = add_resource(api)
    assert created["version"] == 1
    refused(api("POST /resources", user="admin", body=FRED), 409, "RESOURCE_EXISTS")
    listed = ok(api("GET /resources", query={"unit": "FIELD", "service": "SVC-REPAIR"}, user="dave"))
    assert [r["id"] for r in listed["items"]] == ["TECH-FRED"]

    # no longer repairing: gone from that list, still in the other
    replaced = api(
        "PUT /resources/{resource_id}",
        {"resource_id": "TECH-FRED"},
        user="admin",
        body={**FRED, "services": ["SVC-VISIT"], "expected_version": 1},
    )
    assert replaced.status == 200 and replaced.json["version"] == 2, replaced.text
    assert ok(api("GET /resources", query={"unit": "FIELD", "service": "SVC-REPAIR"}))["items"] == []
    assert len(ok(api("GET /resources", query={"unit": "FIELD", "service": "SVC-VISIT"}))["items"]) == 1
    stale = api(
        "PUT /resources/{resource_id}",
        {"resource_id": "TECH-FRED"},
        user="admin",
        body={**FRED, "expected_version": 1},
    )
    refused(stale, 409, "STALE_VERSION")
    refused(api("GET /resources/{resource_id}", {"resource_id": "NOBODY"}), 404, "RESOURCE_NOT_FOUND")


# --- availability and booking -------------------------------------------------------------------------------


def test_availability_shows_working_time_minus_bookings_and_cancel_frees_it(api: Api, stack: Any) -> None:
    add_resource(api)
    day = monday()
    activity = visit(api)
    booked = book(api, activity["id"], at(day, "09:00"), at(day, "10:30"))
    assert booked.status == 201, booked.text
    booking = booked.json
    assert booking["status"] == "confirmed"  # site visits need no confirmation (the shipped configuration)
    assert slots(stack.table_name) == [f"SLOT#{at(day, t)}" for t in ("09:00", "09:30", "10:00")]

    # the activity keeps it, in its fields and its history
    after = api.get(activity["id"], user="dave")
    assert after["fields"]["resource_bookings"][0]["id"] == booking["id"]
    history = ok(api("GET /cases/{case_id}/history", {"case_id": activity["id"]}, user="dave"))["items"]
    assert history[-1]["action"] == "resource_confirmed"

    query = {"service": "SVC-VISIT", "unit": "FIELD", "from": at(day, "08:00"), "to": at(day, "18:00")}
    free = ok(api("GET /resources/availability", query=query, user="dave"))["items"]
    assert free[0]["resource"]["id"] == "TECH-FRED"
    assert free[0]["free"] == [
        {"from": at(day, "08:00"), "to": at(day, "09:00")},
        {"from": at(day, "10:30"), "to": at(day, "12:00")},
        {"from": at(day, "13:00"), "to": at(day, "17:00")},
    ]
    long_only = ok(api("GET /resources/availability", query={**query, "minutes": "120"}, user="dave"))
    assert long_only["items"][0]["free"] == [{"from": at(day, "13:00"), "to": at(day, "17:00")}]

    cancelled = api("POST /bookings/{booking_id}/cancel", {"booking_id": booking["id"]}, user="dave", body={})
    assert cancelled.status == 200 and cancelled.json["status"] == "cancelled", cancelled.text
    assert slots(stack.table_name) == []
    again = book(api, activity["id"], at(day, "09:00"), at(day, "10:30"))
    assert again.status == 201, again.text
    refused(
        api("POST /bookings/{booking_id}/cancel", {"booking_id": booking["id"]}, user="dave", body={}),
        409,
        "BOOKING_NOT_ACTIVE",
    )


def test_bad_bookings_are_refused_and_write_nothing(api: Api, stack: Any) -> None:
    add_resource(api)
    day = monday()
    activity = visit(api)
    cid = activity["id"]
    cases = [
        (book(api, cid, at(day, "09:00"), at(day, "10:00"), resource_id="NOBODY"), 404, "RESOURCE_NOT_FOUND"),
        (book(api, cid, at(day, "09:00"), at(day, "10:00"), service="SVC-INSTALL"), 422, "UNKNOWN_SERVICE"),
        (book(api, cid, at(day, "10:00"), at(day, "09:00")), 422, "INVALID_WINDOW"),  # reversed
        (book(api, cid, at(day, "09:10"), at(day, "10:00")), 422, "INVALID_WINDOW"),  # off the granule
        (book(api, cid, "monday 9am", at(day, "10:00")), 422, "INVALID_WINDOW"),  # not an instant
        (book(api, cid, "2020-01-06T09:00:00Z", "2020-01-06T10:00:00Z"), 422, "INVALID_WINDOW"),  # past
        (book(api, cid, at(day, "06:00"), at(day, "19:00")), 422, "INVALID_WINDOW"),  # longer than 12 hours
        (book(api, cid, at(day, "11:30"), at(day, "13:30")), 422, "OUTSIDE_WORKING_HOURS"),  # over lunch
        (book(api, cid, at(day, "09:00"), at(day, "10:00"), user="mary"), 404, "CASE_NOT_FOUND"),
    ]
    for reply, status, code in cases:
        refused(reply, status, code)
    refused(
        api(
            "GET /resources/availability",
            query={
                "service": "SVC-VISIT",
                "unit": "FIELD",
                "from": at(day, "08:00"),
                "to": at(day + timedelta(days=8), "08:00"),
            },
        ),
        422,
        "INVALID_WINDOW",
    )
    refused(
        api(
            "GET /resources/availability",
            query={"service": "SVC-NOPE", "unit": "FIELD", "from": at(day, "08:00"), "to": at(day, "18:00")},
        ),
        422,
        "UNKNOWN_SERVICE",
    )
    assert slots(stack.table_name) == []
    assert api.get(cid, user="dave")["version"] == activity["version"]


def test_overlapping_bookings_race_and_exactly_one_wins(api: Api, stack: Any) -> None:
    """Six activities book the technician for overlapping slots at the same moment, from six threads."""
    add_resource(api)
    day = monday()
    activities = [visit(api)["id"] for _ in range(6)]
    starts = ["09:00", "09:30", "09:00", "10:00", "09:30", "09:00"]  # every slot overlaps 10:00-10:30 or more
    ends = ["10:30", "10:30", "11:00", "11:00", "11:30", "10:30"]
    service = booking_service()
    barrier = threading.Barrier(len(activities))
    outcomes: list[Any] = [None] * len(activities)

    def attempt(k: int) -> None:
        barrier.wait()
        try:
            outcomes[k] = service.book(
                "dave",
                activities[k],
                resource_id="TECH-FRED",
                service="SVC-VISIT",
                starts=at(day, starts[k]),
                ends=at(day, ends[k]),
            )
        except Conflict as exc:
            outcomes[k] = exc.code

    threads = [threading.Thread(target=attempt, args=(k,)) for k in range(len(activities))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if isinstance(o, dict)]
    assert len(winners) == 1, outcomes
    assert sorted(o for o in outcomes if not isinstance(o, dict)) == ["SLOT_TAKEN"] * 5
    won = winners[0]
    held = slots(stack.table_name)
    assert held[0] == f"SLOT#{won['starts']}" and len(held) == len({*held})
    losers = [a for a, o in zip(activities, outcomes, strict=True) if not isinstance(o, dict)]
    assert all("resource_bookings" not in api.get(a, user="dave")["fields"] for a in losers)


def test_an_activity_cannot_start_without_its_required_confirmed_resource(api: Api) -> None:
    add_resource(api)
    require_resources(api, confirmation=True)
    day = monday()
    activity = visit(api)
    cid = activity["id"]
    blocked = refused(api.transition(cid, "Started", user="fred"), 409, "RESOURCE_REQUIRED")
    assert blocked["details"]["missing"][0]["service"] == "SVC-VISIT"

    requested = book(api, cid, at(day, "13:00"), at(day, "14:00"))
    assert requested.status == 201 and requested.json["status"] == "requested", requested.text
    booking_id = requested.json["id"]
    refused(api.transition(cid, "Started", user="fred"), 409, "RESOURCE_REQUIRED")  # not confirmed yet
    refused(
        api("POST /bookings/{booking_id}/confirm", {"booking_id": booking_id}, user="dave", body={}),
        403,
        "NOT_RESOURCE_OWNER",
    )
    confirmed = api("POST /bookings/{booking_id}/confirm", {"booking_id": booking_id}, user="fred", body={})
    assert confirmed.status == 200 and confirmed.json["status"] == "confirmed", confirmed.text
    refused(
        api("POST /bookings/{booking_id}/decline", {"booking_id": booking_id}, user="fred", body={}),
        409,
        "BOOKING_NOT_PENDING",
    )
    started = api.transition(cid, "Started", user="fred")
    assert started.status == 200, started.text


def test_a_declined_booking_frees_the_time(api: Api, stack: Any) -> None:
    add_resource(api)
    require_resources(api, confirmation=True)
    day = monday()
    activity = visit(api)
    requested = book(api, activity["id"], at(day, "13:00"), at(day, "14:00")).json
    assert len(slots(stack.table_name)) == 2  # held while it waits for fred
    declined = api(
        "POST /bookings/{booking_id}/decline", {"booking_id": requested["id"]}, user="fred", body={}
    )
    assert declined.status == 200 and declined.json["status"] == "declined"
    assert slots(stack.table_name) == []
    refused(api.transition(activity["id"], "Started", user="fred"), 409, "RESOURCE_REQUIRED")
    refused(api("GET /bookings/{booking_id}", {"booking_id": "nope"}, user="fred"), 404, "BOOKING_NOT_FOUND")
