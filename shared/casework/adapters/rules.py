"""Workflow rule sets on the single table, one immutable item per version (like module configurations):

    RULES#<module> / V#<nnnn>     the rule set (casework.domain.rules) of that version

The partition holds one module's versions only (three modules, a handful of versions each, read through
a per-process cache: the latest is looked up once a minute, each version read once), so it never runs hot.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from casework import settings as environment
from casework.adapters.aws_client import LazyClient
from casework.adapters.definitions import _Versions
from casework.adapters.dynamo import Item
from casework.domain.errors import NotFound
from casework.domain.rules import EMPTY, RuleSet


class RuleSetItem(Item, discriminator="rules"):
    pass


def _no_rules(module: str, version: int | None) -> NotFound:
    return NotFound("UNKNOWN_RULES_VERSION", f"There is no {module} rule set version {version}.")


class DynamoRuleStore:
    def __init__(self, latest_ttl_seconds: float = 60.0) -> None:
        self.stored = _Versions(RuleSetItem, "RULES", latest_ttl_seconds, _no_rules)
        self.parsed: dict[tuple[str, int], RuleSet] = {}

    def get(self, module: str, version: int | None = None) -> tuple[RuleSet, int]:
        if version is None:
            version = self.stored.latest.get(module, lambda: self.stored.newest(module) or 0)
        if version == 0:
            return EMPTY, 0
        key = (module, version)
        if key not in self.parsed:
            body, _ = self.stored.get(module, version)
            # stored only after validation: no need to check references again
            self.parsed[key] = RuleSet.model_validate(body)
        return self.parsed[key], version

    def put(self, module: str, rules: RuleSet, expected_version: int | None) -> int:
        version = self.stored.add(module, rules.to_dict(), expected_version, "rules")
        self.parsed[(module, version)] = rules
        return version


class EventBridgePlanScheduler:
    """Communication plan steps as EventBridge Scheduler one-time schedules (``at(...)``, UTC) that invoke
    the plan step function with the step as input and delete themselves once run. The function and the role
    the scheduler assumes to invoke it come from PLAN_STEP_FUNCTION_ARN and PLAN_SCHEDULE_ROLE_ARN."""

    client = LazyClient("scheduler")

    def __init__(self, client: object = None) -> None:
        self._client = client

    def schedule(self, name: str, at: datetime, payload: dict[str, Any]) -> None:
        when = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        target = environment.load("PLAN_STEP_FUNCTION_ARN", "PLAN_SCHEDULE_ROLE_ARN")
        # a conflict: scheduled by an earlier delivery of the same event
        with contextlib.suppress(self.client.exceptions.ConflictException):
            self.client.create_schedule(
                Name=name,
                ScheduleExpression=f"at({when})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": target.plan_step_function_arn,
                    "RoleArn": target.plan_schedule_role_arn,
                    "Input": json.dumps({"plan_step": payload}),
                    "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 86400},
                },
            )

    def cancel(self, name: str) -> None:
        # not found: already run (and deleted), or never made
        with contextlib.suppress(self.client.exceptions.ResourceNotFoundException):
            self.client.delete_schedule(Name=name)


class DynamoOverdueCases:
    """gsi4 (open cases of a type in a unit, in UNIT_SHARDS partitions, sorted by expected completion) read
    up to a date: each shard's Query stops at the first case not yet due, so a sweep reads the late cases
    only."""

    def overdue(self, case_type: str, business_unit: str, due_before: str) -> list[dict[str, Any]]:
        """The list rows (casework.domain.views.list_row: id, type, subtype, dates, ...) of the late cases:
        the index projects the row, not the case."""
        from casework.adapters.dynamo import UNIT_SHARDS, CaseItem, open_key, read_row

        found = []
        for shard in range(UNIT_SHARDS):
            for item in CaseItem.open_by_due.query(
                open_key(case_type, business_unit, shard),
                range_key_condition=CaseItem.gsi4sk < due_before,
            ):
                found.append(read_row(item))
        return found
