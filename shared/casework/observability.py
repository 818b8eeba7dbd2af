"""Logger, Tracer and Metrics of every function, in one place: the edge's view of what casework does.

- ``logger``: the Powertools Logger (service from POWERTOOLS_SERVICE_NAME). The services' standard-library
  loggers (``casework.*``) share its handler, so their ``extra`` fields and the correlation id of the work in
  hand appear on their lines too, as JSON, in Lambda as locally.
- ``metrics``: CloudWatch metrics as EMF (namespace from POWERTOOLS_METRICS_NAMESPACE), flushed by
  ``entry_point`` after each invocation. The services stay pure: what is counted is read at the edge, from
  the domain events the outbox relays (``count_committed``: transitions, approvals decided), from what the
  notifier returns (``count_emails``) and from the batch item failures of the consumers (``process_batch``).
- The Tracer: importing the X-Ray SDK costs more than importing boto3 (it imports botocore), so it is built
  on the first invocation, and only where tracing is active (on Lambda, unless POWERTOOLS_TRACE_DISABLED).
  Locally and in the tests the SDK is never imported. It patches botocore only (boto3 and PynamoDB both go
  through it).

Metric dimensions stay bounded: a case type and two statuses of its workflow definition, a decision.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Mapping
from functools import cache, wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from casework import settings as environment

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

Handler = TypeVar("Handler", bound=Callable[..., Any])

SERVICE_LOGGERS = "casework"  # the standard-library loggers of the package: casework.services.notify, ...
TRANSITIONS = "CaseTransitioned"
APPROVALS_DECIDED = "ApprovalDecided"
EMAILS_SENT = "EmailsSent"
EVENTS_FAILED = "EventsFailed"

# Most invocations (every read) count nothing but the cold start: expected, not worth a warning each time.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

_settings = environment.load()
logger = Logger(service=_settings.service_name)
metrics = Metrics(namespace=_settings.metrics_namespace, service=_settings.service_name)

logging.getLogger(SERVICE_LOGGERS)  # registered now, so the copy below reaches every child created later
copy_config_to_registered_loggers(source_logger=logger, include={SERVICE_LOGGERS})


@cache  # built once per container, on first use
def tracer() -> Tracer | None:
    """The Tracer when tracing is active, else None (and the X-Ray SDK stays unimported)."""
    if not environment.load().tracing_active:
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(service=_settings.service_name, patch_modules=("botocore",))


def _traced(handler: Handler) -> Handler:
    """``capture_lambda_handler``, decided on the first invocation (see the module's docstring)."""
    wrapped: list[Callable[..., Any]] = []

    @wraps(handler)
    def run(event: Any, context: Any) -> Any:
        if not wrapped:
            active = tracer()
            # capture_response=False: responses carry case data (personal data; X-Ray metadata caps at 64 KB)
            wrapped.append(
                handler if active is None else active.capture_lambda_handler(handler, capture_response=False)
            )
        return wrapped[0](event, context)

    return cast(Handler, run)


def entry_point(correlation_id_path: str | None = None) -> Callable[[Handler], Handler]:
    """What every Lambda handler wears: the Lambda context (and the correlation id found at
    ``correlation_id_path``, a JMESPath into the event) on every log line, metrics flushed after each
    invocation with a ColdStart metric on the first, and the handler traced where tracing is active."""

    def decorate(handler: Handler) -> Handler:
        traced = _traced(handler)
        flushed = metrics.log_metrics(traced, capture_cold_start_metric=True)
        return cast(Handler, logger.inject_lambda_context(flushed, correlation_id_path=correlation_id_path))

    return decorate


def _count_with_dimensions(name: str, **dimensions: Any) -> None:
    """One metric with dimensions of its own (its own EMF blob: the handler's other metrics keep theirs)."""
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=1,
        namespace=_settings.metrics_namespace,
        default_dimensions={"service": _settings.service_name},
    ) as metric:
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=str(value or "none"))


def count_committed(events: Iterable[Mapping[str, Any]]) -> None:
    """The business metrics of committed domain events (the outbox relay calls this once per event it
    published): transitions by case type, from and to status; approval decisions by case type and decision."""
    for event in events:
        data = event.get("data") or {}
        if event.get("type") == TRANSITIONS:
            _count_with_dimensions(
                TRANSITIONS,
                case_type=event.get("case_type"),
                from_status=data.get("from_status"),
                to_status=data.get("to_status"),
            )
        elif event.get("type") == APPROVALS_DECIDED:
            _count_with_dimensions(
                APPROVALS_DECIDED, case_type=event.get("case_type"), decision=data.get("decision")
            )


def count_emails(sent: int) -> None:
    if sent:
        metrics.add_metric(name=EMAILS_SENT, unit=MetricUnit.Count, value=sent)


def count_failed_event() -> None:
    metrics.add_metric(name=EVENTS_FAILED, unit=MetricUnit.Count, value=1)


@cache
def _counting_processor_class() -> type[BatchProcessor]:
    """Powertools' BatchProcessor that also counts each batch item failure as EventsFailed; the class is
    built on first use (Powertools' batch module is imported then)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor

    class CountingBatchProcessor(BatchProcessor):
        def failure_handler(self, record: Any, exception: Any) -> Any:
            count_failed_event()
            return super().failure_handler(record, exception)

    return CountingBatchProcessor


def batch_processor(event_type: str) -> BatchProcessor:
    """A processor for one batch of ``event_type`` (an EventType value: "SQS", "DynamoDBStreams"). One per
    batch: a processor keeps the batch's results, and two batches handled at once must not share them."""
    from aws_lambda_powertools.utilities.batch import EventType

    return _counting_processor_class()(event_type=EventType(event_type), raise_on_entire_batch_failure=False)


def process_batch(
    event: dict[str, Any], context: Any, record_handler: Callable[[Any], Any], event_type: str
) -> PartialItemFailureResponse:
    """A batch from a queue or a stream, each record handled on its own (Powertools batch processing): a
    record that fails is reported as a batch item failure while the rest of the batch goes on."""
    from aws_lambda_powertools.utilities.batch import process_partial_response

    processor = batch_processor(event_type)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
