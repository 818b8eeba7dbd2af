"""The correlation id of the work in hand: one id that follows a request through every event it causes.

The HTTP entry point binds the API request's id (the client's ``x-correlation-id`` header, else API
Gateway's request id); a queue consumer binds the id of the event it handles. The adapters that write the
outbox stamp it on each event (``stamp``), so a subscriber can tie an event back to the request, and to the
events that request caused further down the line. The domain never reads it: it stays pure.

A ContextVar rather than a global: each invocation (and each thread of the local stack) sees its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

HEADER = "x-correlation-id"
# What a client may send: ids such as UUIDs, ULIDs, W3C trace parents or "order-42/retry:1"; bounded,
# because it is copied into every event the request raises.
VALID = re.compile(r"[A-Za-z0-9._:/@+=-]{1,128}")

_current: ContextVar[str | None] = ContextVar("casework_correlation_id", default=None)


def current() -> str | None:
    """The correlation id bound to the work in hand, if any."""
    return _current.get()


@contextmanager
def bound(correlation_id: str | None) -> Iterator[str | None]:
    """Bind ``correlation_id`` for the duration of the block (None binds nothing new)."""
    token = _current.set(correlation_id or _current.get())
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def stamp(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` (a DomainEvent dict) with the bound correlation id, unless it carries one already."""
    correlation_id = current()
    if correlation_id and not event.get("correlation_id"):
        return {**event, "correlation_id": correlation_id}
    return event
