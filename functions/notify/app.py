"""Domain events (EventBridge -> SQS) -> emails, once per event.

Each SQS message is an EventBridge envelope whose ``detail`` is one of our DomainEvent dicts. Delivery is
at least once, so every event is processed through Powertools idempotency keyed on the event id (records
live in the case table, expiring through its TTL attribute). A message that cannot be read (not JSON, no
event inside) is reported as a batch item failure: it is retried, then parked in the dead-letter queue,
and never takes the rest of the batch down with it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from casework.adapters.events import domain_event
from casework.services.notify import Notifier

logger = Logger(service="casework")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
persistence = DynamoDBPersistenceLayer(
    table_name=os.environ["TABLE_NAME"], key_attr="pk", sort_key_attr="sk", expiry_attr="expires_at"
)
config = IdempotencyConfig(
    event_key_jmespath="id", expires_after_seconds=7 * 86400, raise_on_no_idempotency_key=True
)


@cache
def notifier() -> Notifier:
    """Built on first use; adapters and their clients are reused by warm invocations."""
    from casework.adapters.dynamo import DynamoCaseRepository, DynamoDirectory, DynamoWorkflowStore
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
    )


@idempotent_function(
    data_keyword_argument="event", persistence_store=persistence, config=config, key_prefix="notify"
)
def notify(event: dict[str, Any]) -> list[str]:
    recipients = notifier().handle(event)
    logger.info(
        "event handled",
        extra={"event_id": event["id"], "event_type": event["type"], "recipients": recipients},
    )
    return recipients


def record_handler(record: SQSRecord) -> list[str]:
    return notify(event=domain_event(record.body, record.message_id))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
