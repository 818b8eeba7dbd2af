"""Resources, calendars and bookings against the in-memory fakes: working time in the resource's own time
zone, free time as working time minus held granules, and a booking's life (requested, confirmed, declined,
cancelled) kept on the activity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from casework.domain.care.config import parse_config
from casework.domain.errors import Conflict, DomainError
from casework.domain.resources import Resource, free_spans, granules, instant
from casework.services.booking import BookingService
from casework.services.cases import CaseService
from tests.fakes import InMemoryBookingStore, InMemoryRepository, make_service

FRED: dict[str, Any] = {
    "id": "TECH-FRED",
    "name": "Fred",
    "kind": "person",
    "unit": "FIELD",
    "services": ["SVC-VISIT"],
    "owner": "fred",
    "weekly_hours": {"mon": [{"from": "08:00", "to": "12:00"}, {"from": "13:00", "to": "17:00"}]},
}


def utc(text: str) -> datetime:
    return instant(text, "test")


def booking_service(svc: CaseService, repo: InMemoryRepository) -> BookingService:
    assert svc.configs is not None
    return BookingService(
        store=InMemoryBookingStore(repo),
        repo=repo,
        directory=svc.directory,
        workflows=svc.workflows,
        configs=svc.configs,
        clock=svc.clock,
        new_id=svc.new_id,
    )


def require_confirmed_resources(svc: CaseService) -> None:
    """Site visits need a technician booked and confirmed by its owner (a new configuration version)."""
    assert svc.configs is not None
    config, version = svc.configs.get("activity")
    raw = config.model_dump(mode="json")
    for t in raw["types"]:
        if t["code"] == "VISIT":
            t["services"][0] |= {"resource_required": True, "resource_confirmation": True}
    svc.configs.put("activity", parse_config("activity", raw), version)


def visit(svc: CaseService) -> str:
    sr = svc.register("dave", type="service_request", subtype="FAULTY_ITEM", title="x", contact_id="CON-2001")
    svc.take("dave", sr.id)
    return str(
        svc.schedule(
            "dave",
            sr.id,
            "activity",
            subtype="VISIT",
            title="Visit",
            assignee="fred",
            business_unit="FIELD",
        ).id
    )


def test_working_time_follows_the_resources_time_zone_and_its_exceptions() -> None:
    london = Resource.model_validate(
        {**FRED, "timezone": "Europe/London", "exceptions": [{"date": "2025-03-10", "hours": []}]}
    )
    # 3 March 2025 is winter time (UTC+0); 31 March summer time (UTC+1); 10 March a holiday
    assert london.working_spans(utc("2025-03-03T00:00Z"), utc("2025-03-04T00:00Z"))[0][0] == utc(
        "2025-03-03T08:00Z"
    )
    assert london.working_spans(utc("2025-03-31T00:00Z"), utc("2025-04-01T00:00Z"))[0][0] == utc(
        "2025-03-31T07:00Z"
    )
    assert london.working_spans(utc("2025-03-10T00:00Z"), utc("2025-03-11T00:00Z")) == []


def test_free_time_is_working_time_minus_held_granules_in_stretches_long_enough() -> None:
    fred = Resource.model_validate(FRED)
    held = granules(utc("2025-03-03T09:00Z"), utc("2025-03-03T10:30Z"))
    free = free_spans(fred, utc("2025-03-03T08:10Z"), utc("2025-03-03T18:00Z"), held, timedelta(minutes=60))
    assert free == [
        (utc("2025-03-03T10:30Z"), utc("2025-03-03T12:00Z")),
        (utc("2025-03-03T13:00Z"), utc("2025-03-03T17:00Z")),
    ]  # 08:30-09:00 is too short; the window's 08:10 starts at the next granule


def test_a_booking_needing_confirmation_holds_the_time_until_declined() -> None:
    svc, repo = make_service()
    bookings = booking_service(svc, repo)
    require_confirmed_resources(svc)
    bookings.create_resource("admin", FRED)
    activity = visit(svc)
    with pytest.raises(Conflict) as blocked:
        svc.transition("fred", activity, to="Started")
    assert blocked.value.code == "RESOURCE_REQUIRED"

    slot = {"resource_id": "TECH-FRED", "service": "SVC-VISIT"}
    first = bookings.book("dave", activity, **slot, starts="2025-03-03T13:00Z", ends="2025-03-03T14:00Z")
    assert first["status"] == "requested"
    with pytest.raises(Conflict) as taken:
        bookings.book("dave", activity, **slot, starts="2025-03-03T13:30Z", ends="2025-03-03T15:00Z")
    assert taken.value.code == "SLOT_TAKEN"
    bookings.decide("fred", first["id"], confirm=False)
    again = bookings.book("dave", activity, **slot, starts="2025-03-03T13:30Z", ends="2025-03-03T15:00Z")
    bookings.decide("fred", again["id"], confirm=True)
    assert svc.transition("fred", activity, to="Started").status == "Started"
    kept = svc.get("fred", activity).fields["resource_bookings"]
    assert [(b["id"], b["status"]) for b in kept] == [(first["id"], "declined"), (again["id"], "confirmed")]
    bookings.cancel("dave", again["id"])
    types = [e.type for e in repo.outbox if e.case_id == activity]
    assert types.count("ResourceRequested") == 2 and "ResourceCancelled" in types


@pytest.mark.parametrize(
    ("raw", "location"),
    [
        ({**FRED, "kind": "spaceship"}, "kind"),
        ({**FRED, "services": []}, "services"),
        ({**FRED, "weekly_hours": {"mon": [{"from": "08:15", "to": "12:00"}]}}, "weekly_hours.mon.0.from"),
        ({**FRED, "weekly_hours": {"funday": []}}, "weekly_hours.funday.[key]"),
        ({**FRED, "unit": "NOWHERE"}, "unit"),
    ],
)
def test_bad_resources_name_the_field(raw: dict[str, Any], location: str) -> None:
    svc, repo = make_service()
    with pytest.raises(DomainError) as refused:
        booking_service(svc, repo).create_resource("admin", raw)
    assert refused.value.code == "INVALID_RESOURCE"
    assert location in [p["location"] for p in refused.value.details["problems"]]


def test_only_an_admin_manages_resources() -> None:
    svc, repo = make_service()
    with pytest.raises(DomainError) as refused:
        booking_service(svc, repo).create_resource("dave", FRED)
    assert refused.value.code == "NOT_ALLOWED"


def test_instants_need_a_time_zone() -> None:
    with pytest.raises(DomainError):
        instant("2025-03-03T09:00", "from")
    assert instant("2025-03-03T10:00+01:00", "from") == datetime(2025, 3, 3, 9, tzinfo=UTC)
