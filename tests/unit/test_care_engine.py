"""The care modules on the one engine, through the services and in-memory fakes: configured types compile into
definitions, and the rules a user meets (acceptance, assignment, key dates, children, deletion, conversion,
configuration, the summary) behave as the seeds describe."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework.domain import engine
from casework.domain.care.compile import compile_definition
from casework.domain.care.config import STATES, parse_config
from casework.domain.errors import Conflict, DomainError, Forbidden, ValidationFailed
from casework.domain.model import Actor
from casework.services.care import CareService
from casework.services.cases import CaseService
from casework.workflows import default_configs, module_templates
from tests.fakes import FixedClock, InMemoryRepository, make_service


def service() -> tuple[CaseService, InMemoryRepository, FixedClock]:
    clock = FixedClock()
    svc, repo = make_service(clock=clock)
    return svc, repo, clock


def new_sr(svc: CaseService, user: str = "carol", **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("contact_id", "CON-2001")
    return svc.register(user, type="service_request", title="Router drops the line", **kwargs)


def code_of(call: Any) -> str:
    with pytest.raises(DomainError) as exc:
        call()
    return exc.value.code


# --- compiling configured types -----------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["service_request", "activity", "lead"])
def test_every_seeded_type_compiles_into_a_definition_with_the_types_statuses(module: str) -> None:
    config = parse_config(module, default_configs()[module])
    for t in config.types:
        defn = compile_definition(module_templates()[module], config, t.code, 1)
        assert set(defn.statuses) == set(t.status_names())
        assert defn.initial_status == t.initial_status
        assert defn.subtype == t.code and defn.module == module
        for status in defn.statuses.values():
            assert status.state in STATES[module]


def test_a_type_without_rules_gets_every_move_of_the_life_cycle_and_rules_narrow_them() -> None:
    config = parse_config("service_request", default_configs()["service_request"])
    general = compile_definition(module_templates()["service_request"], config, "GENERAL", 1)
    moves = {(s, t.to) for t in general.transitions for s in t.sources}
    assert ("New", "Acknowledged") in moves and ("New", "Cancelled") in moves
    assert ("Acknowledged", "Cancelled") not in moves  # cancel only while pending
    faulty = compile_definition(module_templates()["service_request"], config, "FAULTY_ITEM", 1)
    cancel = next(t for t in faulty.transitions if t.to == "Cancelled")
    assert [p.user for p in cancel.allowed] == ["tina"]  # the type's rule: only tina cancels


def test_choices_come_from_the_type() -> None:
    config = parse_config("service_request", default_configs()["service_request"])
    faulty = compile_definition(module_templates()["service_request"], config, "FAULTY_ITEM", 1)
    assert set(faulty.fields["category"].choices) == set(
        config.type("FAULTY_ITEM").allowed_categories("pending")
    )
    assert faulty.create.defaults["category"] == config.type("FAULTY_ITEM").default_category("pending")


# --- assignment ---------------------------------------------------------------------------------------------


def test_unit_routing_acceptance_and_progress_needing_a_user() -> None:
    svc, _, _ = service()
    case = new_sr(svc)
    assert (case.business_unit, case.assignee) == ("CARE", None)
    assert code_of(lambda: svc.transition("tina", case.id, to="Acknowledged")) == "NOT_ACCEPTED"
    # fred (FIELD) cannot even see a Customer Care case: it does not exist for him
    assert code_of(lambda: svc.take("fred", case.id)) == "CASE_NOT_FOUND"
    taken = svc.take("dave", case.id)
    assert taken.assignee == "dave"
    assert code_of(lambda: svc.take("carol", case.id)) == "ALREADY_ACCEPTED"
    moved = svc.reassign("tina", case.id, business_unit="FIELD")
    assert (moved.business_unit, moved.assignee) == ("FIELD", None)  # waits for a FIELD member
    assert svc.take("fred", case.id).assignee == "fred"


def test_contact_account_and_type_cannot_change() -> None:
    svc, _, _ = service()
    case = new_sr(svc, assignee="dave")
    for field in ("contact_id", "account_id", "subtype"):
        assert code_of(lambda f=field: svc.edit("dave", case.id, fields={f: "X"})) == "IMMUTABLE_FIELDS"


def test_unknown_contact_and_type_are_refused() -> None:
    svc, repo, _ = service()
    assert code_of(lambda: new_sr(svc, contact_id="CON-0000")) == "UNKNOWN_CONTACT"
    assert code_of(lambda: new_sr(svc, subtype="NOPE")) == "UNKNOWN_TYPE"
    assert repo.commits == 0


# --- acceptance of responses and resolutions ----------------------------------------------------------------


def _resolved(svc: CaseService, category: str = "REPLACED") -> dict[str, Any]:
    case = new_sr(svc, subtype="FAULTY_ITEM", assignee="dave")
    svc.transition(
        "dave",
        case.id,
        to="Acknowledged",
        fields={"response_category": "ACK_INVESTIGATING", "response": "Looking"},
    )
    return svc.transition(
        "dave",
        case.id,
        to="Resolved",
        fields={"final_resolution_category": category, "final_resolution": "Swapped"},
    )


def _contact_decides(
    svc: CaseService, case_id: str, decision: str, round: int | None = None
) -> dict[str, Any]:
    case, defn, unit = svc._load(case_id)
    change = engine.decide_acceptance(
        defn,
        case,
        Actor("contact:CON-2001"),
        unit,
        decision=decision,
        comment="not fixed" if decision == "refuse" else None,
        round=round,
        now=svc.clock(),
    )
    svc.repo.commit(change)
    return svc.get("dave", case_id)


def test_a_resolution_that_needs_acceptance_holds_the_case_until_the_contact_accepts() -> None:
    svc, repo, _ = service()
    case = _resolved(svc)
    assert case.acceptance.decision is None and case.acceptance.step == "final_resolution"
    requested = [e for e in repo.outbox if e.type == "AcceptanceRequested"]
    assert requested[-1].data["contact_id"] == "CON-2001" and requested[-1].data["round"] == 1
    assert code_of(lambda: svc.transition("dave", case.id, to="Closed")) == "AWAITING_ACCEPTANCE"

    refused = _contact_decides(svc, case.id, "refuse")
    assert refused.acceptance.decision == "refuse"
    assert code_of(lambda: svc.transition("dave", case.id, to="Closed")) == "ANSWER_REFUSED"
    # another resolution asks again (round 2); a decision for round 1 no longer counts
    again = svc.edit("dave", case.id, fields={"final_resolution": "Replaced the whole unit"})
    assert again.acceptance.round == 2 and again.acceptance.decision is None
    assert code_of(lambda: _contact_decides(svc, case.id, "accept", round=1)) == "NO_PENDING_ACCEPTANCE"
    _contact_decides(svc, case.id, "accept", round=2)
    assert svc.transition("dave", case.id, to="Closed").state == "completed"


def test_a_category_without_acceptance_lets_the_case_move_on() -> None:
    svc, _, _ = service()
    case = new_sr(svc, assignee="dave")
    svc.transition("dave", case.id, to="Acknowledged", fields={"response_category": "ACK", "response": "Ok"})
    done = svc.transition(
        "dave",
        case.id,
        to="Resolved",
        fields={"final_resolution_category": "INFO_GIVEN", "final_resolution": "Told them"},
    )
    assert done.acceptance is None
    assert svc.transition("dave", case.id, to="Closed").state == "completed"


# --- key dates ----------------------------------------------------------------------------------------------


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_priority_drives_expected_completion_and_responding_recalculates_it() -> None:
    svc, _, clock = service()
    case = new_sr(svc, subtype="FAULTY_ITEM", assignee="dave", fields={"impact": 1, "urgency": 1})
    config = parse_config("service_request", default_configs()["service_request"])
    within = config.priority(1, 1).complete_within
    assert within is not None
    start = _at(case.dates.start_date)
    assert _at(case.dates.expected_completion_date) - start == timedelta(hours=within.value)
    clock.advance(3600)
    responded = svc.transition(
        "dave",
        case.id,
        to="Acknowledged",
        fields={"response_category": "ACK_INVESTIGATING", "response": "On it"},
    )
    # FAULTY_ITEM recalculates on responding: the clock restarts at the response
    assert _at(responded.dates.expected_completion_date) - _at(responded.updated_at) == timedelta(
        hours=within.value
    )


@pytest.mark.parametrize(
    ("subtype", "impact_urgency", "expected"),
    [
        ("GENERAL", (3, 3), timedelta(days=2)),  # the type's 2 days; "Normal" (5 days) does not extend it
        ("GENERAL", (1, 1), timedelta(hours=4)),  # "Critical" (4 hours) brings it forward
        ("FAULTY_ITEM", (2, 2), timedelta(days=2)),  # the type's 5 days, "High" (2 days) sooner
        ("FAULTY_ITEM", (3, 3), timedelta(days=5)),
    ],
)
def test_the_type_sets_the_expected_completion_and_a_priority_can_only_bring_it_forward(
    subtype: str, impact_urgency: tuple[int, int], expected: timedelta
) -> None:
    svc, _, _ = service()
    impact, urgency = impact_urgency
    case = new_sr(svc, subtype=subtype, assignee="dave", fields={"impact": impact, "urgency": urgency})
    assert _at(case.dates.expected_completion_date) - _at(case.dates.start_date) == expected


def test_overdue_and_time_to_completion() -> None:
    svc, _, clock = service()
    case = new_sr(svc, assignee="dave", fields={"impact": 1, "urgency": 1})  # 4 hours
    clock.advance(5 * 3600)
    late = svc.get("dave", case.id)
    assert late.dates.overdue is True and late.dates.time_overdue_seconds == 3600
    svc.transition("dave", case.id, to="Acknowledged", fields={"response_category": "ACK", "response": "x"})
    svc.transition(
        "dave",
        case.id,
        to="Resolved",
        fields={"final_resolution_category": "INFO_GIVEN", "final_resolution": "y"},
    )
    done = svc.transition("dave", case.id, to="Closed")
    assert done.dates.time_to_completion_seconds == 5 * 3600
    clock.advance(86400)
    assert svc.get("dave", case.id).dates.time_overdue_seconds == 3600  # frozen at completion


@settings(max_examples=60, deadline=None)
@given(
    impact=st.sampled_from([1, 2, 3]),
    urgency=st.sampled_from([1, 2, 3]),
    waits=st.lists(st.integers(min_value=0, max_value=10 * 86400), min_size=1, max_size=4),
    cancel=st.booleans(),
)
def test_key_dates_hold_whatever_the_timing(
    impact: int, urgency: int, waits: list[int], cancel: bool
) -> None:
    svc, _, clock = service()
    case = new_sr(svc, assignee="dave", fields={"impact": impact, "urgency": urgency})
    for wait in waits:
        clock.advance(wait)
        dates = svc.get("dave", case.id).dates
        assert dates.expected_completion_date >= dates.start_date
        assert dates.time_overdue_seconds >= 0
        assert dates.overdue == (clock() > _at(dates.expected_completion_date))
    if cancel:
        svc.transition("dave", case.id, to="Cancelled", fields={"cancellation_reason": "DUPLICATE"})
        clock.advance(30 * 86400)
        dates = svc.get("dave", case.id).dates
        assert dates.overdue is False and dates.actual_completion_date is None


# --- activities scheduled from a service request ------------------------------------------------------------


def test_open_activities_block_completion_and_deleting_one_unblocks_it() -> None:
    svc, _, _ = service()
    case = new_sr(svc, assignee="dave")
    visit = svc.schedule("dave", case.id, "activity", subtype="CALL", title="Call back", assignee="dave")
    assert visit.parent_id == case.id and visit.contact_id == "CON-2001"
    assert svc.get("dave", case.id).related_counts["activity"] == 1
    svc.transition("dave", case.id, to="Acknowledged", fields={"response_category": "ACK", "response": "x"})
    svc.transition(
        "dave",
        case.id,
        to="Resolved",
        fields={"final_resolution_category": "INFO_GIVEN", "final_resolution": "y"},
    )
    assert code_of(lambda: svc.transition("dave", case.id, to="Closed")) == "OPEN_CHILDREN"
    assert code_of(lambda: svc.delete("carol", case.id)) == "REFERENCED"  # the activity refers to it
    assert svc.delete("dave", visit.id).deleted is True
    assert svc.related("dave", case.id, "activity").items == []
    assert svc.transition("dave", case.id, to="Closed").state == "completed"


def test_activity_types_allowed_by_the_parent_type_only() -> None:
    svc, repo, _ = service()
    case = new_sr(svc, subtype="FAULTY_ITEM", assignee="dave")
    before = repo.commits
    assert code_of(lambda: svc.schedule("dave", case.id, "activity", subtype="CALL", title="x")) == (
        "TYPE_NOT_ALLOWED"
    )
    assert repo.commits == before


def test_activity_services_auto_applied_and_checked_on_completion() -> None:
    svc, _, _ = service()
    act = svc.register("fred", type="activity", subtype="REPAIR", title="Fix pump", assignee="fred")
    assert act.fields["services"] == [{"product": "SVC-REPAIR", "time_spent_minutes": 30}]
    svc.transition("fred", act.id, to="Started")
    too_short = [{"product": "SVC-REPAIR", "time_spent_minutes": 5}]
    assert code_of(lambda: svc.transition("fred", act.id, to="Done", fields={"services": too_short})) == (
        "INVALID_SERVICES"
    )
    done = svc.transition(
        "fred",
        act.id,
        to="Done",
        fields={"services": [{"product": "SVC-REPAIR", "time_spent_minutes": 50}]},
    )
    assert done.state == "completed" and done.dates.actual_completion_date


# --- leads --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("subtype", "converts"), [("B2B", True), ("REFERRAL", False)])
def test_a_won_lead_asks_for_conversion_when_its_type_says_so(subtype: str, converts: bool) -> None:
    svc, repo, _ = service()
    lead = svc.register(
        "mary",
        type="lead",
        subtype=subtype,
        title="40 routers",
        contact_id="CON-2003",
        assignee="mary",
        business_unit="SP",
    )
    svc.transition("mary", lead.id, to="Working")
    won = svc.transition("mary", lead.id, to="Won")
    assert won.state == "won" and won.dates.actual_completion_date
    event = next(e for e in repo.outbox if e.type == "LeadWon")
    assert event.data["contact_id"] == "CON-2003" and event.subtype == subtype
    assert (event.data["conversion"] is not None) == converts


def test_lost_needs_a_reason_of_the_type() -> None:
    svc, _, _ = service()
    lead = svc.register(
        "mary", type="lead", title="Maybe", contact_id="CON-2003", assignee="mary", business_unit="SP"
    )
    svc.transition("mary", lead.id, to="Working")
    assert code_of(lambda: svc.transition("mary", lead.id, to="Lost")) == "MISSING_FIELDS"
    lost = svc.transition("mary", lead.id, to="Lost", fields={"lost_reason": "NO_BUDGET"})
    assert lost.fields["lost_reason"] == "NO_BUDGET"


# --- customer requests (a plain definition with automatic moves) --------------------------------------------


def test_customer_request_automatic_moves() -> None:
    svc, _, _ = service()
    body = {"type": "customer_request", "title": "TDS", "description": "Datasheet", "account_id": "ACC-1001"}
    assert svc.register("mary", **body).status == "Approved"  # a Sales Rep's request
    case = svc.register("susan", **body)
    assert case.status == "Open"
    svc.transition("susan", case.id, to="Pending Approval")
    approved = svc.decide("peter", case.id, decision="approve")
    assert approved.status == "Approved"
    assert svc.edit("susan", case.id, fields={"resolution": "Sent"}).status == "Approved"
    resolved = svc.edit("susan", case.id, fields={"resolution_date": "2026-11-24"})
    assert resolved.status == "Resolved"


# --- configuration and the summary --------------------------------------------------------------------------


def care(svc: CaseService) -> CareService:
    assert svc.configs is not None
    return CareService(cases=svc, configs=svc.configs)


def test_configuration_changes_are_admin_only_validated_and_versioned() -> None:
    svc, _, _ = service()
    admin = care(svc)
    current = admin.get_config("carol", "lead")
    assert current["version"] == 1
    raw = copy.deepcopy(current["config"])
    with pytest.raises(Forbidden):
        admin.put_config("tina", "lead", raw, 1)
    broken = copy.deepcopy(raw)
    broken["types"][0]["statuses"] = [s for s in broken["types"][0]["statuses"] if s["name"] != "Won"]
    with pytest.raises(ValidationFailed) as exc:
        admin.put_config("admin", "lead", broken, 1)
    assert exc.value.code == "INVALID_CONFIGURATION" and exc.value.details["problems"]
    old = svc.register(
        "mary", type="lead", title="Old", contact_id="CON-2003", assignee="mary", business_unit="SP"
    )
    raw["types"][0]["description"] = "Business customers"
    assert admin.put_config("admin", "lead", raw, 1)["version"] == 2
    with pytest.raises(Conflict):
        admin.put_config("admin", "lead", raw, 1)
    new = svc.register(
        "mary", type="lead", title="New", contact_id="CON-2003", assignee="mary", business_unit="SP"
    )
    assert (old.config_version, new.config_version) == (1, 2)
    assert svc.get("mary", old.id).config_version == 1


def test_summary_counts_open_requests_and_lists_the_overdue_first() -> None:
    svc, _, clock = service()
    urgent = new_sr(svc, assignee="dave", fields={"impact": 1, "urgency": 1})
    new_sr(svc)
    closed = new_sr(svc, assignee="dave")
    svc.transition("dave", closed.id, to="Cancelled", fields={"cancellation_reason": "DUPLICATE"})
    clock.advance(6 * 3600)
    summary = care(svc).summary("tina")
    assert summary["open"] == 2 and summary["by_state"] == {"pending": 2}
    assert summary["by_assignee"] == {"dave": 1, "(unassigned)": 1}
    assert [o["id"] for o in summary["overdue"]] == [urgent.id]
    assert summary["overdue"][0]["overdue_seconds"] == 2 * 3600
    assert summary["mine"] == {"open": 0, "overdue": 0, "items": []}
    agent = care(svc).summary("dave")
    assert agent["open"] == 2 and agent["mine"]["open"] == 1 and agent["mine"]["overdue"] == 1
    assert agent["mine"]["items"][0]["id"] == urgent.id


def test_only_the_business_units_a_type_names_may_create_it() -> None:
    svc, repo, _ = service()
    # FAULTY_ITEM may be created by Customer Care only; mary is in SP
    assert code_of(lambda: new_sr(svc, user="mary", subtype="FAULTY_ITEM")) == "NOT_ALLOWED"
    assert repo.commits == 0
    assert new_sr(svc, user="carol", subtype="FAULTY_ITEM").subtype == "FAULTY_ITEM"


def test_a_team_lead_sees_the_summary_of_their_own_units_only() -> None:
    svc, _, _ = service()
    new_sr(svc)  # CARE
    new_sr(svc, contact_id="CON-2003")  # West -> FIELD
    assert care(svc).summary("tina")["open"] == 1
    assert care(svc).summary("admin")["open"] == 2
    with pytest.raises(Forbidden):
        care(svc).summary("tina", business_unit="FIELD")


def test_lists_show_whether_a_case_is_overdue_now() -> None:
    from casework.services.ports import CaseQuery

    svc, _, clock = service()
    case = new_sr(svc, assignee="dave", fields={"impact": 1, "urgency": 1})  # 4 hours
    clock.advance(5 * 3600)
    listed = svc.list_cases("dave", CaseQuery(type="service_request"))
    item = next(i for i in listed.items if i.id == case.id)
    assert item.dates.overdue is True and item.dates.time_overdue_seconds == 3600
