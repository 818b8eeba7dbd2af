"""No request a client can send gets a 5xx: every route of template.yaml, with hostile path values, query
values, content types and bodies (what a fuzzer or a careless client sends). A 4xx must carry the usual
error body; the email-link pages answer HTML."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.local.template import LocalResources
from tests.functional.test_api_handlers import ROUTES, Api

PATH_VALUES = ["x", "CASE-0000", "%2e%2e", "a b", "ü", "x" * 300, "0", "null"]
QUERY_VALUES = [
    {"cursor": "x" * 50},
    {"cursor": "eyJwayI6eyJTIjoiQ0FTRSN4In19"},  # base64 of {"pk":{"S":"CASE#x"}}
    {"limit": "-1"},
    {"limit": "99999999999999999999"},
    {"type": "csr", "status": "x" * 500},
    {"name": "a"},
    {"gbu": "NOPE", "subtype": "x"},
]
BODIES: list[tuple[str | None, str]] = [
    ("application/json", "{}"),
    ("application/json", "[]"),
    ("application/json", "null"),
    ("application/json", '"text"'),
    ("application/json", "12"),
    ("application/json", '{"fields": {"a": [1, {"b": null}]}, "expected_version": "x"}'),
    ("application/json", '{"type": "csr", "title": "' + "t" * 20_000 + '"}'),
    ("application/json", "{" * 40 + "}" * 40),
    ("application/json", '{"unterminated": '),
    ("application/json", '{"to": 1e400, "decision": true, "rating": "5"}'),
    ("text/plain", "hello"),
    ("application/x-www-form-urlencoded", "decision=approve&comment=" + "c" * 5000),
    ("application/x-www-form-urlencoded", "%zz=%%"),
    (None, '{"a": 1}'),
]


def _path(route_key: str, value: str) -> dict[str, str]:
    return {name: value for name in re.findall(r"\{(\w+)\}", route_key)}


def _check(route_key: str, reply: Any) -> None:
    assert reply.status < 500, (route_key, reply.status, reply.text[:300])
    if reply.status >= 400 and reply.headers.get("content-type", "").startswith("application/json"):
        body = json.loads(reply.text)
        assert body["error"]["code"] and body["error"]["message"], (route_key, body)


@pytest.fixture
def imports_env(stack: LocalResources, monkeypatch: pytest.MonkeyPatch) -> None:
    """What template.yaml gives the imports API function."""
    monkeypatch.setenv("IMPORT_BUCKET", stack.physical["ImportBucket"]["Ref"])
    monkeypatch.setenv("IMPORT_QUEUE_URL", stack.physical["ImportQueue"]["QueueUrl"])


@pytest.mark.parametrize("route_key", sorted(k for k in ROUTES if not k.startswith("GET /docs")))
def test_hostile_requests_never_get_a_5xx(api: Api, imports_env: None, route_key: str) -> None:
    method = route_key.split(" ")[0]
    for value in PATH_VALUES:
        _check(route_key, api(route_key, _path(route_key, value), user="mary"))
    for query in QUERY_VALUES:
        _check(route_key, api(route_key, _path(route_key, "x"), user="admin", query=query))
    if method in ("POST", "PUT", "PATCH"):
        for content_type, body in BODIES:
            reply = api(
                route_key, _path(route_key, "x"), user="admin", raw_body=body, content_type=content_type
            )
            _check(route_key, reply)
    # a user casework does not know, and a token without a username
    _check(route_key, api(route_key, _path(route_key, "x"), user="nobody-known"))
