"""The overdue sweep: EventBridge Scheduler (OverdueSchedule, hourly) -> the workflow rules triggered by a
case being overdue by N hours (casework.services.rules.RuleRunner.sweep_overdue).

Each (case, rule, expected completion date) is handled once: a run that fails part-way is retried by the
schedule, and repeats only what is safe to repeat (see casework.services.rules).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from casework.observability import entry_point, logger

if TYPE_CHECKING:  # the rules and the case services come with the first event (cold start)
    from casework.services.rules import RuleRunner


def runner() -> RuleRunner:
    from casework.http.wiring import rule_runner

    return rule_runner()


@entry_point()
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = runner().sweep_overdue()
    logger.info("overdue sweep done", extra=outcome)
    return outcome
