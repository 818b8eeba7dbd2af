"""Read models: a case and the things on it as their readers see them. One typed shape per concept, built from
the domain objects by the pure functions below; services return these, adapters list them (so they live here,
below both), and the HTTP layer documents and serialises exactly these models.

Frozen pydantic models: they validate what they are built from (a stored body read back included), dump to
the JSON the API has always answered, and give the OpenAPI its schemas.

Cold start (every API function imports this module at start): the models are declared with
``defer_build=True``, so a function builds the validators of the models its requests use when they first
use them, not all of them at start; and this module has no ``from __future__ import annotations``, because
pydantic would have to evaluate every field's annotation from its text (a third of the import time).
"""

from collections.abc import Mapping
from dataclasses import fields as dataclass_fields
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from casework.domain import durations

if TYPE_CHECKING:  # the entities are imported by the first view built, not by every function's start
    from casework.domain.model import Case, HistoryEntry, PendingApproval


def _absent_when_none(value: Any) -> bool:
    return value is None


class ReadModel(BaseModel):
    # from_attributes: built from the domain's dataclasses where the names are the same
    model_config = ConfigDict(frozen=True, from_attributes=True, defer_build=True)


class KeyDate(ReadModel):
    status: str
    entered_at: str
    entered_by: str
    left_at: str | None
    left_by: str | None


class ApproverDecision(ReadModel):
    username: str
    decision: Literal["approve", "reject"] | None
    # Present only when there is one (most approvals have no delegate).
    delegate: str | None = Field(
        None,
        exclude_if=_absent_when_none,
        description="Also asked, while the approver is away; decides for them.",
    )
    decided_by: str | None = Field(
        None, exclude_if=_absent_when_none, description="The delegate who gave this approver's decision."
    )


class PendingApprovalOut(ReadModel):
    step: str
    round: int
    mode: Literal["any", "all"]
    requested_at: str
    approvers: list[ApproverDecision]
    hold: bool = Field(
        False,
        exclude_if=lambda hold: not hold,  # absent on an approval status's round, as before holds existed
        description="Asked by a workflow rule: the case cannot leave its status until it is decided.",
    )
    label: str | None = Field(None, exclude_if=_absent_when_none, description="A rule's name for the hold.")


class AvailableTransition(ReadModel):
    name: str
    label: str
    to: str
    to_state: str
    accepts: list[str]
    requires: list[str]
    missing: list[str] = Field(description="Required fields that are still empty")
    requires_related: dict[str, int]


class DatesOut(ReadModel):
    start_date: str
    expected_completion_date: str | None
    actual_completion_date: str | None
    closed_at: str | None
    time_to_completion_seconds: int | None
    time_overdue_seconds: int
    overdue: bool


class AcceptanceOut(ReadModel):
    step: str
    round: int
    status: str
    category: str | None
    decision: Literal["accept", "refuse"] | None
    requested_at: str
    decided_at: str | None
    comment: str | None


class CaseSummary(ReadModel):
    """A case as every reader sees it: a list row, an email's case, the case on an email-link page."""

    id: str
    type: str
    workflow_version: int
    title: str | None
    description: str | None
    account_id: str | None
    business_unit: str
    gbu: str
    status: str
    state: str
    version: int
    assignee: str | None
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str
    fields: dict[str, Any]
    related_counts: dict[str, int]
    related_products_count: int = Field(description="# of related products")
    key_dates: list[KeyDate]
    pending_approval: PendingApprovalOut | None
    subtype: str | None = Field(description="The configured type (care modules)")
    config_version: int | None
    contact_id: str | None
    parent_id: str | None = Field(description="The case this one was scheduled from")
    parent_type: str | None
    dates: DatesOut
    acceptance: AcceptanceOut | None = Field(description="The answer waiting for (or decided by) the contact")


class CaseRow(ReadModel):
    """A case as the lists show it (GET /cases, a customer's open cases, the service request summary): the
    short row the list indexes project (``list_row``), not the whole case; GET /cases/{id} has that."""

    id: str
    type: str
    subtype: str | None = Field(description="The configured type (care modules)")
    title: str | None
    status: str
    state: str
    business_unit: str
    gbu: str
    assignee: str | None
    account_id: str | None
    contact_id: str | None
    parent_id: str | None = Field(description="The case this one was scheduled from")
    priority: str | int | None
    created_by: str
    created_at: str
    updated_at: str
    version: int
    related_products_count: int = Field(description="# of related products")
    dates: DatesOut


def list_row(case: "Case", is_open: bool) -> dict[str, Any]:
    """The one place a case becomes a list row: what the lists, the summary and the customer page show of
    it, plus what their filters read (visibility, open, whose approval it waits for: not shown). Stored on the
    case item as ``listing``, the only attribute the list indexes project; keep it small (under 1 KB with the
    keys)."""
    waiting = case.approval.decisions if case.approval is not None else {}
    return {
        "id": case.id,
        "type": case.type,
        "subtype": case.subtype,
        "title": case.title,
        "status": case.status,
        "state": case.state,
        "business_unit": case.business_unit,
        "assignee": case.assignee,
        "account_id": case.account_id,
        "contact_id": case.contact_id,
        "parent_id": case.parent_id,
        "priority": case.fields.get("priority"),
        "created_by": case.created_by,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "version": case.version,
        "related_products_count": case.related_counts.get("products", 0),
        "dates": dict(case.dates),
        "involved": sorted(case.involved),
        "units_seen": sorted(case.units_seen),
        "awaiting": sorted(u for u, d in waiting.items() if d is None) if is_open else [],
        "open": is_open,
    }


def case_row(row: Mapping[str, Any], now: datetime | None = None) -> CaseRow:
    """A stored list row as the lists show it, its dates as they stand at ``now`` (``gbu`` is the business
    unit's other name, as on the case; the filters' fields are dropped)."""
    dates = dates_view(row.get("dates") or {}, row["created_at"], now)
    return CaseRow.model_validate({**row, "gbu": row["business_unit"], "dates": dates})


class CaseView(CaseSummary):
    """A case as its reader sees it: available_transitions, editable_fields and can_decide_approval are the
    caller's."""

    available_transitions: list[AvailableTransition]
    editable_fields: list[str]
    can_decide_approval: bool
    type_name: str


class DeletedCase(ReadModel):
    id: str
    deleted: bool
    version: int


class HistoryView(ReadModel):
    """One change of a case: who, when, from, to, what (also the stored body of its history item)."""

    version: int
    at: str
    by: str
    action: str
    from_status: str | None
    to_status: str | None
    changes: dict[str, Any]
    comment: str | None
    path: list[str]
    on_behalf_of: str | None = Field(
        None, exclude_if=_absent_when_none, description="The approver a delegate decided for"
    )


class NoteView(ReadModel):
    id: str
    case_id: str
    text: str
    author: str
    at: str


class Recipient(ReadModel):
    contact_id: str
    name: str
    email: str


class CommunicationView(ReadModel):
    id: str
    case_id: str
    to: Recipient
    subject: str
    text: str
    template: str | None
    templated: bool = Field(description="Rendered with the case's tags when sent (from a template)")
    by: str
    at: str
    sent_at: str | None = Field(description="When SES took it; null until notify has sent it")
    message_id: str | None = Field(
        None, exclude_if=_absent_when_none, description="SES's id of the sent email (once sent)"
    )


class FeedbackView(ReadModel):
    case_id: str
    rating: int
    comment: str | None
    given_by: str
    at: str


def dates_view(dates: Mapping[str, Any], created_at: str, now: datetime | None) -> DatesOut:
    """Key dates: the stored ones, and what follows from them at ``now`` (time to completion, overdue).
    ``dates`` may be a case's stored dates or a list row's (lists refresh them at read time)."""

    def instant(name: str) -> datetime | None:
        return datetime.fromisoformat(dates[name]) if dates.get(name) else None

    start = instant("start_date") or datetime.fromisoformat(created_at)
    return DatesOut.model_validate(
        durations.key_dates(
            start,
            instant("expected_completion_date"),
            instant("actual_completion_date"),
            now or start,
            closed=instant("closed_at"),
        )
    )


def _pending_approval(approval: "PendingApproval") -> PendingApprovalOut:
    return PendingApprovalOut(
        step=approval.step,
        round=approval.round,
        mode=approval.mode.value,
        requested_at=approval.requested_at,
        hold=approval.hold,
        label=approval.label,
        approvers=[
            ApproverDecision(
                username=u,
                decision=d,
                delegate=approval.delegates.get(u),
                decided_by=approval.decided_by.get(u),
            )
            for u, d in approval.decisions.items()
        ],
    )


# What a reader sees of a case just as the case holds it (key dates and the acceptance are read from their own
# objects by name); the dates are worked out at read time.
@cache
def _as_on_the_case() -> tuple[str, ...]:
    from casework.domain.model import Case

    return tuple(
        f.name for f in dataclass_fields(Case) if f.name in CaseSummary.model_fields and f.name != "dates"
    )


def case_view(case: "Case", now: datetime | None = None) -> CaseSummary:
    """The case as every reader sees it; the caller-specific parts are added by the case queries' view."""
    return CaseSummary.model_validate(
        {
            **{name: getattr(case, name) for name in _as_on_the_case()},
            "gbu": case.business_unit,
            "related_products_count": case.related_counts.get("products", 0),
            "pending_approval": None if case.approval is None else _pending_approval(case.approval),
            "dates": dates_view(case.dates, case.created_at, now),
        }
    )


def history_view(entry: "HistoryEntry") -> HistoryView:
    return HistoryView.model_validate(entry)


class RelatedEntry(ReadModel):
    """An entry of a case's related list; each kind keeps its own details beside these (a product line's
    serial number and return check, an activity's status and assignee)."""

    model_config = ConfigDict(frozen=True, from_attributes=True, extra="allow", defer_build=True)

    kind: str
    key: str
    label: str | None
    added_by: str
    added_at: str


class DelegationEnded(ReadModel):
    owner: str
    deleted: bool
