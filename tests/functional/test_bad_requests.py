"""Requests a careless client (or a fuzzer) sends get a clear 4xx, and a database that throttles us gets a 503
that says to send the same request again: never a 500, and nothing written."""

from __future__ import annotations

import base64
import json
import os
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pynamodb.connection.base import Connection

from casework.http.api import MAX_JSON_DEPTH
from tests.functional.test_api_handlers import ROUTES, Api, partition

# Every route that reads a JSON body (the email-link pages read forms), with made-up path values.
JSON_BODY_ROUTES = sorted(
    key for key, route in ROUTES.items() if key.split(" ")[0] in ("POST", "PUT", "PATCH") and not route.public
)
PATH_VALUES = {"module": "service_request", "token": "t" * 43}


def _path(route_key: str) -> dict[str, str]:
    """A made-up value for each path parameter of ``route_key`` (the body is refused before they matter)."""
    return {name: PATH_VALUES.get(name, "X-1") for name in re.findall(r"\{(\w+)\}", route_key)}


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/octet-stream"],
)
def test_a_body_that_is_not_json_is_415_on_every_json_route(api: Api, content_type: str) -> None:
    assert len(JSON_BODY_ROUTES) >= 14
    for route_key in JSON_BODY_ROUTES:
        reply = api(route_key, _path(route_key), raw_body='{"type": "csr"}', content_type=content_type)
        assert reply.status == 415, (route_key, reply.status, reply.text)
        assert reply.error["code"] == "UNSUPPORTED_MEDIA_TYPE" and reply.error["message"]


def test_json_with_a_charset_is_json(api: Api) -> None:
    body = '{"type": "csr", "title": "Tür", "description": "D", "account_id": "ACC-1001"}'
    reply = api("POST /cases", raw_body=body, content_type="application/json; charset=utf-8")
    assert reply.status == 201, reply.text
    case = reply.json
    assert (case["title"], case["description"], case["account_id"]) == (
        "Tür",
        "D",
        "ACC-1001",
    )  # read as sent


def test_json_nested_deeper_than_the_limit_is_400_and_at_the_limit_is_read(api: Api) -> None:
    too_deep = '{"type": "csr", "fields": {"x": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}}"
    reply = api("POST /cases", raw_body=too_deep)
    assert reply.status == 400 and reply.error["code"] == "JSON_TOO_DEEP"
    assert reply.error["details"] == {"max_depth": MAX_JSON_DEPTH}
    thousand = "[" * 1000 + "]" * 1000
    assert api("POST /cases", raw_body=thousand).error["code"] == "JSON_TOO_DEEP"
    brackets_in_a_string = (
        '{"type": "csr", "title": "' + "[" * 100 + '", "description": "D", "account_id": "ACC-1001"}'
    )
    assert api("POST /cases", raw_body=brackets_in_a_string).status == 201
    at_limit = "[" * (MAX_JSON_DEPTH - 2) + "]" * (MAX_JSON_DEPTH - 2)
    deep_ok = '{"type": "csr", "title": "T", "description": "D", "fields": {"x": ' + at_limit + "}}"
    assert api("POST /cases", raw_body=deep_ok).status in (201, 422)  # read, then judged on its fields


def _throttle(monkeypatch: pytest.MonkeyPatch, operation: str) -> list[str]:
    """DynamoDB answers ``operation`` with ThrottlingException (what the SDK raises once its retries are
    spent); every other call goes through."""
    calls: list[str] = []
    real = Connection._make_api_call

    def throttled(self: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> dict:
        calls.append(operation_name)
        if operation_name == operation:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate of requests exceeds the allowed"}},
                operation_name,
            )
        return real(self, operation_name, operation_kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", throttled)
    return calls


def test_a_throttled_change_is_503_retry_later_and_writes_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = api.register()
    table = os.environ["TABLE_NAME"]
    before = partition(table, case["id"])
    calls = _throttle(monkeypatch, "TransactWriteItems")
    reply = api.add_product(case["id"])
    assert "TransactWriteItems" in calls
    assert reply.status == 503 and reply.headers["retry-after"] == "1"
    assert reply.error["code"] == "RETRY_LATER" and "same request again" in reply.error["message"]
    monkeypatch.undo()
    assert partition(table, case["id"]) == before
    assert api.add_product(case["id"]).status == 201  # the same request, sent again, goes through


def _throttle_inside_transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB cancels every TransactWriteItems with a ThrottlingError reason (an item's partition was
    throttled), as PynamoDB reports it: TransactionCanceledException with cancellation reasons."""
    from pynamodb.exceptions import CancellationReason, VerboseClientError

    real = Connection._make_api_call

    def cancelled(self: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> dict:
        if operation_name == "TransactWriteItems":
            items = operation_kwargs["TransactItems"]
            raise VerboseClientError(
                {"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}},
                operation_name,
                cancellation_reasons=[CancellationReason(code="ThrottlingError")] + [None] * (len(items) - 1),
            )
        return real(self, operation_name, operation_kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", cancelled)


@pytest.mark.parametrize(
    ("route_key", "path", "body", "user"),
    [
        ("POST /cases/{case_id}/products", None, {"product_code": "P-100"}, "mary"),
        ("PATCH /customers/{customer_id}", {"customer_id": "ACC-1001"}, {"name": "Acme Corporation"}, "mary"),
        ("PUT /directory/areas/{area}", {"area": "South"}, {"business_unit": "CARE"}, "admin"),
    ],
)
def test_a_transaction_cancelled_by_throttling_is_503_for_cases_customers_and_the_directory(
    api: Api,
    monkeypatch: pytest.MonkeyPatch,
    route_key: str,
    path: dict[str, str] | None,
    body: dict,
    user: str,
) -> None:
    """Every transaction's cancellation is read one way (adapters.dynamo.explain_cancellation): a customer's
    throttled transaction used to be taken for a concurrent change, retried, and answered 409."""
    path = path or {"case_id": api.register()["id"]}
    _throttle_inside_transactions(monkeypatch)
    reply = api(route_key, path, user=user, body=body)
    assert reply.status == 503 and reply.error["code"] == "RETRY_LATER", reply.text


def test_a_throttled_read_is_503_too(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    case = api.register()
    _throttle(monkeypatch, "GetItem")
    reply = api("GET /cases/{case_id}", {"case_id": case["id"]})
    assert reply.status == 503 and reply.error["code"] == "RETRY_LATER"


def test_a_stale_version_is_still_409(api: Api) -> None:
    case = api.register()
    reply = api.transition(case["id"], "Pending Pre-Approval", expected_version=case["version"] + 5)
    assert reply.status == 409 and reply.error["code"] == "STALE_VERSION"


# --- cursors: opaque, tamper-evident, bound to their list ---------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_a_genuine_cursor_pages_its_own_list(api: Api) -> None:
    for n in range(3):
        api.register(title=f"Paged {n}")
    everything = {c["id"] for c in api("GET /cases", query={"type": "csr", "limit": "100"}).json["items"]}
    first = api("GET /cases", query={"type": "csr", "limit": "2"})
    assert first.status == 200 and first.json["next_cursor"]
    second = api("GET /cases", query={"type": "csr", "limit": "2", "cursor": first.json["next_cursor"]})
    assert second.status == 200, second.text
    paged = [c["id"] for c in first.json["items"] + second.json["items"]]
    assert len(everything) == 3 and len(first.json["items"]) == 2
    assert sorted(paged) == sorted(everything)  # the second page goes on where the first stopped: no repeats


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        _b64(json.dumps({"pk": {"S": "CASE#x"}}).encode()),  # a made-up start key, unsigned
        _b64(json.dumps({"pk": {"S": "CASE#x"}}).encode()) + "." + _b64(b"0" * 16),  # signed by nobody
        "x" * 2048,
    ],
)
def test_a_made_up_cursor_is_400_invalid_cursor(api: Api, cursor: str) -> None:
    for route_key, path in [
        ("GET /cases", {}),
        ("GET /cases/{case_id}/history", {"case_id": "C-1"}),
        ("GET /summaries/{case_type}", {"case_type": "service_request"}),
    ]:
        reply = api(route_key, path, query={"cursor": cursor})
        if route_key.startswith("GET /summaries"):
            continue  # takes no cursor: the parameter is ignored
        assert reply.status == 400, (route_key, reply.text)
        assert reply.error["code"] == "INVALID_CURSOR"


def test_a_cursor_of_another_list_or_tampered_with_is_400(api: Api) -> None:
    case = api.register()
    for code in ("P-100", "P-200"):
        assert api.add_product(case["id"], code=code).status == 201
    history = api("GET /cases/{case_id}/history", {"case_id": case["id"]}, query={"limit": "1"}).json
    other = api.register()
    for route_key, path in [
        ("GET /cases/{case_id}/notes", {"case_id": case["id"]}),  # another list of the same case
        ("GET /cases/{case_id}/history", {"case_id": other["id"]}),  # the same list of another case
        ("GET /cases", {}),
    ]:
        reply = api(route_key, path, query={"cursor": history["next_cursor"]})
        assert reply.status == 400 and reply.error["code"] == "INVALID_CURSOR", (route_key, reply.text)
    payload, _, mac = history["next_cursor"].partition(".")
    key = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    key["sk"] = {"S": "HIST#99999999"}
    tampered = _b64(json.dumps(key, separators=(",", ":"), sort_keys=True).encode()) + "." + mac
    reply = api("GET /cases/{case_id}/history", {"case_id": case["id"]}, query={"cursor": tampered})
    assert reply.status == 400 and reply.error["code"] == "INVALID_CURSOR"
    genuine = api(
        "GET /cases/{case_id}/history", {"case_id": case["id"]}, query={"cursor": history["next_cursor"]}
    )
    assert genuine.status == 200 and genuine.json["items"]
