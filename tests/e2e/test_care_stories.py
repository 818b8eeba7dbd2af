"""The care user stories over HTTP against the local stack (`make run`'s stack): Customer Requests (seed 001),
Service Requests, Activities and Leads (seed 003) and the configuration admin, each with its refusals.

The stack is shared by every e2e test of the session: each test works on cases with unique titles, counts
relative to what it found, and changes the configuration only in ways no other test notices.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

ALICE = "alice@customer.example"  # CON-2001, North -> Customer Care


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"


def moves(history: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Who moved the case from which status to which (registration and edits left out)."""
    return [
        (h["by"], h["from_status"], h["to_status"])
        for h in history
        if h["from_status"] is not None and h["from_status"] != h["to_status"]
    ]


def wait_until(probe, timeout: float = 20.0) -> Any:
    """The first truthy value of ``probe()`` (asynchronous work: stream -> EventBridge -> SQS -> function)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


# --- customer requests (seed 001) --------------------------------------------------------------------------


def new_customer_request(api, user: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "type": "customer_request",
        "title": unique("Technical datasheet for PA66"),
        "description": "Acme needs the TDS and the food-contact declaration.",
        "account_id": "ACC-1001",
        "fields": {"request_type": "Documentation", "contact_name": "Jane Buyer"},
        **overrides,
    }
    return api.ok("POST", "/cases", user, 201, json=body)


def test_a_sales_reps_customer_request_is_approved_at_once(api):
    case = new_customer_request(api, "mary")
    assert (case["type"], case["status"], case["state"], case["assignee"]) == (
        "customer_request",
        "Approved",
        "approved",
        "mary",
    )
    assert [(k["status"], k["entered_by"]) for k in case["key_dates"]] == [
        ("Open", "mary"),
        ("Approved", "system"),
    ]
    history = api.ok("GET", f"/cases/{case['id']}/history", "mary")["items"]
    assert history[0]["path"] == ["Open", "Approved"]


def test_customer_request_story_approved_by_link_resolved_and_closed(api):
    # Customer Service registers a request: it stays Open until submitted.
    case = new_customer_request(api, "susan")
    cid, title = case["id"], case["title"]
    assert (case["status"], case["assignee"]) == ("Open", "susan")
    assert "Pending Approval" in [t["to"] for t in case["available_transitions"]]

    case = api.ok("POST", f"/cases/{cid}/transitions", "susan", json={"to": "Pending Approval"})
    assert case["status"] == "Pending Approval"
    assert [a["username"] for a in case["pending_approval"]["approvers"]] == ["peter"]
    # Only the approver decides: neither a Sales Rep nor the requester.
    for user in ("mary", "susan"):
        api.error(
            "POST", f"/cases/{cid}/approvals", user, 403, "NOT_AN_APPROVER", json={"decision": "approve"}
        )

    # Peter is emailed a link: GET shows a confirm page and changes nothing, the POST decides, once.
    link = api.approval_link("peter@casework.example", title)
    page = api.call("GET", link)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert title in page.text and 'value="approve"' in page.text
    unchanged = api.ok("GET", f"/cases/{cid}", "susan")
    assert (unchanged["status"], unchanged["version"]) == ("Pending Approval", case["version"])
    decided = api.call("POST", link, data={"decision": "approve", "comment": "Send it today"})
    assert decided.status_code == 200 and "Approved" in decided.text
    assert api.call("POST", link, data={"decision": "approve"}).status_code == 410
    case = api.ok("GET", f"/cases/{cid}", "susan")
    assert case["status"] == "Approved"

    # Resolution and Resolution Date filled: Resolved by itself (one alone is not enough).
    case = api.ok("PATCH", f"/cases/{cid}", "susan", json={"fields": {"resolution": "TDS sent by email"}})
    assert case["status"] == "Approved"
    case = api.ok("PATCH", f"/cases/{cid}", "susan", json={"fields": {"resolution_date": "2026-11-24"}})
    assert (case["status"], case["state"]) == ("Resolved", "resolved")

    case = api.ok(
        "POST",
        f"/cases/{cid}/transitions",
        "susan",
        json={"to": "Closed/Completed", "fields": {"closure_comment": "Customer confirmed receipt"}},
    )
    assert (case["status"], case["state"], case["available_transitions"]) == (
        "Closed/Completed",
        "closed",
        [],
    )
    assert case["fields"]["resolution"] == "TDS sent by email"

    history = api.ok("GET", f"/cases/{cid}/history", "susan")["items"]
    assert moves(history) == [
        ("susan", "Open", "Pending Approval"),
        ("peter", "Pending Approval", "Approved"),
        ("susan", "Approved", "Resolved"),
        ("susan", "Resolved", "Closed/Completed"),
    ]
    assert next(h for h in history if h["by"] == "peter")["comment"] == "Send it today"


def test_customer_request_refusals(api):
    # Closed/Stopped needs a Closure Reason, and a closed request changes no more.
    case = new_customer_request(api, "mary")
    path = f"/cases/{case['id']}/transitions"
    body = api.error("POST", path, "mary", 422, "MISSING_FIELDS", json={"to": "Closed/Stopped"})
    assert body["details"]["fields"] == ["closure_reason"]
    api.error("POST", path, "mary", 409, "ILLEGAL_TRANSITION", json={"to": "Closed/Completed"})
    case = api.ok(
        "POST",
        path,
        "mary",
        json={"to": "Closed/Stopped", "fields": {"closure_reason": "Customer no longer needs it"}},
    )
    assert (case["status"], case["state"]) == ("Closed/Stopped", "closed")
    api.error(
        "PATCH", f"/cases/{case['id']}", "mary", 409, "CASE_CLOSED", json={"fields": {"resolution": "x"}}
    )

    # Rejecting needs a comment; it is kept as the Rejection Reason.
    case = new_customer_request(api, "susan")
    api.ok("POST", f"/cases/{case['id']}/transitions", "susan", json={"to": "Pending Approval"})
    approvals = f"/cases/{case['id']}/approvals"
    api.error("POST", approvals, "peter", 422, "COMMENT_REQUIRED", json={"decision": "reject"})
    case = api.ok("POST", approvals, "peter", json={"decision": "reject", "comment": "Not our product"})
    assert (case["status"], case["fields"]["rejection_reason"]) == ("Rejected", "Not our product")


def test_a_sample_request_is_its_own_type_and_not_a_customer_request(api):
    sample = api.ok(
        "POST",
        "/cases",
        "mary",
        201,
        json={
            "type": "sample_request",
            "title": unique("2 kg PA66 natural"),
            "account_id": "ACC-1001",
            "fields": {"product_code": "P-100", "quantity": 2, "shipping_address": "Acme, Dock 4"},
        },
    )
    assert (sample["type"], sample["status"]) == ("sample_request", "Requested")
    requests_ = api.ok("GET", "/cases", "mary", params={"type": "customer_request", "limit": 100})["items"]
    assert sample["id"] not in [c["id"] for c in requests_]
    assert {c["type"] for c in requests_} <= {"customer_request"}
    samples = api.ok("GET", "/cases", "mary", params={"type": "sample_request", "limit": 100})["items"]
    assert sample["id"] in [c["id"] for c in samples]


# --- leads (seed 003) ---------------------------------------------------------------------------------------


@contextmanager
def bus_spy(moto, detail_type: str) -> Iterator[Any]:
    """A queue subscribed to the stack's bus for ``detail_type`` (as another subscriber, e.g. an ERP, would
    be); yields a function returning the events received so far (EventBridge envelopes)."""
    events, sqs = moto.client("events"), moto.client("sqs")
    bus, name = moto.bus_name(), f"e2e-spy-{uuid.uuid4().hex[:12]}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name=name,
        EventBusName=bus,
        EventPattern=json.dumps({"source": ["casework"], "detail-type": [detail_type]}),
        State="ENABLED",
    )
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "spy", "Arn": arn}])
    seen: list[dict[str, Any]] = []

    def received() -> list[dict[str, Any]]:
        reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        seen.extend(json.loads(m["Body"]) for m in reply.get("Messages", []))
        return seen

    try:
        yield received
    finally:
        events.remove_targets(Rule=name, EventBusName=bus, Ids=["spy"])
        events.delete_rule(Name=name, EventBusName=bus)
        sqs.delete_queue(QueueUrl=queue_url)


def new_lead(api, **overrides: Any) -> dict[str, Any]:
    body = {
        "type": "lead",
        "title": unique("Fleet of 40 routers"),
        "contact_id": "CON-2003",
        "assignee": "mary",
        "gbu": "SP",
        **overrides,
    }
    return api.ok("POST", "/cases", "mary", 201, json=body)


def accounts_from(moto, lead_id: str) -> list[dict[str, Any]]:
    """Every account item a lead's conversion created (no API lists accounts: read the table itself)."""
    from boto3.dynamodb.types import TypeDeserializer

    items = moto.client("dynamodb").scan(
        TableName=moto.table_name(),
        FilterExpression="begins_with(pk, :account)",
        ExpressionAttributeValues={":account": {"S": "ACCOUNT#"}},
    )["Items"]
    bodies = [TypeDeserializer().deserialize(i["body"]) for i in items if "body" in i]
    return [b for b in bodies if b.get("created_from_lead") == lead_id]


def test_a_won_b2b_lead_converts_its_contact_exactly_once(api, moto):
    contact = api.ok("GET", "/contacts/CON-2003", "mary")
    assert (contact["life_cycle_state"], contact.get("account_id")) == ("Prospect", None)

    with bus_spy(moto, "LeadWon") as received:
        lead = new_lead(api)
        lid = lead["id"]
        assert (lead["subtype"], lead["status"], lead["state"], lead["business_unit"]) == (
            "B2B",
            "New",
            "pending",
            "SP",
        )
        assert lead["fields"]["priority_level"] == 3 and lead["fields"]["competitor"] == "ACME"
        lead = api.ok("POST", f"/cases/{lid}/transitions", "mary", json={"to": "Working"})
        assert lead["state"] == "in_progress"
        lead = api.ok("POST", f"/cases/{lid}/transitions", "mary", json={"to": "Won"})
        assert (lead["status"], lead["state"], lead["available_transitions"]) == ("Won", "won", [])

        # Conversion is asynchronous: stream -> EventBridge -> SQS -> convert.
        def financial() -> dict[str, Any] | None:
            found = api.ok("GET", "/contacts/CON-2003", "mary")
            return found if found["life_cycle_state"] == "Financial" else None

        contact = wait_until(financial)
        assert contact, "the won lead's contact was not made Financial"
        account = api.ok("GET", f"/accounts/{contact['account_id']}", "mary")
        assert (account["contact_id"], account["created_from_lead"]) == ("CON-2003", lid)
        assert (account["classification"], account["credit_rating"]) == ("Business", "A")
        assert account["name"] == "Chen Li"

        # What every subscriber of the bus saw.
        envelopes = wait_until(lambda: [e for e in received() if e["detail"]["case_id"] == lid])
        assert len(envelopes) == 1, envelopes
        event = envelopes[0]["detail"]
        assert (envelopes[0]["source"], envelopes[0]["detail-type"]) == ("casework", "LeadWon")
        assert event["data"]["contact_id"] == "CON-2003"

    # EventBridge delivers at least once: the same event again converts nothing a second time.
    dead_letters = moto.queue_depth("-ConvertDeadLetterQueue")
    reply = moto.client("events").put_events(
        Entries=[
            {
                "Source": "casework",
                "DetailType": "LeadWon",
                "Detail": json.dumps(event),
                "EventBusName": moto.bus_name(),
            }
        ]
    )
    assert reply["FailedEntryCount"] == 0, reply
    assert moto.wait_drained("-ConvertQueue"), "the convert queue was not consumed"
    assert moto.queue_depth("-ConvertDeadLetterQueue") == dead_letters
    again = api.ok("GET", "/contacts/CON-2003", "mary")
    assert (again["account_id"], again["financial_since"]) == (
        contact["account_id"],
        contact["financial_since"],
    )
    assert [a["id"] for a in accounts_from(moto, lid)] == [contact["account_id"]]


def test_a_won_lead_of_an_existing_customer_keeps_their_account(api, moto):
    """Bob (CON-2002) is a Financial contact of Acme (ACC-1001) already: a lead won for him is new business
    with an existing customer, not a new customer."""
    before = api.ok("GET", "/contacts/CON-2002", "mary")
    assert (before["life_cycle_state"], before["account_id"]) == ("Financial", "ACC-1001")
    with bus_spy(moto, "LeadWon") as received:
        lead = new_lead(api, title=unique("More rollers for Acme"), contact_id="CON-2002")
        api.ok("POST", f"/cases/{lead['id']}/transitions", "mary", json={"to": "Working"})
        api.ok("POST", f"/cases/{lead['id']}/transitions", "mary", json={"to": "Won"})
        assert wait_until(lambda: [e for e in received() if e["detail"]["case_id"] == lead["id"]])
    assert moto.wait_drained("-ConvertQueue")
    after = api.ok("GET", "/contacts/CON-2002", "mary")
    assert (after["account_id"], after.get("financial_since")) == ("ACC-1001", before.get("financial_since"))
    assert accounts_from(moto, lead["id"]) == []


def test_a_lead_is_lost_only_with_a_reason(api):
    lead = new_lead(api)
    path = f"/cases/{lead['id']}/transitions"
    api.ok("POST", path, "mary", json={"to": "Working"})
    body = api.error("POST", path, "mary", 422, "MISSING_FIELDS", json={"to": "Lost"})
    assert body["details"]["fields"] == ["lost_reason"]
    api.error(
        "POST", path, "mary", 422, "INVALID_FIELDS", json={"to": "Lost", "fields": {"lost_reason": "BORED"}}
    )
    lost = api.ok(
        "POST", path, "mary", json={"to": "Lost", "fields": {"lost_reason": "PRICE", "competitor": "GLOBEX"}}
    )
    assert (lost["status"], lost["state"]) == ("Lost", "lost")
    assert (lost["fields"]["lost_reason"], lost["fields"]["competitor"]) == ("PRICE", "GLOBEX")


def test_a_referral_lead_is_won_without_converting_its_contact(api, moto):
    with bus_spy(moto, "LeadWon") as received:
        lead = new_lead(api, subtype="REFERRAL", contact_id="CON-2004")
        assert lead["fields"]["priority_level"] == 5
        api.ok("POST", f"/cases/{lead['id']}/transitions", "mary", json={"to": "Working"})
        api.ok("POST", f"/cases/{lead['id']}/transitions", "mary", json={"to": "Won"})
        published = wait_until(lambda: [e for e in received() if e["detail"]["case_id"] == lead["id"]])
        assert published, "no LeadWon event was published"
        assert published[0]["detail"]["data"]["conversion"] is None
    assert moto.wait_drained("-ConvertQueue")
    assert api.ok("GET", "/contacts/CON-2004", "mary")["life_cycle_state"] == "Prospect"


# --- configuration admin ------------------------------------------------------------------------------------


def test_configuration_is_versioned_and_cases_keep_their_version(api):
    current = api.ok("GET", "/config/service_request", "carol")
    version, config = current["version"], current["config"]
    assert current["module"] == "service_request" and [t["code"] for t in config["types"]][:2] == [
        "GENERAL",
        "FAULTY_ITEM",
    ]
    api.error("GET", "/config/customer_request", "carol", 404, "UNKNOWN_MODULE")
    put = "/config/service_request"
    api.error("PUT", put, "tina", 403, "NOT_ALLOWED", json={"config": config, "expected_version": version})

    broken = json.loads(json.dumps(config))
    broken["types"][0]["statuses"] = [{"name": "New", "default": True}]
    body = api.error(
        "PUT",
        put,
        "admin",
        422,
        "INVALID_CONFIGURATION",
        json={"config": broken, "expected_version": version},
    )
    problems = body["details"]["problems"]
    assert problems and all(p["location"] and p["message"] for p in problems)
    assert any("responded" in p["message"] for p in problems)
    assert api.ok("GET", put, "carol")["version"] == version  # nothing saved

    def general_enquiry(user: str) -> dict[str, Any]:
        return api.ok(
            "POST",
            "/cases",
            user,
            201,
            json={"type": "service_request", "title": unique("Billing question"), "contact_id": "CON-2001"},
        )

    old = general_enquiry("carol")
    assert (old["subtype"], old["config_version"]) == ("GENERAL", version)

    # A harmless change nobody else relies on: a new cancellation reason. General enquiries allow every
    # reason ("allowed": [] as read back), so the new one is allowed without touching the type.
    reason = f"E2E_{uuid.uuid4().hex[:6].upper()}"
    changed = json.loads(json.dumps(config))
    changed["cancellation_reasons"].append({"code": reason, "name": "Raised by the e2e tests"})
    general = changed["types"][0]
    assert general["cancellation_reasons"]["allowed"] == []
    general["description"] = general["description"].rstrip(".") + " (reviewed)."
    saved = api.ok("PUT", put, "admin", json={"config": changed, "expected_version": version})
    assert saved["version"] == version + 1
    assert saved["config"]["types"][0]["description"].endswith("(reviewed).")
    api.error(
        "PUT", put, "admin", 409, "STALE_VERSION", json={"config": changed, "expected_version": version}
    )
    assert api.ok("GET", put, "dave")["version"] == version + 1

    new = general_enquiry("carol")
    assert new["config_version"] == version + 1
    assert api.ok("GET", f"/cases/{old['id']}", "carol")["config_version"] == version
    cancel = {"to": "Cancelled", "fields": {"cancellation_reason": reason}}
    api.error("POST", f"/cases/{old['id']}/transitions", "carol", 422, "INVALID_FIELDS", json=cancel)
    cancelled = api.ok("POST", f"/cases/{new['id']}/transitions", "carol", json=cancel)
    assert (cancelled["state"], cancelled["fields"]["cancellation_reason"]) == ("cancelled", reason)


# --- service requests and activities (seed 003) -------------------------------------------------------------


def new_service_request(api, user: str = "carol", **overrides: Any) -> dict[str, Any]:
    body = {
        "type": "service_request",
        "title": unique("Router keeps rebooting"),
        "description": "Since the firmware update the router restarts every hour.",
        "contact_id": "CON-2001",
        **overrides,
    }
    return api.ok("POST", "/cases", user, 201, json=body)


def test_a_service_request_is_cancelled_only_while_pending_and_with_a_reason(api):
    case = new_service_request(api, "dave", assignee="dave")
    path = f"/cases/{case['id']}/transitions"
    body = api.error("POST", path, "dave", 422, "MISSING_FIELDS", json={"to": "Cancelled"})
    assert body["details"]["fields"] == ["cancellation_reason"]
    api.error(
        "POST",
        path,
        "dave",
        422,
        "INVALID_FIELDS",
        json={"to": "Cancelled", "fields": {"cancellation_reason": "BORED"}},
    )
    cancelled = api.ok(
        "POST", path, "dave", json={"to": "Cancelled", "fields": {"cancellation_reason": "DUPLICATE"}}
    )
    assert (cancelled["status"], cancelled["state"]) == ("Cancelled", "cancelled")

    other = new_service_request(api, "dave", assignee="dave")
    path = f"/cases/{other['id']}/transitions"
    api.ok(
        "POST",
        path,
        "dave",
        json={"to": "Acknowledged", "fields": {"response_category": "ACK", "response": "On it"}},
    )
    api.error(
        "POST",
        path,
        "dave",
        409,
        "ILLEGAL_TRANSITION",
        json={"to": "Cancelled", "fields": {"cancellation_reason": "DUPLICATE"}},
    )


def test_the_summary_counts_open_service_requests_of_the_callers_units(api):
    api.error("GET", "/summaries/service_request", "carol", 403, "NOT_ALLOWED", params={"gbu": "FIELD"})
    api.error("GET", "/summaries/no_such_type", "carol", 404, "UNKNOWN_CASE_TYPE")
    before = api.ok("GET", "/summaries/service_request", "tina")
    new_service_request(api)  # waits for somebody of Customer Care
    new_service_request(api, "dave", assignee="dave", fields={"impact": 1, "urgency": 1})
    after = api.ok("GET", "/summaries/service_request", "tina")
    assert after["case_type"] == "service_request" and after["complete"] is True
    assert after["open"] == before["open"] + 2
    assert after["by_state"]["pending"] == before["by_state"].get("pending", 0) + 2
    assert after["by_assignee"]["dave"] == before["by_assignee"].get("dave", 0) + 1
    assert after["by_assignee"]["(unassigned)"] == before["by_assignee"].get("(unassigned)", 0) + 1
    assert sum(after["by_priority"].values()) == after["open"]
    assert after["by_priority"]["1"] == before["by_priority"].get("1", 0) + 1  # impact 1 x urgency 1
    # a care agent's own view: their unit's open work, and theirs
    mine = api.ok("GET", "/summaries/service_request", "dave")["mine"]
    assert mine["open"] >= 1 and all(item["assignee"] == "dave" for item in mine["items"])


def test_activity_services_are_checked_and_types_restricted_by_the_parent(api):
    case = new_service_request(api, "dave", subtype="FAULTY_ITEM", assignee="dave")
    schedule = f"/cases/{case['id']}/activities"
    body = api.error(
        "POST", schedule, "dave", 422, "TYPE_NOT_ALLOWED", json={"subtype": "CALL", "title": "Call back"}
    )
    assert body["details"]["allowed"] == ["VISIT", "REPAIR"]

    repair = api.ok(
        "POST", schedule, "dave", 201, json={"subtype": "REPAIR", "title": "Bench repair", "assignee": "dave"}
    )
    assert repair["fields"]["services"] == [{"product": "SVC-REPAIR", "time_spent_minutes": 30}]
    path = f"/cases/{repair['id']}/transitions"
    api.ok("POST", path, "dave", json={"to": "Started"})
    short = [{"product": "SVC-REPAIR", "time_spent_minutes": 10}]
    body = api.error(
        "POST", path, "dave", 422, "INVALID_SERVICES", json={"to": "Done", "fields": {"services": short}}
    )
    assert [p["product"] for p in body["details"]["problems"]] == ["SVC-REPAIR"]
    foreign = [
        {"product": "SVC-REPAIR", "time_spent_minutes": 45},
        {"product": "SVC-VISIT", "time_spent_minutes": 5},
    ]
    api.error(
        "POST", path, "dave", 422, "INVALID_SERVICES", json={"to": "Done", "fields": {"services": foreign}}
    )
    assert api.ok("GET", f"/cases/{repair['id']}", "dave")["status"] == "Started"  # nothing written
    done = api.ok(
        "POST",
        path,
        "dave",
        json={
            "to": "Done",
            "fields": {"services": [{"product": "SVC-REPAIR", "time_spent_minutes": 45}], "outcome": "Fixed"},
        },
    )
    assert (done["state"], done["fields"]["services"]) == (
        "completed",
        [{"product": "SVC-REPAIR", "time_spent_minutes": 45}],
    )


def test_service_request_story_with_the_contacts_acceptance_and_a_site_visit(api):
    # Carol registers a faulty item report for Alice (North): it goes to Customer Care and waits.
    case = new_service_request(api, "carol", subtype="FAULTY_ITEM")
    cid, title = case["id"], case["title"]
    assert (case["business_unit"], case["assignee"], case["status"], case["state"]) == (
        "CARE",
        None,
        "New",
        "pending",
    )
    assert case["type_name"] == "Faulty item replacement" and case["contact_id"] == "CON-2001"
    transitions = f"/cases/{cid}/transitions"
    respond = {
        "to": "Acknowledged",
        "fields": {"response_category": "ACK_INVESTIGATING", "response": "We are checking the warranty."},
    }
    api.error("POST", transitions, "dave", 409, "NOT_ACCEPTED", json=respond)

    # Dave accepts it (a Field Technician of another unit does not even see it; nobody can take it twice).
    api.error("POST", f"/cases/{cid}/accept", "fred", 404, "CASE_NOT_FOUND", json={})
    case = api.ok("POST", f"/cases/{cid}/accept", "dave", json={})
    assert case["assignee"] == "dave"
    api.error("POST", f"/cases/{cid}/accept", "carol", 409, "ALREADY_ACCEPTED", json={})

    # Fred of another unit does not see it; Dave responds, and the type's communication tells Alice.
    api.error("POST", transitions, "fred", 404, "CASE_NOT_FOUND", json=respond)
    case = api.ok("POST", transitions, "dave", json=respond)
    assert (case["status"], case["state"], case["acceptance"]) == ("Acknowledged", "responded", None)
    told = api.wait_mail_about(ALICE, cid, 1)
    assert told and "faulty item report" in told[0]["subject"], told

    # A site visit for Fred (Field Service): the fixed SVC-VISIT service is applied by itself.
    visit = api.ok(
        "POST",
        f"/cases/{cid}/activities",
        "dave",
        201,
        json={"subtype": "VISIT", "title": f"Site visit for {title}", "assignee": "fred", "gbu": "FIELD"},
    )
    vid = visit["id"]
    assert (visit["parent_id"], visit["contact_id"], visit["business_unit"], visit["status"]) == (
        cid,
        "CON-2001",
        "FIELD",
        "Planned",
    )
    assert visit["fields"]["services"] == [{"product": "SVC-VISIT", "time_spent_minutes": 60}]
    assert [a["key"] for a in api.ok("GET", f"/cases/{cid}/activities", "dave")["items"]] == [vid]

    # The final resolution must be accepted by Alice before the request can complete.
    resolve = {
        "to": "Resolved",
        "fields": {"final_resolution_category": "REPLACED", "final_resolution": "We replace your router."},
    }
    case = api.ok("POST", transitions, "dave", json=resolve)
    assert case["status"] == "Resolved"
    assert (case["acceptance"]["round"], case["acceptance"]["decision"]) == (1, None)
    api.error("POST", transitions, "dave", 409, "AWAITING_ACCEPTANCE", json={"to": "Closed"})

    # Alice's link: the page changes nothing; she refuses, once.
    link = api.link(ALICE, cid, "acceptances", 1)
    page = api.call("GET", link)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert page.headers["cache-control"] == "no-store"
    assert title in page.text and "We replace your router." in page.text
    assert 'value="accept"' in page.text and 'value="refuse"' in page.text
    assert api.ok("GET", f"/cases/{cid}", "dave")["version"] == case["version"]
    refused = api.call("POST", link, data={"decision": "refuse", "comment": "I would rather have a refund"})
    assert refused.status_code == 200 and "refused" in refused.text
    assert api.call("POST", link, data={"decision": "accept"}).status_code == 410
    assert api.call("GET", link).status_code == 410
    case = api.ok("GET", f"/cases/{cid}", "dave")
    assert (case["acceptance"]["decision"], case["acceptance"]["comment"]) == (
        "refuse",
        "I would rather have a refund",
    )
    api.error("POST", transitions, "dave", 409, "ANSWER_REFUSED", json={"to": "Closed"})

    # A new resolution is a new answer: a second link, which Alice accepts.
    case = api.ok(
        "PATCH",
        f"/cases/{cid}",
        "dave",
        json={
            "fields": {
                "final_resolution_category": "REPLACED",
                "final_resolution": "A new router, and a month free.",
            }
        },
    )
    assert (case["acceptance"]["round"], case["acceptance"]["decision"]) == (2, None)
    second = api.link(ALICE, cid, "acceptances", 2)
    assert second != link
    assert "a month free" in api.call("GET", second).text
    accepted = api.call("POST", second, data={"decision": "accept", "comment": "Thank you"})
    assert accepted.status_code == 200 and "accepted" in accepted.text
    assert api.ok("GET", f"/cases/{cid}", "dave")["acceptance"]["decision"] == "accept"

    # The open visit still blocks completion; only Field Service may carry it out.
    api.error("POST", transitions, "dave", 409, "OPEN_CHILDREN", json={"to": "Closed"})
    api.error("POST", f"/cases/{vid}/transitions", "dave", 403, "NOT_ALLOWED", json={"to": "Started"})
    api.ok("POST", f"/cases/{vid}/transitions", "fred", json={"to": "Started"})
    visit = api.ok(
        "POST",
        f"/cases/{vid}/transitions",
        "fred",
        json={"to": "Done", "fields": {"outcome": "Router replaced on site"}},
    )
    assert (visit["state"], visit["fields"]["outcome"]) == ("completed", "Router replaced on site")
    assert visit["dates"]["actual_completion_date"]
    assert api.ok("GET", f"/cases/{cid}/activities", "dave")["items"][0]["state"] == "completed"

    case = api.ok("POST", transitions, "dave", json={"to": "Closed"})
    assert (case["status"], case["state"], case["available_transitions"]) == ("Closed", "completed", [])
    assert case["dates"]["actual_completion_date"]

    # Feedback: a rating from 1 to 5, given once.
    feedback = f"/cases/{cid}/feedback"
    api.error("POST", feedback, "carol", 422, "INVALID_REQUEST", json={"rating": 6})
    given = api.ok("POST", feedback, "carol", 201, json={"rating": 5, "comment": "Quick and friendly"})
    assert (given["rating"], given["given_by"]) == (5, "carol")
    api.error("POST", feedback, "carol", 409, "FEEDBACK_GIVEN", json={"rating": 1})
    assert api.ok("GET", feedback, "tina")["comment"] == "Quick and friendly"

    history = api.ok("GET", f"/cases/{cid}/history", "dave")["items"]
    assert moves(history) == [
        ("dave", "New", "Acknowledged"),
        ("dave", "Acknowledged", "Resolved"),
        ("dave", "Resolved", "Closed"),
    ]


def test_mail_still_goes_out_after_a_refusal_detected_by_a_cancelled_transaction(api):
    """Some refusals (ALREADY_LINKED, OPEN_CHILDREN, REFERENCED, ...) are detected by DynamoDB cancelling the
    transaction. The outbox (stream -> publish -> EventBridge) must keep working after one."""
    first, second = (
        new_service_request(api, "dave", assignee="dave"),
        new_service_request(api, "dave", assignee="dave"),
    )
    links = f"/cases/{first['id']}/service_requests"
    api.ok("POST", links, "dave", 201, json={"case_id": second["id"]})
    api.error("POST", links, "dave", 409, "ALREADY_LINKED", json={"case_id": second["id"]})

    case = new_service_request(api, "dave", assignee="dave")
    api.ok(
        "POST",
        f"/cases/{case['id']}/transitions",
        "dave",
        json={"to": "Acknowledged", "fields": {"response_category": "ACK", "response": "On it"}},
    )
    told = api.wait_mail_about(ALICE, case["id"], 1)
    assert told, "no mail after a cancelled transaction: the outbox stopped publishing"
    assert case["title"] in told[0]["text"]
