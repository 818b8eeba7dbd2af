"""FeedbackGiven domain events (EventBridge -> SQS) -> the feedback summary's running aggregates, once each.

Twice safe: Powertools idempotency on the event id drops redeliveries, and the counting transaction itself
puts a marker per event only if absent, so a racing duplicate adds nothing either. A message that cannot be
read, or an event without a rating, unit or time, is a batch item failure with its reason logged: retried,
then parked in the dead-letter queue, alone; the rest of the batch goes on.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from casework.adapters.consumer import event_consumer
from casework.services.feedback_summary import FeedbackSummary

logger = Logger(service="casework")


@cache
def summary() -> FeedbackSummary:
    from casework.adapters.dynamo import DynamoDirectory
    from casework.adapters.feedback_summary import DynamoFeedbackSummaryStore

    return FeedbackSummary(store=DynamoFeedbackSummaryStore(), directory=DynamoDirectory())


def _count(event: dict[str, Any]) -> str:
    outcome = summary().count(event)
    logger.info(
        "feedback counted", extra={"event_id": event["id"], "case_id": event["case_id"], "outcome": outcome}
    )
    return outcome


consumer = event_consumer(
    _count,
    key_prefix="feedback_summary",
    logger=logger,
    wanted=lambda event: event["type"] == "FeedbackGiven",
)
handler = consumer.handler
