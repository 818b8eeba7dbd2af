"""Domain events (EventBridge -> SQS) -> the care modules' workflow rules, once per event.

Each SQS message is an EventBridge envelope whose ``detail`` is one of our DomainEvent dicts. ``wanted``
decides from the event and the cached rule set alone whether any rule is triggered: an event no rule is
triggered by is acknowledged without a read or a write. A triggered one is handled once (Powertools
idempotency on the event id), so each (event, rule) runs once; a message that cannot be read, or whose
rules fail (a rule naming an activity type that was removed since, say), is a batch item failure with
its reason logged: retried, then parked in the dead-letter queue alone, the rest of the batch going on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from casework.adapters.consumer import event_consumer
from casework.observability import logger

if TYPE_CHECKING:  # the rules and the case services come with the first event (cold start)
    from casework.services.rules import RuleRunner


def runner() -> RuleRunner:
    from casework.http.wiring import rule_runner

    return rule_runner()


def _run(event: dict[str, Any]) -> dict[str, Any]:
    outcome = runner().handle(event)
    logger.info(
        "event handled",
        extra={"event_id": event["id"], "event_type": event["type"], "case_id": event["case_id"], **outcome},
    )
    return outcome


def _wanted(event: dict[str, Any]) -> bool:
    from casework.services.rules import triggered_by

    return bool(triggered_by(runner().rules, event))


consumer = event_consumer(_run, key_prefix="rules", wanted=_wanted)
handler = consumer.handler
