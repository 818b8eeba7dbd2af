"""Outbox relay: table stream records carrying domain events -> EventBridge.

History/outbox items are written once, in the same transaction as the state change they record, so the
events leave even if a function crashes right after its commit. The stream filter passes every INSERT;
only items with events (``zevents``, packed, on a commit's history item; an ``events`` list on the others)
carry anything to publish. A failed record is reported by its
sequence number so Lambda retries from there (duplicates are fine: event ids are stable).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from casework import settings as environment
from casework.adapters.codec import plain
from casework.adapters.events import EventBridgePublisher
from casework.adapters.packing import unpack
from casework.observability import count_committed, entry_point, logger, process_batch

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

# the boto3 client is created on first publish
publisher = EventBridgePublisher(environment.load("EVENT_BUS_NAME").event_bus_name)


def record_handler(record: DynamoDBRecord) -> int:
    """Publish the events one stream record carries; returns how many."""
    if record.event_name is None or record.event_name.name != "INSERT" or record.dynamodb is None:
        return 0
    image = record.dynamodb.new_image or {}
    # a commit's history item packs its events (zevents); notes, communications and feedback list them
    events = unpack(image["zevents"]) if image.get("zevents") else plain(image.get("events"))
    if not events:
        return 0
    logger.set_correlation_id(events[0].get("correlation_id"))
    publisher.publish(events)
    count_committed(events)  # once they are out: a retried record is not counted twice
    logger.debug(
        "published",
        extra={
            "sequence_number": record.dynamodb.sequence_number,
            "event_ids": [e.get("id") for e in events],
        },
    )
    return len(events)


@entry_point()
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_batch(event, context, record_handler, "DynamoDBStreams")
