"""Queue consumers of domain events (EventBridge -> SQS -> Lambda): the machinery every one of them needs.

Each SQS message is an EventBridge envelope whose ``detail`` is one of our DomainEvent dicts. Delivery is at
least once, so each event goes through Powertools idempotency keyed on the event id (records in the case
table, expiring through its TTL attribute). A message that cannot be read, or whose handling raises, is
reported as a batch item failure: retried, then parked in the dead-letter queue, alone; its reason (a stable
code and a message) is logged.

Other queues of events (the ERP's) use the same machinery with their own ``read`` of a message and their own
idempotency key.
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
from casework.adapters.events import PoisonMessage, domain_event
from casework.domain.errors import DomainError, ErrorKind

IDEMPOTENCY_DAYS = 7
IDEMPOTENCY_SK = "IDEMPOTENCY"


class OwnPartitionPersistence(DynamoDBPersistenceLayer):
    """Powertools keys every record of a table that has a sort key on one partition
    (``idempotency#<function>``): at scale the table's hottest key, half of its writes. Here each record is
    its own partition: pk = the idempotency key (``<consumer>#<hash of the event id>``), sk = IDEMPOTENCY."""

    def _get_key(self, idempotency_key: str) -> dict:
        return {self.key_attr: {"S": idempotency_key}, self.sort_key_attr: {"S": IDEMPOTENCY_SK}}


@dataclass(frozen=True)
class EventConsumer:
    handler: Callable[[dict[str, Any], LambdaContext], dict[str, Any]]  # the Lambda entry point
    once: Callable[..., Any]  # the handling, idempotent: call with event=
    config: IdempotencyConfig  # register a LambdaContext here to call ``once`` outside ``handler``


def _log_failure(logger: Logger, record: SQSRecord, exc: Exception) -> None:
    """Why a message failed, once, where it failed: the DLQ keeps the message, the log keeps the reason."""
    code = getattr(exc, "code", None)
    extra = {"message_id": record.message_id, "code": code or type(exc).__name__, "reason": str(exc)}
    if isinstance(exc, DomainError):
        extra["details"] = exc.details
    if isinstance(exc, PoisonMessage) or (isinstance(exc, DomainError) and exc.kind is ErrorKind.INVALID):
        # refused as it is: retried, it ends in the DLQ unless what it lacks (a customer) arrives meanwhile
        logger.warning("message rejected", extra=extra)
    elif isinstance(exc, DomainError) or getattr(exc, "retry_later", False):
        # a conflict, a missing record, work another delivery is doing: a later delivery may succeed
        logger.warning("message failed", extra=extra)
    else:  # throttling, a concurrent delivery in progress, a bug: retried, with the traceback logged
        logger.exception("message failed", extra=extra)


def event_consumer(
    handle: Callable[..., Any],
    *,
    key_prefix: str,
    logger: Logger,
    read: Callable[[str | None, str], dict[str, Any]] = domain_event,
    key: str = "id",
    wanted: Callable[[dict[str, Any]], bool] | None = None,
    idempotent: bool = True,
) -> EventConsumer:
    """The Lambda handler for a queue of events, around ``handle`` made idempotent.
    ``key_prefix`` keeps each consumer's idempotency records apart in the shared table; ``read`` turns a
    message body into the event dict ``handle`` gets (raising PoisonMessage if it cannot), and ``key`` is the
    JMESPath of the event's idempotency key in it; ``wanted`` (when given) says from the event alone whether
    there is anything to do, so events of no concern are acknowledged without writing anything.
    ``idempotent=False`` leaves out the idempotency records (two writes per event) for a handling that is
    idempotent by itself (a conditional write that a second delivery cannot pass)."""
    persistence = OwnPartitionPersistence(
        table_name=os.environ["TABLE_NAME"], key_attr="pk", sort_key_attr="sk", expiry_attr="expires_at"
    )
    config = IdempotencyConfig(
        event_key_jmespath=key,
        expires_after_seconds=IDEMPOTENCY_DAYS * 86400,
        raise_on_no_idempotency_key=True,
    )
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    once = (
        idempotent_function(
            data_keyword_argument="event", persistence_store=persistence, config=config, key_prefix=key_prefix
        )(handle)
        if idempotent
        else handle
    )

    def record_handler(record: SQSRecord) -> Any:
        try:
            event = read(record.body, record.message_id)
            # What this handling writes (and logs) carries the correlation id of the event it handles.
            correlation_id = str(event.get("correlation_id") or event.get("id") or record.message_id)
            logger.set_correlation_id(correlation_id)
            with correlation.bound(correlation_id):
                if wanted is not None and not wanted(event):
                    return None  # nothing to do for it: not worth an idempotency record
                return once(event=event)
        except Exception as exc:
            _log_failure(logger, record, exc)
            raise

    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        config.register_lambda_context(context)
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return EventConsumer(handler, once, config)
