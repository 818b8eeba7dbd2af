"""The care modules over the API handlers on moto: service requests, activities, leads and customer requests
run on the one engine from the seeded configuration. Each story checks what a user would see, and the
refusals leave nothing written."""

from __future__ import annotations

from typing import Any

from tests.functional.shapes import stored_events
from tests.functional.test_api_handlers import Api, Reply, partition


def sr(api: Api, user: str = "carol", **body: Any) -> dict[str, Any]:
    payload = {"type": "service_request", "title": "Modem keeps rebooting", "contact_id": "CON-2001", **body}
    reply = api("POST /cases", user=user, body=payload)
    assert reply.status == 201, reply.text
    return reply.json


def move(api: Api, case_id: str, to: str, user: str, **fields: Any) -> Reply:
    return api.transition(case_id, to, user=user, fields=fields)


def accept(api: Api, case_id: str, user: str) -> Reply:
    return api("POST /cases/{case_id}/accept", {"case_id": case_id}, user=user, body={})


def schedule(api: Api, parent_id: str, user: str, **body: Any) -> Reply:
    payload = {"subtype": "VISIT", "title": "Site visit", **body}
    return api("POST /cases/{case_id}/activities", {"case_id": parent_id}, user=user, body=payload)


# --- service requests -----------------------------------------------------------------------------------


def test_a_service_request_is_routed_by_the_contacts_area_and_waits_for_a_user(api: Api) -> None:
    case = sr(api)
    assert case["business_unit"] == "CARE"  # CON-2001 lives in North, routed to Customer Care
    assert case["assignee"] is None and case["status"] == "New" and case["state"] == "pending"
    assert case["subtype"] == "GENERAL" and case["type_name"] == "General enquiry"
    # defaults of the prioritisation model: impact 3 x urgency 2 -> a priority with its completion time
    assert case["fields"]["impact"] == 3 and case["fields"]["urgency"] == 2
    assert case["fields"]["priority"] in (1, 2, 3)
    assert case["dates"]["expected_completion_date"] > case["dates"]["start_date"]

    refused = move(api, case["id"], "Acknowledged", "tina", response_category="ACK", response="On it")
    assert refused.status == 409 and refused.error["code"] == "NOT_ACCEPTED"
    assert accept(api, case["id"], "fred").status == 404  # not a member of CARE: he does not see it
    taken = api("POST /cases/{case_id}/accept", {"case_id": case["id"]}, user="dave")  # no body at all

    assert taken.status == 200 and taken.json["assignee"] == "dave"
    again = accept(api, case["id"], "carol")
    assert again.status == 409 and again.error["code"] == "ALREADY_ACCEPTED"


def test_priority_follows_impact_and_urgency_and_drives_the_expected_completion(api: Api) -> None:
    urgent = sr(api, fields={"impact": 1, "urgency": 1})
    relaxed = sr(api, fields={"impact": 3, "urgency": 3})
    assert urgent["fields"]["priority"] < relaxed["fields"]["priority"]
    assert urgent["dates"]["expected_completion_date"] < relaxed["dates"]["expected_completion_date"]
    bad = api(
        "POST /cases",
        user="carol",
        body={"type": "service_request", "title": "x", "contact_id": "CON-2001", "fields": {"impact": 9}},
    )
    assert bad.status == 422 and "impact" in bad.error["details"]["fields"]


def test_service_request_story_with_acceptance_and_a_blocking_activity(api: Api) -> None:
    case = sr(api, subtype="FAULTY_ITEM", assignee="dave")
    cid = case["id"]
    assert case["assignee"] == "dave"
    responded = move(
        api, cid, "Acknowledged", "dave", response_category="ACK_INVESTIGATING", response="Looking"
    )
    assert responded.status == 200, responded.text
    assert responded.json["acceptance"] is None  # this response category needs no acceptance

    visit = schedule(api, cid, "dave", assignee="fred", gbu="FIELD")  # site visits are Field Service's
    assert visit.status == 201, visit.text
    activity = visit.json
    assert activity["parent_id"] == cid and activity["contact_id"] == "CON-2001"
    assert activity["fields"]["services"] == [{"product": "SVC-VISIT", "time_spent_minutes": 60}]
    listed = api("GET /cases/{case_id}/activities", {"case_id": cid}, user="dave").json["items"]
    assert [a["key"] for a in listed] == [activity["id"]]

    resolved = move(
        api, cid, "Resolved", "dave", final_resolution_category="REPLACED", final_resolution="New unit"
    )
    assert resolved.status == 200, resolved.text
    assert resolved.json["acceptance"]["decision"] is None  # REPLACED must be accepted by the contact
    waiting = move(api, cid, "Closed", "dave")
    assert waiting.status == 409 and waiting.error["code"] == "AWAITING_ACCEPTANCE"

    # a managed resolution is a new answer: with a category that needs no acceptance, nothing waits
    managed = api(
        "PATCH /cases/{case_id}",
        {"case_id": cid},
        user="dave",
        body={"fields": {"final_resolution_category": "NO_FAULT", "final_resolution": "No fault"}},
    )
    assert managed.status == 200, managed.text
    assert managed.json["acceptance"]["decision"] is None and managed.json["acceptance"]["round"] == 2

    # open activity blocks completion even once accepted: accept through the stored acceptance path
    blocked = _complete_after_acceptance(api, cid)
    assert blocked.status == 409 and blocked.error["code"] == "OPEN_CHILDREN"

    assert move(api, activity["id"], "Started", "dave").status == 403  # only Field Service may start visits
    assert move(api, activity["id"], "Started", "fred").status == 200
    done = move(api, activity["id"], "Done", "fred", outcome="Replaced on site")
    assert done.status == 200, done.text
    assert done.json["dates"]["actual_completion_date"] is not None
    entry = api("GET /cases/{case_id}/activities", {"case_id": cid}, user="dave").json["items"][0]
    assert entry["state"] == "completed"

    completed = move(api, cid, "Closed", "dave")
    assert completed.status == 200, completed.text
    assert completed.json["state"] == "completed" and completed.json["available_transitions"] == []
    late_edit = api(
        "PATCH /cases/{case_id}", {"case_id": cid}, user="dave", body={"fields": {"description": "x"}}
    )
    assert late_edit.status == 409 and late_edit.error["code"] == "CASE_CLOSED"

    fb = api(
        "POST /cases/{case_id}/feedback",
        {"case_id": cid},
        user="carol",
        body={"rating": 5, "comment": "Quick"},
    )
    assert fb.status == 201 and fb.json["rating"] == 5
    twice = api("POST /cases/{case_id}/feedback", {"case_id": cid}, user="carol", body={"rating": 1})
    assert twice.status == 409 and twice.error["code"] == "FEEDBACK_GIVEN"
    assert api("GET /cases/{case_id}/feedback", {"case_id": cid}, user="dave").json["comment"] == "Quick"


def _complete_after_acceptance(api: Api, case_id: str) -> Reply:
    """The contact accepts (as the email link would), then the assignee tries to complete."""
    from casework.domain import engine
    from casework.domain.model import Actor
    from casework.http.wiring import case_service

    service = case_service()
    case, defn, unit = service._load(case_id)
    change = engine.decide_acceptance(
        defn,
        case,
        Actor("contact:CON-2001"),
        unit,
        decision="accept",
        comment=None,
        round=None,
        now=service.clock(),
    )
    service.repo.commit(change)
    return move(api, case_id, "Closed", "dave")


def test_cancel_only_while_pending_and_with_a_reason(api: Api) -> None:
    case = sr(api, assignee="dave")
    missing = move(api, case["id"], "Cancelled", "dave")
    assert missing.status == 422 and missing.error["code"] == "MISSING_FIELDS"
    wrong = move(api, case["id"], "Cancelled", "dave", cancellation_reason="BORED")
    assert wrong.status == 422 and wrong.error["code"] == "INVALID_FIELDS"
    before = partition_count(api, case["id"])
    cancelled = move(api, case["id"], "Cancelled", "dave", cancellation_reason="DUPLICATE")
    assert cancelled.status == 200 and cancelled.json["state"] == "cancelled"
    assert cancelled.json["dates"]["overdue"] is False
    assert partition_count(api, case["id"]) == before + 1  # one history entry; the refusals wrote nothing

    other = sr(api, assignee="dave")
    assert (
        move(api, other["id"], "Acknowledged", "dave", response_category="ACK", response="ok").status == 200
    )
    late = move(api, other["id"], "Cancelled", "dave", cancellation_reason="DUPLICATE")
    assert late.status == 409 and late.error["code"] == "ILLEGAL_TRANSITION"


def partition_count(api: Api, case_id: str) -> int:
    import os

    return len(partition(os.environ["TABLE_NAME"], case_id))


def test_related_service_requests_need_the_same_contact_and_block_deletion(api: Api) -> None:
    first, second = sr(api, assignee="dave"), sr(api, assignee="dave")
    stranger = sr(api, assignee="dave", contact_id="CON-2002")
    path = {"case_id": first["id"]}
    refused = api(
        "POST /cases/{case_id}/service_requests", path, user="dave", body={"case_id": stranger["id"]}
    )
    assert refused.status == 422 and refused.error["code"] == "NOT_SAME_CONTACT"
    linked = api("POST /cases/{case_id}/service_requests", path, user="dave", body={"case_id": second["id"]})
    assert linked.status == 201, linked.text
    blocked = api("DELETE /cases/{case_id}", {"case_id": second["id"]}, user="carol")
    assert blocked.status == 409 and blocked.error["code"] == "REFERENCED"
    unlinked = api(
        "DELETE /cases/{case_id}/service_requests/{key}",
        {"case_id": first["id"], "key": second["id"]},
        user="dave",
    )
    assert unlinked.status == 200
    gone = api("DELETE /cases/{case_id}", {"case_id": second["id"]}, user="carol")
    assert gone.status == 200 and gone.json["deleted"] is True
    assert api("GET /cases/{case_id}", {"case_id": second["id"]}).status == 404


def test_a_product_lines_return_is_checked_against_the_coverage_reason(api: Api) -> None:
    case = sr(api, subtype="FAULTY_ITEM", assignee="dave")
    path = {"case_id": case["id"]}
    added = api(
        "POST /cases/{case_id}/products",
        path,
        user="dave",
        body={"product_code": "P-100", "serial_number": "SN-1", "warehouse_issue_date": "2026-11-01"},
    )
    assert added.status == 201, added.text
    not_allowed = api("POST /cases/{case_id}/products", path, user="dave", body={"product_code": "SVC-VISIT"})
    assert not_allowed.status == 422 and not_allowed.error["code"] == "NOT_ALLOWED_FOR_TYPE"
    key = {"case_id": case["id"], "key": "P-100"}
    covered = api(
        "POST /cases/{case_id}/products/{key}/return",
        key,
        user="dave",
        body={"coverage_reason": "DOA", "return_date": "2026-11-10"},
    )
    assert covered.status == 200, covered.text
    line = api("GET /cases/{case_id}/products", path, user="dave").json["items"][0]
    assert line["return"]["covered"] is True and line["serial_number"] == "SN-1"
    late = api(
        "POST /cases/{case_id}/products/{key}/return",
        key,
        user="dave",
        body={"coverage_reason": "DOA", "return_date": "2027-01-10"},
    )
    assert late.status == 200
    line = api("GET /cases/{case_id}/products", path, user="dave").json["items"][0]
    assert line["return"]["covered"] is False and line["return"]["within_return_period"] is False
    unknown = api(
        "POST /cases/{case_id}/products/{key}/return",
        key,
        user="dave",
        body={"coverage_reason": "NOPE", "return_date": "2026-11-10"},
    )
    assert unknown.status == 422 and unknown.error["code"] == "UNKNOWN_COVERAGE_REASON"


def summary_of(api: Api, user: str, case_type: str = "service_request", **query: str) -> Reply:
    return api("GET /summaries/{case_type}", {"case_type": case_type}, user=user, query=query or None)


def test_summary_counts_the_open_requests_of_the_callers_units_and_their_own_work(api: Api) -> None:
    sr(api)
    urgent = sr(api, assignee="dave", fields={"impact": 1, "urgency": 1})
    sr(api, contact_id="CON-2003")  # West: routed to FIELD, which neither tina nor dave belong to
    summary = summary_of(api, "tina")
    assert summary.status == 200, summary.text
    body = summary.json
    assert body["business_units"] == ["CARE"]
    assert body["open"] == 2 and body["by_state"] == {"pending": 2}
    assert body["by_assignee"] == {"dave": 1, "(unassigned)": 1}
    assert sum(body["by_priority"].values()) == 2
    assert body["mine"] == {"open": 0, "overdue": 0, "items": []}
    # an agent sees their unit's open work and their own (seed 003: the dashboard is for ordinary users too)
    agent = summary_of(api, "dave").json
    assert agent["open"] == 2 and [c["id"] for c in agent["mine"]["items"]] == [urgent["id"]]
    assert summary_of(api, "admin").json["open"] == 3  # every unit
    assert summary_of(api, "dave", gbu="FIELD").error["code"] == "NOT_ALLOWED"


def test_summary_of_an_unknown_case_type_is_404(api: Api) -> None:
    reply = summary_of(api, "tina", "no_such_type")
    assert reply.status == 404 and reply.error["code"] == "UNKNOWN_CASE_TYPE"


# --- activities ---------------------------------------------------------------------------------------------


def test_activity_types_are_restricted_by_the_parent_type_and_services_are_checked(api: Api) -> None:
    case = sr(api, subtype="FAULTY_ITEM", assignee="dave")
    call = schedule(api, case["id"], "dave", subtype="CALL", title="Call back")
    assert call.status == 422 and call.error["code"] == "TYPE_NOT_ALLOWED"
    repair = schedule(api, case["id"], "dave", subtype="REPAIR", title="Repair", assignee="dave")
    assert repair.status == 201, repair.text
    aid = repair.json["id"]
    assert move(api, aid, "Started", "dave").status == 200
    short = move(api, aid, "Done", "dave", services=[{"product": "SVC-REPAIR", "time_spent_minutes": 10}])
    assert short.status == 422 and short.error["code"] == "INVALID_SERVICES"
    ok = move(api, aid, "Done", "dave", services=[{"product": "SVC-REPAIR", "time_spent_minutes": 45}])
    assert ok.status == 200, ok.text


# --- leads --------------------------------------------------------------------------------------------------


def lead(api: Api, **body: Any) -> dict[str, Any]:
    payload = {
        "type": "lead",
        "title": "Fleet of 40 routers",
        "contact_id": "CON-2003",
        "assignee": "mary",
        "gbu": "SP",
        **body,
    }
    reply = api("POST /cases", user="mary", body=payload)
    assert reply.status == 201, reply.text
    return reply.json


def test_lead_won_raises_the_conversion_and_lost_needs_a_reason(api: Api) -> None:
    won = lead(api)
    assert won["subtype"] == "B2B" and won["fields"]["priority_level"] == 3
    assert move(api, won["id"], "Working", "mary").status == 200
    result = move(api, won["id"], "Won", "mary")
    assert result.status == 200 and result.json["state"] == "won"
    events = [e for entry in _history_events(won["id"]) for e in entry if e["type"] == "LeadWon"]
    assert events and events[0]["data"]["conversion"] == {
        "account_classification": "Business",
        "credit_rating": "A",
    }

    lost = lead(api)
    assert move(api, lost["id"], "Working", "mary").status == 200
    no_reason = move(api, lost["id"], "Lost", "mary")
    assert no_reason.status == 422 and no_reason.error["code"] == "MISSING_FIELDS"
    done = move(api, lost["id"], "Lost", "mary", lost_reason="PRICE", competitor="GLOBEX")
    assert done.status == 200 and done.json["fields"]["lost_reason"] == "PRICE"


def _history_events(case_id: str) -> list[list[dict[str, Any]]]:
    import os

    items = partition(os.environ["TABLE_NAME"], case_id)
    return [stored_events(i) for i in items if i["sk"].startswith("HIST#")]


# --- customer requests -------------------------------------------------------------------------------------


def cr(api: Api, user: str, **body: Any) -> dict[str, Any]:
    payload = {
        "type": "customer_request",
        "title": "Datasheet for PA66",
        "description": "Needs the TDS",
        "account_id": "ACC-1001",
        **body,
    }
    reply = api("POST /cases", user=user, body=payload)
    assert reply.status == 201, reply.text
    return reply.json


def test_a_sales_reps_customer_request_is_approved_at_once(api: Api) -> None:
    case = cr(api, "mary")
    assert case["status"] == "Approved"
    history = api.history(case["id"])
    assert history[0]["path"] == ["Open", "Approved"]


def test_customer_request_approval_then_automatic_resolution(api: Api) -> None:
    case = cr(api, "susan")
    assert case["status"] == "Open"
    submitted = move(api, case["id"], "Pending Approval", "susan")
    assert (
        submitted.status == 200 and submitted.json["pending_approval"]["approvers"][0]["username"] == "peter"
    )
    approved = api(
        "POST /cases/{case_id}/approvals", {"case_id": case["id"]}, user="peter", body={"decision": "approve"}
    )
    assert approved.status == 200 and approved.json["status"] == "Approved"
    half = api(
        "PATCH /cases/{case_id}",
        {"case_id": case["id"]},
        user="susan",
        body={"fields": {"resolution": "Sent the TDS"}},
    )
    assert half.json["status"] == "Approved"
    full = api(
        "PATCH /cases/{case_id}",
        {"case_id": case["id"]},
        user="susan",
        body={"fields": {"resolution_date": "2026-11-24"}},
    )
    assert full.status == 200 and full.json["status"] == "Resolved"
    closed = move(api, case["id"], "Closed/Completed", "susan")
    assert closed.status == 200 and closed.json["state"] == "closed"
    # seed 001's key dates: completing records when; closing as stopped does not
    assert closed.json["dates"]["actual_completion_date"] == closed.json["updated_at"]
    assert closed.json["dates"]["time_to_completion_seconds"] is not None
    stopped = move(api, cr(api, "susan")["id"], "Closed/Stopped", "susan", closure_reason="Gone")
    assert stopped.status == 200, stopped.text
    assert stopped.json["dates"]["actual_completion_date"] is None
    assert stopped.json["dates"]["closed_at"] == stopped.json["updated_at"]


def test_a_sample_request_is_its_own_type_and_creates_no_customer_request(api: Api) -> None:
    reply = api(
        "POST /cases",
        user="mary",
        body={
            "type": "sample_request",
            "title": "2 kg PA66",
            "account_id": "ACC-1001",
            "fields": {"product_code": "P-100", "quantity": 2, "shipping_address": "Acme, Dock 4"},
        },
    )
    assert reply.status == 201 and reply.json["type"] == "sample_request"
    listed = api("GET /cases", query={"type": "customer_request"}).json["items"]
    assert listed == []


# --- configuration ------------------------------------------------------------------------------------------


def test_configuration_is_versioned_and_invalid_documents_are_refused(api: Api) -> None:
    current = api("GET /config/{module}", {"module": "service_request"}, user="carol")
    assert current.status == 200 and current.json["version"] == 1
    config = current.json["config"]
    denied = api(
        "PUT /config/{module}",
        {"module": "service_request"},
        user="tina",
        body={"config": config, "expected_version": 1},
    )
    assert denied.status == 403
    broken = {**config, "types": [{**config["types"][0], "statuses": [{"name": "New", "default": True}]}]}
    refused = api(
        "PUT /config/{module}",
        {"module": "service_request"},
        user="admin",
        body={"config": broken, "expected_version": 1},
    )
    assert refused.status == 422 and refused.error["code"] == "INVALID_CONFIGURATION"
    assert refused.error["details"]["problems"]
    old_case = sr(api)
    renamed = {**config, "types": [{**config["types"][0], "name": "General question"}, *config["types"][1:]]}
    saved = api(
        "PUT /config/{module}",
        {"module": "service_request"},
        user="admin",
        body={"config": renamed, "expected_version": 1},
    )
    assert saved.status == 200 and saved.json["version"] == 2
    stale = api(
        "PUT /config/{module}",
        {"module": "service_request"},
        user="admin",
        body={"config": renamed, "expected_version": 1},
    )
    assert stale.status == 409 and stale.error["code"] == "STALE_VERSION"
    assert api.get(old_case["id"], user="carol")["config_version"] == 1  # a case keeps its version


# --- communicate (seed 003: Actions > Communicate) ------------------------------------------------------


def communicate(api: Api, case_id: str, user: str = "carol", **body: Any) -> Reply:
    return api("POST /cases/{case_id}/communications", {"case_id": case_id}, user=user, body=body)


def test_an_agent_writes_to_the_contact_and_the_case_keeps_it(api: Api) -> None:
    case = sr(api)
    reply = communicate(api, case["id"], subject="Your modem", text="Please restart it <now>.")
    assert reply.status == 201, reply.text
    sent = reply.json
    assert sent["to"] == {"contact_id": "CON-2001", "name": "Alice Brown", "email": "alice@customer.example"}
    assert (sent["subject"], sent["text"], sent["by"]) == ("Your modem", "Please restart it <now>.", "carol")
    assert sent["templated"] is False and sent["sent_at"] is None  # notify sends it from the outbox
    listed = api("GET /cases/{case_id}/communications", {"case_id": case["id"]}, user="dave")
    assert listed.status == 200 and [c["id"] for c in listed.json["items"]] == [sent["id"]]


def test_a_communication_from_one_of_the_types_templates(api: Api) -> None:
    case = sr(api, subtype="FAULTY_ITEM", assignee="dave")
    described = api(
        "GET /case-types/{case_type}",
        {"case_type": "service_request"},
        user="dave",
        query={"subtype": "FAULTY_ITEM"},
    ).json
    template = next(c for c in described["communications"] if c["to"] == "contact")
    reply = communicate(api, case["id"], user="dave", template=template["template"])
    assert reply.status == 201, reply.text
    assert reply.json["templated"] is True and reply.json["subject"] == template["subject"]
    unknown = communicate(api, case["id"], user="dave", template="no-such-template")
    assert unknown.status == 422 and unknown.error["code"] == "UNKNOWN_TEMPLATE"
    assert template["template"] in unknown.error["details"]["templates"]


def test_communications_refused_write_nothing(api: Api) -> None:
    case = sr(api)
    empty = communicate(api, case["id"], subject="  ", text="")
    assert empty.status == 422 and empty.error["code"] == "MISSING_FIELDS"
    assert empty.error["details"]["fields"] == ["subject", "text"]
    outsider = communicate(api, case["id"], user="fred", subject="Hi", text="x")  # FIELD, not on the case
    assert outsider.status == 404 and outsider.error["code"] == "CASE_NOT_FOUND"  # nor does he see it
    csr = api.register()  # a CSR has no contact
    assert communicate(api, csr["id"], user="mary", subject="Hi", text="x").error["code"] == "NO_CONTACT"
    unknown = communicate(api, "no-such-case", subject="Hi", text="x")
    assert unknown.status == 404 and unknown.error["code"] == "CASE_NOT_FOUND"
    too_long = communicate(api, case["id"], subject="x" * 201, text="x")
    assert too_long.status == 422 and too_long.error["code"] == "INVALID_REQUEST"
    listed = api("GET /cases/{case_id}/communications", {"case_id": case["id"]}, user="carol")
    assert listed.json["items"] == []
