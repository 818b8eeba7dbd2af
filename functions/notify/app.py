"""Domain events (EventBridge -> SQS) -> emails, once per event.

Each SQS message is an EventBridge envelope whose ``detail`` is one of our DomainEvent dicts. Delivery is
at least once: each email is claimed in the ledger (``SENT#<event id>`` / ``<template>:<recipient>``, a
conditional put) before it is sent and marked sent after, so a duplicate delivery, even a concurrent one,
sends nothing, and a failed send is released for the retry. No Powertools idempotency record per event:
the claims are the idempotency (2 writes per email instead of 2 per event plus 1 per email). A message
that cannot be read (not JSON, no event inside) is reported as a batch item failure: it is retried, then
parked in the dead-letter queue, and never takes the rest of the batch down with it.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from casework import settings as environment
from casework.adapters.consumer import event_consumer
from casework.observability import count_emails, logger

if TYPE_CHECKING:  # the notifier and its templates, SES and SMS come with the first event (see notifier())
    from casework.services.notify import Notifier

REQUIRED = ("TABLE_NAME", "MAIL_FROM")
environment.load(*REQUIRED)  # fails the init phase with the names of what is missing


@cache
def notifier() -> Notifier:
    """Built on first use; adapters and their clients are reused by warm invocations."""
    from casework.http.wiring import notifier as build

    return build()


def _notify(event: dict[str, Any]) -> list[str]:
    recipients = notifier().handle(event)
    count_emails(len(recipients))
    logger.info(
        "event handled",
        extra={"event_id": event["id"], "event_type": event["type"], "recipients": recipients},
    )
    return recipients


def _concerns(event: dict[str, Any]) -> bool:
    return notifier().concerns(event)


consumer = event_consumer(_notify, key_prefix="notify", wanted=_concerns, idempotent=False)
handler = consumer.handler


def notify(**kwargs: Any) -> Any:
    """The handling, idempotent (call with event=), outside the Lambda handler."""
    return consumer.once(**kwargs)
