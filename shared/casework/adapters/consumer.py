"""Queue consumers of domain events (EventBridge -> SQS -> Lambda): the machinery every one of them needs.

Each SQS message is an EventBridge envelope whose ``detail`` is one of our DomainEvent dicts. Delivery is at
least once, so each event goes through Powertools idempotency keyed on the event id (records in the case
table, expiring through its TTL attribute). A message that cannot be read, or whose handling raises, is
reported as a batch item failure: retried, then parked in the dead-letter queue, alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
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

from casework import correlation
from casework.adapters.events import domain_event

IDEMPOTENCY_DAYS = 7


@dataclass(frozen=True)
class EventConsumer:
    handler: Callable[[dict[str, Any], LambdaContext], dict[str, Any]]  # the Lambda entry point
    once: Callable[..., Any]  # the handling, idempotent: call with event=
    config: IdempotencyConfig  # register a LambdaContext here to call ``once`` outside ``handler``


def event_consumer(handle: Callable[..., Any], *, key_prefix: str, logger: Logger) -> EventConsumer:
    """The Lambda handler for a queue of domain events, around ``handle`` made idempotent.
    ``key_prefix`` keeps each consumer's idempotency records apart in the shared table."""
    persistence = DynamoDBPersistenceLayer(
        table_name=os.environ["TABLE_NAME"], key_attr="pk", sort_key_attr="sk", expiry_attr="expires_at"
    )
    config = IdempotencyConfig(
        event_key_jmespath="id",
        expires_after_seconds=IDEMPOTENCY_DAYS * 86400,
        raise_on_no_idempotency_key=True,
    )
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    once = idempotent_function(
        data_keyword_argument="event", persistence_store=persistence, config=config, key_prefix=key_prefix
    )(handle)

    def record_handler(record: SQSRecord) -> Any:
        event = domain_event(record.body, record.message_id)
        # What this handling writes (and logs) carries the correlation id of the event it handles.
        correlation_id = event.get("correlation_id") or event["id"]
        logger.set_correlation_id(correlation_id)
        with correlation.bound(correlation_id):
            return once(event=event)

    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        config.register_lambda_context(context)
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return EventConsumer(handler, once, config)
