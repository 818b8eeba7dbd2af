"""The CSR user stories of seed 000, over HTTP against the local stack (`make run`'s stack)."""

from __future__ import annotations

import re

import pytest

from tests.fakes import CSR_OPEN_STATUSES

pytestmark = pytest.mark.e2e


def test_the_whole_csr_story(api):
    # Step 1 - Mary registers a CSR, relates products and accounts, submits it.
    case = api.new_csr(
        fields={"requirement_category": "Product Specification", "customer_reference": "PO-778"}
    )
    cid, title = case["id"], case["title"]
    assert (case["status"], case["state"], case["assignee"], case["gbu"]) == (
        "Registration",
        "open",
        "mary",
        "SP",
    )
    assert case["related_products_count"] == 0
    submit = next(t for t in case["available_transitions"] if t["to"] == "Pending Pre-Approval")
    assert submit["requires_related"] == {"products": 1}

    api.error(
        "POST",
        f"/cases/{cid}/transitions",
        "mary",
        422,
        "RELATED_REQUIRED",
        json={"to": "Pending Pre-Approval"},
    )
    api.ok("POST", f"/cases/{cid}/products", "mary", 201, json={"product_code": "P-100"})
    case = api.ok("POST", f"/cases/{cid}/products", "mary", 201, json={"product_code": "P-200"})
    assert case["related_products_count"] == 2
    api.ok("POST", f"/cases/{cid}/accounts", "mary", 201, json={"account_id": "ACC-1002"})
    products = api.ok("GET", f"/cases/{cid}/products", "mary")["items"]
    assert {p["key"] for p in products} == {"P-100", "P-200"}
    assert [a["key"] for a in api.ok("GET", f"/cases/{cid}/accounts", "mary")["items"]] == ["ACC-1002"]

    case = api.ok("POST", f"/cases/{cid}/transitions", "mary", json={"to": "Pending Pre-Approval"})
    assert case["state"] == "in_approval"
    assert case["pending_approval"]["approvers"] == [{"username": "john", "decision": None}]

    # Step 2 - John approves through the link in his email. GET shows the page and changes nothing.
    link = api.approval_link("john@casework.example", title)
    page = api.call("GET", link)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert title in page.text and 'value="approve"' in page.text
    assert page.headers["cache-control"] == "no-store"
    unchanged = api.ok("GET", f"/cases/{cid}", "mary")
    assert (unchanged["status"], unchanged["version"]) == ("Pending Pre-Approval", case["version"])

    decided = api.call("POST", link, data={"decision": "approve", "comment": "Feasible on line 3"})
    assert decided.status_code == 200 and "Under Assessment" in decided.text
    assert api.call("POST", link, data={"decision": "approve"}).status_code == 410  # single use
    assert api.call("GET", link).status_code == 410

    case = api.ok("GET", f"/cases/{cid}", "frank")
    assert (case["status"], case["assignee"]) == ("Under Assessment", "frank")

    # Step 3 - Frank is told, assesses, and cannot final-submit without the Global Feasibility Conclusion.
    assert api.wait_mail("frank@casework.example", title, 1), "frank was not notified of the assessment"
    api.error(
        "POST", f"/cases/{cid}/transitions", "frank", 422, "MISSING_FIELDS", json={"to": "Approval Pending"}
    )
    case = api.ok(
        "POST",
        f"/cases/{cid}/transitions",
        "frank",
        json={
            "to": "Approval Pending",
            "expected_version": case["version"],
            "fields": {"global_feasibility_conclusion": "Feasible with additive X; cost +3%."},
        },
    )
    assert case["status"] == "Approval Pending"
    assert case["fields"]["global_feasibility_conclusion"].startswith("Feasible")

    # Step 4 - Peter is notified and approves through the API.
    assert api.wait_mail("peter@casework.example", title, 1), "peter was not asked to approve"
    assert api.ok("GET", f"/cases/{cid}", "peter")["can_decide_approval"] is True
    case = api.ok("POST", f"/cases/{cid}/approvals", "peter", json={"decision": "approve"})
    assert (case["status"], case["assignee"]) == ("Under Implementation", "frank")

    # Step 5 - Frank implements.
    assert len(api.wait_mail("frank@casework.example", title, 2)) == 2, "frank was not told to implement"
    case = api.ok("POST", f"/cases/{cid}/transitions", "frank", json={"to": "Implemented"})
    assert (case["status"], case["assignee"]) == ("Implemented", "mary")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", case["fields"]["go_live_date"])

    # Step 6 - Mary records the customer's satisfaction, later closes the case: Inactive.
    assert api.wait_mail("mary@casework.example", title, 1), "mary was not told the CSR is live"
    case = api.ok(
        "PATCH",
        f"/cases/{cid}",
        "mary",
        json={"fields": {"customer_satisfaction": "Very satisfied"}, "expected_version": case["version"]},
    )
    assert case["fields"]["customer_satisfaction"] == "Very satisfied"
    api.ok("POST", f"/cases/{cid}/notes", "frank", 201, json={"text": "Trial batch shipped on the 3rd."})
    case = api.ok("POST", f"/cases/{cid}/transitions", "mary", json={"to": "Inactive"})
    assert (case["status"], case["state"], case["available_transitions"]) == ("Inactive", "closed", [])

    # The history of all key dates and persons involved, one request away.
    history = api.ok("GET", f"/cases/{cid}/history", "mary")["items"]
    assert [h["version"] for h in history] == list(range(1, case["version"] + 1))
    assert (history[0]["action"], history[0]["by"], history[0]["to_status"]) == (
        "registered",
        "mary",
        "Registration",
    )
    moves = [
        (h["by"], h["from_status"], h["to_status"]) for h in history[1:] if h["from_status"] != h["to_status"]
    ]
    assert moves == [
        ("mary", "Registration", "Pending Pre-Approval"),
        ("john", "Pending Pre-Approval", "Under Assessment"),
        ("frank", "Under Assessment", "Approval Pending"),
        ("peter", "Approval Pending", "Under Implementation"),
        ("frank", "Under Implementation", "Implemented"),
        ("mary", "Implemented", "Inactive"),
    ]
    john_decision = next(h for h in history if h["by"] == "john")
    assert john_decision["comment"] == "Feasible on line 3"
    assert any(h["changes"].get("customer_satisfaction", {}).get("to") == "Very satisfied" for h in history)
    phases = [(k["status"], k["entered_by"], k["left_by"]) for k in case["key_dates"]]
    assert phases == [
        ("Registration", "mary", "mary"),
        ("Pending Pre-Approval", "mary", "john"),
        ("Under Assessment", "john", "frank"),
        ("Approval Pending", "frank", "peter"),
        ("Under Implementation", "peter", "frank"),
        ("Implemented", "frank", "mary"),
        ("Inactive", "mary", None),
    ]
    notes = api.ok("GET", f"/cases/{cid}/notes", "mary")["items"]
    assert [(n["author"], n["text"]) for n in notes] == [("frank", "Trial batch shipped on the 3rd.")]
    # A closed case changes no more.
    api.error(
        "PATCH", f"/cases/{cid}", "mary", 409, "CASE_CLOSED", json={"fields": {"customer_satisfaction": "x"}}
    )


def test_lists_filter_page_and_refuse_bad_cursors(api):
    """What a client sees of the lists over HTTP. That each of these is served by index Queries, never a Scan,
    cannot be seen from here: tests/functional/test_request_budget.py counts it at botocore
    (test_the_csr_story_lists_are_index_queries)."""
    api.new_csr()  # a second case of mary's, whatever ran before: the list has a second page
    case = api.submitted_csr()
    mine = api.ok("GET", "/cases", "mary", params={"type": "csr", "status": "Pending Pre-Approval"})["items"]
    assert case["id"] in [c["id"] for c in mine]
    assert all(c["status"] == "Pending Pre-Approval" for c in mine)
    by_account = api.ok("GET", "/cases", "mary", params={"account_id": "ACC-1001", "assignee": "me"})["items"]
    assert case["id"] in [c["id"] for c in by_account]
    assert (
        api.ok("GET", "/cases", "frank", params={"assignee": "me", "status": "Pending Pre-Approval"})["items"]
        == []
    )
    first = api.ok("GET", "/cases", "mary", params={"limit": 1})
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = api.ok("GET", "/cases", "mary", params={"limit": 1, "cursor": first["next_cursor"]})
    assert second["items"][0]["id"] != first["items"][0]["id"]
    api.error("GET", "/cases", "mary", 400, "INVALID_CURSOR", params={"cursor": "not-a-cursor"})
    api.error("GET", "/cases", "mary", 404, "UNKNOWN_CASE_TYPE", params={"type": "nope"})


def test_rejecting_through_the_email_link_keeps_the_comment_as_the_reason(api):
    case = api.submitted_csr()
    link = api.approval_link("john@casework.example", case["title"])
    no_comment = api.call("POST", link, data={"decision": "reject"})
    assert no_comment.status_code == 422 and "reason" in no_comment.text  # the form comes back with the error
    assert api.ok("GET", f"/cases/{case['id']}", "mary")["status"] == "Pending Pre-Approval"
    done = api.call("POST", link, data={"decision": "reject", "comment": "No capacity this year"})
    assert done.status_code == 200
    case = api.ok("GET", f"/cases/{case['id']}", "mary")
    assert (case["status"], case["fields"]["rejection_reason"]) == (
        "Closed - Rejected",
        "No capacity this year",
    )
    assert api.wait_mail("mary@casework.example", case["title"], 1), "mary was not told of the rejection"


def test_forged_and_reused_links_are_refused(api):
    forged = api.call("GET", "/approvals/" + "A" * 43)
    assert forged.status_code == 404 and "not valid" in forged.text
    assert api.call("POST", "/approvals/" + "A" * 43, data={"decision": "approve"}).status_code == 404
    case = api.submitted_csr()
    link = api.approval_link("john@casework.example", case["title"])
    # The case moves on without the link (John approves in the API): the link no longer decides anything.
    api.ok("POST", f"/cases/{case['id']}/approvals", "john", json={"decision": "approve"})
    gone = api.call("POST", link, data={"decision": "reject", "comment": "late"})
    assert gone.status_code == 410
    assert api.ok("GET", f"/cases/{case['id']}", "mary")["status"] == "Under Assessment"


def _reach(api, status: str) -> dict:
    """A CSR brought to ``status`` through the API, by the people the process names."""
    case = api.new_csr()
    cid = case["id"]
    path = [
        "Pending Pre-Approval",
        "Under Assessment",
        "Approval Pending",
        "Under Implementation",
        "Implemented",
    ]
    for step in path[: path.index(status) + 1] if status in path else []:
        if step == "Pending Pre-Approval":
            api.ok("POST", f"/cases/{cid}/products", "mary", 201, json={"product_code": "P-100"})
            case = api.ok("POST", f"/cases/{cid}/transitions", "mary", json={"to": step})
        elif step == "Under Assessment":
            case = api.ok("POST", f"/cases/{cid}/approvals", "john", json={"decision": "approve"})
        elif step == "Approval Pending":
            case = api.ok(
                "POST",
                f"/cases/{cid}/transitions",
                "frank",
                json={"to": step, "fields": {"global_feasibility_conclusion": "ok"}},
            )
        elif step == "Under Implementation":
            case = api.ok("POST", f"/cases/{cid}/approvals", "peter", json={"decision": "approve"})
        else:
            case = api.ok("POST", f"/cases/{cid}/transitions", "frank", json={"to": step})
    assert case["status"] == status
    return case


@pytest.mark.parametrize("status", CSR_OPEN_STATUSES)
def test_close_case_rejected_from_every_open_status(api, status):
    case = _reach(api, status)
    path = f"/cases/{case['id']}/transitions"
    api.error("POST", path, "mary", 422, "MISSING_FIELDS", json={"to": "Closed - Rejected"})
    closed = api.ok(
        "POST", path, "mary", json={"to": "Closed - Rejected", "fields": {"rejection_reason": "Dropped"}}
    )
    assert (closed["status"], closed["state"], closed["pending_approval"]) == (
        "Closed - Rejected",
        "closed",
        None,
    )
    assert closed["fields"]["rejection_reason"] == "Dropped"


def test_refusals_answer_with_clear_codes(api, stack_url):
    case = api.new_csr()
    cid = case["id"]
    # No token, or a bad one: the authorizer answers, as API Gateway does.
    assert api.call("GET", f"/cases/{cid}").status_code == 401
    bad = api.call("GET", f"/cases/{cid}", headers={"authorization": "Bearer not.a.jwt"})
    assert (bad.status_code, bad.json()) == (401, {"message": "Unauthorized"})
    # A valid token for somebody the directory does not know.
    api.error("GET", f"/cases/{cid}", "mallory", 403, "UNKNOWN_USER")
    api.error("GET", "/cases/does-not-exist", "mary", 404, "CASE_NOT_FOUND")
    api.error("GET", "/cases/does-not-exist/history", "mary", 404, "CASE_NOT_FOUND")
    # Wrong person: john may not submit Mary's CSR; frank may not edit it.
    api.ok("POST", f"/cases/{cid}/products", "mary", 201, json={"product_code": "P-100"})
    api.error(
        "POST", f"/cases/{cid}/transitions", "john", 403, "NOT_ALLOWED", json={"to": "Pending Pre-Approval"}
    )
    api.error("PATCH", f"/cases/{cid}", "frank", 403, "NOT_ALLOWED", json={"fields": {"title": "mine now"}})
    # Illegal transition, stale version, approval moves by hand.
    api.error(
        "POST", f"/cases/{cid}/transitions", "mary", 409, "ILLEGAL_TRANSITION", json={"to": "Implemented"}
    )
    api.error(
        "POST",
        f"/cases/{cid}/transitions",
        "mary",
        409,
        "STALE_VERSION",
        json={"to": "Pending Pre-Approval", "expected_version": 1},
    )
    api.ok("POST", f"/cases/{cid}/transitions", "mary", json={"to": "Pending Pre-Approval"})
    api.error(
        "POST", f"/cases/{cid}/transitions", "john", 409, "AWAITING_APPROVAL", json={"to": "Under Assessment"}
    )
    api.error(
        "POST", f"/cases/{cid}/approvals", "frank", 403, "NOT_AN_APPROVER", json={"decision": "approve"}
    )
    api.error("POST", f"/cases/{cid}/approvals", "john", 422, "COMMENT_REQUIRED", json={"decision": "reject"})
    # Bad input of every shape gets a 4xx with a code, and nothing is written.
    before = api.ok("GET", f"/cases/{cid}", "mary")["version"]
    api.error(
        "POST",
        "/cases",
        "mary",
        400,
        "INVALID_JSON",
        data="{not json",
        headers={"content-type": "application/json"},
    )
    api.error("POST", "/cases", "mary", 422, "INVALID_REQUEST", json={"type": "csr", "title": 42})
    api.error("POST", "/cases", "mary", 422, "INVALID_REQUEST", json={"type": "csr", "unknown": 1})
    api.error("POST", "/cases", "mary", 422, "MISSING_FIELDS", json={"type": "csr", "title": "x"})
    api.error(
        "POST",
        "/cases",
        "mary",
        422,
        "UNKNOWN_ACCOUNT",
        json={"type": "csr", "title": "x", "description": "y", "account_id": "ACC-404"},
    )
    api.error(
        "POST",
        "/cases",
        "mary",
        422,
        "INVALID_FIELDS",
        json={
            "type": "csr",
            "title": "x",
            "description": "y",
            "account_id": "ACC-1001",
            "fields": {"requested_by_date": "next tuesday"},
        },
    )
    api.error(
        "POST",
        "/cases",
        "john",
        403,
        "NOT_ALLOWED",
        json={"type": "csr", "title": "x", "description": "y", "account_id": "ACC-1001"},
    )
    api.error("POST", f"/cases/{cid}/products", "mary", 409, "RELATED_LOCKED", json={"product_code": "P-200"})
    api.error("POST", f"/cases/{cid}/notes", "mary", 422, "INVALID_REQUEST", json={"text": ""})
    api.error("GET", "/cases", "mary", 422, "INVALID_REQUEST", params={"limit": "1000"})
    assert api.ok("GET", f"/cases/{cid}", "mary")["version"] == before
    unknown = api.call("GET", "/nowhere", "mary")
    assert unknown.status_code == 404


def test_related_lists_refuse_duplicates_and_unknown_references(api):
    cid = api.new_csr()["id"]
    api.ok("POST", f"/cases/{cid}/products", "mary", 201, json={"product_code": "P-100"})
    api.error("POST", f"/cases/{cid}/products", "mary", 409, "ALREADY_LINKED", json={"product_code": "P-100"})
    api.error(
        "POST", f"/cases/{cid}/products", "mary", 422, "UNKNOWN_REFERENCE", json={"product_code": "P-999"}
    )
    case = api.ok("DELETE", f"/cases/{cid}/products/P-100", "mary")
    assert case["related_products_count"] == 0
    api.error("DELETE", f"/cases/{cid}/products/P-100", "mary", 404, "NOT_LINKED")
    assert api.ok("GET", f"/cases/{cid}/products", "mary")["items"] == []


def test_openapi_and_docs_are_served(api):
    spec = api.call("GET", "/openapi.json").json()
    assert spec["info"]["title"] == "casework"
    for path in (
        "/cases",
        "/cases/{case_id}",
        "/cases/{case_id}/transitions",
        "/cases/{case_id}/approvals",
        "/cases/{case_id}/history",
        "/cases/{case_id}/notes",
        "/approvals/{token}",
    ):
        assert path in spec["paths"], path
    docs = api.call("GET", "/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
