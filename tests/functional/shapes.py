"""Real-shaped events for invoking queue consumers directly: an EventBridge envelope around one of our
domain events, inside an SQS record, as Lambda's SQS event source delivers it."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

REGION = "eu-west-1"


def envelope(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": event["type"],
        "source": "casework",
        "account": DEFAULT_ACCOUNT_ID,
        "time": event["occurred_at"][:19] + "Z",
        "region": REGION,
        "resources": [],
        "detail": event,
    }


def sqs_record(
    body: str, message_id: str | None = None, queue: str = "casework-NotifyQueue"
) -> dict[str, Any]:
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEB" + uuid.uuid4().hex,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1741000000000",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1741000000001",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{DEFAULT_ACCOUNT_ID}:{queue}",
        "awsRegion": REGION,
    }


def for_event(
    event: dict[str, Any], message_id: str | None = None, queue: str = "casework-NotifyQueue"
) -> dict:
    """The SQS record carrying ``event`` as the EventBridge rule delivers it."""
    return sqs_record(json.dumps(envelope(event)), message_id, queue)


def stream_insert(new_image: dict[str, Any], sequence_number: str = "1") -> dict[str, Any]:
    """The table stream's record of an inserted item (``new_image`` in DynamoDB's AttributeValue form), as
    Lambda's DynamoDB event source delivers it to the publish function."""
    # Lambda's stream records carry binary attributes as base64 text, as any JSON event does
    new_image = {
        name: {"B": base64.b64encode(value["B"]).decode()} if isinstance(value.get("B"), bytes) else value
        for name, value in new_image.items()
    }
    keys = {name: new_image[name] for name in ("pk", "sk") if name in new_image}
    return {
        "eventID": sequence_number,
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": {
            "Keys": keys,
            "NewImage": new_image,
            "SequenceNumber": sequence_number,
            "StreamViewType": "NEW_IMAGE",
        },
    }


def stored_events(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The events a table item carries: packed (``zevents``, a commit's history item) or listed (``events``),
    from a client's item (AttributeValues) or a resource's (plain values)."""
    from boto3.dynamodb.types import TypeDeserializer

    from casework.adapters.codec import plain
    from casework.adapters.packing import unpack

    packed = item.get("zevents")
    if packed is not None:
        raw = packed["B"] if isinstance(packed, dict) else packed
        return plain(unpack(bytes(getattr(raw, "value", raw))))  # type: ignore[no-any-return]
    listed = item.get("events")
    if isinstance(listed, dict):  # an AttributeValue
        listed = TypeDeserializer().deserialize(listed)
    return plain(listed or [])  # type: ignore[no-any-return]


def subscriber_queue(bus_name: str, name: str = "every-casework-event") -> str:
    """A queue that a rule of its own sends every casework event on the bus to (as an ERP subscriber's):
    what was published, whichever consumer's rule lets it through. Returns the queue's URL."""
    import boto3

    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus_name, EventPattern=json.dumps({"source": ["casework"]}))
    events.put_targets(Rule=name, EventBusName=bus_name, Targets=[{"Id": name, "Arn": arn}])
    return url
