"""A communication plan step is due (EventBridge Scheduler one-time schedule -> this function).

The schedule's input is ``{"plan_step": {module, case_id, plan, step, entered_at, schedule}}``. The step is
sent to the case's contact only if the case is still in the stay that started the plan; it is sent once
however often the schedule retries (the sent ledger, under the schedule's name). An input that is not a
plan step is logged and dropped: a retry would not make it one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from casework.observability import entry_point, logger

if TYPE_CHECKING:  # the rules and the case services come with the first event (cold start)
    from casework.services.rules import RuleRunner

FIELDS = ("module", "case_id", "plan", "step", "entered_at", "schedule")


def runner() -> RuleRunner:
    from casework.http.wiring import rule_runner

    return rule_runner()


@entry_point()
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = event.get("plan_step") if isinstance(event, dict) else None
    if not isinstance(step, dict) or any(step.get(name) in (None, "") for name in FIELDS):
        logger.warning("not a plan step", extra={"code": "MALFORMED_PLAN_STEP", "input": str(event)[:500]})
        return {"sent": False, "reason": "MALFORMED_PLAN_STEP"}
    logger.set_correlation_id(str(step["schedule"]))
    outcome = runner().run_plan_step(step)
    logger.info("plan step handled", extra={"case_id": step["case_id"], "plan": step["plan"], **outcome})
    return outcome
