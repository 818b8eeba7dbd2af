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

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

from casework import correlation
from casework import settings as environment
from casework.adapters.events import PoisonMessage, domain_event
from casework.domain.errors import DomainError, ErrorKind
from casework.observability import entry_point, logger, process_batch

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.typing import LambdaContext

IDEMPOTENCY_DAYS = 7
IDEMPOTENCY_SK = "IDEMPOTENCY"


@cache
def _own_partition_persistence() -> type[Any]:
    """Built on first use: Powertools' DynamoDB persistence layer imports boto3 (as much as a whole import of
    boto3 at cold start), and the idempotency machinery is first needed by the first message."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    class OwnPartitionPersistence(DynamoDBPersistenceLayer):
        """Powertools keys every record of a table that has a sort key on one partition
        (``idempotency#<function>``): at scale the table's hottest key, half of its writes. Here each record
        is its own partition: pk = the idempotency key (``<consumer>#<hash of the event id>``), sk =
        IDEMPOTENCY."""

        def _get_key(self, idempotency_key: str) -> dict[str, Any]:
            return {self.key_attr: {"S": idempotency_key}, str(self.sort_key_attr): {"S": IDEMPOTENCY_SK}}

    return OwnPartitionPersistence


def own_partition_persistence(table_name: str) -> Any:
    """Powertools' DynamoDB persistence on ``table_name`` with each idempotency record in its own partition
    (the queue consumers' and the API's Idempotency-Key records alike)."""
    return _own_partition_persistence()(
        table_name=table_name, key_attr="pk", sort_key_attr="sk", expiry_attr="expires_at"
    )


def _log_failure(record: SQSRecord, exc: Exception) -> None:
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


@dataclass
class EventConsumer:
    """The Lambda handler for a queue of events, around ``handle`` made idempotent (see event_consumer).
    The Powertools machinery (idempotency, batch processing) is built on the first message, not at import."""

    handle: Callable[..., Any]
    key_prefix: str
    read: Callable[[str | None, str], dict[str, Any]]
    key: str
    wanted: Callable[[dict[str, Any]], bool] | None
    idempotent: bool = True
    handler: Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse] = field(init=False)

    def __post_init__(self) -> None:
        @entry_point()
        def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
            """The Lambda entry point."""
            self.config.register_lambda_context(context)
            return process_batch(event, context, self.record_handler, "SQS")

        self.handler = handler

    @cached_property
    def config(self) -> IdempotencyConfig:
        """Register a LambdaContext here to call ``once`` outside ``handler``."""
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

        return IdempotencyConfig(
            event_key_jmespath=self.key,
            expires_after_seconds=IDEMPOTENCY_DAYS * 86400,
            raise_on_no_idempotency_key=True,
        )

    @cached_property
    def once(self) -> Callable[..., Any]:
        """The handling, idempotent: call with event=."""
        if not self.idempotent:
            return self.handle
        from aws_lambda_powertools.utilities.idempotency import idempotent_function

        persistence = own_partition_persistence(environment.load("TABLE_NAME").table_name)
        idempotent = idempotent_function(
            data_keyword_argument="event",
            persistence_store=persistence,
            config=self.config,
            key_prefix=self.key_prefix,
        )
        return idempotent(self.handle)

    def record_handler(self, record: SQSRecord) -> Any:
        try:
            event = self.read(record.body, record.message_id)
            # What this handling writes (and logs) carries the correlation id of the event it handles.
            correlation_id = str(event.get("correlation_id") or event.get("id") or record.message_id)
            logger.set_correlation_id(correlation_id)
            with correlation.bound(correlation_id):
                if self.wanted is not None and not self.wanted(event):
                    return None  # nothing to do for it: not worth an idempotency record
                return self.once(event=event)
        except Exception as exc:
            _log_failure(record, exc)
            raise


def event_consumer(
    handle: Callable[..., Any],
    *,
    key_prefix: str,
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
    idempotent by itself (a conditional write that a second delivery cannot pass).
    The table is checked at start: TABLE_NAME missing fails the import."""
    environment.load("TABLE_NAME")
    return EventConsumer(handle, key_prefix, read, key, wanted, idempotent)
