"""The notify rule on the bus (template.yaml's NotifyRule, through moto's EventBridge pattern matcher, as the
local stack runs it) against every event of a CSR's and a service request's life: what notify sends
something for reaches its queue, nothing else does, and events of a publisher before ``notify`` still do."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.events.models import EventPattern

from tests.functional.shapes import envelope, stored_events
from tests.functional.test_api_handlers import Api, partition
from tests.functional.test_care_api import accept, move, sr


@pytest.fixture(scope="module")
def notify_rule() -> EventPattern:
    from infra.local.template import load_template

    pattern = load_template()["Resources"]["NotifyRule"]["Properties"]["EventPattern"]
    return EventPattern.load(json.dumps(pattern))


def events_of(table: str, case_id: str) -> list[dict[str, Any]]:
    return [e for item in partition(table, case_id) for e in stored_events(item)]


def csr_life(api: Api) -> str:
    """The README's CSR story through the API (John decides in the API instead of his link)."""
    cid = api.register()["id"]
    path = {"case_id": cid}
    assert api("POST /cases/{case_id}/products", path, body={"product_code": "P-100"}).status == 201
    assert api("POST /cases/{case_id}/accounts", path, body={"account_id": "ACC-1002"}).status == 201
    assert api.transition(cid, "Pending Pre-Approval").status == 200
    approve = {"decision": "approve"}
    assert api("POST /cases/{case_id}/approvals", path, user="john", body=approve).status == 200
    conclusion = {"global_feasibility_conclusion": "Feasible with additive X"}
    assert api.transition(cid, "Approval Pending", user="frank", fields=conclusion).status == 200
    assert api("POST /cases/{case_id}/approvals", path, user="peter", body=approve).status == 200
    assert api.transition(cid, "Implemented", user="frank").status == 200
    satisfied = {"fields": {"customer_satisfaction": "Very satisfied"}}
    assert api("PATCH /cases/{case_id}", path, body=satisfied).status == 200
    assert api("POST /cases/{case_id}/notes", path, body={"text": "Live"}).status == 201
    assert api.transition(cid, "Inactive").status == 200
    return cid


def service_request_life(api: Api) -> str:
    """Registered to the contact's unit, accepted, acknowledged, resolved (waits for the contact's
    acceptance), written to the contact."""
    cid = sr(api, subtype="FAULTY_ITEM")["id"]
    assert accept(api, cid, "dave").status == 200
    ack = {"response_category": "ACK_INVESTIGATING", "response": "We are checking the warranty."}
    assert move(api, cid, "Acknowledged", "dave", **ack).status == 200
    resolution = {"final_resolution_category": "REPLACED", "final_resolution": "A new router."}
    assert move(api, cid, "Resolved", "dave", **resolution).status == 200
    message = {"subject": "Your router", "text": "It ships today."}
    assert (
        api("POST /cases/{case_id}/communications", {"case_id": cid}, user="dave", body=message).status == 201
    )
    return cid


def test_notify_gets_exactly_the_events_it_sends_something_for(
    api: Api, stack: Any, notify_rule: EventPattern
) -> None:
    from casework.http.wiring import notifier

    events = events_of(stack.table_name, csr_life(api)) + events_of(
        stack.table_name, service_request_life(api)
    )

    passed = []
    for event in events:
        older = {k: v for k, v in event.items() if k != "notify"}  # what notify decides by itself
        assert event["notify"] is notifier().concerns(older), event["type"]
        assert notify_rule.matches_event(envelope(event)) is event["notify"], event["type"]
        if event["notify"]:
            passed.append((event["case_type"], event["type"], event["data"].get("status")))

    # every event that has notify send something in these lives (the definitions' notifications, an agent's
    # message; the closing and the acceptance were made by whom they would email: notify skips them then)
    assert passed == [
        ("csr", "ApprovalRequested", "Pending Pre-Approval"),
        ("csr", "CaseAssigned", "Under Assessment"),
        ("csr", "ApprovalRequested", "Approval Pending"),
        ("csr", "CaseAssigned", "Under Implementation"),
        ("csr", "CaseAssigned", "Implemented"),
        ("csr", "CaseTransitioned", "Inactive"),
        ("service_request", "CommunicationRequested", "Resolved"),  # its COMM# item sorts before HIST#
        ("service_request", "CaseRegistered", "New"),
        ("service_request", "CaseAssigned", "New"),
        ("service_request", "CaseTransitioned", "Acknowledged"),
        ("service_request", "CaseTransitioned", "Resolved"),
        ("service_request", "AcceptanceRequested", "Resolved"),
    ]
    assert len(events) == 24  # the other half emails nobody: it no longer reaches notify's queue


def test_an_event_from_a_publisher_before_the_notify_field_still_reaches_notify(
    notify_rule: EventPattern,
) -> None:
    older = {
        "id": "CSR-1:2:0",
        "type": "CaseTransitioned",
        "case_id": "CSR-1",
        "case_type": "csr",
        "occurred_at": "2026-11-30T09:00:00.000Z",
        "data": {"status": "Registration", "state": "Open"},
    }
    assert notify_rule.matches_event(envelope(older))  # notify's own check (concerns) decides
    assert not notify_rule.matches_event(envelope({**older, "notify": False}))
    assert notify_rule.matches_event(envelope({**older, "notify": True}))
