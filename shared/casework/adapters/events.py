"""Domain events out to EventBridge: the relay end of the outbox.

The publish function reads committed history/outbox items off the table stream and hands their events
here. A partial PutEvents failure raises ``PublishFailed`` so the stream record is retried; the entries
that did get through are published again then, which is fine: event ids are stable and every consumer
drops duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from casework.adapters.aws_client import LazyClient

SOURCE = "casework"
MAX_ENTRIES = 10  # PutEvents accepts at most 10 entries per request


class PublishFailed(Exception):
    """EventBridge refused some entries; the caller must retry the whole batch."""

    def __init__(self, bus_name: str, failures: list[dict[str, Any]]) -> None:
        self.bus_name = bus_name
        self.failures = failures
        summary = ", ".join(f"{f['event_id']}: {f['error_code']}" for f in failures[:5])
        super().__init__(f"{len(failures)} event(s) not accepted by bus {bus_name}: {summary}")


def _chunks(items: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _time(occurred_at: Any) -> datetime | None:
    if not isinstance(occurred_at, str):
        return None
    try:
        return datetime.fromisoformat(occurred_at)
    except ValueError:
        return None


class EventBridgePublisher:
    """Publishes our DomainEvent dicts: Source ``casework``, DetailType = the event type, Detail = the
    event itself (so subscribers see exactly what the outbox holds)."""

    client = LazyClient("events", standard_retries=True)

    def __init__(self, bus_name: str, client: Any = None) -> None:
        self.bus_name = bus_name
        self._client = client

    def entry(self, event: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "Source": SOURCE,
            "DetailType": event["type"],
            "Detail": json.dumps(event, default=str, separators=(",", ":")),
            "EventBusName": self.bus_name,
        }
        when = _time(event.get("occurred_at"))
        if when is not None:
            entry["Time"] = when
        return entry

    def publish(self, events: list[dict[str, Any]]) -> None:
        for chunk in _chunks(events, MAX_ENTRIES):
            response = self.client.put_events(Entries=[self.entry(e) for e in chunk])
            if not response.get("FailedEntryCount"):
                continue
            results = response.get("Entries") or []
            failures = [
                {
                    "event_id": event.get("id"),
                    "error_code": result.get("ErrorCode", "Unknown"),
                    "error_message": result.get("ErrorMessage"),
                }
                for event, result in zip(chunk, results, strict=False)
                if result.get("ErrorCode") or not result.get("EventId")
            ]
            # Later chunks are not sent: the retry republishes everything from this record anyway.
            raise PublishFailed(
                self.bus_name,
                failures or [{"event_id": None, "error_code": "Unknown", "error_message": None}],
            )


class PoisonMessage(ValueError):
    """A queued message carries no event we can process; retrying will not help (it ends in the DLQ).
    ``code`` names the reason in the consumer's log."""

    def __init__(self, message: str, code: str = "MALFORMED_MESSAGE") -> None:
        super().__init__(message)
        self.code = code


@cache
def queued_event_model(detail: Any = dict[str, Any]) -> type[Any]:
    """Powertools' EventBridge model (the body of an SQS message an EventBridge rule delivered) whose
    ``detail`` is ``detail``; ``account`` optional, as moto's EventBridge (the local stack) leaves it out.
    Built on first use: the parser models cost import time that the API functions never need."""
    from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
    from pydantic import create_model

    return create_model(
        "QueuedEvent", __base__=EventBridgeModel, account=(str | None, None), detail=(detail, ...)
    )


@cache
def _casework_event_model() -> type[Any]:
    """What a consumer needs of a DomainEvent dict to handle it (the rest passes through as it came)."""
    from typing import Annotated

    from pydantic import BaseModel, ConfigDict, StringConstraints

    Text = Annotated[str, StringConstraints(min_length=1)]

    class CaseworkEvent(BaseModel):
        model_config = ConfigDict(extra="allow")
        id: Text
        type: Text
        case_id: Text
        case_type: Text

    return queued_event_model(CaseworkEvent)


def domain_event(body: str | None, message_id: str) -> dict[str, Any]:
    """The DomainEvent dict inside an SQS message that carries an EventBridge envelope (its ``detail``)."""
    from pydantic import ValidationError

    try:
        envelope = _casework_event_model().model_validate_json(body or "")
    except ValidationError as exc:
        not_json = any(error["type"] == "json_invalid" for error in exc.errors())
        raise PoisonMessage(
            f"message {message_id} is not JSON"
            if not_json
            else f"message {message_id} carries no casework event"
        ) from None
    event: dict[str, Any] = envelope.detail.model_dump()
    return event
