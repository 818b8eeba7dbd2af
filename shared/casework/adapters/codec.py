"""Domain values to and from the plain dicts we store. Pure; the storage adapters wrap these."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from casework.domain.model import Case, PendingAcceptance, PendingApproval, Phase
from casework.domain.workflow_terms import ApprovalMode


def plain(value: Any) -> Any:
    """DynamoDB hands numbers back as Decimal; the rest of the code (and JSON) wants int/float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def case_to_dict(case: Case) -> dict[str, Any]:
    data = asdict(case)
    data["key_dates"] = [asdict(p) for p in case.key_dates]
    if case.approval is not None:
        data["approval"] = {
            **asdict(case.approval),
            "mode": case.approval.mode.value,
            "decisions": dict(case.approval.decisions),
            "delegates": dict(case.approval.delegates),
            "decided_by": dict(case.approval.decided_by),
        }
    data["fields"] = dict(case.fields)
    data["related_counts"] = dict(case.related_counts)
    data["dates"] = dict(case.dates)
    data["involved"] = sorted(case.involved)
    data["units_seen"] = sorted(case.units_seen)
    return data


def case_from_dict(data: dict[str, Any]) -> Case:
    data = plain(dict(data))
    approval = data.pop("approval", None)
    acceptance = data.pop("acceptance", None)
    # items written before cases recorded their people have neither: the empty set, as for a new case
    data["involved"] = frozenset(data.get("involved") or ())
    data["units_seen"] = frozenset(data.get("units_seen") or ())
    return Case(
        **{**data, "key_dates": tuple(Phase(**p) for p in data.get("key_dates", ()))},
        acceptance=None if acceptance is None else PendingAcceptance(**acceptance),
        approval=None
        if approval is None
        else PendingApproval(
            step=approval["step"],
            round=approval["round"],
            mode=ApprovalMode(approval["mode"]),
            decisions=approval["decisions"],
            requested_at=approval["requested_at"],
            delegates=approval.get("delegates") or {},
            decided_by=approval.get("decided_by") or {},
            submitted_by=approval.get("submitted_by"),
            submitted_from=approval.get("submitted_from"),
            hold=bool(approval.get("hold")),
            label=approval.get("label"),
        ),
    )
