"""The one textual form of an instant we store. A module of its own so that the modules that only format
times (key dates, read models) do not import the entities with them."""

from __future__ import annotations

from datetime import UTC, datetime


def timestamp(now: datetime) -> str:
    """One textual form for every instant we store: UTC, millisecond precision, sortable."""
    return now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
