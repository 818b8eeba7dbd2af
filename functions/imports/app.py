"""The import queue's consumer: files dropped under incoming/ (S3 -> EventBridge), the schedule's ticks, and
import jobs continuing themselves. Each message is one record of a Powertools batch: a message that cannot be
read, or whose handling fails, is a batch item failure (logged with its reason; retried, then parked in the
dead-letter queue) while the rest of the batch goes on.

Redelivery is safe without an idempotency record: a job's state carries its checkpoint, and a message for a
checkpoint the job has passed does nothing (see casework.services.imports)."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from casework.adapters.imports import ObjectCreated, RunJob, import_message
from casework.http.wiring import import_service

logger = Logger(service="casework")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_invocation: dict[str, LambdaContext] = {}  # the current invocation's context: its time left


def _time_left() -> float:
    return _invocation["context"].get_remaining_time_in_millis() / 1000


def handle(record: SQSRecord) -> str:
    try:
        message = import_message(record.body)
    except ValueError as exc:
        logger.error("not an import message", extra={"message_id": record.message_id, "reason": str(exc)})
        raise
    service = import_service()
    run_as = os.environ.get("IMPORT_RUN_AS", "admin")
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


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _invocation["context"] = context
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
