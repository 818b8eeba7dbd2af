"""Approvals that survive holidays, in the pure engine: delegation, recall and who is due a reminder."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from casework.domain import engine
from casework.domain.errors import Conflict, Forbidden
from casework.domain.model import ApprovalRule
from casework.domain.workflow import ApprovalMode
from tests.unit.engine_support import SP, USERS, Run, event_types, events_of, unit_with_rule


def delegated(run: Run, delegates: dict[str, str]) -> Run:
    """What the service does after a command asked approvers: add the delegates of those who are away."""
    change = engine.with_delegates(run.changes[-1], delegates)
    run.changes[-1] = change
    run.case = change.case
    return run


def test_a_delegate_is_asked_right_after_their_approver_with_on_behalf_of():
    run = delegated(Run().to_status("Pending Pre-Approval"), {"john": "susan"})
    requested = events_of(run.changes[-1], "ApprovalRequested")
    assert [(e["approver"], e.get("on_behalf_of")) for e in requested] == [("john", None), ("susan", "john")]
    ids = [e.id for e in run.changes[-1].events]
    assert ids == [f"CSR-1:{run.case.version}:{i}" for i in range(len(ids))]  # still stable and unique
    assert dict(run.case.approval.delegates) == {"john": "susan"}
    assert run.case.approval.is_pending_for("susan")
    assert "susan" in run.case.involved  # so she may see it, wherever her unit is


def test_the_delegates_decision_counts_for_the_approver_and_records_on_whose_behalf():
    run = delegated(Run().to_status("Pending Pre-Approval"), {"john": "susan"})
    change = run.decide("susan", "approve")
    assert change.case.status == "Under Assessment"
    decided = events_of(change, "ApprovalDecided")[0]
    assert (decided["approver"], decided["on_behalf_of"]) == ("susan", "john")
    assert (change.entry.by, change.entry.on_behalf_of) == ("susan", "john")


def test_mode_all_counts_the_approvers_decision_once_whoever_gives_it():
    unit = unit_with_rule("final_approval", "group", users=("peter", "admin"), mode="all")
    run = delegated(Run(unit=unit).to_status("Approval Pending"), {"peter": "susan"})
    change = run.decide("susan", "approve")
    assert dict(change.case.approval.decisions) == {"peter": "approve", "admin": None}
    assert dict(change.case.approval.decided_by) == {"peter": "susan"}
    with pytest.raises(Conflict) as err:
        run.decide("peter", "approve")  # back from holiday: already decided for him
    assert err.value.code == "ALREADY_DECIDED"
    assert run.decide("admin", "approve").case.status == "Under Implementation"


def test_no_delegate_for_oneself_or_for_somebody_already_asked():
    unit = unit_with_rule("final_approval", "group", users=("peter", "admin"), mode="all")
    run = Run(unit=unit).to_status("Approval Pending")
    before = run.changes[-1]
    assert engine.with_delegates(before, {"peter": "admin", "admin": "admin"}) == before


def test_a_stranger_is_still_not_an_approver():
    run = delegated(Run().to_status("Pending Pre-Approval"), {"john": "susan"})
    with pytest.raises(Forbidden) as err:
        run.decide("frank", "approve")
    assert err.value.code == "NOT_AN_APPROVER"


def recall(run: Run, by: str):
    return run._keep(engine.recall(run.defn, run.case, USERS[by], run.unit, now=run._tick()))


def test_recall_returns_to_the_status_before_submission_and_tells_everybody_asked():
    run = delegated(Run().to_status("Pending Pre-Approval"), {"john": "susan"})
    pending = run.case.approval
    assert (pending.submitted_by, pending.submitted_from) == ("mary", "Registration")
    change = recall(run, "mary")
    assert change.case.status == "Registration" and change.case.approval is None
    assert event_types(change)[0] == "ApprovalRecalled"
    recalled = events_of(change, "ApprovalRecalled")[0]
    assert recalled["approvers"] == ["john", "susan"]
    assert (recalled["step"], recalled["round"], recalled["returned_to"]) == (
        "pre_approval",
        1,
        "Registration",
    )
    assert change.entry.action == "approval_recalled"
    # submitting again opens a new round: links of round 1 can never decide it
    assert run.transition("mary", "Pending Pre-Approval").case.approval.round == 2


def test_recall_by_the_submitter_who_is_not_the_creator():
    run = Run().to_status("Approval Pending")  # frank submitted the final approval
    assert run.case.approval.submitted_by == "frank"
    assert recall(run, "frank").case.status == "Under Assessment"


def test_recall_by_anybody_else_is_forbidden():
    run = Run().to_status("Approval Pending")
    with pytest.raises(Forbidden) as err:
        recall(run, "peter")
    assert err.value.code == "NOT_SUBMITTER"


def test_recall_when_nothing_is_pending_is_a_conflict():
    run = Run().to_status("Under Assessment")
    with pytest.raises(Conflict) as err:
        recall(run, "mary")
    assert err.value.code == "NOT_PENDING"


def test_reminders_are_due_only_after_the_units_hours_and_go_to_approvers_and_delegates():
    unit = replace(
        SP,
        approval_rules={
            **SP.approval_rules,
            "pre_approval": ApprovalRule(
                kind="user", users=("john",), mode=ApprovalMode.ANY, remind_after_hours=24
            ),
        },
    )
    run = delegated(Run(unit=unit).to_status("Pending Pre-Approval"), {"john": "susan"})
    asked_at = run.now
    assert engine.reminders_due(run.case, unit, now=asked_at + timedelta(hours=23)) == []
    due = engine.reminders_due(run.case, unit, now=asked_at + timedelta(hours=24))
    assert due == [("john", None), ("susan", "john")]
    # the default applies where the unit says nothing; 0 turns reminders off
    assert engine.reminders_due(run.case, SP, now=asked_at + timedelta(hours=47)) == []
    assert engine.reminders_due(run.case, SP, now=asked_at + timedelta(hours=48)) != []
    off = replace(
        unit,
        approval_rules={"pre_approval": replace(unit.approval_rules["pre_approval"], remind_after_hours=0)},
    )
    assert engine.reminders_due(run.case, off, now=asked_at + timedelta(days=30)) == []


def test_nobody_is_reminded_once_decided():
    run = Run().to_status("Pending Pre-Approval")
    run.decide("john", "approve")
    assert engine.reminders_due(run.case, SP, now=run.now + timedelta(days=10)) == []


def test_an_admin_sets_a_steps_reminder_hours_and_the_unit_reads_them() -> None:
    from casework.domain.directory import unit_from_record
    from casework.domain.directory_admin import parse_entry

    given = {
        "name": "Sales",
        "approval_rules": {"pre_approval": {"kind": "user", "users": ["john"], "remind_after_hours": 24}},
    }
    record, problems = parse_entry("unit", given)
    assert problems == []
    assert record["approval_rules"]["pre_approval"]["remind_after_hours"] == 24
    unit = unit_from_record({**record, "code": "SP"})
    assert unit.approval_rules["pre_approval"].remind_after_hours == 24

    _, problems = parse_entry(
        "unit", {"name": "Sales", "approval_rules": {"x": {"kind": "auto", "remind_after_hours": -1}}}
    )
    assert [p["location"] for p in problems] == ["approval_rules.x.remind_after_hours"]
