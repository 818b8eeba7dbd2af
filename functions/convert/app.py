"""LeadWon domain events (EventBridge -> SQS) -> automatic lead conversion, once per lead.

Each SQS message is an EventBridge envelope whose ``detail`` is one of our DomainEvent dicts (the rule only
routes ``LeadWon``). Conversion is exactly once by its own condition: one transaction on an account id derived
from the lead, which a redelivery, another event of the same lead or a racing delivery cannot pass (they
report "already converted"). So no idempotency record is written: a conversion is one read of the contact
and that transaction. A message that cannot be read, or names a contact that does not exist, is
reported as a batch item failure: retried, then parked in the dead-letter queue, alone.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from casework.adapters.consumer import event_consumer
from casework.observability import logger

if TYPE_CHECKING:  # imported with the first event, by the builder below
    from casework.services.conversion import LeadConverter


@cache
def converter() -> LeadConverter:
    """Built on first use; the adapter and its client are reused by warm invocations."""
    from casework.adapters.contacts import DynamoConversionStore
    from casework.services.conversion import LeadConverter

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


consumer = event_consumer(_convert, key_prefix="convert", idempotent=False)
handler = consumer.handler


def convert(**kwargs: Any) -> Any:
    """The handling, idempotent (call with event=), outside the Lambda handler."""
    return consumer.once(**kwargs)
