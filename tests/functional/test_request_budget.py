"""The request budget as behaviour: a warm function reads a case with one request and changes it with one
read plus one transaction; nothing ever scans. Counts, not timings (timings belong to scripts/)."""

from __future__ import annotations

import pytest
from moto import mock_aws

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
        assert dynamodb_calls(calls) == {"GetItem": 1, "TransactWriteItems": 1}, (method, path)


def test_reads_are_one_get_or_one_query_and_nothing_scans(api):
    case_id = _warm_case(api)
    counter = CallCounter()
    expected = {
        f"/cases/{case_id}": {"GetItem": 1},
        f"/cases/{case_id}/history": {"Query": 1},
        f"/cases/{case_id}/products": {"Query": 1},
        "/cases": {"Query": 1},
    }
    for path, budget in expected.items():
        for query in (
            {},
            {"type": "csr"},
            {"type": "csr", "status": "Registration"},
            {"assignee": "me"},
            {"account_id": "ACC-1001", "status": "Registration"},
        ):
            if path != "/cases" and query:
                continue
            with counter.counting() as calls:
                status, body = api.call("GET", path, query=query or None)
            assert status == 200, body
            assert dynamodb_calls(calls) == budget, (path, query)


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
        ("GET", f"/cases/{sr}/activities", {"user": "dave"}, 200, {"Query": 1}),
        ("GET", "/summaries/service_request", {"user": "tina"}, 200, {"Query": 1}),
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
