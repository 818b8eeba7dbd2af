"""parse_definition: the shipped CSR process loads, and definitions the engine could not run are refused at
load time with InvalidDefinition (never a KeyError/ValueError halfway through somebody's case)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from casework.domain.errors import InvalidDefinition
from casework.domain.workflow import (
    ApprovalMode,
    FieldType,
    Permit,
    Relation,
    parse_definition,
)
from casework.workflows import shipped
from tests.fakes import CSR_OPEN_STATUSES

OPEN_CSR_STATUSES = set(CSR_OPEN_STATUSES)


def csr_raw() -> dict[str, Any]:
    return copy.deepcopy(shipped()["csr"])


def status_entry(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in raw["statuses"] if s["name"] == name)


def transition_entry(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in raw["transitions"] if t["name"] == name)


# --- the shipped process -------------------------------------------------------------------------------


def test_shipped_csr_parses_with_its_statuses_and_states():
    defn = parse_definition(shipped()["csr"])
    assert defn.name == "csr" and defn.version == 2 and defn.id_prefix == "CSR"
    assert defn.initial_status == "Registration"
    assert {n: s.state for n, s in defn.statuses.items()} == {
        "Registration": "open",
        "Pending Pre-Approval": "in_approval",
        "Under Assessment": "in_progress",
        "Approval Pending": "in_approval",
        "Under Implementation": "in_progress",
        "Implemented": "in_progress",
        "Inactive": "closed",
        "Closed - Rejected": "closed",
    }
    assert defn.is_terminal("Inactive") and defn.is_terminal("Closed - Rejected")
    assert not defn.is_terminal("Registration")


def test_shipped_csr_approval_steps_and_field_types():
    defn = parse_definition(shipped()["csr"])
    pre = defn.status("Pending Pre-Approval").approval
    final = defn.status("Approval Pending").approval
    assert (pre.step, pre.on_approve, pre.on_reject) == (
        "pre_approval",
        "Under Assessment",
        "Closed - Rejected",
    )
    assert (final.step, final.on_approve, final.on_reject) == (
        "final_approval",
        "Under Implementation",
        "Closed - Rejected",
    )
    assert pre.reason_field == final.reason_field == "rejection_reason"
    assert pre.mode is ApprovalMode.ANY and pre.approvers_role == "Supply Chain & Quality"
    assert defn.fields["requested_by_date"].type is FieldType.DATE
    assert defn.fields["annual_volume"].type is FieldType.NUMBER
    assert defn.fields["customer_reference"].max_length == 80
    assert "Other" in defn.fields["requirement_category"].choices
    outcomes = {
        t
        for st in defn.statuses.values()
        if st.approval
        for t in (st.approval.on_approve, st.approval.on_reject)
    }
    assert outcomes == {"Under Assessment", "Under Implementation", "Closed - Rejected"}


def test_star_source_expands_to_every_non_terminal_status():
    defn = parse_definition(shipped()["csr"])
    reject = next(t for t in defn.transitions if t.name == "reject")
    assert set(reject.sources) == OPEN_CSR_STATUSES
    assert len(reject.sources) == len(OPEN_CSR_STATUSES)
    for status in OPEN_CSR_STATUSES:
        assert reject in defn.transitions_from(status)
    assert defn.transitions_from("Inactive") == []
    assert defn.transitions_from("Closed - Rejected") == []


def test_star_source_leaves_out_the_target_itself():
    raw = csr_raw()
    raw["transitions"].append(
        {"name": "park", "from": "*", "to": "Under Assessment", "allowed": [{"role": "Admin"}]}
    )
    park = next(t for t in parse_definition(raw).transitions if t.name == "park")
    assert set(park.sources) == OPEN_CSR_STATUSES - {"Under Assessment"}


def test_permits_and_labels_are_parsed():
    defn = parse_definition(shipped()["csr"])
    submit = next(t for t in defn.transitions if t.name == "submit_for_approval")
    assert Permit(relation=Relation.CREATOR) in submit.allowed
    assert Permit(role="Admin", any_unit=True) in submit.allowed
    assert submit.label == "Submit for approval"
    assert submit.requires_related == {"products": 1}
    implemented = next(t for t in defn.transitions if t.name == "mark_implemented")
    assert implemented.sets == {"go_live_date": "$today"}


def test_default_labels_come_from_names():
    raw = csr_raw()
    del transition_entry(raw, "reject")["label"]
    defn = parse_definition(raw)
    assert next(t for t in defn.transitions if t.name == "reject").label == "Reject"


# --- refusals ----------------------------------------------------------------------------------------------


def _unknown_status_in_from(raw):
    transition_entry(raw, "submit_for_approval")["from"] = ["Registraton"]


def _unknown_status_in_to(raw):
    transition_entry(raw, "submit_for_approval")["to"] = "Pending Approval"


def _terminal_initial(raw):
    raw["initial_status"] = "Inactive"


def _undeclared_initial(raw):
    raw["initial_status"] = "Draft"


def _leaves_terminal(raw):
    transition_entry(raw, "deactivate")["from"] = ["Implemented", "Closed - Rejected"]


def _unknown_required_field(raw):
    transition_entry(raw, "submit_for_final_approval")["requires"] = ["global_feasability_conclusion"]


def _unknown_accepted_field(raw):
    transition_entry(raw, "deactivate")["accepts"] = ["closing_comment"]


def _unknown_set_field(raw):
    transition_entry(raw, "mark_implemented")["sets"] = {"golive": "$today"}


def _unknown_edit_field(raw):
    status_entry(raw, "Implemented")["edits"][0]["fields"] = ["satisfaction"]


def _choice_without_choices(raw):
    raw["fields"]["requirement_category"] = {"type": "choice", "label": "Category"}


def _unknown_field_type(raw):
    raw["fields"]["annual_volume"]["type"] = "float"


def _field_name_not_snake_case(raw):
    raw["fields"]["Customer Reference"] = {"type": "string"}


def _field_clashes_with_core(raw):
    raw["fields"]["title"] = {"type": "string"}


def _open_status_without_way_out(raw):
    raw["transitions"] = [t for t in raw["transitions"] if t["name"] != "mark_implemented"]
    transition_entry(raw, "reject")["from"] = ["Registration", "Under Assessment"]


def _unknown_approval_target(raw):
    status_entry(raw, "Approval Pending")["approval"]["on_approve"] = "In Implementation"


def _unknown_rejection_target(raw):
    status_entry(raw, "Pending Pre-Approval")["approval"]["on_reject"] = "Rejected"


def _unknown_reason_field(raw):
    status_entry(raw, "Pending Pre-Approval")["approval"]["reason_field"] = "reason"


def _duplicate_status(raw):
    raw["statuses"].append({"name": "Registration", "state": "open"})


def _duplicate_transition(raw):
    raw["transitions"].append(copy.deepcopy(transition_entry(raw, "deactivate")))


def _unknown_state(raw):
    status_entry(raw, "Implemented")["state"] = "done"


def _terminal_not_in_states(raw):
    raw["terminal_states"] = ["archived"]


def _no_terminal_states(raw):
    raw["terminal_states"] = []


def _bad_permit_key(raw):
    transition_entry(raw, "deactivate")["allowed"] = [{"group": "Sales Rep"}]


def _empty_permit(raw):
    transition_entry(raw, "deactivate")["allowed"] = [{}]


def _bad_permit_relation(raw):
    transition_entry(raw, "deactivate")["allowed"] = [{"relation": "owner"}]


def _bad_edit_permit(raw):
    status_entry(raw, "Registration")["edits"][0]["allowed"] = [{"roles": ["Sales Rep"]}]


def _nobody_allowed(raw):
    transition_entry(raw, "deactivate")["allowed"] = []


def _unknown_notification_recipient(raw):
    raw["notifications"].append({"event": "CaseAssigned", "to": "manager", "template": "case_assigned"})


def _unknown_related_list(raw):
    transition_entry(raw, "submit_for_approval")["requires_related"] = {"parts": 1}


def _unknown_assign_rule(raw):
    status_entry(raw, "Implemented")["assign"] = "owner"


def _two_assign_rules(raw):
    status_entry(raw, "Implemented")["assign"] = {"user": "mary", "responsible": "x"}


def _bad_version(raw):
    raw["version"] = 0


def _bad_name(raw):
    raw["name"] = "Customer Specific Requirement"


def _missing_statuses(raw):
    del raw["statuses"]


def _transition_without_to(raw):
    del transition_entry(raw, "deactivate")["to"]


REFUSED: dict[str, Callable[[dict[str, Any]], None]] = {
    "unknown status in from": _unknown_status_in_from,
    "unknown status in to": _unknown_status_in_to,
    "terminal initial status": _terminal_initial,
    "undeclared initial status": _undeclared_initial,
    "transition leaving a terminal status": _leaves_terminal,
    "unknown field in requires": _unknown_required_field,
    "unknown field in accepts": _unknown_accepted_field,
    "unknown field in sets": _unknown_set_field,
    "unknown field in edits": _unknown_edit_field,
    "choice field without choices": _choice_without_choices,
    "unknown field type": _unknown_field_type,
    "field name not snake_case": _field_name_not_snake_case,
    "field clashing with a core attribute": _field_clashes_with_core,
    "open status with no way out": _open_status_without_way_out,
    "unknown approval target": _unknown_approval_target,
    "unknown rejection target": _unknown_rejection_target,
    "unknown approval reason field": _unknown_reason_field,
    "duplicate status": _duplicate_status,
    "duplicate transition": _duplicate_transition,
    "unknown state": _unknown_state,
    "terminal state not among states": _terminal_not_in_states,
    "no terminal state": _no_terminal_states,
    "bad permit key": _bad_permit_key,
    "empty permit": _empty_permit,
    "bad permit relation": _bad_permit_relation,
    "bad edit permit": _bad_edit_permit,
    "transition nobody may make": _nobody_allowed,
    "unknown notification recipient": _unknown_notification_recipient,
    "unknown related list": _unknown_related_list,
    "unknown assign rule": _unknown_assign_rule,
    "two assign rules": _two_assign_rules,
    "version 0": _bad_version,
    "name not snake_case": _bad_name,
    "missing statuses": _missing_statuses,
    "transition without a target": _transition_without_to,
}


@pytest.mark.parametrize("mutate", REFUSED.values(), ids=REFUSED.keys())
def test_bad_definition_is_refused(mutate):
    raw = csr_raw()
    mutate(raw)
    with pytest.raises(InvalidDefinition):
        parse_definition(raw)


def test_refusal_message_names_the_culprit():
    raw = csr_raw()
    transition_entry(raw, "submit_for_approval")["to"] = "Pending Approval"
    with pytest.raises(InvalidDefinition, match="Pending Approval"):
        parse_definition(raw)


# Found while writing these tests: these malformed approval specs escape as ValueError / AttributeError
# instead of InvalidDefinition (see the report).


def test_unknown_approval_mode_is_refused_as_invalid_definition():
    raw = csr_raw()
    status_entry(raw, "Approval Pending")["approval"]["mode"] = "majority"
    with pytest.raises(InvalidDefinition):
        parse_definition(raw)


def test_approvers_that_are_not_a_mapping_are_refused_as_invalid_definition():
    raw = csr_raw()
    status_entry(raw, "Approval Pending")["approval"]["approvers"] = "Sales Manager"
    with pytest.raises(InvalidDefinition):
        parse_definition(raw)


def test_empty_assign_rule_is_refused_as_invalid_definition():
    raw = csr_raw()
    status_entry(raw, "Implemented")["assign"] = {}
    with pytest.raises(InvalidDefinition):
        parse_definition(raw)


def test_approval_on_a_terminal_status_is_refused():
    """A closed case can never be decided (CASE_CLOSED), so an approval there would wait forever."""
    raw = csr_raw()
    status_entry(raw, "Inactive")["approval"] = {
        "step": "archive",
        "approvers": {"role": "Sales Manager"},
        "on_approve": "Inactive",
        "on_reject": "Inactive",
    }
    with pytest.raises(InvalidDefinition):
        parse_definition(raw)


def test_valid_mutation_is_accepted():
    """Control for the refusals above: a well-formed extra status and transition parse fine."""
    raw = csr_raw()
    raw["statuses"].append({"name": "On Hold", "state": "open", "assign": {"user": "peter"}})
    raw["transitions"].append(
        {
            "name": "hold",
            "from": ["Under Assessment"],
            "to": "On Hold",
            "allowed": [{"role": "Sales Manager"}],
        }
    )
    raw["transitions"].append(
        {
            "name": "resume",
            "from": ["On Hold"],
            "to": "Under Assessment",
            "allowed": [{"role": "Sales Manager"}],
        }
    )
    defn = parse_definition(raw)
    assert defn.status("On Hold").assign.to == "user" and defn.status("On Hold").assign.value == "peter"
    # "*" now covers the new open status too
    assert "On Hold" in next(t for t in defn.transitions if t.name == "reject").sources
