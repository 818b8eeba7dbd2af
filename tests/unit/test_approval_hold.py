"""A workflow rule's hold (engine.hold_for_approval): an approval round not tied to an approval status, which
keeps the case in its status until the approvers decide. Pure engine, on the CSR in Registration."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework.adapters.codec import case_from_dict, case_to_dict
from casework.domain import engine
from casework.domain.errors import Conflict, DomainError, Forbidden
from casework.domain.model import Actor
from casework.domain.workflow import ApprovalMode
from tests.unit.engine_support import USERS, Run, event_types, events_of

RULE = Actor(username="rule:needs-ok", roles=frozenset({"Admin"}), business_units=frozenset({"SP"}))


def held(
    users: tuple[str, ...] = ("peter",),
    role: str | None = "Supply Chain & Quality",
    mode: ApprovalMode = ApprovalMode.ANY,
    run: Run | None = None,
) -> Run:
    """A CSR in Registration, held by the rule for peter and the unit's Supply Chain & Quality (john)."""
    if run is None:
        run = Run()
        run.register()
        run.link()
    run._keep(
        engine.hold_for_approval(
            run.defn,
            run.case,
            RULE,
            run.unit,
            step="rule:needs-ok",
            label="Manager's OK",
            users=users,
            role=role,
            mode=mode,
            comment="Large volume",
            now=run._tick(),
        )
    )
    return run


def test_a_hold_asks_the_users_and_the_group_and_keeps_the_case_where_it_is() -> None:
    run = held()
    change = run.changes[-1]
    case = change.case
    assert case.status == "Registration" and case.approval_rounds == 1
    pending = case.approval
    assert pending is not None and pending.hold and pending.label == "Manager's OK"
    assert (pending.step, pending.round, pending.mode) == ("rule:needs-ok", 1, ApprovalMode.ANY)
    assert dict(pending.decisions) == {"peter": None, "john": None}
    assert event_types(change) == ["ApprovalRequested", "ApprovalRequested"]
    assert [e["approver"] for e in events_of(change, "ApprovalRequested")] == ["peter", "john"]
    assert events_of(change, "ApprovalRequested")[0]["step_label"] == "Manager's OK"
    entry = change.entry
    assert (entry.by, entry.action, entry.comment) == ("rule:needs-ok", "approval_requested", "Large volume")
    assert entry.changes == {"approval": {"from": None, "to": "rule:needs-ok"}}
    assert engine.approval_label(run.defn, case) == "Manager's OK"


def test_no_move_out_of_the_status_while_the_hold_waits() -> None:
    run = held()
    before = run.case
    with pytest.raises(Conflict) as caught:
        run.transition("mary", "Pending Pre-Approval")
    assert caught.value.code == "HELD_FOR_APPROVAL"
    assert caught.value.details["waiting_on"] == ["peter", "john"]
    assert run.case is before  # nothing changed
    # moves the definition does not offer are still refused as such, not as held
    with pytest.raises(Conflict) as illegal:
        run.transition("mary", "Implemented")
    assert illegal.value.code == "ILLEGAL_TRANSITION"


def test_an_approval_lifts_the_hold_and_the_case_may_move_on() -> None:
    run = held()
    change = run.decide("peter", "approve", "Fine")
    assert change.case.status == "Registration" and change.case.approval is None
    decided = events_of(change, "ApprovalDecided")[0]
    assert (decided["outcome"], decided["step"], decided["approver"]) == ("approve", "rule:needs-ok", "peter")
    assert change.entry.changes["approval"] == {"from": "rule:needs-ok", "to": None}
    assert run.transition("mary", "Pending Pre-Approval").case.status == "Pending Pre-Approval"


def test_a_rejection_is_in_the_history_and_the_case_stays() -> None:
    run = held()
    change = run.decide("john", "reject", "Too big an order")
    assert change.case.status == "Registration" and change.case.approval is None
    assert events_of(change, "ApprovalDecided")[0]["outcome"] == "reject"
    assert (change.entry.action, change.entry.by, change.entry.comment) == (
        "approval_decided",
        "john",
        "Too big an order",
    )
    assert "CaseTransitioned" not in event_types(change)


def test_all_mode_waits_for_every_approver() -> None:
    run = held(mode=ApprovalMode.ALL)
    first = run.decide("peter", "approve")
    assert first.case.approval is not None and events_of(first, "ApprovalDecided")[0]["outcome"] is None
    with pytest.raises(Conflict):
        run.transition("mary", "Pending Pre-Approval")
    assert run.decide("john", "approve").case.approval is None


def test_a_second_hold_or_one_during_an_approval_step_is_refused() -> None:
    run = held()
    with pytest.raises(Conflict) as twice:
        held(run=run)
    assert twice.value.code == "APPROVAL_ALREADY_PENDING" and run.case.approval_rounds == 1
    in_step = Run().to_status("Pending Pre-Approval")
    with pytest.raises(Conflict) as during:
        held(run=in_step)
    assert during.value.code == "APPROVAL_ALREADY_PENDING"


def test_a_hold_with_nobody_to_ask_is_refused() -> None:
    with pytest.raises(Conflict) as caught:
        held(users=(), role="Nobody Has This")
    assert caught.value.code == "NO_APPROVER"


def test_others_cannot_decide_and_a_hold_cannot_be_recalled() -> None:
    run = held()
    with pytest.raises(Forbidden) as caught:
        run.decide("mary", "approve")
    assert caught.value.code == "NOT_AN_APPROVER"
    with pytest.raises(Conflict) as recall:
        engine.recall(run.defn, run.case, USERS["mary"], run.unit, now=run._tick())
    assert recall.value.code == "NOT_PENDING"


def test_a_hold_is_stored_and_reminded_like_an_approval_step() -> None:
    run = held()
    case = run.case
    assert case_from_dict(case_to_dict(case)) == case
    assert engine.reminders_due(case, run.unit, now=run.now + timedelta(hours=1)) == []
    later = run.now + timedelta(hours=49)
    assert engine.reminders_due(case, run.unit, now=later) == [("peter", None), ("john", None)]


@settings(max_examples=60, deadline=None)
@given(
    mode=st.sampled_from(list(ApprovalMode)),
    steps=st.lists(
        st.tuples(
            st.sampled_from(["peter", "john", "mary", "<move>"]), st.sampled_from(["approve", "reject"])
        ),
        max_size=8,
    ),
)
def test_the_case_never_leaves_its_status_while_held(
    mode: ApprovalMode, steps: list[tuple[str, str]]
) -> None:
    """Whatever is tried in whatever order: while the hold waits the case stays in Registration; the hold is
    lifted exactly when the decisions reach an outcome (any: the first; all: a rejection or all approve)."""
    run = held(mode=mode)
    decisions: dict[str, str] = {}
    for who, decision in steps:
        waiting = run.case.approval is not None and run.case.approval.hold
        try:
            if who == "<move>":
                run.transition("mary", "Pending Pre-Approval")
            else:
                run.decide(who, decision)
                decisions[who] = decision
        except DomainError:  # refused: the invariant below still holds
            pass
        if waiting:
            outcome = "reject" in decisions.values() or (
                bool(decisions) if mode is ApprovalMode.ANY else len(decisions) == 2
            )
            assert (run.case.approval is None) == outcome
        if run.case.approval is not None and run.case.approval.hold:
            assert run.case.status == "Registration"
