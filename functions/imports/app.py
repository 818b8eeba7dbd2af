"""The import queue's consumer: files dropped under incoming/ (S3 -> EventBridge), the schedule's ticks, and
import jobs continuing themselves. Each message is one record of a Powertools batch: a message that cannot be
read, or whose handling fails, is a batch item failure (logged with its reason; retried, then parked in the
dead-letter queue) while the rest of the batch goes on.

Redelivery is safe without an idempotency record: a job's state carries its checkpoint, and a message for a
checkpoint the job has passed does nothing (see casework.services.imports)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from casework import settings as environment
from casework.observability import entry_point, logger, process_batch

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

REQUIRED = ("TABLE_NAME", "IMPORT_BUCKET", "IMPORT_QUEUE_URL")
environment.load(*REQUIRED)  # fails the init phase with the names of what is missing
_invocation: dict[str, LambdaContext] = {}  # the current invocation's context: its time left


def _time_left() -> float:
    return _invocation["context"].get_remaining_time_in_millis() / 1000


def handle(record: SQSRecord) -> str:
    # the import machinery (table adapters, S3, the services) comes with the first message, not at init
    from casework.adapters.imports import ObjectCreated, RunJob, import_message
    from casework.http.wiring import import_service

    logger.set_correlation_id(record.message_id)  # an import job's lines carry the message that moved it
    try:
        message = import_message(record.body)
    except ValueError as exc:
        logger.error("not an import message", extra={"message_id": record.message_id, "reason": str(exc)})
        raise
    service = import_service()
    run_as = environment.load(*REQUIRED).import_run_as
    if isinstance(message, RunJob):
        outcome = service.run(message.job_id, message.checkpoint, _time_left)
        logger.info("import run", extra={"job_id": message.job_id, "outcome": outcome})
        return outcome
    if isinstance(message, ObjectCreated):
        bucket, obj = message.detail.bucket.name, message.detail.object
        etag = obj.etag or service.files.etag(bucket, obj.key)
        if etag is None:
            logger.warning("dropped file is gone", extra={"bucket": bucket, "key": obj.key})
            return "gone"
        job = service.dropped(bucket, obj.key, etag, run_as)
        if job is None:
            logger.warning("no import kind in the key; left alone", extra={"key": obj.key})
            return "ignored"
        outcome = service.run(job.id, 0, _time_left)
        logger.info("import run", extra={"job_id": job.id, "key": obj.key, "outcome": outcome})
        return outcome
    queued = service.scan(message.bucket, message.prefix, run_as)
    logger.info("schedule tick", extra={"bucket": message.bucket, "prefix": message.prefix, "queued": queued})
    return f"queued {len(queued)}"


@entry_point()
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    _invocation["context"] = context
    return process_batch(event, context, handle, "SQS")
