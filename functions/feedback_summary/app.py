"""FeedbackGiven domain events (EventBridge -> SQS) -> the feedback summary's running aggregates, once each.

Once per event without idempotency records: the counting transaction puts a marker per event only if
absent, so a redelivery or a racing duplicate adds nothing. A message that cannot be
read, or an event without a rating, unit or time, is a batch item failure with its reason logged: retried,
then parked in the dead-letter queue, alone; the rest of the batch goes on.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from casework.adapters.consumer import event_consumer
from casework.observability import logger

if TYPE_CHECKING:  # imported with the first event, by the builder below
    from casework.services.feedback_summary import FeedbackSummary


@cache
def summary() -> FeedbackSummary:
    from casework.adapters.directory import DynamoDirectory
    from casework.adapters.feedback_summary import DynamoFeedbackSummaryStore
    from casework.services.feedback_summary import FeedbackSummary

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
    # the counting transaction's marker (one per event, put only if absent) is what makes it once
    idempotent=False,
    wanted=lambda event: event["type"] == "FeedbackGiven",
)
handler = consumer.handler
