"""Directory records (as stored or seeded) to domain values. Pure: no lookups here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from casework.domain.model import Actor, ApprovalRule, BusinessUnit
from casework.domain.workflow_terms import ApprovalMode


def actor_from_record(record: Mapping[str, Any]) -> Actor:
    units = list(record.get("business_units", ()))
    return Actor(
        username=record["username"],
        display_name=record.get("display_name", ""),
        email=record.get("email"),
        roles=frozenset(record.get("roles", ())),
        business_units=frozenset(units),
        default_business_unit=record.get("default_business_unit") or (units[0] if units else None),
        active=record.get("active", True),
        phone=record.get("phone"),
    )


def members_by_role(users: Iterable[Mapping[str, Any]], unit_code: str) -> dict[str, list[str]]:
    """Who holds each role in a unit. Kept on the unit record so approver lookup is one GetItem."""
    members: dict[str, list[str]] = {}
    for user in users:
        if unit_code in user.get("business_units", ()) and user.get("active", True):
            for role in user.get("roles", ()):
                members.setdefault(role, []).append(user["username"])
    return members


def unit_from_record(record: Mapping[str, Any]) -> BusinessUnit:
    rules = {
        step: ApprovalRule(
            kind=rule.get("kind", "group"),
            users=tuple(rule.get("users", ())),
            role=rule.get("role"),
            mode=ApprovalMode(rule.get("mode", "any")),
            remind_after_hours=None
            if rule.get("remind_after_hours") is None
            else int(rule["remind_after_hours"]),
        )
        for step, rule in record.get("approval_rules", {}).items()
    }
    for step, rule in rules.items():
        if rule.kind not in ("auto", "user", "group"):
            raise ValueError(f"unit {record['code']}: approval rule {step!r} has unknown kind {rule.kind!r}")
    return BusinessUnit(
        code=record["code"],
        name=record.get("name", ""),
        members={role: tuple(users) for role, users in record.get("members", {}).items()},
        responsibles=dict(record.get("responsibles", {})),
        approval_rules=rules,
    )
