"""LeadWon domain events (EventBridge -> SQS) -> automatic lead conversion, once per lead.

Each SQS message is an EventBridge envelope whose ``detail`` is one of our DomainEvent dicts (the rule only
routes ``LeadWon``). Conversion is exactly once twice over: Powertools idempotency keyed on the event id
(records in the case table, expiring through its TTL attribute) drops redeliveries, and the conversion
itself is one conditional transaction on an account id derived from the lead, so even a racing delivery
cannot create a second account. A message that cannot be read, or names a contact that does not exist, is
reported as a batch item failure: retried, then parked in the dead-letter queue, alone.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from casework.adapters.consumer import event_consumer
from casework.observability import logger
from casework.services.conversion import LeadConverter


@cache
def converter() -> LeadConverter:
    """Built on first use; the adapter and its client are reused by warm invocations."""
    from casework.adapters.contacts import DynamoConversionStore

    return LeadConverter(store=DynamoConversionStore())


def _convert(event: dict[str, Any]) -> str:
    outcome = converter().handle(event)
    logger.info(
        "event handled",
        extra={
            "event_id": event["id"],
            "event_type": event["type"],
            "case_id": event["case_id"],
            "outcome": outcome,
        },
    )
    return outcome


consumer = event_consumer(_convert, key_prefix="convert")
handler = consumer.handler


def convert(**kwargs: Any) -> Any:
    """The handling, idempotent (call with event=), outside the Lambda handler."""
    return consumer.once(**kwargs)
