"""Delivers table-stream and SQS messages to the functions as Lambda's event source mappings would:
batches, filter criteria, partial batch failures, retries, and the failure destinations (DLQs).

Every ``DynamoDB`` and ``SQS`` event source of the template's functions is wired to the stream or queue its
``Stream`` / ``Queue`` property references, so a queue-triggered function added to template.yaml is
delivered to without touching this file. EventBridge -> SQS delivery is moto's own (the rules and their
targets come from template.yaml).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import boto3

from infra.local.functions import LocalFunction, event_source, filter_patterns, matches
from infra.local.template import LocalResources

log = logging.getLogger("casework.local.dispatcher")
REGION_FALLBACK = "eu-west-1"


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None
    failures: int = 0
    last_sequence: str | None = None


@dataclass
class StreamSource:
    function: LocalFunction
    stream_arn: str
    batch_size: int
    max_retries: int
    patterns: list[dict[str, Any]]
    on_failure_queue_url: str | None
    shards: dict[str, _Shard] = field(default_factory=dict)


@dataclass
class QueueSource:
    function: LocalFunction
    queue_url: str
    queue_arn: str
    batch_size: int


class Dispatcher:
    def __init__(self, streams: list[StreamSource], queues: list[QueueSource], region: str) -> None:
        self.streams = streams
        self.queues = queues
        self.region = region
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)
        self._ddbs = boto3.client("dynamodbstreams", region_name=region)
        self._sqs = boto3.client("sqs", region_name=region)
        self.delivered = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: bool = True) -> None:
        """Stop after the invocation under way (each round checks between deliveries)."""
        self._stop.set()
        if wait:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        last_shard_refresh = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - last_shard_refresh > 5:
                    for source in self.streams:
                        self._refresh_shards(source)
                    last_shard_refresh = time.monotonic()
                busy = sum(self._pump_stream(s) for s in self.streams) + self.pump_queues()
            except Exception:  # the harness keeps going; the next round retries
                log.exception("dispatch round failed")
                busy = 0
            if not busy:
                self._stop.wait(0.05)

    # --- DynamoDB stream -> function (the outbox relay) ---

    def _refresh_shards(self, source: StreamSource) -> None:
        description = self._ddbs.describe_stream(StreamArn=source.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            if shard["ShardId"] not in source.shards:
                iterator = self._ddbs.get_shard_iterator(
                    StreamArn=source.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
                source.shards[shard["ShardId"]] = _Shard(shard["ShardId"], iterator)

    def _pump_stream(self, source: StreamSource) -> int:
        handled = 0
        for shard in source.shards.values():
            if not shard.iterator or self._stop.is_set():
                continue
            response = self._ddbs.get_records(ShardIterator=shard.iterator, Limit=source.batch_size)
            records = [self._stream_record(r, source.stream_arn) for r in response.get("Records", [])]
            if not records:
                # moto swaps a table (and its stream shard) for a copy when it cancels a transaction: an
                # iterator taken before reads the orphaned shard forever. Reopen after the last record.
                shard.iterator = self._ddbs.get_shard_iterator(
                    StreamArn=source.stream_arn,
                    ShardId=shard.shard_id,
                    **(
                        {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.last_sequence}
                        if shard.last_sequence
                        else {"ShardIteratorType": "TRIM_HORIZON"}
                    ),
                )["ShardIterator"]
                continue
            wanted = [
                r for r in records if not source.patterns or any(matches(p, r) for p in source.patterns)
            ]
            failed_from = self._invoke_stream(source, wanted) if wanted else None
            if failed_from is None:
                shard.iterator, shard.failures = response.get("NextShardIterator"), 0
                shard.last_sequence = records[-1]["dynamodb"]["SequenceNumber"]
                handled += len(wanted)
                continue
            shard.failures += 1
            if shard.failures > source.max_retries:  # give up on the batch: record it where the template says
                self._send_failure(source, wanted, failed_from)
                shard.iterator, shard.failures = response.get("NextShardIterator"), 0
                shard.last_sequence = records[-1]["dynamodb"]["SequenceNumber"]
            else:  # retry from the first failed record, as Lambda does with ReportBatchItemFailures
                shard.iterator = self._ddbs.get_shard_iterator(
                    StreamArn=source.stream_arn,
                    ShardId=shard.shard_id,
                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                    SequenceNumber=failed_from,
                )["ShardIterator"]
        return handled

    def _stream_record(self, record: dict[str, Any], arn: str) -> dict[str, Any]:
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if hasattr(created, "timestamp"):
            dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
        return {**record, "dynamodb": dynamodb, "awsRegion": self.region, "eventSourceARN": arn}

    def _invoke_stream(self, source: StreamSource, records: list[dict[str, Any]]) -> str | None:
        """The first failed sequence number, or None when the whole batch went through."""
        try:
            result = source.function.invoke({"Records": records}) or {}
        except Exception:
            log.exception("%s failed on a stream batch", source.function.logical_id)
            return records[0]["dynamodb"]["SequenceNumber"]
        failures = [f["itemIdentifier"] for f in result.get("batchItemFailures", [])]
        if not failures:
            self.delivered += len(records)
            return None
        return min(failures, key=int)

    def _send_failure(self, source: StreamSource, records: list[dict[str, Any]], failed_from: str) -> None:
        log.error("%s: giving up on stream records from %s", source.function.logical_id, failed_from)
        if source.on_failure_queue_url:
            self._sqs.send_message(
                QueueUrl=source.on_failure_queue_url,
                MessageBody=json.dumps(
                    {
                        "requestContext": {"condition": "RetryAttemptsExhausted"},
                        "records": [
                            r for r in records if int(r["dynamodb"]["SequenceNumber"]) >= int(failed_from)
                        ],
                    },
                    default=str,
                ),
            )

    # --- SQS -> function (notifications, lead conversion, ...) ---

    def pump_queues(self) -> int:
        """One receive-and-invoke round over every queue; how many messages were handed to functions."""
        return sum(self._pump_queue(q) for q in self.queues if not self._stop.is_set())

    def _pump_queue(self, source: QueueSource) -> int:
        response = self._sqs.receive_message(
            QueueUrl=source.queue_url,
            MaxNumberOfMessages=min(source.batch_size, 10),
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self._sqs_record(m, source.queue_arn) for m in messages]}
        try:
            result = source.function.invoke(event) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            log.exception("%s failed on an SQS batch", source.function.logical_id)
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] in failed:
                # Visible again soon; after the queue's maxReceiveCount, SQS (moto) moves it to the DLQ.
                self._sqs.change_message_visibility(
                    QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=1
                )
            else:
                self._sqs.delete_message(QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"])
                self.delivered += 1
        return len(messages)

    def _sqs_record(self, message: dict[str, Any], arn: str) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": self.region,
        }


def _on_failure_queue_url(resources: LocalResources, props: dict[str, Any]) -> str | None:
    """The queue a stream source's OnFailure destination names (SQS destinations only), if any."""
    on_failure = props.get("DestinationConfig", {}).get("OnFailure", {})
    if on_failure.get("Type", "SQS") != "SQS" or "Destination" not in on_failure:
        return None
    return resources.queue_url(on_failure["Destination"])


def build_dispatcher(
    functions: dict[str, LocalFunction], resources: LocalResources, region: str
) -> Dispatcher:
    """Wire the template's DynamoDB and SQS event sources to the locally created streams and queues, each
    to the one its ``Stream`` / ``Queue`` property references (``!GetAtt ConvertQueue.Arn`` -> that queue).
    """
    streams = [
        StreamSource(
            function=fn,
            stream_arn=resources.resolve(props["Stream"]),
            batch_size=min(int(props.get("BatchSize", 100)), 1000),
            max_retries=int(props.get("MaximumRetryAttempts", 3)),
            patterns=filter_patterns(props),
            on_failure_queue_url=_on_failure_queue_url(resources, props),
        )
        for fn, props in event_source(functions, "DynamoDB")
    ]
    queues = [
        QueueSource(
            function=fn,
            queue_url=resources.queue_url(props["Queue"]),
            queue_arn=resources.resolve(props["Queue"]),
            batch_size=int(props.get("BatchSize", 10)),
        )
        for fn, props in event_source(functions, "SQS")
    ]
    return Dispatcher(streams, queues, region)
