"""Workflow rules over the handlers on moto: GET/PUT /rules/{module} through the admin function, and the rules
consumer (functions/rules) fed real-shaped SQS records of the events the table's outbox holds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from casework.http import wiring
from casework.http.rule_routes import rule_store
from infra.local.functions import LambdaContext, import_file
from infra.local.template import LocalResources
from tests.functional.shapes import for_event, sqs_record, stored_events
from tests.functional.test_api_handlers import ENV, Api, ok, partition, refused
from tests.unit.test_workflow_rules import VISIT_NEEDS_OK, VISIT_RULE

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "casework-api-RulesQueue"


@pytest.fixture(scope="module")
def rules_module() -> Iterator[ModuleType]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in ENV.items():
            mp.setenv(key, value)
        module = import_file(ROOT / "functions" / "rules" / "app.py", "casework_rules_test_fn")
        yield module


@pytest.fixture
def rules_fn(stack: LocalResources, rules_module: ModuleType) -> ModuleType:
    """A cold rule set cache per test (the table is restored per test)."""
    wiring.rule_runner.cache_clear()
    rule_store.cache_clear()
    return rules_module


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def outbox(stack: LocalResources, case_id: str) -> list[dict[str, Any]]:
    """The events the case's history items carry, in order (what the publisher puts on the bus)."""
    items = sorted(partition(stack.table_name, case_id), key=lambda i: i["sk"])
    return [e for i in items if i["sk"].startswith("HIST#") for e in stored_events(i)]


def deliver(fn: ModuleType, *records: dict[str, Any]) -> dict[str, Any]:
    return fn.handler({"Records": list(records)}, LambdaContext("casework-test"))


def put_rules(api: Api, module: str, rules: list[dict[str, Any]], user: str = "admin", **extra: Any) -> Any:
    return api("PUT /rules/{module}", {"module": module}, user=user, body={"rules": rules, **extra})


def faulty_item(api: Api) -> dict[str, Any]:
    reply = api(
        "POST /cases",
        user="carol",
        body={
            "type": "service_request",
            "subtype": "FAULTY_ITEM",
            "title": "Router reboots",
            "contact_id": "CON-2001",
        },
    )
    assert reply.status == 201, reply.text
    return reply.json


# --- the routes ---------------------------------------------------------------------------------------------


def test_rules_are_versioned_admin_only_and_refused_with_every_problem(api: Api) -> None:
    assert ok(api("GET /rules/{module}", {"module": "service_request"}, user="dave")) == {
        "module": "service_request",
        "version": 0,
        "rules": [],
        "plans": [],
    }
    refused(put_rules(api, "service_request", [VISIT_RULE], user="tina"), 403, "NOT_ALLOWED")
    refused(put_rules(api, "warranty", [VISIT_RULE]), 404, "UNKNOWN_MODULE")
    broken = {
        **VISIT_RULE,
        "trigger": {"on": "entered_status", "status": "Nowhere"},
        "actions": [
            {"do": "alert", "channel": "email", "users": ["nobody"], "subject": "#nope", "text": "x"}
        ],
    }
    error = refused(put_rules(api, "service_request", [broken]), 422, "INVALID_RULES")
    assert {p["location"] for p in error["details"]["problems"]} == {
        "rules[0].trigger.status",
        "rules[0].actions[0].users",
        "rules[0].actions[0].subject",
    }
    refused(
        api("PUT /rules/{module}", {"module": "lead"}, user="admin", body={"rules": {}}),
        422,
        "INVALID_REQUEST",
    )

    saved = ok(put_rules(api, "service_request", [VISIT_RULE], expected_version=0))
    assert saved["version"] == 1 and saved["rules"][0]["actions"][0]["assignee"] == "fred"
    refused(put_rules(api, "service_request", [VISIT_RULE], expected_version=0), 409, "STALE_VERSION")
    read = ok(api("GET /rules/{module}", {"module": "service_request"}, user="carol"))
    assert read["version"] == 1 and read["rules"] == saved["rules"]


def test_case_types_list_the_tags_their_texts_may_use(api: Api) -> None:
    reply = ok(
        api("GET /case-types/{case_type}", {"case_type": "service_request"}, query={"subtype": "FAULTY_ITEM"})
    )
    tags = {t["tag"] for t in reply["tags"]}
    assert {"#contact_name", "#case_number", "#status", "#expected_completion", "#assignee"} <= tags


# --- the consumer -------------------------------------------------------------------------------------------


def test_a_faulty_item_gets_a_visit_once_however_often_the_event_comes(
    api: Api, stack: LocalResources, rules_fn: ModuleType
) -> None:
    ok(put_rules(api, "service_request", [VISIT_RULE]))
    sr = faulty_item(api)
    registered = outbox(stack, sr["id"])[0]
    assert registered["type"] == "CaseRegistered"

    record = for_event(registered, "m-1", QUEUE)
    assert deliver(rules_fn, record, for_event(registered, "m-2", QUEUE)) == {"batchItemFailures": []}
    assert deliver(rules_fn, record) == {"batchItemFailures": []}

    activities = ok(api("GET /cases/{case_id}/activities", {"case_id": sr["id"]}, user="dave"))["items"]
    assert len(activities) == 1
    visit = api.get(activities[0]["key"], user="fred")
    assert (visit["subtype"], visit["assignee"], visit["business_unit"]) == ("VISIT", "fred", "FIELD")
    assert visit["title"] == "Visit Alice Brown about Router reboots"
    history = api("GET /cases/{case_id}/history", {"case_id": sr["id"]}, user="dave").json["items"]
    assert [h["by"] for h in history][-1] == "rule:faulty-visit"
    caused = [e for e in outbox(stack, sr["id"]) if e["actor"] == "rule:faulty-visit"]
    assert caused and caused[0]["data"]["caused_by"]["depth"] == 1


def test_a_bad_message_fails_alone_and_events_no_rule_wants_write_nothing(
    api: Api, stack: LocalResources, rules_fn: ModuleType
) -> None:
    ok(put_rules(api, "service_request", [VISIT_RULE]))
    general = api(
        "POST /cases",
        user="carol",
        body={
            "type": "service_request",
            "subtype": "GENERAL",
            "title": "A question",
            "contact_id": "CON-2001",
        },
    ).json
    sr = faulty_item(api)
    before = len(partition(stack.table_name, general["id"]))
    result = deliver(
        rules_fn,
        sqs_record("not json", "bad", QUEUE),
        for_event(outbox(stack, general["id"])[0], "general", QUEUE),
        for_event(outbox(stack, sr["id"])[0], "faulty", QUEUE),
    )
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert len(partition(stack.table_name, general["id"])) == before  # no rule: nothing written
    assert ok(api("GET /cases/{case_id}/activities", {"case_id": sr["id"]}, user="dave"))["items"]


def test_a_rule_that_cannot_act_fails_its_event_alone_with_the_reason(
    api: Api, stack: LocalResources, rules_fn: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    ok(put_rules(api, "service_request", [{**VISIT_RULE, "actions": [{"do": "assign", "user": "fred"}]}]))
    sr = faulty_item(api)  # routed to CARE: fred (FIELD) cannot hold it
    result = deliver(rules_fn, for_event(outbox(stack, sr["id"])[0], "assign", QUEUE))
    assert result == {"batchItemFailures": [{"itemIdentifier": "assign"}]}
    assert [getattr(r, "code", None) for r in caplog.records if r.name == "casework"] == [
        "ASSIGNEE_NOT_IN_UNIT"
    ]
    assert api.get(sr["id"], user="carol")["assignee"] is None


def test_a_visit_held_by_a_rule_waits_for_the_approval_over_the_api(
    api: Api, stack: LocalResources, rules_fn: ModuleType
) -> None:
    no_one = {
        **VISIT_NEEDS_OK,
        "actions": [{"do": "require_approval", "users": ["nobody"], "group": "Wizard"}],
    }
    error = refused(put_rules(api, "activity", [no_one]), 422, "INVALID_RULES")
    assert {p["location"] for p in error["details"]["problems"]} == {
        "rules[0].actions[0].users",
        "rules[0].actions[0].group",
    }
    ok(put_rules(api, "service_request", [VISIT_RULE]))
    ok(put_rules(api, "activity", [VISIT_NEEDS_OK]))
    sr = faulty_item(api)
    assert deliver(rules_fn, for_event(outbox(stack, sr["id"])[0], "sr", QUEUE)) == {"batchItemFailures": []}
    visit_id = ok(api("GET /cases/{case_id}/activities", {"case_id": sr["id"]}, user="dave"))["items"][0][
        "key"
    ]
    registered = for_event(outbox(stack, visit_id)[0], "visit", QUEUE)
    assert deliver(rules_fn, registered, for_event(outbox(stack, visit_id)[0], "again", QUEUE)) == {
        "batchItemFailures": []
    }
    visit = api.get(visit_id, user="tina")
    assert visit["can_decide_approval"] and visit["pending_approval"]["hold"]
    assert (
        visit["pending_approval"]["round"] == 1
        and visit["pending_approval"]["label"] == VISIT_NEEDS_OK["name"]
    )
    path = {"case_id": visit_id}
    held = api("POST /cases/{case_id}/transitions", path, user="fred", body={"to": "Started"})
    assert refused(held, 409, "HELD_FOR_APPROVAL")["details"]["waiting_on"] == ["tina"]
    ok(api("POST /cases/{case_id}/approvals", path, user="tina", body={"decision": "approve"}))
    assert ok(api("POST /cases/{case_id}/transitions", path, user="fred", body={"to": "Started"}))[
        "status"
    ] == ("Started")
    history = api("GET /cases/{case_id}/history", path, user="fred").json["items"]
    assert [(h["by"], h["action"]) for h in history][1:] == [
        ("rule:visit-ok", "approval_requested"),
        ("tina", "approval_decided"),
        ("fred", "transitioned"),
    ]


# --- communication plans ------------------------------------------------------------------------------------

PLAN = {
    "id": "remind",
    "name": "Remind to accept",
    "status": "Acknowledged",
    "steps": [{"after_days": 2, "subject": "About #case_title", "text": "Dear #contact_name, any news?"}],
}


def test_a_plan_step_is_a_one_time_schedule_that_the_step_function_sends_once(
    api: Api, stack: LocalResources, rules_fn: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "PLAN_STEP_FUNCTION_ARN", "arn:aws:lambda:eu-west-1:123456789012:function:PlanStepFunction"
    )
    monkeypatch.setenv("PLAN_SCHEDULE_ROLE_ARN", "arn:aws:iam::123456789012:role/plans")
    plans_fn = import_file(ROOT / "functions" / "plans" / "app.py", "casework_plans_test_fn")
    ok(
        api(
            "PUT /rules/{module}",
            {"module": "service_request"},
            user="admin",
            body={"rules": [], "plans": [PLAN]},
        )
    )
    reply = api(
        "POST /cases",
        user="dave",
        body={"type": "service_request", "title": "Router", "contact_id": "CON-2001", "assignee": "dave"},
    )
    sr = reply.json
    moved = api.transition(
        sr["id"], "Acknowledged", user="dave", fields={"response_category": "ACK", "response": "On it"}
    )
    assert moved.status == 200, moved.text
    transitioned = [e for e in outbox(stack, sr["id"]) if e["type"] == "CaseTransitioned"][-1]
    assert deliver(rules_fn, for_event(transitioned, "t-1", QUEUE)) == {"batchItemFailures": []}

    scheduler = boto3.client("scheduler")
    names = [s["Name"] for s in scheduler.list_schedules(NamePrefix="cw-plan-")["Schedules"]]
    assert len(names) == 1
    schedule = scheduler.get_schedule(Name=names[0])
    due = datetime.fromisoformat(transitioned["occurred_at"]) + timedelta(days=2)
    assert schedule["ScheduleExpression"] == f"at({due.astimezone(UTC):%Y-%m-%dT%H:%M:%S})"
    step = json.loads(schedule["Target"]["Input"])

    assert plans_fn.handler(step, LambdaContext("casework-test"))["sent"] is True
    assert plans_fn.handler(step, LambdaContext("casework-test"))["reason"] == "ALREADY_SENT"
    sent = ok(api("GET /cases/{case_id}/communications", {"case_id": sr["id"]}, user="dave"))["items"]
    assert [(c["by"], c["subject"]) for c in sent] == [("plan:remind", "About Router")]
    bad = plans_fn.handler({"plan_step": {"case_id": sr["id"]}}, LambdaContext("casework-test"))
    assert bad == {"sent": False, "reason": "MALFORMED_PLAN_STEP"}


# --- overdue cases ------------------------------------------------------------------------------------------


def test_the_hourly_sweep_runs_overdue_rules_on_late_cases_once(
    api: Api, stack: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    from casework.http import wiring

    late_rule = {
        "id": "late-to-tina",
        "name": "Late faulty items go to the team lead",
        "trigger": {"on": "overdue", "hours": 1},
        "conditions": {"types": ["FAULTY_ITEM"]},
        "actions": [{"do": "assign", "user": "tina"}],
    }
    ok(put_rules(api, "service_request", [late_rule]))
    sr = faulty_item(api)
    general = api(
        "POST /cases",
        user="carol",
        body={"type": "service_request", "subtype": "GENERAL", "title": "Question", "contact_id": "CON-2001"},
    ).json
    with pytest.MonkeyPatch.context() as mp:
        for key, value in ENV.items():
            mp.setenv(key, value)
        overdue_fn = import_file(ROOT / "functions" / "overdue" / "app.py", "casework_overdue_test_fn")
    assert overdue_fn.handler({"source": "casework.overdue"}, LambdaContext("casework-test")) == {
        "checked": 0,
        "fired": 0,
    }
    month_later = datetime.now(UTC) + timedelta(days=30)
    monkeypatch.setattr(wiring, "now", lambda: month_later)
    wiring.case_service.cache_clear()
    wiring.rule_runner.cache_clear()
    assert overdue_fn.handler({}, LambdaContext("casework-test")) == {"checked": 2, "fired": 1}
    assert overdue_fn.handler({}, LambdaContext("casework-test")) == {"checked": 2, "fired": 0}
    assert api.get(sr["id"], user="tina")["assignee"] == "tina"
    assert api.get(general["id"], user="tina")["assignee"] is None
    history = api("GET /cases/{case_id}/history", {"case_id": sr["id"]}, user="tina").json["items"]
    assert history[-1]["by"] == "rule:late-to-tina"
