"""Idempotency-Key on the creating POSTs: a client retrying after a timeout gets its first answer back and no
second record; the same key with another body is refused; keys are the user's own."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from infra.bench import CallCounter, dynamodb_calls
from tests.functional.test_api_handlers import Api, Reply, http_event, jwt_claims

CSR = {"type": "csr", "title": "Antistatic PA66", "description": "Belt rollers", "account_id": "ACC-1001"}


def post(
    api: Api,
    route_key: str,
    body: Any,
    key: str | None,
    *,
    user: str = "mary",
    path: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> Reply:
    event = http_event(
        route_key,
        path,
        body=None if raw_body is not None else body,
        raw_body=raw_body,
        content_type="application/json" if raw_body is not None else None,
        claims=jwt_claims(user),
    )
    if key is not None:
        event["headers"]["idempotency-key"] = key
    return api.invoke(event)


def items(table: str, prefix: str, sk: str | None = None) -> list[dict[str, Any]]:
    """Every item whose pk starts with ``prefix`` (a test may scan; the code never does)."""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = boto3.resource("dynamodb").Table(table).scan(**kwargs)
        found += [i for i in page["Items"] if i["pk"].startswith(prefix) and sk in (None, i["sk"])]
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def cases(stack: Any) -> int:
    return len(items(stack.table_name, "CASE#", "CASE"))


def test_a_retry_after_a_timeout_gets_the_same_case_and_creates_none(api: Api, stack: Any) -> None:
    before = cases(stack)
    first = post(api, "POST /cases", CSR, "retry-1")
    assert first.status == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = post(api, "POST /cases", CSR, "retry-1")  # the client never saw the first answer
    assert again.status == 201, again.text
    assert again.json["id"] == first.json["id"]
    assert again.json == first.json  # the first answer, as it was
    assert again.headers["idempotent-replayed"] == "true"
    assert cases(stack) == before + 1


def test_the_same_body_written_otherwise_is_the_same_request(api: Api, stack: Any) -> None:
    first = post(api, "POST /cases", CSR, "spaced")
    reordered = json.dumps(dict(reversed(list(CSR.items()))), indent=4)
    again = post(api, "POST /cases", None, "spaced", raw_body=reordered)
    assert again.status == 201 and again.json["id"] == first.json["id"]


def test_the_same_key_with_another_body_is_refused_and_creates_nothing(api: Api, stack: Any) -> None:
    first = post(api, "POST /cases", CSR, "reused")
    before = cases(stack)
    other = post(api, "POST /cases", {**CSR, "title": "Something else"}, "reused")
    assert other.status == 422
    assert other.error["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert other.error["details"] == {"key": "reused"}
    assert cases(stack) == before
    assert post(api, "POST /cases", CSR, "reused").json["id"] == first.json["id"]  # the first still answers


def test_two_users_with_the_same_key_are_independent(api: Api, stack: Any) -> None:
    marys = post(api, "POST /cases", CSR, "shared-key", user="mary")
    susans = post(api, "POST /cases", CSR, "shared-key", user="susan")  # same key, same body
    assert marys.status == susans.status == 201, susans.text
    assert "idempotent-replayed" not in susans.headers
    assert marys.json["id"] != susans.json["id"]
    assert marys.json["created_by"] == "mary" and susans.json["created_by"] == "susan"


def test_a_refusal_is_not_kept_so_the_corrected_request_can_use_the_key(api: Api, stack: Any) -> None:
    refused = post(api, "POST /cases", {**CSR, "type": "no_such_type"}, "fix-me")
    assert refused.status == 404 and refused.error["code"] == "UNKNOWN_CASE_TYPE"
    corrected = post(api, "POST /cases", CSR, "fix-me")
    assert corrected.status == 201 and "idempotent-replayed" not in corrected.headers


def test_a_key_that_is_not_a_token_is_a_400(api: Api, stack: Any) -> None:
    before = cases(stack)
    for bad in ("", "x" * 129, "has space", "naïve"):
        reply = post(api, "POST /cases", CSR, bad)
        assert reply.status == 400, bad
        assert reply.error["code"] == "INVALID_IDEMPOTENCY_KEY"
    assert cases(stack) == before


def test_the_record_is_its_own_partition_and_expires_in_a_day(api: Api, stack: Any) -> None:
    post(api, "POST /cases", CSR, "expiring")
    records = items(stack.table_name, "http#")
    assert len(records) == 1
    (record,) = records
    assert record["sk"] == "IDEMPOTENCY" and record["status"] == "COMPLETED"
    assert "expiring" not in record["pk"] and "mary" not in record["pk"]  # hashed
    assert 23 * 3600 < int(record["expires_at"]) - time.time() <= 24 * 3600


def test_notes_and_contacts_are_created_once_per_key(api: Api, stack: Any) -> None:
    case_id = post(api, "POST /cases", CSR, None).json["id"]
    note = {"text": "Called the customer"}
    path = {"case_id": case_id}
    first = post(api, "POST /cases/{case_id}/notes", note, "note-1", path=path)
    again = post(api, "POST /cases/{case_id}/notes", note, "note-1", path=path)
    assert first.status == again.status == 201 and first.json["id"] == again.json["id"]
    listed = api("GET /cases/{case_id}/notes", path).json["items"]
    assert [n["text"] for n in listed] == ["Called the customer"]

    contact = {"type": "PERSON", "first_name": "Ann", "last_name": "Lee"}
    made = post(api, "POST /contacts", contact, "contact-1")
    remade = post(api, "POST /contacts", contact, "contact-1")
    assert made.status == remade.status == 201, made.text
    assert made.json["id"] == remade.json["id"]


def test_what_the_header_costs_in_requests(api: Api, stack: Any) -> None:
    """Without the header a create costs what it always did (test_request_budget); with it, one conditional
    PutItem before and one UpdateItem after; a replay is that PutItem alone (it returns the kept answer)."""
    post(api, "POST /cases", CSR, None)  # warm caches, as a live container has them
    counter = CallCounter()
    with counter.counting() as calls:
        assert post(api, "POST /cases", CSR, None).status == 201
    plain = dynamodb_calls(calls)
    with counter.counting() as calls:
        assert post(api, "POST /cases", CSR, "cost-1").status == 201
    keyed = dynamodb_calls(calls)
    with counter.counting() as calls:
        assert post(api, "POST /cases", CSR, "cost-1").status == 201
    replay = dynamodb_calls(calls)
    extra = {op: keyed.get(op, 0) - plain.get(op, 0) for op in keyed | plain}
    assert {op: n for op, n in extra.items() if n} == {"PutItem": 1, "UpdateItem": 1}, (plain, keyed)
    assert replay == {"PutItem": 1}


def test_a_request_still_running_under_the_key_is_a_409(api: Api, stack: Any) -> None:
    """As while the first request runs (or its Lambda died mid-way, until its in-progress mark expires)."""
    post(api, "POST /cases", CSR, "running")
    (record,) = items(stack.table_name, "http#")
    boto3.resource("dynamodb").Table(stack.table_name).update_item(
        Key={"pk": record["pk"], "sk": record["sk"]},
        UpdateExpression="SET #s = :running, in_progress_expiration = :later",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":running": "INPROGRESS", ":later": int((time.time() + 60) * 1000)},
    )
    before = cases(stack)
    reply = post(api, "POST /cases", CSR, "running")
    assert reply.status == 409 and reply.error["code"] == "IDEMPOTENCY_KEY_IN_USE"
    assert cases(stack) == before
