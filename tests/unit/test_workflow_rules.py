"""Workflow rules: checked as data (every problem listed), run from the domain events against the in-memory
fakes: what a rule does to the case and its history, what it costs when it does not apply, and the guards
(duplicate deliveries, loops)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from casework.domain.delegation import Delegation
from casework.domain.errors import Conflict, Forbidden, ValidationFailed
from casework.domain.rules import EMPTY, MAX_DEPTH, RuleSet
from casework.domain.tags import render, tag_list, unknown_tags
from casework.services.rules import RuleAdmin, RuleRunner
from tests.fakes import InMemoryRepository, make_service

VISIT_RULE = {
    "id": "faulty-visit",
    "name": "Visit for faulty items",
    "trigger": {"on": "case_created"},
    "conditions": {"types": ["FAULTY_ITEM"]},
    "actions": [
        {
            "do": "schedule_activity",
            "activity_type": "VISIT",
            "title": "Visit #contact_name about #case_title",
            "assignee": "fred",
            "business_unit": "FIELD",
            "due_in_days": 2,
        }
    ],
}


class InMemoryRules:
    def __init__(self) -> None:
        self.versions: dict[str, list[RuleSet]] = {}
        self.reads = 0

    def get(self, module: str, version: int | None = None) -> tuple[RuleSet, int]:
        self.reads += 1
        versions = self.versions.get(module, [])
        version = len(versions) if version is None else version
        return (versions[version - 1] if version else EMPTY), version

    def put(self, module: str, rules: RuleSet, expected_version: int | None) -> int:
        self.versions.setdefault(module, []).append(rules)
        return len(self.versions[module])


@dataclass
class Sent:
    mails: list[tuple[str, str, str]] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)
    ledger: dict[tuple[str, str], str] = field(default_factory=dict)

    def send(self, to: str, subject: str, text: str, html: str) -> str:
        self.mails.append((to, subject, html))
        return f"mail-{len(self.mails)}"

    def sent(self, event_id: str, recipient: str) -> bool:
        return (event_id, recipient) in self.ledger

    def record(self, event_id: str, recipient: str, message_id: str) -> None:
        self.ledger[(event_id, recipient)] = message_id


class Texts:
    def __init__(self, sent: Sent) -> None:
        self.sent = sent

    def send(self, to_e164: str, text: str) -> str:
        self.sent.texts.append((to_e164, text))
        return f"sms-{len(self.sent.texts)}"


class CountingRepository(InMemoryRepository):
    """Counts the reads a rule evaluation makes."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    def get(self, case_id: str) -> Any:
        self.gets += 1
        return super().get(case_id)


@dataclass
class World:
    runner: RuleRunner
    admin: RuleAdmin
    repo: CountingRepository
    rules: InMemoryRules
    sent: Sent

    def save(self, module: str, *rules: dict[str, Any]) -> dict[str, Any]:
        return self.admin.put("admin", module, list(rules), None)

    def deliver(self, limit: int = 50) -> list[dict[str, Any]]:
        """Feed every event in the outbox to the runner once, as the bus would, and the events those
        cause, until nothing new is raised; returns what each handling said."""
        done, outcomes = 0, []
        while done < len(self.repo.outbox) and done < limit:
            event = self.repo.outbox[done].to_dict()
            done += 1
            outcomes.append(self.runner.handle(event))
        return outcomes


@pytest.fixture
def world() -> World:
    repo = CountingRepository()
    cases, _ = make_service(repo=repo)
    users = cases.directory.users  # type: ignore[attr-defined]
    users["tina"] = replace(users["tina"], phone="+447700900123")
    rules = InMemoryRules()
    sent = Sent()
    runner = RuleRunner(cases=cases, rules=rules, mailer=sent, sms=Texts(sent), ledger=sent)
    return World(runner, RuleAdmin(cases=cases, rules=rules), repo, rules, sent)


def faulty_item(world: World, **fields: Any) -> dict[str, Any]:
    return world.runner.cases.register(
        "carol",
        type="service_request",
        subtype="FAULTY_ITEM",
        title="Router keeps rebooting",
        contact_id="CON-2001",
        fields=fields or None,
    )


# --- the rule set as data ------------------------------------------------------------------------------


def test_every_problem_of_a_rule_set_is_listed_at_once(world: World) -> None:
    bad = [
        {
            "id": "r1",
            "name": "Visit",
            "trigger": {"on": "entered_status"},  # names no status
            "conditions": {"types": ["NO_SUCH_TYPE"]},
            "actions": [
                {"do": "schedule_activity", "activity_type": "PAINTING", "title": "For #contct_name"},
                {"do": "assign"},  # nobody
                {
                    "do": "alert",
                    "channel": "email",
                    "users": ["nobody"],
                    "text": "Hi #assignee",
                },  # no subject
            ],
        },
        {**VISIT_RULE, "id": "r1"},  # the same id twice
    ]
    with pytest.raises(ValidationFailed) as caught:
        world.admin.put("admin", "service_request", bad, None)
    assert caught.value.code == "INVALID_RULES"
    problems = {(p["location"], p["message"].split(" ")[0]) for p in caught.value.details["problems"]}
    locations = {location for location, _ in problems}
    assert {
        "rules[0].trigger.status",
        "rules[0].conditions.types",
        "rules[0].actions[0].activity_type",
        "rules[0].actions[0].title",
        "rules[0].actions[1]",
        "rules[0].actions[2].users",
        "rules[0].actions[2].subject",
        "rules[1].id",
    } <= locations
    assert any("#contct_name" in p["message"] for p in caught.value.details["problems"])
    assert world.rules.versions == {}  # nothing saved


def test_shape_problems_are_listed_with_their_location(world: World) -> None:
    with pytest.raises(ValidationFailed) as caught:
        world.admin.put(
            "admin", "lead", [{"id": "bad id!", "trigger": {"on": "sometimes"}, "actions": []}], None
        )
    locations = {p["location"] for p in caught.value.details["problems"]}
    assert {"rules[0].id", "rules[0].name", "rules[0].trigger.on", "rules[0].actions"} <= locations


def test_only_an_admin_replaces_the_rules_and_anybody_reads_them(world: World) -> None:
    with pytest.raises(Forbidden):
        world.admin.put("tina", "service_request", [VISIT_RULE], None)
    saved = world.save("service_request", VISIT_RULE)
    assert saved["version"] == 1
    read = world.admin.get("dave", "service_request")
    assert read["version"] == 1 and read["rules"][0]["id"] == "faulty-visit"
    assert world.admin.get("dave", "lead") == {"module": "lead", "version": 0, "rules": [], "plans": []}


# --- tags --------------------------------------------------------------------------------------------------


def test_tags_are_substituted_not_executed_and_escaped_for_html() -> None:
    case = {"id": "C-1", "title": "Router", "contact_name": "<b>Al</b> {{ 7*7 }}", "status": "Pending"}
    text = "Dear #contact_name, #case_number is #status. {% raw %} #42 #unknown"
    assert render(text, case) == "Dear <b>Al</b> {{ 7*7 }}, C-1 is Pending. {% raw %} #42 #unknown"
    assert "&lt;b&gt;Al&lt;/b&gt;" in render(text, case, for_html=True)
    assert unknown_tags(text) == ["#unknown"]
    assert {"#contact_name", "#case_number", "#status", "#expected_completion", "#assignee"} <= {
        t["tag"] for t in tag_list()
    }


# --- running rules -----------------------------------------------------------------------------------------


def test_a_faulty_item_request_schedules_a_visit_by_the_rule(world: World) -> None:
    world.save("service_request", VISIT_RULE)
    sr = faulty_item(world)
    outcomes = world.deliver()
    assert outcomes[0]["fired"] == ["faulty-visit"]
    visits = [c for c in world.repo.cases.values() if c.type == "activity"]
    assert len(visits) == 1
    visit = visits[0]
    assert (visit.subtype, visit.assignee, visit.business_unit, visit.parent_id) == (
        "VISIT",
        "fred",
        "FIELD",
        sr.id,
    )
    assert visit.title == "Visit Alice Brown about Router keeps rebooting"
    assert visit.fields["planned_date"] == "2025-03-05"
    # the history of both says the rule did it, and the events it raised say which rule, how deep
    assert world.repo.history_of(sr.id)[-1].by == "rule:faulty-visit"
    assert world.repo.history_of(visit.id)[0].by == "rule:faulty-visit"
    caused = [e for e in world.repo.outbox if e.actor == "rule:faulty-visit"]
    assert caused and all(
        e.data["caused_by"] == {"rule": "faulty-visit", "depth": 1, "event_id": f"{sr.id}:1:0"}
        for e in caused
    )


def test_a_rule_whose_type_does_not_match_reads_nothing_beyond_the_event(world: World) -> None:
    world.save("service_request", VISIT_RULE)
    world.runner.cases.register(
        "carol", type="service_request", subtype="GENERAL", title="A question", contact_id="CON-2001"
    )
    event = world.repo.outbox[0].to_dict()
    before = world.repo.gets
    outcome = world.runner.handle(event)
    assert outcome["fired"] == [] and world.repo.gets == before
    assert not [c for c in world.repo.cases.values() if c.type == "activity"]


def test_conditions_on_the_case_are_checked_after_one_read(world: World) -> None:
    urgent = {
        **VISIT_RULE,
        "id": "urgent-visit",
        "conditions": {"types": ["FAULTY_ITEM"], "fields": {"impact": 1}},
    }
    world.save("service_request", urgent)
    faulty_item(world, impact=3)
    before = world.repo.gets
    outcome = world.runner.handle(world.repo.outbox[0].to_dict())
    assert outcome == {"rules_version": 1, "fired": [], "skipped": ["urgent-visit"]}
    assert world.repo.gets == before + 1


def test_a_duplicate_delivery_acts_once(world: World) -> None:
    alert = {
        "do": "alert",
        "channel": "email",
        "users": ["tina"],
        "subject": "Faulty item #case_number",
        "text": "For #contact_name",
    }
    world.save("service_request", {**VISIT_RULE, "actions": [*VISIT_RULE["actions"], alert]})
    faulty_item(world)
    event = world.repo.outbox[0].to_dict()
    world.runner.handle(event)
    world.runner.handle(event)  # redelivered after the first handling, as if its record had been lost
    assert len([c for c in world.repo.cases.values() if c.type == "activity"]) == 1
    assert len(world.sent.mails) == 1
    assert world.sent.mails[0][0] == "tina@casework.example"
    notes = [n for ns in world.repo.note_items.values() for n in ns]
    assert [n.author for n in notes] == ["rule:faulty-visit"]
    assert "Alerted tina by email" in notes[0].text


def test_sms_alerts_go_to_users_with_a_phone_and_the_rest_are_named(world: World) -> None:
    world.save(
        "service_request",
        {
            "id": "sms",
            "name": "Text the team lead",
            "trigger": {"on": "case_created"},
            "actions": [
                {"do": "alert", "channel": "sms", "users": ["tina", "dave"], "text": "New #case_type"}
            ],
        },
    )
    sr = faulty_item(world)
    world.deliver()
    assert world.sent.texts == [("+447700900123", "New FAULTY_ITEM")]
    (note,) = world.repo.note_items[sr.id]
    assert note.text == "Alerted tina by sms. No phone for: dave."


def test_rules_that_feed_each_other_stop_at_the_depth_bound(world: World) -> None:
    """Two rules undo each other's change: each change triggers the other, for ever, were it not for the
    depth every rule-caused event carries."""
    ping = {
        "id": "ping",
        "name": "Urgent when the impact changes",
        "trigger": {"on": "field_changed", "field": "impact"},
        "actions": [{"do": "set_fields", "fields": {"urgency": 1, "impact": 2}}],
    }
    pong = {
        "id": "pong",
        "name": "Low impact when the urgency changes",
        "trigger": {"on": "field_changed", "field": "urgency"},
        "actions": [{"do": "set_fields", "fields": {"urgency": 3, "impact": 3}}],
    }
    world.save("service_request", ping, pong)
    sr = daves_faulty_item(world)
    world.runner.cases.edit("dave", sr.id, fields={"impact": 1})
    world.deliver()
    by_rules = [h for h in world.repo.history_of(sr.id) if h.by.startswith("rule:")]
    assert 1 <= len(by_rules) <= MAX_DEPTH
    depths = [e.data["caused_by"]["depth"] for e in world.repo.outbox if "caused_by" in e.data]
    assert max(depths) == MAX_DEPTH


def daves_faulty_item(world: World) -> dict[str, Any]:
    return world.runner.cases.register(
        "dave",
        type="service_request",
        subtype="FAULTY_ITEM",
        title="Router",
        contact_id="CON-2001",
        assignee="dave",
    )


@pytest.mark.parametrize("retrigger, fired", [(False, 1), (True, 2)])
def test_a_rule_does_not_retrigger_itself_unless_it_says_so(
    world: World, retrigger: bool, fired: int
) -> None:
    own = {
        "id": "own",
        "name": "Reset the urgency",
        "trigger": {"on": "field_changed", "field": "urgency"},
        "actions": [{"do": "set_fields", "fields": {"urgency": 1}}],
        "retrigger": retrigger,
    }
    world.save("service_request", own)
    sr = daves_faulty_item(world)
    world.runner.cases.edit("dave", sr.id, fields={"urgency": 3})
    outcomes = world.deliver()
    # with retrigger it fires on its own change (urgency 3 -> 1) too, which changes nothing more
    assert [o["fired"] for o in outcomes if o["fired"]] == [["own"]] * fired
    assert world.repo.cases[sr.id].fields["urgency"] == 1


def test_assign_and_alert_on_entering_a_state(world: World) -> None:
    world.save(
        "lead",
        {
            "id": "won-alert",
            "name": "Alert when a lead is won",
            "trigger": {"on": "entered_state", "state": "won"},
            "actions": [
                {
                    "do": "alert",
                    "channel": "email",
                    "users": ["peter"],
                    "subject": "Won: #case_title",
                    "text": "#assignee won #case_title for #contact_name",
                }
            ],
        },
    )
    cases = world.runner.cases
    lead = cases.register(
        "mary", type="lead", title="Fleet", contact_id="CON-2003", assignee="mary", business_unit="SP"
    )
    cases.transition("mary", lead.id, to="Working")
    cases.transition("mary", lead.id, to="Won")
    world.deliver()
    assert [(to, subject) for to, subject, _ in world.sent.mails] == [
        ("peter@casework.example", "Won: Fleet")
    ]


def test_a_rule_on_a_case_closed_meanwhile_does_nothing_and_does_not_fail(world: World) -> None:
    assign = {
        "id": "to-tina",
        "name": "Faulty items to Tina",
        "trigger": {"on": "case_created"},
        "actions": [{"do": "assign", "user": "tina"}],
    }
    world.save("service_request", assign)
    sr = faulty_item(world)
    event = world.repo.outbox[0].to_dict()
    world.runner.cases.transition("tina", sr.id, to="Cancelled", fields={"cancellation_reason": "DUPLICATE"})
    outcome = world.runner.handle(event)
    assert outcome["fired"] == ["to-tina"]
    assert world.repo.cases[sr.id].assignee is None


# --- require_approval: a rule holds the case until approvers decide ---------------------------------------

VISIT_NEEDS_OK = {
    "id": "visit-ok",
    "name": "Tina's OK for visits",
    "trigger": {"on": "case_created"},
    "conditions": {"types": ["VISIT"]},
    "actions": [{"do": "require_approval", "users": ["tina"], "comment": "Visits need the team lead's OK"}],
}


def held_visit(world: World) -> Any:
    """A faulty item whose rule schedules a visit for fred, which the activity rule holds for tina."""
    world.save("service_request", VISIT_RULE)
    world.save("activity", VISIT_NEEDS_OK)
    faulty_item(world)
    world.deliver()
    return next(c for c in world.repo.cases.values() if c.type == "activity")


def test_require_approval_refuses_unknown_users_and_groups_with_every_problem(world: World) -> None:
    bad = {
        "id": "hold",
        "name": "Hold",
        "trigger": {"on": "case_created"},
        "actions": [
            {"do": "require_approval", "users": ["nobody", "tina"], "group": "Wizard"},
            {"do": "require_approval"},  # asks nobody
            {"do": "require_approval", "users": ["tina"], "mode": "most"},
        ],
    }
    with pytest.raises(ValidationFailed) as caught:
        world.admin.put("admin", "activity", [bad], None)
    problems = caught.value.details["problems"]
    assert {p["location"] for p in problems} == {"rules[0].actions[2].mode"}  # the shape is checked first
    with pytest.raises(ValidationFailed) as caught:
        world.admin.put("admin", "activity", [{**bad, "actions": bad["actions"][:2]}], None)
    problems = caught.value.details["problems"]
    assert {p["location"] for p in problems} == {
        "rules[0].actions[0].users",
        "rules[0].actions[0].group",
        "rules[0].actions[1]",
    }
    assert any("'nobody'" in p["message"] for p in problems)
    assert any("'Wizard'" in p["message"] and "Team Lead" in p["message"] for p in problems)
    assert world.rules.versions == {}


def test_an_activity_held_by_a_rule_starts_only_once_approved(world: World) -> None:
    visit = held_visit(world)
    cases = world.runner.cases
    pending = visit.approval
    assert pending is not None and pending.hold and dict(pending.decisions) == {"tina": None}
    assert (pending.step, pending.label) == ("rule:visit-ok", "Tina's OK for visits")
    entry = world.repo.history_of(visit.id)[-1]
    assert (entry.by, entry.action, entry.comment) == (
        "rule:visit-ok",
        "approval_requested",
        "Visits need the team lead's OK",
    )
    asked = [e for e in world.repo.outbox if e.type == "ApprovalRequested"]
    assert [(e.actor, e.data["approver"], e.data["caused_by"]["rule"]) for e in asked] == [
        ("rule:visit-ok", "tina", "visit-ok")
    ]
    with pytest.raises(Conflict) as caught:
        cases.transition("fred", visit.id, to="Started")
    assert caught.value.code == "HELD_FOR_APPROVAL"
    assert cases.get("tina", visit.id).can_decide_approval
    cases.decide("tina", visit.id, decision="approve")
    assert cases.transition("fred", visit.id, to="Started").status == "Started"


def test_a_held_approvers_delegate_is_asked_too_and_decides_for_them(world: World) -> None:
    cases = world.runner.cases
    today = cases.clock().date()
    cases.delegations.put(Delegation("tina", "dave", today, today, "2025-03-01T00:00:00.000Z"))
    visit = held_visit(world)
    assert dict(visit.approval.delegates) == {"tina": "dave"}
    asked = [
        (e.data["approver"], e.data.get("on_behalf_of"))
        for e in world.repo.outbox
        if e.type == "ApprovalRequested"
    ]
    assert asked == [("tina", None), ("dave", "tina")]
    cases.decide("dave", visit.id, decision="approve")
    assert world.repo.cases[visit.id].approval is None


def test_a_redelivered_event_opens_no_second_round_even_after_the_decision(world: World) -> None:
    visit = held_visit(world)
    registered = next(e for e in world.repo.outbox if e.type == "CaseRegistered" and e.case_id == visit.id)
    world.runner.handle(registered.to_dict())  # still pending: the same round
    assert world.repo.cases[visit.id].approval_rounds == 1
    world.runner.cases.decide("tina", visit.id, decision="reject", comment="Not this week")
    world.runner.handle(registered.to_dict())  # decided since: nothing opens again
    case = world.repo.cases[visit.id]
    assert case.approval is None and case.approval_rounds == 1
    # and if the first delivery stopped before the ledger's mark, the pending round is found instead
    world.sent.ledger.clear()
    world.save("activity", {**VISIT_NEEDS_OK, "id": "visit-ok-2"})
    world.runner.handle(registered.to_dict())
    world.runner.handle(registered.to_dict())
    assert world.repo.cases[visit.id].approval_rounds == 2


def test_a_lead_held_for_its_unit_group_and_a_rejection_triggers_the_decided_rules(world: World) -> None:
    world.save(
        "lead",
        {
            "id": "big-lead",
            "name": "Sales manager's OK",
            "trigger": {"on": "case_created"},
            "actions": [{"do": "require_approval", "group": "Sales Manager", "mode": "all"}],
        },
        {
            "id": "tell-mary",
            "name": "Tell the rep about a rejection",
            "trigger": {"on": "approval_decided", "decision": "reject"},
            "actions": [
                {"do": "alert", "channel": "email", "users": ["mary"], "subject": "No", "text": "Rejected"}
            ],
        },
    )
    cases = world.runner.cases
    lead = cases.register(
        "mary", type="lead", title="Fleet", contact_id="CON-2003", assignee="mary", business_unit="SP"
    )
    world.deliver()
    assert dict(world.repo.cases[lead.id].approval.decisions) == {"peter": None}
    with pytest.raises(Conflict):
        cases.transition("mary", lead.id, to="Working")
    cases.decide("peter", lead.id, decision="reject", comment="Margin too thin")
    world.deliver()
    assert [(to, subject) for to, subject, _ in world.sent.mails] == [("mary@casework.example", "No")]
    decided = world.repo.history_of(lead.id)[-1]
    assert (decided.by, decided.action, decided.comment) == ("peter", "approval_decided", "Margin too thin")
    assert world.repo.cases[lead.id].status == lead.status  # the rejection moved nothing
    # and lifted the hold: what follows a rejection is the people's (or a decided rule's) call
    assert cases.transition("mary", lead.id, to="Working").status == "Working"


# --- communication plans -----------------------------------------------------------------------------------

REMIND_PLAN = {
    "id": "remind-acceptance",
    "name": "Remind the contact to accept",
    "types": ["FAULTY_ITEM"],
    "status": "Acknowledged",
    "steps": [
        {
            "after_days": 2,
            "subject": "About #case_number",
            "text": "Dear #contact_name, did our answer help? (#status)",
            "unless_accepted": True,
        },
        {"after_days": 7, "subject": "Still there?", "text": "We are still on #case_title."},
    ],
}


class InMemorySchedules:
    def __init__(self) -> None:
        self.due: dict[str, tuple[Any, dict[str, Any]]] = {}
        self.cancelled: list[str] = []

    def schedule(self, name: str, at: Any, payload: dict[str, Any]) -> None:
        self.due.setdefault(name, (at, payload))

    def cancel(self, name: str) -> None:
        if self.due.pop(name, None) is not None:
            self.cancelled.append(name)


@pytest.fixture
def schedules(world: World) -> InMemorySchedules:
    world.runner.plans = InMemorySchedules()
    return world.runner.plans  # type: ignore[return-value]


def acknowledged(
    world: World, subtype: str = "FAULTY_ITEM", category: str = "ACK_INVESTIGATING"
) -> dict[str, Any]:
    cases = world.runner.cases
    sr = cases.register(
        "dave",
        type="service_request",
        subtype=subtype,
        title="Router",
        contact_id="CON-2001",
        assignee="dave",
    )
    return cases.transition(
        "dave", sr.id, to="Acknowledged", fields={"response_category": category, "response": "Checking"}
    )


def test_a_plan_schedules_its_steps_when_the_case_enters_the_status_and_sends_them_once(
    world: World, schedules: InMemorySchedules
) -> None:
    world.admin.put("admin", "service_request", [], None, plans=[REMIND_PLAN])
    sr = acknowledged(world)
    world.deliver()
    assert sorted(str(at) for at, _ in schedules.due.values()) == [
        "2025-03-05 09:00:00+00:00",
        "2025-03-10 09:00:00+00:00",
    ]
    first = next(p for at, p in schedules.due.values() if p["step"] == 0)
    assert world.runner.run_plan_step(first)["sent"] is True
    assert world.runner.run_plan_step(first)["reason"] == "ALREADY_SENT"  # the schedule retried
    (sent,) = world.repo.communication_items[sr.id]
    assert sent["by"] == "plan:remind-acceptance"
    assert sent["subject"] == f"About {sr.id}"
    assert sent["text"] == "Dear Alice Brown, did our answer help? (Acknowledged)"


def test_leaving_the_status_stops_the_plan(world: World, schedules: InMemorySchedules) -> None:
    world.admin.put("admin", "service_request", [], None, plans=[REMIND_PLAN])
    sr = acknowledged(world)
    world.deliver()
    steps = [p for _, p in schedules.due.values()]
    world.runner.cases.transition(
        "dave",
        sr.id,
        to="Resolved",
        fields={"final_resolution_category": "REPLACED", "final_resolution": "A new router"},
    )
    world.deliver()
    assert schedules.due == {} and len(schedules.cancelled) == 2
    # a step that fires anyway (its schedule could not be cancelled in time) sends nothing
    assert [world.runner.run_plan_step(p)["reason"] for p in steps] == ["LEFT_THE_STATE"] * 2
    assert sr.id not in world.repo.communication_items


def test_a_closed_case_gets_its_follow_up_and_nothing_of_the_plans_it_left(
    world: World, schedules: InMemorySchedules
) -> None:
    follow_up = {
        "id": "follow-up",
        "name": "Follow-up after completion",
        "state": "completed",
        "steps": [
            {"after_days": 7, "subject": "How is #case_title?", "text": "Closed on #expected_completion."}
        ],
    }
    any_type = {**REMIND_PLAN, "types": []}
    world.admin.put("admin", "service_request", [], None, plans=[any_type, follow_up])
    sr = acknowledged(world, "GENERAL", "ACK")
    world.deliver()
    reminders = [p for _, p in schedules.due.values()]
    world.runner.plans = None  # the scheduler is unreachable: nothing gets cancelled
    cases = world.runner.cases
    fields = {"final_resolution_category": "INFO_GIVEN", "final_resolution": "Restart it"}
    cases.transition("dave", sr.id, to="Resolved", fields=fields)
    cases.transition("dave", sr.id, to="Closed")
    world.runner.plans = schedules
    world.deliver()
    assert [world.runner.run_plan_step(p)["reason"] for p in reminders] == ["LEFT_THE_STATE"] * 2
    (closing,) = [p for _, p in schedules.due.values() if p["plan"] == "follow-up"]
    assert world.runner.run_plan_step(closing)["sent"] is True
    assert [c["subject"] for c in world.repo.communication_items[sr.id]] == ["How is Router?"]


def test_invalid_plans_are_refused_with_every_problem(world: World) -> None:
    bad = {
        **REMIND_PLAN,
        "state": "responded",
        "types": ["NOPE"],
        "steps": [{"after_days": 2, "subject": "#nope", "text": "Hi"}],
    }
    with pytest.raises(ValidationFailed) as caught:
        world.admin.put("admin", "service_request", [], None, plans=[bad, REMIND_PLAN])
    locations = {p["location"] for p in caught.value.details["problems"]}
    assert locations == {"plans[0]", "plans[0].types", "plans[0].steps[0].subject", "plans[1].id"}


# --- overdue cases -----------------------------------------------------------------------------------------

LATE_RULE = {
    "id": "late-alert",
    "name": "Tell the team lead about late faulty items",
    "trigger": {"on": "overdue", "hours": 24},
    "conditions": {"types": ["FAULTY_ITEM"]},
    "actions": [
        {
            "do": "alert",
            "channel": "email",
            "users": ["tina"],
            "subject": "Late: #case_title",
            "text": "Due #expected_completion",
        }
    ],
}


class LateCases:
    """The open-cases index read up to a due date, over the in-memory repository."""

    def __init__(self, repo: InMemoryRepository) -> None:
        self.repo = repo
        self.queries = 0

    def overdue(self, case_type: str, business_unit: str, due_before: str) -> list[dict[str, Any]]:
        self.queries += 1
        page = self.repo.open_cases(case_type, business_unit, None, 1000)
        rows = [c.model_dump(mode="json") for c in page.items]  # as the adapter gives them: list rows
        return [c for c in rows if (c["dates"]["expected_completion_date"] or "9999") < due_before]


def test_an_overdue_rule_fires_once_per_case_once_it_is_late_enough(world: World) -> None:
    world.runner.overdue = LateCases(world.repo)
    world.save("service_request", LATE_RULE)
    sr = faulty_item(world)
    general = world.runner.cases.register(
        "carol", type="service_request", subtype="GENERAL", title="Question", contact_id="CON-2001"
    )
    due = world.repo.cases[sr.id].dates["expected_completion_date"]
    assert world.runner.sweep_overdue()["fired"] == 0  # not due yet
    clock = world.runner.cases.clock
    clock.now = datetime.fromisoformat(due) + timedelta(hours=23)  # type: ignore[attr-defined]
    assert world.runner.sweep_overdue()["fired"] == 0  # late, not 24 hours late
    clock.now = datetime.fromisoformat(due) + timedelta(hours=25)  # type: ignore[attr-defined]
    assert world.runner.sweep_overdue() == {"checked": 2, "fired": 1}  # the general one is late too
    assert world.runner.sweep_overdue()["fired"] == 0  # once
    assert [s for _, s, _ in world.sent.mails] == ["Late: Router keeps rebooting"]
    assert world.repo.note_items[sr.id][0].author == "rule:late-alert"
    assert general.id not in world.repo.note_items


def test_an_overdue_trigger_needs_its_hours(world: World) -> None:
    with pytest.raises(ValidationFailed) as caught:
        world.save("service_request", {**LATE_RULE, "trigger": {"on": "overdue"}})
    assert [p["location"] for p in caught.value.details["problems"]] == ["rules[0].trigger.hours"]


def test_an_event_of_a_case_deleted_since_does_nothing(world: World) -> None:
    world.save("service_request", VISIT_RULE)
    sr = faulty_item(world)
    del world.repo.cases[sr.id]  # deleted before the event reached the rules
    outcome = world.runner.handle(world.repo.outbox[0].to_dict())
    assert outcome["skipped"] == ["faulty-visit"]
    assert not [c for c in world.repo.cases.values() if c.type == "activity"]
