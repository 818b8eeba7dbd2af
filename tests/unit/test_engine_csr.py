"""The CSR process through the pure engine: the user story from the issue, then every refusal."""

from __future__ import annotations

from dataclasses import replace

import pytest

from casework.domain import engine
from casework.domain.errors import Conflict, Forbidden, ValidationFailed
from casework.domain.model import Actor, Phase
from casework.domain.workflow import ApprovalMode
from tests.unit.engine_support import (
    CSR,
    OPEN_STATUSES,
    SP,
    USERS,
    Run,
    csr_with,
    event_types,
    events_of,
    unit_with_rule,
)

# --- the story ---------------------------------------------------------------------------------------------


def test_csr_story_from_registration_to_inactive():
    run = Run()

    # mary registers
    change = run.register(requirement_category="Packaging & Labelling", annual_volume=120)
    t_registered = run.at
    case = change.case
    assert (case.status, case.state, case.assignee, case.version) == ("Registration", "open", "mary", 1)
    assert (case.created_by, case.created_at, case.business_unit) == ("mary", t_registered, "SP")
    assert case.fields == {"requirement_category": "Packaging & Labelling", "annual_volume": 120}
    assert case.related_counts == {"products": 0, "accounts": 0}
    assert case.key_dates == (Phase("Registration", t_registered, "mary"),)
    assert change.expected_version is None
    assert event_types(change) == ["CaseRegistered"]
    assert events_of(change, "CaseRegistered")[0] == {
        "status": "Registration",
        "state": "open",
        "title": "Anti-static packaging",
        "account_id": "ACC-1001",
        "business_unit": "SP",
        "assignee": "mary",
    }
    entry = change.entry
    assert (entry.version, entry.action, entry.by, entry.at) == (1, "registered", "mary", t_registered)
    assert (entry.from_status, entry.to_status) == (None, "Registration")
    assert entry.changes["title"] == {"from": "", "to": "Anti-static packaging"}
    assert entry.changes["annual_volume"] == {"from": None, "to": 120}

    # she adds a product
    change = run.link("mary", "P-100")
    assert change.case.related_counts["products"] == 1 and change.case.version == 2
    assert change.expected_version == 1
    assert change.entry.action == "related_added"
    assert change.entry.changes == {"products": {"from": None, "to": "P-100"}}
    assert events_of(change, "RelatedItemAdded") == [
        {"status": "Registration", "state": "open", "kind": "products", "key": "P-100", "count": 1}
    ]

    # and submits it for pre-approval
    change = run.transition("mary", "Pending Pre-Approval")
    t_submitted = run.at
    case = change.case
    assert (case.status, case.state, case.assignee, case.version) == (
        "Pending Pre-Approval",
        "in_approval",
        "mary",
        3,
    )
    assert case.approval.step == "pre_approval" and case.approval.round == 1
    assert dict(case.approval.decisions) == {"john": None}
    assert case.approval.requested_at == t_submitted
    assert event_types(change) == ["CaseTransitioned", "ApprovalRequested"]
    transitioned = events_of(change, "CaseTransitioned")[0]
    assert (transitioned["from_status"], transitioned["to_status"], transitioned["by"]) == (
        "Registration",
        "Pending Pre-Approval",
        "mary",
    )
    requested = events_of(change, "ApprovalRequested")[0]
    assert (requested["approver"], requested["step"], requested["round"], requested["mode"]) == (
        "john",
        "pre_approval",
        1,
        "any",
    )
    assert case.key_dates == (
        Phase("Registration", t_registered, "mary", t_submitted, "mary"),
        Phase("Pending Pre-Approval", t_submitted, "mary"),
    )
    entry = change.entry
    assert (entry.action, entry.from_status, entry.to_status, entry.by) == (
        "transitioned",
        "Registration",
        "Pending Pre-Approval",
        "mary",
    )
    assert entry.changes == {"status": {"from": "Registration", "to": "Pending Pre-Approval"}}
    assert entry.path == ("Pending Pre-Approval",)

    # john pre-approves; frank, responsible for assessment, gets the case
    change = run.decide("john", "approve")
    t_pre_approved = run.at
    case = change.case
    assert (case.status, case.state, case.assignee, case.version) == (
        "Under Assessment",
        "in_progress",
        "frank",
        4,
    )
    assert case.approval is None
    assert event_types(change) == ["ApprovalDecided", "CaseTransitioned", "CaseAssigned"]
    decided = events_of(change, "ApprovalDecided")[0]
    assert (
        decided["approver"],
        decided["decision"],
        decided["outcome"],
        decided["step"],
        decided["via"],
    ) == ("john", "approve", "approve", "pre_approval", "api")
    assigned = events_of(change, "CaseAssigned")[0]
    assert (assigned["assignee"], assigned["previous_assignee"]) == ("frank", "mary")
    assert change.entry.action == "approval_decided" and change.entry.by == "john"
    assert change.entry.changes == {
        "status": {"from": "Pending Pre-Approval", "to": "Under Assessment"},
        "assignee": {"from": "mary", "to": "frank"},
    }
    assert case.key_dates[-2] == Phase("Pending Pre-Approval", t_submitted, "mary", t_pre_approved, "john")
    assert case.key_dates[-1] == Phase("Under Assessment", t_pre_approved, "john")

    # frank cannot final-submit without the global feasibility conclusion
    with pytest.raises(ValidationFailed) as err:
        run.transition("frank", "Approval Pending")
    assert err.value.code == "MISSING_FIELDS"
    assert err.value.details == {"fields": ["global_feasibility_conclusion"]}
    assert "Global Feasibility Conclusion" in err.value.message
    assert run.case.version == 4 and run.case.status == "Under Assessment"

    # with it, the case waits for peter's final approval
    change = run.transition("frank", "Approval Pending", global_feasibility_conclusion="  Feasible in PA66 ")
    case = change.case
    assert (case.status, case.state, case.assignee, case.version) == (
        "Approval Pending",
        "in_approval",
        "frank",
        5,
    )
    assert case.fields["global_feasibility_conclusion"] == "Feasible in PA66"
    assert case.approval.step == "final_approval" and case.approval.round == 2
    assert dict(case.approval.decisions) == {"peter": None}
    assert event_types(change) == ["CaseTransitioned", "ApprovalRequested"]
    assert events_of(change, "ApprovalRequested")[0]["approver"] == "peter"
    assert change.entry.changes["global_feasibility_conclusion"] == {"from": None, "to": "Feasible in PA66"}

    # peter approves; frank implements. He already holds the case, so the assignee does not change, but the
    # implementation is new work for him and is announced (CaseAssigned -> email)
    change = run.decide("peter", "approve")
    case = change.case
    assert (case.status, case.state, case.assignee) == ("Under Implementation", "in_progress", "frank")
    assert event_types(change) == ["ApprovalDecided", "CaseTransitioned", "CaseAssigned"]
    assert events_of(change, "ApprovalDecided")[0]["approver"] == "peter"
    assigned = events_of(change, "CaseAssigned")[0]
    assert (assigned["assignee"], assigned["previous_assignee"]) == ("frank", "frank")
    assert "Under Implementation" in assigned["reason"]
    assert "assignee" not in change.entry.changes

    # frank marks it implemented: the go-live date is set for him; the case goes back to mary
    change = run.transition("frank", "Implemented")
    case = change.case
    assert (case.status, case.assignee) == ("Implemented", "mary")
    assert case.fields["go_live_date"] == run.now.date().isoformat() == "2025-03-03"
    assert change.entry.changes["go_live_date"] == {"from": None, "to": "2025-03-03"}
    assert event_types(change) == ["CaseTransitioned", "CaseAssigned"]
    assert events_of(change, "CaseAssigned")[0]["assignee"] == "mary"

    # mary records customer satisfaction
    change = run.edit("mary", customer_satisfaction="Customer is happy")
    assert change.case.fields["customer_satisfaction"] == "Customer is happy"
    assert change.case.status == "Implemented"
    assert (change.entry.action, change.entry.from_status, change.entry.to_status) == (
        "edited",
        "Implemented",
        "Implemented",
    )
    assert change.entry.changes == {"customer_satisfaction": {"from": None, "to": "Customer is happy"}}
    assert events_of(change, "CaseUpdated")[0]["fields"] == ["customer_satisfaction"]

    # and closes the case
    change = run.transition("mary", "Inactive", closure_comment="Done")
    case = change.case
    assert (case.status, case.state, case.version) == ("Inactive", "closed", 9)
    assert case.fields["closure_comment"] == "Done"
    assert events_of(change, "CaseTransitioned")[0]["state"] == "closed"
    assert [p.status for p in case.key_dates] == [
        "Registration",
        "Pending Pre-Approval",
        "Under Assessment",
        "Approval Pending",
        "Under Implementation",
        "Implemented",
        "Inactive",
    ]
    assert [p.entered_by for p in case.key_dates] == [
        "mary",
        "mary",
        "john",
        "frank",
        "peter",
        "frank",
        "mary",
    ]
    for before, after in zip(case.key_dates, case.key_dates[1:], strict=False):
        assert (before.left_at, before.left_by) == (after.entered_at, after.entered_by)
    assert case.key_dates[-1].left_at is None

    # every change has its own version and stable, unique event ids
    assert [c.case.version for c in run.changes] == list(range(1, 10))
    ids = [e.id for c in run.changes for e in c.events]
    assert len(ids) == len(set(ids))
    assert run.changes[2].events[1].id == "CSR-1:3:1"


# --- transition refusals ------------------------------------------------------------------------------------


def test_wrong_person_cannot_submit():
    run = Run().to_status("Registration")
    for who in ("john", "peter", "frank"):
        with pytest.raises(Forbidden) as err:
            run.transition(who, "Pending Pre-Approval")
        assert err.value.code == "NOT_ALLOWED"
    assert run.case.version == 2


def test_only_the_assignee_or_tech_team_implements():
    run = Run().to_status("Under Implementation")
    with pytest.raises(Forbidden) as err:
        run.transition("mary", "Implemented")
    assert err.value.code == "NOT_ALLOWED"


def test_roles_are_scoped_to_the_case_business_unit_unless_any_unit():
    run = Run().to_status("Registration")
    outsider = Actor("sam", roles=frozenset({"Sales Rep"}), business_units=frozenset({"EP"}))
    with pytest.raises(Forbidden) as err:
        engine.transition(CSR, run.case, outsider, SP, to="Pending Pre-Approval", now=run.now)
    assert err.value.code == "NOT_ALLOWED"
    # the same role in the case's unit may: it is the unit that refused sam, not the role
    insider = Actor("sue", roles=frozenset({"Sales Rep"}), business_units=frozenset({"SP"}))
    moved = engine.transition(CSR, run.case, insider, SP, to="Pending Pre-Approval", now=run.now)
    assert moved.case.status == "Pending Pre-Approval"
    global_admin = Actor("root", roles=frozenset({"Admin"}), business_units=frozenset({"EP"}))
    change = engine.transition(CSR, run.case, global_admin, SP, to="Pending Pre-Approval", now=run.now)
    assert change.case.status == "Pending Pre-Approval"


def test_illegal_transition():
    run = Run().to_status("Registration")
    with pytest.raises(Conflict) as err:
        run.transition("mary", "Implemented")
    assert err.value.code == "ILLEGAL_TRANSITION"
    assert set(err.value.details["allowed"]) == {"Pending Pre-Approval", "Closed - Rejected"}


def test_transition_to_the_current_status_is_illegal():
    run = Run().to_status("Under Assessment")
    with pytest.raises(Conflict) as err:
        run.transition("frank", "Under Assessment")
    assert err.value.code == "ILLEGAL_TRANSITION"


@pytest.mark.parametrize(
    ("status", "target", "who"),
    [
        ("Pending Pre-Approval", "Under Assessment", "john"),
        ("Approval Pending", "Under Implementation", "peter"),
    ],
)
def test_approval_status_cannot_be_left_by_hand(status, target, who):
    run = Run().to_status(status)
    with pytest.raises(Conflict) as err:
        run.transition(who, target)
    assert err.value.code == "AWAITING_APPROVAL"
    assert run.case.status == status


def test_submit_needs_a_related_product():
    run = Run()
    run.register()
    with pytest.raises(ValidationFailed) as err:
        run.transition("mary", "Pending Pre-Approval")
    assert err.value.code == "RELATED_REQUIRED"
    assert err.value.details == {"related": {"products": 1}}


def test_submit_needs_the_account():
    run = Run()
    run.register()
    run.link()
    run.case = replace(run.case, account_id=None)  # e.g. a case imported without one
    with pytest.raises(ValidationFailed) as err:
        run.transition("mary", "Pending Pre-Approval")
    assert err.value.code == "MISSING_FIELDS" and err.value.details == {"fields": ["account_id"]}


def test_unknown_status():
    run = Run().to_status("Registration")
    with pytest.raises(ValidationFailed) as err:
        run.transition("mary", "Approved")
    assert err.value.code == "UNKNOWN_STATUS"
    assert "Registration" in err.value.details["statuses"]


def test_fields_not_accepted_by_the_transition():
    run = Run().to_status("Registration")
    with pytest.raises(ValidationFailed) as err:
        run.transition("mary", "Pending Pre-Approval", go_live_date="2025-01-01")
    assert err.value.code == "FIELDS_NOT_ACCEPTED" and err.value.details["fields"] == ["go_live_date"]


@pytest.mark.parametrize("closed_as", ["Inactive", "Closed - Rejected"])
def test_closed_case_refuses_every_command(closed_as):
    run = Run()
    if closed_as == "Inactive":
        run.to_status("Inactive")
    else:
        run.to_status("Registration")
        run.transition("mary", "Closed - Rejected", rejection_reason="Customer withdrew")
    commands = [
        lambda: run.transition("mary", "Registration"),
        lambda: run.transition("admin", "Closed - Rejected", rejection_reason="x"),
        lambda: run.edit("mary", title="New"),
        lambda: run.decide("john", "approve"),
        lambda: run.link("mary", "P-200"),
        lambda: run.reassign("admin", "peter"),
    ]
    for command in commands:
        with pytest.raises(Conflict) as err:
            command()
        assert err.value.code == "CASE_CLOSED"
    assert engine.available_transitions(CSR, run.case, USERS["admin"], SP) == []
    assert engine.editable_fields(CSR, run.case, USERS["mary"]) == []


@pytest.mark.parametrize("status", OPEN_STATUSES)
def test_close_case_rejected_from_every_open_status_needs_a_reason(status):
    run = Run().to_status(status)
    version = run.case.version
    for reason in ({}, {"rejection_reason": "   "}):
        with pytest.raises(ValidationFailed) as err:
            run.transition("peter", "Closed - Rejected", **reason)
        assert err.value.code == "MISSING_FIELDS" and err.value.details == {"fields": ["rejection_reason"]}
    assert run.case.version == version

    change = run.transition("peter", "Closed - Rejected", rejection_reason="Not feasible at this price")
    case = change.case
    assert (case.status, case.state, case.version) == ("Closed - Rejected", "closed", version + 1)
    assert case.fields["rejection_reason"] == "Not feasible at this price"
    assert case.approval is None
    assert change.entry.from_status == status and change.entry.to_status == "Closed - Rejected"
    assert change.entry.changes["rejection_reason"] == {"from": None, "to": "Not feasible at this price"}
    assert case.key_dates[-2].left_by == "peter" and case.key_dates[-1].status == "Closed - Rejected"


def test_close_case_is_offered_with_its_requirement():
    run = Run().to_status("Registration")
    offered = {t["name"]: t for t in engine.available_transitions(CSR, run.case, USERS["mary"], SP)}
    assert set(offered) == {"submit_for_approval", "reject"}
    assert offered["reject"]["requires"] == ["rejection_reason"]
    assert offered["reject"]["missing"] == ["rejection_reason"]
    assert offered["submit_for_approval"]["missing"] == []
    assert offered["submit_for_approval"]["requires_related"] == {"products": 1}
    john = [t["name"] for t in engine.available_transitions(CSR, run.case, USERS["john"], SP)]
    assert john == ["reject"]


# --- approvals ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "approver"), [("Pending Pre-Approval", "john"), ("Approval Pending", "peter")]
)
def test_reject_needs_a_comment_which_becomes_the_reason(status, approver):
    run = Run().to_status(status)
    for comment in (None, "  "):
        with pytest.raises(ValidationFailed) as err:
            run.decide(approver, "reject", comment)
        assert err.value.code == "COMMENT_REQUIRED"
    assert run.case.status == status

    change = run.decide(approver, "reject", "Volume too low")
    case = change.case
    assert (case.status, case.state) == ("Closed - Rejected", "closed")
    assert case.fields["rejection_reason"] == "Volume too low"
    assert case.approval is None
    assert change.entry.comment == "Volume too low" and change.entry.by == approver
    assert change.entry.changes["rejection_reason"] == {"from": None, "to": "Volume too low"}
    decided = events_of(change, "ApprovalDecided")[0]
    assert (decided["decision"], decided["outcome"], decided["comment"]) == (
        "reject",
        "reject",
        "Volume too low",
    )


def test_approve_comment_is_kept_in_history():
    run = Run().to_status("Pending Pre-Approval")
    change = run.decide("john", "approve", "  fine by supply chain ")
    assert change.entry.comment == "fine by supply chain"
    assert "rejection_reason" not in change.case.fields


def test_auto_approval_skips_the_final_approval():
    run = Run(unit=unit_with_rule("final_approval", "auto")).to_status("Under Assessment")
    change = run.transition("frank", "Approval Pending", global_feasibility_conclusion="OK")
    case = change.case
    assert (case.status, case.state, case.assignee) == ("Under Implementation", "in_progress", "frank")
    assert case.approval is None
    assert change.entry.from_status == "Under Assessment" and change.entry.to_status == "Under Implementation"
    assert change.entry.path == ("Approval Pending", "Under Implementation")
    assert change.entry.changes["status"] == {"from": "Under Assessment", "to": "Under Implementation"}
    assert event_types(change) == ["CaseTransitioned", "ApprovalDecided", "CaseTransitioned", "CaseAssigned"]
    decided = events_of(change, "ApprovalDecided")[0]
    assert (decided["approver"], decided["outcome"], decided["step"]) == (
        "system",
        "approve",
        "final_approval",
    )
    assert "ApprovalRequested" not in event_types(change)
    pending, implementing = case.key_dates[-2:]
    assert (pending.status, pending.entered_by, pending.left_by) == ("Approval Pending", "frank", "system")
    assert (implementing.status, implementing.entered_by) == ("Under Implementation", "system")
    assert change.case.version == run.changes[-2].case.version + 1


def test_user_rule_asks_only_the_first_user():
    run = Run(unit=unit_with_rule("final_approval", "user", users=("admin", "peter"))).to_status(
        "Approval Pending"
    )
    assert dict(run.case.approval.decisions) == {"admin": None}
    assert run.case.approval.mode is ApprovalMode.ANY
    with pytest.raises(Forbidden) as err:
        run.decide("peter", "approve")
    assert err.value.code == "NOT_AN_APPROVER"
    assert run.decide("admin", "approve").case.status == "Under Implementation"


def test_group_all_waits_for_every_approver():
    run = Run(unit=unit_with_rule("final_approval", "group", users=("peter",), role="Admin", mode="all"))
    run.to_status("Approval Pending")
    assert dict(run.case.approval.decisions) == {"peter": None, "admin": None}
    submitted = run.changes[-1]
    assert [e["approver"] for e in events_of(submitted, "ApprovalRequested")] == ["peter", "admin"]
    assert {e["mode"] for e in events_of(submitted, "ApprovalRequested")} == {"all"}

    change = run.decide("peter", "approve")
    assert change.case.status == "Approval Pending"
    assert dict(change.case.approval.decisions) == {"peter": "approve", "admin": None}
    assert change.case.version == submitted.case.version + 1
    assert event_types(change) == ["ApprovalDecided"]
    assert events_of(change, "ApprovalDecided")[0]["outcome"] is None
    assert change.case.approval.is_pending_for("admin") and not change.case.approval.is_pending_for("peter")

    with pytest.raises(Conflict) as err:
        run.decide("peter", "approve")
    assert err.value.code == "ALREADY_DECIDED"

    change = run.decide("admin", "approve")
    assert change.case.status == "Under Implementation"
    assert events_of(change, "ApprovalDecided")[0]["outcome"] == "approve"


def test_group_all_one_rejection_rejects():
    run = Run(unit=unit_with_rule("final_approval", "group", users=("peter", "admin"), mode="all"))
    run.to_status("Approval Pending")
    run.decide("peter", "approve")
    change = run.decide("admin", "reject", "Margins too thin")
    assert change.case.status == "Closed - Rejected"
    assert change.case.fields["rejection_reason"] == "Margins too thin"


def test_group_any_first_decision_decides():
    run = Run(unit=unit_with_rule("final_approval", "group", users=("peter", "admin"), mode="any"))
    run.to_status("Approval Pending")
    assert dict(run.case.approval.decisions) == {"peter": None, "admin": None}
    change = run.decide("admin", "approve")
    assert change.case.status == "Under Implementation"
    assert events_of(change, "ApprovalDecided")[0]["approver"] == "admin"


def test_without_a_unit_rule_the_definition_names_the_approvers():
    run = Run(unit=replace(SP, approval_rules={})).to_status("Approval Pending")
    assert dict(run.case.approval.decisions) == {"peter": None}  # the unit's Sales Managers


def test_no_approver_is_refused_before_anything_changes():
    run = Run(unit=unit_with_rule("pre_approval", "group", role="Quality Auditor")).to_status("Registration")
    with pytest.raises(Conflict) as err:
        run.transition("mary", "Pending Pre-Approval")
    assert err.value.code == "NO_APPROVER"
    assert run.case.status == "Registration"


def test_non_approver_cannot_decide():
    run = Run().to_status("Pending Pre-Approval")
    for who in ("mary", "peter", "admin"):
        with pytest.raises(Forbidden) as err:
            run.decide(who, "approve")
        assert err.value.code == "NOT_AN_APPROVER"


def test_decide_refusals_when_nothing_is_pending_or_decision_is_bad():
    run = Run().to_status("Under Assessment")
    with pytest.raises(Conflict) as err:
        run.decide("john", "approve")
    assert err.value.code == "NO_PENDING_APPROVAL"
    run.to_status("Approval Pending")
    with pytest.raises(ValidationFailed) as err:
        run.decide("peter", "maybe")
    assert err.value.code == "INVALID_DECISION"


def _with_rework(raw):
    raw["transitions"].append(
        {
            "name": "rework",
            "from": ["Approval Pending"],
            "to": "Under Assessment",
            "allowed": [{"role": "Sales Manager"}],
        }
    )


def test_approval_round_grows_each_time_an_approval_status_is_entered():
    run = Run(defn=csr_with(_with_rework))
    run.to_status("Pending Pre-Approval")
    assert run.case.approval.round == 1
    run.to_status("Approval Pending")
    assert run.case.approval.round == 2
    run.transition("peter", "Under Assessment")
    assert run.case.approval is None and run.case.assignee == "frank"
    run.transition("frank", "Approval Pending")
    assert run.case.approval.round == 3 and run.case.approval_rounds == 3
    assert dict(run.case.approval.decisions) == {"peter": None}
    assert events_of(run.changes[-1], "ApprovalRequested")[0]["round"] == 3


# --- edits --------------------------------------------------------------------------------------------------


def test_edit_in_registration_normalises_values():
    run = Run().to_status("Registration")
    change = run.edit(
        "mary", customer_reference="  PO-77 ", requested_by_date="2025-06-30", annual_volume=12.5
    )
    assert change.case.fields["customer_reference"] == "PO-77"
    assert change.case.fields["requested_by_date"] == "2025-06-30"
    assert change.case.fields["annual_volume"] == 12.5
    assert events_of(change, "CaseUpdated")[0]["fields"] == [
        "annual_volume",
        "customer_reference",
        "requested_by_date",
    ]


def test_edit_can_clear_a_field():
    run = Run().to_status("Registration")
    run.edit("mary", customer_reference="PO-77")
    change = run.edit("mary", customer_reference="")
    assert "customer_reference" not in change.case.fields
    assert change.entry.changes == {"customer_reference": {"from": "PO-77", "to": None}}


def test_edit_with_the_same_values_changes_nothing():
    run = Run().to_status("Registration")
    run.edit("mary", customer_reference="PO-77")
    assert run.edit("mary", customer_reference="PO-77", title=run.case.title) is None
    assert run.edit("mary", customer_reference=" PO-77  ") is None


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_edit_cannot_blank_the_title(blank):
    """Found while writing these tests: the title is required to create a case, but an edit may clear it,
    leaving a case listed without a title (Case.title is then None although typed str)."""
    run = Run().to_status("Registration")
    with pytest.raises(ValidationFailed) as err:
        run.edit("mary", title=blank)
    assert err.value.code == "MISSING_FIELDS" and err.value.details == {"fields": ["title"]}
    assert run.case.title == "Anti-static packaging"


def test_edit_refusals():
    run = Run().to_status("Registration")
    cases = [
        (Conflict, "FIELDS_LOCKED", "mary", {"customer_satisfaction": "Great"}),
        (Forbidden, "NOT_ALLOWED", "john", {"title": "Mine now"}),
        (ValidationFailed, "IMMUTABLE_FIELDS", "mary", {"account_id": "ACC-1002"}),
        (ValidationFailed, "IMMUTABLE_FIELDS", "admin", {"business_unit": "EP"}),
        (ValidationFailed, "INVALID_FIELDS", "mary", {"annual_volume": "lots"}),
        (ValidationFailed, "INVALID_FIELDS", "mary", {"unknown_field": 1}),
        (ValidationFailed, "NO_FIELDS", "mary", {}),
    ]
    for error, code, who, fields in cases:
        with pytest.raises(error) as err:
            run.edit(who, **fields)
        assert err.value.code == code, (code, fields)
    assert run.case.version == 2


def test_invalid_fields_are_reported_together():
    run = Run().to_status("Registration")
    with pytest.raises(ValidationFailed) as err:
        run.edit(
            "mary",
            annual_volume=True,
            requested_by_date="31/12/2025",
            requirement_category="Colour",
            customer_reference="x" * 81,
            title=42,
            nonsense="y",
        )
    fields = err.value.details["fields"]
    assert set(fields) == {
        "annual_volume",
        "requested_by_date",
        "requirement_category",
        "customer_reference",
        "title",
        "nonsense",
    }
    assert "YYYY-MM-DD" in fields["requested_by_date"]
    assert "80" in fields["customer_reference"]


def test_edits_follow_the_status():
    run = Run().to_status("Under Assessment")
    assert engine.editable_fields(CSR, run.case, USERS["frank"]) == ["global_feasibility_conclusion"]
    assert engine.editable_fields(CSR, run.case, USERS["mary"]) == []
    with pytest.raises(Conflict) as err:
        run.edit("mary", title="Late change")
    assert err.value.code == "FIELDS_LOCKED"
    with pytest.raises(Forbidden):
        run.edit("mary", global_feasibility_conclusion="I think so")
    change = run.edit("frank", global_feasibility_conclusion="Draft")
    assert change.case.fields["global_feasibility_conclusion"] == "Draft"


def test_customer_satisfaction_only_once_implemented():
    run = Run().to_status("Under Implementation")
    with pytest.raises(Conflict):
        run.edit("mary", customer_satisfaction="Happy")
    run.to_status("Implemented")
    with pytest.raises(Forbidden):
        run.edit("john", customer_satisfaction="Happy")
    assert run.edit("mary", customer_satisfaction="Happy").case.fields["customer_satisfaction"] == "Happy"


# --- register -----------------------------------------------------------------------------------------------


def test_register_refusals():
    run = Run()
    with pytest.raises(Forbidden) as err:
        run.register(by="john")
    assert err.value.code == "NOT_ALLOWED"
    with pytest.raises(ValidationFailed) as err:
        run.register(go_live_date="2025-01-01")
    assert err.value.code == "FIELDS_NOT_ACCEPTED"
    with pytest.raises(ValidationFailed) as err:
        run.register(description="   ")
    assert (err.value.code, err.value.details) == ("MISSING_FIELDS", {"fields": ["description"]})
    with pytest.raises(ValidationFailed) as err:
        run.register(account_id=None, title=None)
    assert err.value.details == {"fields": ["title", "account_id"]}
    with pytest.raises(ValidationFailed) as err:
        run.register(requested_by_date="soon")
    assert err.value.code == "INVALID_FIELDS"
    assert run.case is None


# --- reassign -----------------------------------------------------------------------------------------------


def test_reassign_rules():
    run = Run().to_status("Registration")
    with pytest.raises(Forbidden) as err:
        run.reassign("mary", "frank")
    assert err.value.code == "NOT_ALLOWED"

    change = run.reassign("peter", "john")
    assert change.case.assignee == "john" and change.case.status == "Registration"
    assert change.entry.action == "reassigned" and change.entry.by == "peter"
    assert change.entry.changes == {"assignee": {"from": "mary", "to": "john"}}
    assigned = events_of(change, "CaseAssigned")[0]
    assert (assigned["assignee"], assigned["previous_assignee"]) == ("john", "mary")
    assert "peter" in assigned["reason"]

    with pytest.raises(Conflict) as err:
        run.reassign("admin", "john")
    assert err.value.code == "ALREADY_ASSIGNED"
    outsider = Actor("sam", roles=frozenset({"Sales Rep"}), business_units=frozenset({"EP"}))
    with pytest.raises(ValidationFailed) as err:
        run.reassign("peter", outsider)
    assert err.value.code == "ASSIGNEE_NOT_IN_UNIT"
    gone = replace(USERS["frank"], active=False)
    with pytest.raises(ValidationFailed) as err:
        run.reassign("peter", gone)
    assert err.value.code == "ASSIGNEE_NOT_IN_UNIT"
    assert run.case.version == 3


# --- related lists ------------------------------------------------------------------------------------------


def test_related_list_rules():
    run = Run()
    run.register()
    run.link("mary", "P-100")
    change = run.link("mary", "P-200")
    assert change.case.related_counts["products"] == 2
    change = run.link("mary", "P-100", added=False)
    assert change.case.related_counts["products"] == 1
    assert change.entry.action == "related_removed"
    assert change.entry.changes == {"products": {"from": "P-100", "to": None}}
    assert events_of(change, "RelatedItemRemoved")[0]["count"] == 1

    with pytest.raises(ValidationFailed) as err:
        run.link("mary", "X", kind="parts")
    assert err.value.code == "UNKNOWN_RELATED"
    with pytest.raises(Forbidden) as err:
        run.link("john", "P-100")
    assert err.value.code == "NOT_ALLOWED"

    run.transition("mary", "Pending Pre-Approval")
    with pytest.raises(Conflict) as err:
        run.link("mary", "P-100")
    assert err.value.code == "RELATED_LOCKED"
    with pytest.raises(Conflict) as err:
        run.link("mary", "P-200", added=False)
    assert err.value.code == "RELATED_LOCKED"


# --- which events notify gets ------------------------------------------------------------------------------


def test_each_event_says_whether_notify_sends_anything_for_it():
    """Decided where the event is made, by the definition's notifications (the bus's notify rule filters on
    it): the approval request and an assignment email somebody, the transition and the product do not; a
    transition to a closed state does (the creator is told), one between open states does not."""
    run = Run()
    assert [e.notify for e in run.register().events] == [False]
    assert [e.notify for e in run.link("mary", "P-100").events] == [False]
    change = run.transition("mary", "Pending Pre-Approval")
    assert [(e.type, e.notify) for e in change.events] == [
        ("CaseTransitioned", False),
        ("ApprovalRequested", True),
    ]
    assert change.events[1].to_dict()["notify"] is True
    assert CSR.notifies("CaseAssigned", "open") and CSR.notifies("CommunicationRequested", "open")
    assert CSR.notifies("CaseTransitioned", "closed") and not CSR.notifies("CaseTransitioned", "open")
    assert not CSR.notifies("NoteAdded", "open")
