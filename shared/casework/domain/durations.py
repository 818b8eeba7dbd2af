"""Durations as a business configures them ("2 days", "24 months") and the key dates they lead to.

A type's "to be completed within", a priority's completion time, a return period and a service's minimum
time spent are all a whole number of some unit. Minutes to weeks are exact lengths of time; months and
years follow the calendar, so a month from 31 January is the last day of February rather than 30 days later.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from casework.domain.timestamps import timestamp

UNITS = ("minutes", "hours", "days", "weeks", "months", "years")
MAX_VALUE = 100_000

_EXACT_UNITS = {"minutes", "hours", "days", "weeks"}
# Only for minimum time spent on a service, where a calendar-exact month makes no sense: nobody logs
# "1 month" of work and expects February to need fewer minutes than March.
_APPROXIMATE_MINUTES = {
    "minutes": 1,
    "hours": 60,
    "days": 24 * 60,
    "weeks": 7 * 24 * 60,
    "months": 30 * 24 * 60,
    "years": 365 * 24 * 60,
}


@dataclass(frozen=True)
class Duration:
    """A whole number (1..100000) of one of ``UNITS``. Constructing an invalid one raises ValueError."""

    value: int
    unit: str

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise ValueError(f"A duration's value must be a whole number, not {self.value!r}.")
        if not 1 <= self.value <= MAX_VALUE:
            raise ValueError(f"A duration's value must be between 1 and {MAX_VALUE}, not {self.value}.")
        if self.unit not in UNITS:
            raise ValueError(f"A duration's unit must be one of {', '.join(UNITS)}, not {self.unit!r}.")

    @classmethod
    def from_dict(cls, raw: Any) -> Duration:
        """Parse ``{"value": 2, "unit": "days"}``; anything else raises ValueError saying what is wrong."""
        if not isinstance(raw, Mapping):
            raise ValueError('A duration must look like {"value": 2, "unit": "days"}.')
        unknown = sorted(set(raw) - {"value", "unit"})
        if unknown:
            raise ValueError(
                f"A duration has only a value and a unit; remove {', '.join(map(str, unknown))}."
            )
        missing = [key for key in ("value", "unit") if key not in raw]
        if missing:
            raise ValueError(f"A duration needs a {' and a '.join(missing)}.")
        return cls(raw["value"], raw["unit"])

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit}

    def __str__(self) -> str:
        unit = self.unit[:-1] if self.value == 1 else self.unit
        return f"{self.value} {unit}"


def add(start: datetime, duration: Duration) -> datetime:
    """``start`` moved forward by ``duration``, keeping its time of day and tzinfo for months and years.

    A month later than the 31st lands on the last day of a shorter month (31 Jan + 1 month = 28/29 Feb).
    Raises OverflowError when the result would be past the year 9999.
    """
    if duration.unit in _EXACT_UNITS:
        return start + timedelta(**{duration.unit: duration.value})
    months = duration.value * (12 if duration.unit == "years" else 1)
    years_ahead, month_index = divmod(start.month - 1 + months, 12)
    year = start.year + years_ahead
    if year > datetime.max.year:
        raise OverflowError(f"{duration} after {start.date()} is past the year {datetime.max.year}")
    month = month_index + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def minutes(duration: Duration) -> int:
    """Approximate length in minutes: a day is 1440, a week 7 days, a month 30 days, a year 365 days.

    Only for comparing time spent against a minimum; key dates use ``add``, which follows the calendar.
    """
    return duration.value * _APPROXIMATE_MINUTES[duration.unit]


def key_dates(
    start: datetime,
    expected: datetime | None,
    actual: datetime | None,
    now: datetime,
    closed: datetime | None = None,
) -> dict[str, Any]:
    """The key dates of a case that started at ``start`` and should finish by ``expected``.

    ``actual`` is when it was completed (None while it is open); ``closed`` when it was closed without being
    completed (cancelled, lost), which is never overdue. Overdue time counts up to ``now`` while open and
    stops at ``actual`` once completed; a case without an expected date is never overdue.
    """
    never_late = expected is None or (closed is not None and actual is None)
    late_by = 0.0 if never_late or expected is None else ((actual or now) - expected).total_seconds()
    return {
        "start_date": timestamp(start),
        "expected_completion_date": timestamp(expected) if expected is not None else None,
        "actual_completion_date": timestamp(actual) if actual is not None else None,
        "closed_at": timestamp(closed) if closed is not None else None,
        "time_to_completion_seconds": int((actual - start).total_seconds()) if actual is not None else None,
        "time_overdue_seconds": max(0, int(late_by)),
        "overdue": late_by > 0,
    }
