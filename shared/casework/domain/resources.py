"""Resources (people, vehicles, equipment) that provide an activity's services, their working calendars, and
the bookings that reserve them (seed 003 "Booking resources to complete an activity service").

Time is cut into granules of ``GRANULE_MINUTES``: a booking covers whole granules, and the store claims one
item per granule with a conditional write, so two bookings that overlap by even one granule cannot both
commit. Calendars are local to the resource's time zone; everything stored and exchanged is UTC.

Pure: no I/O, the clock is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from casework.domain.errors import ValidationFailed

GRANULE_MINUTES = 30
GRANULE = timedelta(minutes=GRANULE_MINUTES)
# A booking's granules, its case change and the booking item are one transaction (at most 100 items).
MAX_BOOKING = timedelta(hours=12)
# An availability search reads every booked granule of every matching resource in the window: bound it.
MAX_WINDOW = timedelta(days=7)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BOOKING_STATUSES = ("requested", "confirmed", "declined", "cancelled")
HOLDING = frozenset({"requested", "confirmed"})  # bookings that hold their granules

Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class Hours(BaseModel):
    """One working stretch of a day, local time; ``to`` 24:00 is written 00:00."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    starts: time = Field(alias="from")
    ends: time = Field(alias="to")

    @field_validator("starts", "ends")
    @classmethod
    def _on_granule(cls, value: time) -> time:
        if value.minute % GRANULE_MINUTES or value.second or value.microsecond:
            raise ValueError(f"working hours start and end on the {GRANULE_MINUTES}-minute mark")
        return value

    def span(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        start = datetime.combine(day, self.starts, zone)
        end = datetime.combine(day + timedelta(days=1) if self.ends == time(0) else day, self.ends, zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def dump(self) -> dict[str, str]:
        return {"from": self.starts.strftime("%H:%M"), "to": self.ends.strftime("%H:%M")}


class CalendarException(BaseModel):
    """A day that differs from the week (a holiday: no hours; a Saturday shift: its hours)."""

    model_config = ConfigDict(extra="forbid")
    date: date
    hours: list[Hours] = Field(default_factory=list, max_length=4)


class Resource(BaseModel):
    """What an Admin writes: who or what, the unit it belongs to, the services it provides, who confirms its
    bookings (the person themself, a vehicle's fleet manager), and when it works."""

    model_config = ConfigDict(extra="forbid")
    id: Code
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    kind: Literal["person", "vehicle", "equipment"]
    unit: Code
    services: list[Code] = Field(min_length=1, max_length=50)
    owner: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    timezone: str = "UTC"
    weekly_hours: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[Hours]] = Field(
        default_factory=dict
    )
    exceptions: list[CalendarException] = Field(default_factory=list, max_length=366)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/London)") from None
        return value

    @field_validator("services")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.model_dump(exclude={"weekly_hours", "exceptions"}),
            "weekly_hours": {day: [h.dump() for h in hours] for day, hours in self.weekly_hours.items()},
            "exceptions": [
                {"date": e.date.isoformat(), "hours": [h.dump() for h in e.hours]} for e in self.exceptions
            ],
        }

    def working_spans(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The resource's working time within [start, end), UTC, in order."""
        zone = ZoneInfo(self.timezone)
        special = {e.date: e.hours for e in self.exceptions}
        day = start.astimezone(zone).date() - timedelta(days=1)  # a night shift may run into the window
        last = end.astimezone(zone).date()
        spans: list[tuple[datetime, datetime]] = []
        while day <= last:
            weekday: Any = WEEKDAYS[day.weekday()]
            hours = special[day] if day in special else self.weekly_hours.get(weekday, [])
            for h in hours:
                s, e = h.span(day, zone)
                s, e = max(s, start), min(e, end)
                if s < e:
                    spans.append((s, e))
            day += timedelta(days=1)
        return _merged(sorted(spans))


def _merged(spans: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for s, e in spans:
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _problems(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"location": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
        for err in exc.errors()
    ]


def parse_resource(raw: Any, known_units: Iterable[str], known_services: Iterable[str]) -> Resource:
    """A resource as written by an Admin, or INVALID_RESOURCE with every problem listed (its shape's and
    its references' at once)."""
    problems: list[dict[str, str]] = []
    resource = None
    try:
        resource = Resource.model_validate(raw)
    except ValidationError as exc:
        problems += _problems(exc)
    given = raw if isinstance(raw, dict) else {}
    unit = given.get("unit")
    if isinstance(unit, str) and unit not in set(known_units):
        problems.append({"location": "unit", "message": f"{unit!r} is not a business unit."})
    services = set(known_services)
    listed = given.get("services")
    for k, service in enumerate(listed if isinstance(listed, list) else []):
        if isinstance(service, str) and service not in services:
            problems.append(
                {
                    "location": f"services.{k}",
                    "message": f"{service!r} is not a service of any activity type.",
                }
            )
    if problems or resource is None:
        raise ValidationFailed("INVALID_RESOURCE", "The resource is not valid.", {"problems": problems})
    return resource


_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")


def instant(value: Any, field: str) -> datetime:
    """An ISO 8601 instant with its offset (``2026-12-01T09:00:00Z``), as UTC."""
    if not isinstance(value, str) or not _INSTANT.match(value):
        raise ValidationFailed(
            "INVALID_WINDOW",
            f"{field} must be an ISO 8601 instant with a time zone, e.g. 2026-12-01T09:00:00Z.",
            {"field": field, "value": value},
        )
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise ValidationFailed(
            "INVALID_WINDOW", f"{field} is not a valid instant.", {"field": field, "value": value}
        ) from None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_window(start: datetime, end: datetime, *, longest: timedelta, what: str) -> None:
    if end <= start:
        raise ValidationFailed(
            "INVALID_WINDOW", f"The {what} must end after it starts.", {"from": iso(start), "to": iso(end)}
        )
    if end - start > longest:
        raise ValidationFailed(
            "INVALID_WINDOW",
            f"The {what} is at most {_spoken(longest)}.",
            {"from": iso(start), "to": iso(end), "longest_minutes": int(longest.total_seconds() // 60)},
        )


def check_slot(start: datetime, end: datetime) -> None:
    """A bookable slot: whole granules, not longer than MAX_BOOKING."""
    check_window(start, end, longest=MAX_BOOKING, what="booking")
    for moment in (start, end):
        if moment.minute % GRANULE_MINUTES or moment.second or moment.microsecond:
            raise ValidationFailed(
                "INVALID_WINDOW",
                f"Bookings start and end on the {GRANULE_MINUTES}-minute mark (:00 or :30).",
                {"from": iso(start), "to": iso(end)},
            )


def granules(start: datetime, end: datetime) -> list[datetime]:
    out, moment = [], start
    while moment < end:
        out.append(moment)
        moment += GRANULE
    return out


def ensure_working(resource: Resource, start: datetime, end: datetime) -> None:
    spans = resource.working_spans(start, end)
    if spans != [(start, end)]:
        raise ValidationFailed(
            "OUTSIDE_WORKING_HOURS",
            f"{resource.name} does not work all of {iso(start)} to {iso(end)}.",
            {"resource_id": resource.id, "working": [[iso(s), iso(e)] for s, e in spans]},
        )


def free_spans(
    resource: Resource, start: datetime, end: datetime, taken: Iterable[datetime], minimum: timedelta
) -> list[tuple[datetime, datetime]]:
    """The working time in the window that no holding booking covers, in stretches of at least ``minimum``
    (whole granules: a search window that starts at 09:10 offers 09:30 on)."""
    busy = set(taken)
    free: list[tuple[datetime, datetime]] = []
    for s, e in resource.working_spans(start, end):
        moment = _ceil(s)
        while moment + GRANULE <= e:
            if moment not in busy:
                if free and free[-1][1] == moment:
                    free[-1] = (free[-1][0], moment + GRANULE)
                else:
                    free.append((moment, moment + GRANULE))
            moment += GRANULE
    return [(s, e) for s, e in free if e - s >= minimum]


def _ceil(moment: datetime) -> datetime:
    floor = moment.replace(minute=moment.minute - moment.minute % GRANULE_MINUTES, second=0, microsecond=0)
    return floor if floor == moment else floor + GRANULE


def _spoken(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} hours" if hours < 48 else f"{hours / 24:g} days"


def booking_summary(booking: dict[str, Any]) -> dict[str, Any]:
    """What the activity keeps of a booking (its field ``resource_bookings``)."""
    return {
        k: booking[k] for k in ("id", "resource_id", "resource_name", "service", "starts", "ends", "status")
    }


def missing_resources(services: Iterable[Any], bookings: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The type's services that need a resource and have none booked (and confirmed, where the type asks
    for confirmation): an activity cannot start while any is missing."""
    held: dict[str, set[str]] = {}
    for b in bookings:
        held.setdefault(b.get("service", ""), set()).add(b.get("status", ""))
    missing = []
    for spec in services:
        if not getattr(spec, "resource_required", False):
            continue
        statuses = held.get(spec.product, set())
        needed = {"confirmed"} if spec.resource_confirmation else set(HOLDING)
        if not statuses & needed:
            missing.append(
                {
                    "service": spec.product,
                    "needs": "a confirmed booking" if spec.resource_confirmation else "a booking",
                    "has": sorted(statuses & HOLDING),
                }
            )
    return missing
