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

import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from casework.adapters.consumer import event_consumer
from casework.services.notify import Notifier

logger = Logger(service="casework")


@cache
def notifier() -> Notifier:
    """Built on first use; adapters and their clients are reused by warm invocations."""
    from casework.adapters.dynamo import (
        DynamoCaseRepository,
        DynamoDirectory,
        DynamoSentLedger,
        DynamoWorkflowStore,
    )
    from casework.adapters.mailer import EmailRenderer, SesMailer

    return Notifier(
        repo=DynamoCaseRepository(),
        directory=DynamoDirectory(),
        workflows=DynamoWorkflowStore(),
        mailer=SesMailer(os.environ["MAIL_FROM"]),
        renderer=EmailRenderer(),
        clock=lambda: datetime.now(UTC),
        public_base_url=os.environ["PUBLIC_BASE_URL"].rstrip("/"),
        token_ttl_hours=int(os.environ.get("APPROVAL_TOKEN_TTL_HOURS") or 168),
        case_url_template=os.environ.get("CASE_URL_TEMPLATE", ""),
        ledger=DynamoSentLedger(),
    )


def _notify(event: dict[str, Any]) -> list[str]:
    recipients = notifier().handle(event)
    logger.info(
        "event handled",
        extra={"event_id": event["id"], "event_type": event["type"], "recipients": recipients},
    )
    return recipients


def _concerns(event: dict[str, Any]) -> bool:
    return notifier().concerns(event)


consumer = event_consumer(_notify, key_prefix="notify", logger=logger, wanted=_concerns, idempotent=False)
handler = consumer.handler
notify = consumer.once
