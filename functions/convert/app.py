"""LeadWon domain events (EventBridge -> SQS) -> automatic lead conversion, once per lead.

Each SQS message is an EventBridge envelope whose ``detail`` is one of our DomainEvent dicts (the rule only
routes ``LeadWon``). Conversion is exactly once twice over: Powertools idempotency keyed on the event id
(records in the case table, expiring through its TTL attribute) drops redeliveries, and the conversion
itself is one conditional transaction on an account id derived from the lead, so even a racing delivery
cannot create a second account. A message that cannot be read, or names a contact that does not exist, is
reported as a batch item failure: retried, then parked in the dead-letter queue, alone.
"""

from __future__ import annotations

import os
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
from casework.services.conversion import LeadConverter

logger = Logger(service="casework")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
persistence = DynamoDBPersistenceLayer(
    table_name=os.environ["TABLE_NAME"], key_attr="pk", sort_key_attr="sk", expiry_attr="expires_at"
)
config = IdempotencyConfig(
    event_key_jmespath="id", expires_after_seconds=7 * 86400, raise_on_no_idempotency_key=True
)


@cache
def converter() -> LeadConverter:
    """Built on first use; the adapter and its client are reused by warm invocations."""
    from casework.adapters.contacts import DynamoConversionStore

    return LeadConverter(store=DynamoConversionStore())


@idempotent_function(
    data_keyword_argument="event", persistence_store=persistence, config=config, key_prefix="convert"
)
def convert(event: dict[str, Any]) -> str:
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


def record_handler(record: SQSRecord) -> str:
    return convert(event=domain_event(record.body, record.message_id))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
