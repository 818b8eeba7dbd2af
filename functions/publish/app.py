"""Outbox relay: table stream records carrying domain events -> EventBridge.

History/outbox items are written once, in the same transaction as the state change they record, so the
events leave even if a function crashes right after its commit. The stream filter passes every INSERT;
only items with events (``zevents``, packed, on a commit's history item; an ``events`` list on the others)
carry anything to publish. A failed record is reported by its
sequence number so Lambda retries from there (duplicates are fine: event ids are stable).
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from casework.adapters.codec import plain
from casework.adapters.events import EventBridgePublisher
from casework.adapters.packing import unpack

logger = Logger(service="casework")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
publisher = EventBridgePublisher(os.environ["EVENT_BUS_NAME"])  # boto3 client created on first publish


def record_handler(record: DynamoDBRecord) -> int:
    """Publish the events one stream record carries; returns how many."""
    if record.event_name != DynamoDBRecordEventName.INSERT or record.dynamodb is None:
        return 0
    image = record.dynamodb.new_image or {}
    # a commit's history item packs its events (zevents); notes, communications and feedback list them
    events = unpack(image["zevents"]) if image.get("zevents") else plain(image.get("events"))
    if not events:
        return 0
    publisher.publish(events)
    logger.debug(
        "published",
        extra={
            "sequence_number": record.dynamodb.sequence_number,
            "event_ids": [e.get("id") for e in events],
        },
    )
    return len(events)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
