"""The directory as requests read it (casework.services.ports.Directory): users, business units, areas,
accounts, products and contacts, one GetItem each, kept per process for a minute. The records are the single
table's DirectoryItem (their layout: casework.adapters.dynamo); the registry of unit codes is one item:

    DIRECTORY / UNITS    {"codes": [...]}: every business unit, one GetItem
"""

from __future__ import annotations

import threading
import time
from typing import Any

from casework.adapters.dynamo import DirectoryItem, item_body
from casework.domain.directory import actor_from_record, unit_from_record
from casework.domain.model import Actor, BusinessUnit


class _TtlCache:
    """A per-process cache: warm Lambdas then read the directory once a minute, not once a request."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._data: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, load: Any) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._data.get(key)
        if hit and (self.ttl is None or now - hit[0] < self.ttl):
            return hit[1]
        value = load()
        with self._lock:
            self._data[key] = (now, value)
        return value


def _record(pk: str, sk: str) -> dict[str, Any] | None:
    return item_body(DirectoryItem, pk, sk, consistent=False)


class DynamoDirectory:
    def __init__(self, ttl_seconds: float = 60.0) -> None:
        self.cache = _TtlCache(ttl_seconds)

    def _cached(self, pk: str, sk: str) -> dict[str, Any] | None:
        return self.cache.get((pk, sk), lambda: _record(pk, sk))

    def forget(self) -> None:
        """This process has changed the directory: its next request reads it again."""
        self.cache = _TtlCache(self.cache.ttl)

    def user(self, username: str) -> Actor | None:
        record = self._cached(f"USER#{username}", "PROFILE")
        return actor_from_record(record) if record else None

    def business_unit(self, code: str) -> BusinessUnit | None:
        record = self._cached(f"UNIT#{code}", "UNIT")
        return unit_from_record(record) if record else None

    def account(self, account_id: str) -> dict[str, Any] | None:
        return self._cached(f"ACCOUNT#{account_id}", "ACCOUNT")

    def product(self, code: str) -> dict[str, Any] | None:
        return self._cached(f"PRODUCT#{code}", "PRODUCT")

    def contact(self, contact_id: str, *, fresh: bool = False) -> dict[str, Any] | None:
        """Cached like the rest of the directory (routing a new case needs the area, not the latest state);
        ``fresh`` reads it now (showing a contact that a won lead has just made Financial)."""
        if fresh:
            return _record(f"CONTACT#{contact_id}", "CONTACT")
        return self._cached(f"CONTACT#{contact_id}", "CONTACT")

    def area_unit(self, area: str) -> str | None:
        record = self._cached(f"AREA#{area}", "AREA")
        return record.get("business_unit") if record else None

    def unit_codes(self) -> tuple[str, ...]:
        record = self._cached(*UNIT_REGISTRY)
        return tuple(record.get("codes", ())) if record else ()


UNIT_REGISTRY = ("DIRECTORY", "UNITS")  # {"codes": [...]}: every business unit, one GetItem


def put_directory_record(pk: str, sk: str, body: dict[str, Any]) -> None:
    DirectoryItem(pk=pk, sk=sk, body=body).save()


def put_directory_records(records: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Many directory records at once (BatchWriteItem, 25 a request): seeding and imports."""
    with DirectoryItem.batch_write() as batch:
        for pk, sk, body in records:
            batch.save(DirectoryItem(pk=pk, sk=sk, body=body))
