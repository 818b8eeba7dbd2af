"""Who sees a case: the pure rule (casework.domain.visibility), the facts the engine records for it, the
codec keeping them, and the services answering 404 to whoever may not see it."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from casework.adapters.codec import case_from_dict, case_to_dict
from casework.domain.errors import Conflict, InvalidDefinition, NotFound
from casework.domain.model import Actor
from casework.domain.visibility import ListScope, can_see, with_involvement
from casework.domain.workflow import parse_definition
from casework.services.ports import CaseQuery
from casework.workflows import shipped
from tests.fakes import InMemoryWorkflows, make_service
from tests.unit.engine_support import Run

CSR = parse_definition(shipped()["csr"])
COMPANY_CSR = parse_definition({**copy.deepcopy(shipped()["csr"]), "visibility": {"scope": "company"}})


def person(name: str, *units: str, roles: tuple[str, ...] = ("Sales Rep",)) -> Actor:
    return Actor(username=name, roles=frozenset(roles), business_units=frozenset(units))


def registered():
    run = Run()
    run.register("mary")
    return run.case


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        (person("susan", "SP"), True),  # a member of its unit
        (person("carol", "CARE"), False),  # a member of another unit
        (person("mary", "CARE"), True),  # its creator and assignee, though she has moved on
        (person("root", "FIELD", roles=("Admin",)), True),
        (person("nobody"), False),  # in no unit at all
    ],
)
def test_a_unit_scoped_case_is_seen_by_its_unit_its_people_and_admins(who: Actor, visible: bool) -> None:
    assert can_see(CSR, registered(), who) is visible


@pytest.mark.parametrize(
    "who",
    [person("carol", "CARE"), person("fred", "FIELD", roles=("Field Technician",)), person("nobody")],
    ids=lambda p: p.username,
)
def test_a_company_wide_type_is_seen_by_everybody(who: Actor) -> None:
    """People the same case of a unit-scoped type hides from: the type's scope alone lets them see it."""
    case = registered()
    assert can_see(CSR, case, who) is False
    assert can_see(COMPANY_CSR, case, who) is True


def test_the_units_a_case_passed_through_and_everybody_asked_keep_seeing_it() -> None:
    case = replace(registered(), business_unit="FIELD", assignee="fred")
    case = with_involvement(case, "dave")
    assert case.involved >= {"mary", "fred", "dave"}
    assert case.units_seen == {"SP", "FIELD"}
    assert can_see(CSR, case, person("dave", "CARE"))  # the assignee of an activity scheduled from it
    assert can_see(CSR, case, person("john", "SP"))  # SP had it before
    assert not can_see(CSR, case, person("tina", "CARE"))


def test_the_engine_records_creator_assignees_and_approvers_asked() -> None:
    run = Run()
    run.register("mary")
    assert run.case.involved == {"mary"} and run.case.units_seen == {"SP"}
    run.link("mary", "P-100")
    run.transition("mary", "Pending Pre-Approval")
    assert "john" in run.case.involved  # the pre-approver was asked
    run.decide("john", "approve")
    assert run.case.involved >= {"mary", "john", "frank"}  # frank assesses it now


def test_the_codec_keeps_the_people_and_reads_items_written_before_it_did() -> None:
    case = with_involvement(replace(registered(), assignee="frank"))
    assert case_from_dict(case_to_dict(case)) == case
    old = {k: v for k, v in case_to_dict(case).items() if k not in ("involved", "units_seen")}
    read = case_from_dict(old)
    assert (read.involved, read.units_seen) == (frozenset(), frozenset())
    assert can_see(CSR, read, person("frank", "CARE"))  # the assignee of an old item still sees it


@pytest.mark.parametrize(
    "rule", [{"scope": "everyone"}, {"scope": "unit", "extra": 1}, "company", {"scope": None}]
)
def test_a_definition_with_an_unknown_visibility_is_refused(rule: Any) -> None:
    with pytest.raises(InvalidDefinition):
        parse_definition({**copy.deepcopy(shipped()["csr"]), "visibility": rule})


def test_notes_when_closed_must_be_a_flag() -> None:
    with pytest.raises(InvalidDefinition):
        parse_definition({**copy.deepcopy(shipped()["csr"]), "notes_when_closed": "yes"})
    assert CSR.visibility == "unit" and CSR.notes_when_closed is False  # the defaults


def test_list_scope_admits_what_can_see_admits() -> None:
    case = registered()
    for who in (person("susan", "SP"), person("carol", "CARE"), person("mary", "CARE")):
        scope = ListScope(username=who.username, units=who.business_units)
        assert scope.admits(case) is can_see(CSR, case, who), who.username


# --- services ----------------------------------------------------------------------------------------------


def closed_csr_service(notes_when_closed: bool):
    raw = {**copy.deepcopy(shipped()["csr"]), "version": 99, "notes_when_closed": notes_when_closed}
    svc, repo = make_service(workflows=InMemoryWorkflows(extra=[raw]))
    case = svc.register("mary", type="csr", title="T", description="d", account_id="ACC-1001")
    svc.transition("mary", case.id, to="Closed - Rejected", fields={"rejection_reason": "No"})
    return svc, repo, case.id


def test_a_closed_case_takes_notes_only_when_its_definition_says_so() -> None:
    svc, repo, case_id = closed_csr_service(notes_when_closed=False)
    outbox = list(repo.outbox)
    with pytest.raises(Conflict) as refused:
        svc.add_note("mary", case_id, "late remark")
    assert refused.value.code == "CASE_CLOSED"
    assert repo.outbox == outbox and svc.notes("mary", case_id).items == []
    svc, _repo, case_id = closed_csr_service(notes_when_closed=True)
    assert svc.add_note("mary", case_id, "late remark").text == "late remark"


def test_every_read_and_note_of_an_invisible_case_is_the_404_of_an_unknown_one() -> None:
    svc, _ = make_service()
    case_id = svc.register("mary", type="csr", title="T", description="d", account_id="ACC-1001").id
    reads = {
        "get": lambda who, cid: svc.get(who, cid),
        "history": lambda who, cid: svc.history(who, cid),
        "notes": lambda who, cid: svc.notes(who, cid),
        "related": lambda who, cid: svc.related(who, cid, "products"),
        "add note": lambda who, cid: svc.add_note(who, cid, "hello"),
    }
    for name, read in reads.items():
        with pytest.raises(NotFound) as invisible:
            read("carol", case_id)
        with pytest.raises(NotFound) as unknown:
            read("carol", "CSR-404")
        assert invisible.value.code == unknown.value.code == "CASE_NOT_FOUND", name
        assert invisible.value.message == f"Case {case_id} does not exist.", name
        read("susan", case_id)  # same unit
        read("admin", case_id)


def test_lists_hold_only_visible_cases_and_company_wide_types_for_everybody() -> None:
    svc, _ = make_service()
    case_id = svc.register("mary", type="csr", title="T", description="d", account_id="ACC-1001").id
    assert [c.id for c in svc.list_cases("susan", CaseQuery()).items] == [case_id]
    assert svc.list_cases("carol", CaseQuery()).items == []
    raw = {**copy.deepcopy(shipped()["csr"]), "version": 99, "visibility": {"scope": "company"}}
    svc, _ = make_service(workflows=InMemoryWorkflows(extra=[raw]))
    case_id = svc.register("mary", type="csr", title="T", description="d", account_id="ACC-1001").id
    assert [c.id for c in svc.list_cases("carol", CaseQuery()).items] == [case_id]
    assert svc.get("carol", case_id).id == case_id
