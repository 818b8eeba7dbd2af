"""The request budget as behaviour: a warm function reads a case with one request and changes it with one
read plus one transaction; nothing ever scans. Counts, not timings (timings belong to scripts/)."""

from __future__ import annotations

import pytest
from moto import mock_aws

from casework.adapters.dynamo import ACCOUNT_SHARDS
from infra.bench import ApiDriver, CallCounter, dynamodb_calls


@pytest.fixture(scope="module")
def api():
    with mock_aws():
        driver = ApiDriver(stage="budget")
        yield driver


def _warm_case(api: ApiDriver) -> str:
    status, case = api.call(
        "POST",
        "/cases",
        body={"type": "csr", "title": "Budget", "description": "d", "account_id": "ACC-1001"},
    )
    assert status == 201
    assert api.call("POST", f"/cases/{case['id']}/products", body={"product_code": "P-100"})[0] == 201
    return case["id"]


def _first_steps(case_id: str) -> list[tuple[str, str, dict]]:
    return [
        ("POST", f"/cases/{case_id}/transitions", {"body": {"to": "Pending Pre-Approval"}}),
        ("POST", f"/cases/{case_id}/approvals", {"user": "john", "body": {"decision": "approve"}}),
        (
            "PATCH",
            f"/cases/{case_id}",
            {"user": "frank", "body": {"fields": {"global_feasibility_conclusion": "ok"}}},
        ),
    ]


def test_commands_cost_one_read_and_one_transaction(api):
    for method, path, kwargs in _first_steps(_warm_case(api)):  # a live container has its caches warm
        assert api.call(method, path, **kwargs)[0] == 200
    counter = CallCounter()
    for method, path, kwargs in _first_steps(_warm_case(api)):
        with counter.counting() as calls:
            status, body = api.call(method, path, **kwargs)
        assert status == 200, body
        budget = {"GetItem": 1, "TransactWriteItems": 1}
        if body["status"] == "Pending Pre-Approval":  # an approval requested: the approvers' delegations
            budget["BatchGetItem"] = 1
        assert dynamodb_calls(calls) == budget, (method, path)


def test_reads_are_one_get_or_one_query_and_nothing_scans(api):
    """A case is one GetItem; its lists one GetItem (may the caller see it?) and one Query; a list of cases
    one Query per partition the caller may see: mary's unit SP has 4 shards, plus her assignments (a fixed
    fan-out, run in parallel); an assignee's list is one Query, an account's one per shard of the account
    (ACCOUNT_SHARDS: a busy account's cases would otherwise run its gsi3 partition hot)."""
    case_id = _warm_case(api)
    assert api.call("GET", "/cases")[0] == 200  # a live container has the definitions' scopes cached
    counter = CallCounter()
    merged = {"Query": 4 + 1}
    expected = {
        f"/cases/{case_id}": {"GetItem": 1},
        f"/cases/{case_id}/history": {"GetItem": 1, "Query": 1},
        f"/cases/{case_id}/products": {"GetItem": 1, "Query": 1},
        "/cases": merged,
    }
    for path, budget in expected.items():
        for query, list_budget in (
            ({}, merged),
            ({"type": "csr"}, merged),
            ({"type": "csr", "status": "Registration"}, merged),
            ({"assignee": "me"}, {"Query": 1}),
            ({"account_id": "ACC-1001", "status": "Registration"}, {"Query": ACCOUNT_SHARDS}),
        ):
            if path != "/cases" and query:
                continue
            with counter.counting() as calls:
                status, body = api.call("GET", path, query=query or None)
            assert status == 200, body
            assert dynamodb_calls(calls) == (list_budget if path == "/cases" else budget), (path, query)


def _care_steps(api: ApiDriver) -> list[tuple[str, str, dict, int, dict[str, int]]]:
    """A service request's life on the care modules, each step with its status and its budget."""
    status, waiting = api.call(
        "POST",
        "/cases",
        user="carol",
        body={"type": "service_request", "title": "B", "contact_id": "CON-2001"},
    )
    assert status == 201, waiting
    sr = waiting["id"]
    one_change = {"GetItem": 1, "TransactWriteItems": 1}
    return [
        (
            "POST",
            "/cases",
            {
                "user": "carol",
                "body": {
                    "type": "service_request",
                    "title": "B",
                    "contact_id": "CON-2001",
                    "assignee": "dave",
                },
            },
            201,
            {"TransactWriteItems": 1},
        ),
        ("POST", f"/cases/{sr}/accept", {"user": "dave", "body": {}}, 200, one_change),
        (
            "POST",
            f"/cases/{sr}/transitions",
            {
                "user": "dave",
                "body": {"to": "Acknowledged", "fields": {"response_category": "ACK", "response": "ok"}},
            },
            200,
            one_change,
        ),
        (
            "POST",
            f"/cases/{sr}/activities",
            {"user": "dave", "body": {"subtype": "CALL", "title": "Call", "assignee": "dave"}},
            201,
            one_change,
        ),
        (
            "PATCH",
            f"/cases/{sr}",
            {"user": "dave", "body": {"fields": {"response": "still on it"}}},
            200,
            one_change,
        ),
        ("GET", f"/cases/{sr}/activities", {"user": "dave"}, 200, {"GetItem": 1, "Query": 1}),
        # one Query per shard of tina's unit (gsi4 is sharded like gsi1: scripts/key_distribution.py)
        ("GET", "/summaries/service_request", {"user": "tina"}, 200, {"Query": 4}),
        ("GET", "/case-types/service_request", {"user": "tina"}, 200, {}),
        ("GET", "/config/service_request", {"user": "tina"}, 200, {}),
    ]


def test_care_operations_keep_the_budget(api):
    for method, path, kwargs, status, _ in _care_steps(api):  # warm the caches as a live container would
        assert api.call(method, path, **kwargs)[0] == status
    counter = CallCounter()
    for method, path, kwargs, status, budget in _care_steps(api):
        with counter.counting() as calls:
            got, body = api.call(method, path, **kwargs)
        assert got == status, body
        assert dynamodb_calls(calls) == budget, (method, path)


def test_customer_operations_keep_the_budget(api):
    """Customers and contacts: a read is one GetItem or Query (the customer's page: one GetItem, one Query for
    its contacts and one per account shard for its open cases), a change one read plus one transaction; the
    ERP's upserts too."""
    from casework.domain.model import Actor
    from casework.http.wiring import customer_service
    from infra.bench import BENCH_QUESTIONS, customer_steps

    body = {**BENCH_QUESTIONS, "expected_version": 0}
    assert api.call("PUT", "/profiling/bench", user="admin", body=body)[0] == 200
    for _, method, path, status, kwargs, _ in customer_steps(1):  # warm the caches as a live container would
        assert api.call(method, path, **kwargs)[0] == status
    counter = CallCounter()
    for name, method, path, status, kwargs, budget in customer_steps(2):
        with counter.counting() as calls:
            got, reply = api.call(method, path, **kwargs)
        assert got == status, (name, reply)
        assert dynamodb_calls(calls) == budget, name

    erp, service = Actor(username="erp"), customer_service()
    service.upsert_customer(erp, {"id": "ACC-ERP", "name": "Erp Co"}, source_version=2)
    with counter.counting() as calls:
        assert (
            service.upsert_customer(erp, {"id": "ACC-ERP", "name": "Erp Co 2"}, source_version=3)[0]
            == "updated"
        )
    assert dynamodb_calls(calls) == {"GetItem": 1, "TransactWriteItems": 1}
    with counter.counting() as calls:
        assert service.upsert_customer(erp, {"id": "ACC-ERP", "name": "Old"}, source_version=1)[0] == "stale"
    assert dynamodb_calls(calls) == {"GetItem": 1}


def test_the_csr_story_lists_are_index_queries(api):
    """The lists tests/e2e/test_csr_story.py reads over HTTP (where a Query and a Scan look alike), counted
    at botocore: each filter and each page, the first and the one after the cursor, is Queries only, as many
    as the partitions it reads, and never a Scan."""
    _warm_case(api)  # another case: the list has a second page
    case_id = _warm_case(api)
    assert api.call("POST", f"/cases/{case_id}/transitions", body={"to": "Pending Pre-Approval"})[0] == 200
    for user in ("mary", "frank"):  # a live container has the definitions' scopes and the users cached
        assert api.call("GET", "/cases", user=user)[0] == 200
    merged, one = {"Query": 4 + 1}, {"Query": 1}  # mary's unit SP: 4 shards, plus her assignments
    counter = CallCounter()

    def listed(user: str, query: dict[str, str], budget: dict[str, int]) -> dict:
        with counter.counting() as calls:
            status, body = api.call("GET", "/cases", user=user, query=query)
        assert status == 200, body
        assert dynamodb_calls(calls) == budget, (user, query)
        return body

    pending = listed("mary", {"type": "csr", "status": "Pending Pre-Approval"}, merged)
    assert case_id in [c["id"] for c in pending["items"]]
    mine = listed("mary", {"account_id": "ACC-1001", "assignee": "me"}, one)
    assert case_id in [c["id"] for c in mine["items"]]
    assert listed("frank", {"assignee": "me", "status": "Pending Pre-Approval"}, one)["items"] == []
    first = listed("mary", {"limit": "1"}, merged)
    assert first["next_cursor"]
    listed("mary", {"limit": "1", "cursor": first["next_cursor"]}, merged)
