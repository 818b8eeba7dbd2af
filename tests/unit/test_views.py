"""The read models answer exactly the JSON the API has always answered: every key, the optional ones absent
(not null) when there is nothing to say, and the key dates worked out when the case is looked at."""

from __future__ import annotations

from datetime import UTC, datetime

from casework.domain.model import (
    Case,
    HistoryEntry,
    PendingAcceptance,
    PendingApproval,
    Phase,
)
from casework.domain.views import case_view, history_view
from casework.domain.workflow import ApprovalMode

CASE = Case(
    id="CASE-1",
    type="csr",
    workflow_version=3,
    title="ESD bags",
    description=None,
    account_id="ACC-1001",
    business_unit="SP",
    status="Pending Pre-Approval",
    state="open",
    version=4,
    assignee="mary",
    created_by="mary",
    created_at="2025-03-03T09:00:00.000Z",
    updated_by="mary",
    updated_at="2025-03-03T10:00:00.000Z",
    fields={"annual_volume": 50},
    related_counts={"products": 2},
    key_dates=(
        Phase("Registration", "2025-03-03T09:00:00.000Z", "mary", "2025-03-03T10:00:00.000Z", "mary"),
    ),
    approval=PendingApproval(
        step="pre_approval",
        round=1,
        mode=ApprovalMode("any"),
        decisions={"john": None, "peter": "approve"},
        requested_at="2025-03-03T10:00:00.000Z",
        delegates={"john": "dave"},
        decided_by={"peter": "susan"},
    ),
    dates={"expected_completion_date": "2025-03-03T11:00:00.000Z"},
    acceptance=PendingAcceptance(
        step="response",
        round=1,
        status="Pending Pre-Approval",
        category="ACK",
        decision=None,
        requested_at="2025-03-03T10:00:00.000Z",
    ),
)


def test_a_case_reads_as_the_api_has_always_answered_it() -> None:
    at_noon = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
    assert case_view(CASE, at_noon).model_dump(mode="json") == {
        "id": "CASE-1",
        "type": "csr",
        "workflow_version": 3,
        "title": "ESD bags",
        "description": None,
        "account_id": "ACC-1001",
        "business_unit": "SP",
        "gbu": "SP",
        "status": "Pending Pre-Approval",
        "state": "open",
        "version": 4,
        "assignee": "mary",
        "created_by": "mary",
        "created_at": "2025-03-03T09:00:00.000Z",
        "updated_by": "mary",
        "updated_at": "2025-03-03T10:00:00.000Z",
        "fields": {"annual_volume": 50},
        "related_counts": {"products": 2},
        "related_products_count": 2,
        "key_dates": [
            {
                "status": "Registration",
                "entered_at": "2025-03-03T09:00:00.000Z",
                "entered_by": "mary",
                "left_at": "2025-03-03T10:00:00.000Z",
                "left_by": "mary",
            }
        ],
        "pending_approval": {
            "step": "pre_approval",
            "round": 1,
            "mode": "any",
            "requested_at": "2025-03-03T10:00:00.000Z",
            # a delegate or a deciding delegate only where there is one
            "approvers": [
                {"username": "john", "decision": None, "delegate": "dave"},
                {"username": "peter", "decision": "approve", "decided_by": "susan"},
            ],
        },
        "subtype": None,
        "config_version": None,
        "contact_id": None,
        "parent_id": None,
        "parent_type": None,
        "dates": {
            "start_date": "2025-03-03T09:00:00.000Z",
            "expected_completion_date": "2025-03-03T11:00:00.000Z",
            "actual_completion_date": None,
            "closed_at": None,
            "time_to_completion_seconds": None,
            "time_overdue_seconds": 3600,
            "overdue": True,
        },
        "acceptance": {
            "step": "response",
            "round": 1,
            "status": "Pending Pre-Approval",
            "category": "ACK",
            "decision": None,
            "requested_at": "2025-03-03T10:00:00.000Z",
            "decided_at": None,
            "comment": None,
        },
    }


def test_a_history_entry_names_a_principal_only_for_a_delegate() -> None:
    own = HistoryEntry(
        version=2, at="t", by="john", action="approval_decided", changes={"x": {"from": 1, "to": 2}}
    )
    assert history_view(own).model_dump(mode="json") == {
        "version": 2,
        "at": "t",
        "by": "john",
        "action": "approval_decided",
        "from_status": None,
        "to_status": None,
        "changes": {"x": {"from": 1, "to": 2}},
        "comment": None,
        "path": [],
    }
    delegated = HistoryEntry(version=3, at="t", by="dave", action="approval_decided", on_behalf_of="john")
    assert history_view(delegated).model_dump(mode="json")["on_behalf_of"] == "john"
