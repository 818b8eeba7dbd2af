"""The API functions (register, read, transition, approve, docs) invoked as Lambda would: real-shaped API
Gateway HTTP API (payload 2.0) events, routed to the function template.yaml names for each route, against moto
resources built from template.yaml and seeded by infra.seed.

Every test starts from the freshly seeded table. Assertions are what a client sees: status, headers, error
codes and response bodies; the outbox tests also look at the table itself.
"""

from __future__ import annotations

import base64
import copy
import json
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from casework.adapters import dynamo
from casework.adapters.directory import put_directory_record
from casework.http.wiring import case_service, customer_service
from casework.services.link_tokens import hash_token
from casework.services.ports import ApprovalToken
from infra.local.functions import LambdaContext, import_file
from infra.local.template import LocalResources, create_resources, load_template
from infra.seed import seed
from tests.functional.shapes import stored_events

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
TEMPLATE = load_template()
API_ID = "a1b2c3d4e5"
DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_Casework"
CLIENT_ID = "3n4b5urk1ft4fl3mg5e62d9ado"


# --- the template's routes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    function: str  # functions/<function>/app.py
    public: bool  # Auth: {Authorizer: NONE}: no JWT authorizer in front


def template_routes() -> dict[str, Route]:
    """routeKey ("POST /cases/{case_id}/notes") -> the function that serves it, read from template.yaml."""
    routes: dict[str, Route] = {}
    for resource in TEMPLATE["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        function = Path(resource["Properties"]["CodeUri"]).name
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] != "HttpApi":
                continue
            props = event["Properties"]
            public = props.get("Auth", {}).get("Authorizer") == "NONE"
            routes[f"{props['Method'].upper()} {props['Path']}"] = Route(function, public)
    return routes


ROUTES = template_routes()
API_FUNCTIONS = sorted({r.function for r in ROUTES.values()})


# --- events, context, responses -----------------------------------------------------------------------------


def jwt_claims(username: str | None) -> dict[str, str]:
    """What the HTTP API JWT authorizer passes on from a Cognito access token: every value a string."""
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid5(uuid.NAMESPACE_DNS, username or "nobody")),
        "iss": ISSUER,
        "client_id": CLIENT_ID,
        "origin_jti": str(uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": str(now - 60),
        "exp": str(now + 3600),
        "iat": str(now - 60),
        "jti": str(uuid.uuid4()),
        "cognito:groups": "[casework-users]",
    }
    if username is not None:
        claims["username"] = username
    return claims


Query = dict[str, str] | list[tuple[str, str]] | None


def http_event(
    route_key: str,
    path: dict[str, str] | None = None,
    *,
    query: Query = None,
    body: Any = None,
    raw_body: str | bytes | None = None,
    content_type: str | None = None,
    claims: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload 2.0 event, as API Gateway sends it for ``route_key``.

    ``body`` is sent as JSON; ``raw_body`` as is (bytes are base64-encoded, as API Gateway does for
    non-text content such as a browser's form POST); ``claims`` adds the JWT authorizer's context."""
    method, template = route_key.split(" ", 1)
    path = path or {}
    raw_path = template.format(**{k: quote(v, safe="") for k, v in path.items()})
    pairs = list(query.items()) if isinstance(query, dict) else list(query or [])
    now = time.time()
    headers = {
        "accept": "application/json, text/html;q=0.9",
        "accept-encoding": "gzip, deflate, br",
        "host": DOMAIN,
        "user-agent": "casework-tests/1.0",
        "x-amzn-trace-id": f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]}",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if claims is not None:
        headers["authorization"] = "Bearer eyJraWQiOiJ0ZXN0In0.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": urlencode(pairs, quote_via=quote),
        "headers": headers,
        "requestContext": {
            "accountId": DEFAULT_ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": DOMAIN,
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "casework-tests/1.0",
            },
            "requestId": base64.b32encode(uuid.uuid4().bytes)[:16].decode(),
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if pairs:
        joined: dict[str, str] = {}
        for key, value in pairs:
            joined[key] = f"{joined[key]},{value}" if key in joined else value
        event["queryStringParameters"] = joined
    if path:
        event["pathParameters"] = dict(path)
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    if body is not None:
        raw_body = json.dumps(body)
        content_type = content_type or "application/json"
    if raw_body is not None:
        data = raw_body.encode() if isinstance(raw_body, str) else raw_body
        headers["content-type"] = content_type or "application/json"
        headers["content-length"] = str(len(data))
        if isinstance(raw_body, bytes):
            event["body"] = base64.b64encode(raw_body).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = raw_body
    return event


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        assert self.headers.get("content-type", "").startswith("application/json"), self.headers
        return json.loads(self.text)

    @property
    def error(self) -> dict[str, Any]:
        return self.json["error"]


def ok(reply: Reply) -> dict[str, Any]:
    """A 200's body (shared by the functional modules)."""
    assert reply.status == 200, reply.text
    return reply.json


def refused(reply: Reply, status: int, code: str) -> dict[str, Any]:
    """A refusal's error body, after checking its status and code."""
    assert reply.status == status, reply.text
    assert reply.error["code"] == code, reply.text
    return reply.error


class Api:
    """Routes a request to the function template.yaml names for it, as API Gateway would."""

    def __init__(self, functions: dict[str, ModuleType]) -> None:
        self.functions = functions
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> Reply:
        route = ROUTES[event["routeKey"]]
        self.events.append(event)
        result = self.functions[route.function].handler(event, LambdaContext("casework-test"))
        assert set(result) >= {"statusCode", "body", "isBase64Encoded"}, result
        raw = result["body"] or ""
        text = base64.b64decode(raw).decode() if result["isBase64Encoded"] else raw
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        return Reply(result["statusCode"], headers, text)

    def __call__(
        self,
        route_key: str,
        path: dict[str, str] | None = None,
        *,
        user: str | None = "mary",
        **kwargs: Any,
    ) -> Reply:
        route = ROUTES[route_key]
        claims = kwargs.pop("claims", None) or jwt_claims(user)
        if route.public:  # Authorizer: NONE: API Gateway passes no authorizer context
            claims = None
        return self.invoke(http_event(route_key, path, claims=claims, **kwargs))

    # shorthands for the steps most tests need

    def register(self, user: str = "mary", **body: Any) -> dict[str, Any]:
        payload = {
            "type": "csr",
            "title": "Antistatic PA66",
            "description": "Belt rollers for Acme",
            "account_id": "ACC-1001",
            **body,
        }
        reply = self("POST /cases", user=user, body=payload)
        assert reply.status == 201, reply.text
        return reply.json

    def get(self, case_id: str, user: str = "mary") -> dict[str, Any]:
        reply = self("GET /cases/{case_id}", {"case_id": case_id}, user=user)
        assert reply.status == 200, reply.text
        return reply.json

    def history(self, case_id: str) -> list[dict[str, Any]]:
        reply = self("GET /cases/{case_id}/history", {"case_id": case_id})
        assert reply.status == 200, reply.text
        return reply.json["items"]

    def add_product(self, case_id: str, code: str = "P-100", user: str = "mary") -> Reply:
        return self(
            "POST /cases/{case_id}/products", {"case_id": case_id}, user=user, body={"product_code": code}
        )

    def transition(self, case_id: str, to: str, user: str = "mary", **body: Any) -> Reply:
        return self(
            "POST /cases/{case_id}/transitions", {"case_id": case_id}, user=user, body={"to": to, **body}
        )

    def submitted(self, **body: Any) -> dict[str, Any]:
        """A CSR in Pending Pre-Approval (john is the pre-approver in SP)."""
        case = self.register(**body)
        assert self.add_product(case["id"]).status == 201
        reply = self.transition(case["id"], "Pending Pre-Approval")
        assert reply.status == 200, reply.text
        return reply.json


# --- fixtures -----------------------------------------------------------------------------------------------


ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_SERVICE_NAME": "casework",
    "POWERTOOLS_METRICS_NAMESPACE": "Casework",
    "LOG_LEVEL": "WARNING",
    "MAIL_FROM": "casework@casework.example",
    "PUBLIC_BASE_URL": "",
    "APPROVAL_TOKEN_TTL_HOURS": "168",
    "USERNAME_CLAIM": "username",
}


@pytest.fixture(scope="module")
def aws() -> Iterator[tuple[LocalResources, Any]]:
    """One moto account for the module: the table, queues and bus of template.yaml, seeded as the local stack
    is. Returns the resources and a snapshot of the seeded table."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in ENV.items():
            mp.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
            mp.delenv(key, raising=False)
        with mock_aws():
            res = create_resources(TEMPLATE, stage="api")
            mp.setenv("TABLE_NAME", res.table_name)
            mp.setenv("EVENT_BUS_NAME", res.event_bus_name)
            dynamo.configure(res.table_name)
            seed()
            yield res, copy.deepcopy(_moto_tables()[res.table_name])
    case_service.cache_clear()


def _moto_tables() -> dict[str, Any]:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables


@pytest.fixture
def stack(aws: tuple[LocalResources, Any]) -> LocalResources:
    """Every test starts from the freshly seeded table. Restoring moto's table object takes milliseconds,
    where building the resources again takes ~0.3 s; and one table shared by every test would get slower as
    it grows: moto copies the whole table, stream records included, for each item of a TransactWriteItems."""
    res, seeded = aws
    _moto_tables()[res.table_name] = copy.deepcopy(seeded)
    case_service.cache_clear()  # a cold service (and its directory and workflow caches) per test
    customer_service.cache_clear()
    return res


@pytest.fixture(scope="module")
def functions() -> Iterator[dict[str, ModuleType]]:
    """Every function's file is app.py: import each by path under its own module name, once per module (the
    handlers read their environment per request, or through case_service, which each test rebuilds)."""
    loaded: dict[str, ModuleType] = {}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in ENV.items():
            mp.setenv(key, value)
        for function in API_FUNCTIONS:
            module = import_file(ROOT / "functions" / function / "app.py", f"casework_api_test_fn_{function}")
            mp.setitem(sys.modules, module.__name__, module)
            loaded[function] = module
        yield loaded


@pytest.fixture
def api(stack: LocalResources, functions: dict[str, ModuleType]) -> Api:
    return Api(functions)


def partition(table: str, case_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(f"CASE#{case_id}"),
        "ConsistentRead": True,
    }
    while True:
        page = boto3.resource("dynamodb").Table(table).query(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- the routes are the template's --------------------------------------------------------------------------


def test_every_template_route_is_served_by_an_existing_function() -> None:
    assert ROUTES["POST /cases"] == Route("register", public=False)
    assert ROUTES["GET /cases/{case_id}"] == Route("read", public=False)
    assert ROUTES["POST /approvals/{token}"] == Route("approve", public=True)
    assert set(API_FUNCTIONS) >= {"register", "read", "transition", "approve", "admin", "docs", "customers"}
    assert "imports_api" in API_FUNCTIONS
    for function in API_FUNCTIONS:
        assert (ROOT / "functions" / function / "app.py").is_file()


# --- register -----------------------------------------------------------------------------------------------


def test_register_returns_201_with_the_callers_view(api: Api) -> None:
    reply = api(
        "POST /cases",
        body={
            "type": "csr",
            "title": "Antistatic PA66",
            "description": "Belt rollers for Acme",
            "account_id": "ACC-1001",
            "fields": {"requirement_category": "Product Specification", "annual_volume": 12.5},
        },
    )

    assert reply.status == 201
    assert reply.headers["content-type"].startswith("application/json")
    case = reply.json
    assert case["id"] and case["type"] == "csr" and case["workflow_version"] == 2
    assert case["status"] == "Registration" and case["state"] == "open" and case["version"] == 1
    assert case["assignee"] == case["created_by"] == case["updated_by"] == "mary"
    assert case["gbu"] == case["business_unit"] == "SP"  # mary's default
    assert case["related_products_count"] == 0
    assert case["fields"] == {"requirement_category": "Product Specification", "annual_volume": 12.5}
    assert case["pending_approval"] is None and case["can_decide_approval"] is False
    assert [k["status"] for k in case["key_dates"]] == ["Registration"]
    moves = {t["name"]: t for t in case["available_transitions"]}
    assert set(moves) == {"submit_for_approval", "reject"}
    assert moves["submit_for_approval"]["to"] == "Pending Pre-Approval"
    assert moves["submit_for_approval"]["missing"] == []
    assert moves["submit_for_approval"]["requires_related"] == {"products": 1}
    assert moves["reject"]["missing"] == ["rejection_reason"]
    assert "title" in case["editable_fields"]
    assert api.get(case["id"])["id"] == case["id"]  # it was stored


def test_register_in_an_explicit_business_unit_and_unknown_ones(api: Api) -> None:
    """The unit comes from the request when one is given: the admin's default is SP, the request says CARE."""
    assert api.register(user="admin")["gbu"] == "SP"
    in_care = api.register(user="admin", gbu="CARE")
    assert in_care["gbu"] == in_care["business_unit"] == "CARE"
    assert api.get(in_care["id"], user="admin")["gbu"] == "CARE"  # stored so, not only answered so
    reply = api("POST /cases", body={"type": "csr", "title": "x", "description": "y", "gbu": "XX"})
    assert reply.status == 422
    assert reply.error["code"] == "UNKNOWN_BUSINESS_UNIT"


def test_bad_json_is_400_invalid_json(api: Api) -> None:
    reply = api("POST /cases", raw_body='{"type": "csr", "title": ')
    assert reply.status == 400
    assert reply.error["code"] == "INVALID_JSON"
    assert reply.error["message"]


@pytest.mark.parametrize(
    ("body", "location", "kind"),
    [
        ({"type": "csr", "title": 123}, "body.title", "string_type"),
        ({"type": "csr", "fields": ["a"]}, "body.fields", "dict_type"),
        ({"type": "csr", "colour": "red"}, "body.colour", "extra_forbidden"),
        ({"title": "no type"}, "body.type", "missing"),
        ({"type": ""}, "body.type", "string_too_short"),
    ],
)
def test_wrong_shapes_are_422_invalid_request_with_locations(
    api: Api, body: dict[str, Any], location: str, kind: str
) -> None:
    reply = api("POST /cases", body=body)
    assert reply.status == 422
    error = reply.error
    assert error["code"] == "INVALID_REQUEST"
    assert {(e["location"], e["type"]) for e in error["details"]["errors"]} >= {(location, kind)}
    assert all(e["message"] for e in error["details"]["errors"])


def test_a_json_array_body_is_422_not_500(api: Api) -> None:
    reply = api("POST /cases", raw_body='["csr"]')
    assert reply.status == 422
    assert reply.error["code"] == "INVALID_REQUEST"


def test_missing_username_claim_is_401(api: Api) -> None:
    reply = api("POST /cases", body={"type": "csr"}, claims=jwt_claims(None))
    assert reply.status == 401
    assert reply.error["code"] == "UNAUTHENTICATED"


def test_no_authorizer_context_at_all_is_401(api: Api) -> None:
    """Behind the JWT authorizer this cannot happen; a misconfigured route (Authorizer: NONE) must still
    refuse rather than fail with a 500."""
    event = http_event("GET /cases/{case_id}", {"case_id": "nope"})
    reply = api.invoke(event)
    assert reply.status == 401
    assert reply.error["code"] == "UNAUTHENTICATED"


def test_unknown_user_is_403(api: Api) -> None:
    reply = api("POST /cases", user="mallory", body={"type": "csr", "title": "t"})
    assert reply.status == 403
    assert reply.error["code"] == "UNKNOWN_USER"


# --- read ---------------------------------------------------------------------------------------------------


def test_get_case_shows_what_the_caller_can_do(api: Api) -> None:
    case = api.register()

    as_mary = api.get(case["id"])
    as_john = api.get(case["id"], user="john")

    assert as_mary["version"] == as_john["version"] == 1
    assert {t["name"] for t in as_mary["available_transitions"]} == {"submit_for_approval", "reject"}
    assert {t["name"] for t in as_john["available_transitions"]} == {"reject"}
    assert as_john["editable_fields"] == []


def test_get_unknown_case_is_404(api: Api) -> None:
    reply = api("GET /cases/{case_id}", {"case_id": "does-not-exist"})
    assert reply.status == 404
    assert reply.error["code"] == "CASE_NOT_FOUND"
    for route_key in ("GET /cases/{case_id}/history", "GET /cases/{case_id}/products"):
        refused(api(route_key, {"case_id": "does-not-exist"}), 404, "CASE_NOT_FOUND")


def test_list_cases_filters_and_pages(api: Api) -> None:
    a = api.register(title="A")
    b = api.register(title="B", account_id="ACC-1002")
    c = api.register(user="peter", title="C")
    api.add_product(a["id"])
    assert api.transition(a["id"], "Pending Pre-Approval").status == 200

    def ids(query: Query, user: str = "mary") -> set[str]:
        reply = api("GET /cases", user=user, query=query)
        assert reply.status == 200, reply.text
        assert reply.json["next_cursor"] is None
        return {item["id"] for item in reply.json["items"]}

    assert ids({"type": "csr"}) == {a["id"], b["id"], c["id"]}
    assert ids({"type": "csr", "status": "Registration"}) == {b["id"], c["id"]}
    assert ids({"status": "Pending Pre-Approval"}) == {a["id"]}  # rawQueryString has %20
    assert ids({"assignee": "me"}) == {a["id"], b["id"]}
    assert ids({"assignee": "me"}, user="peter") == {c["id"]}
    assert ids({"assignee": "peter"}) == {c["id"]}
    assert ids({"account_id": "ACC-1002"}) == {b["id"]}
    assert ids({"assignee": "me", "account_id": "ACC-1001"}) == {a["id"]}

    first = api("GET /cases", query={"limit": "2"})
    assert first.status == 200
    assert len(first.json["items"]) == 2 and first.json["next_cursor"]
    second = api("GET /cases", query=[("limit", "2"), ("cursor", first.json["next_cursor"])])
    assert second.status == 200
    assert len(second.json["items"]) == 1 and second.json["next_cursor"] is None
    seen = [i["id"] for i in first.json["items"] + second.json["items"]]
    assert sorted(seen) == sorted([a["id"], b["id"], c["id"]])
    listed = first.json["items"][0]
    assert {"id", "status", "version", "assignee", "related_products_count"} <= set(listed)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"limit": "0"}, "INVALID_REQUEST"),
        ({"limit": "101"}, "INVALID_REQUEST"),
        ({"limit": "ten"}, "INVALID_REQUEST"),
    ],
)
def test_list_cases_refuses_bad_paging(api: Api, query: dict[str, str], code: str) -> None:
    reply = api("GET /cases", query=query)
    assert reply.status == 422, reply.text
    assert reply.error["code"] == code
    if code == "INVALID_REQUEST":
        assert [e["location"] for e in reply.error["details"]["errors"]] == ["query.limit"]


def test_list_cases_of_an_unknown_type_is_404(api: Api) -> None:
    reply = api("GET /cases", query={"type": "nope"})
    assert reply.status == 404
    assert reply.error["code"] == "UNKNOWN_CASE_TYPE"  # not any 404 (an unmatched route is one too)
    assert reply.error["details"] == {"type": "nope"}


# --- edit ---------------------------------------------------------------------------------------------------


def test_edit_changes_editable_fields_and_bumps_the_version(api: Api) -> None:
    case = api.register()
    path = {"case_id": case["id"]}

    reply = api("PATCH /cases/{case_id}", path, body={"fields": {"customer_reference": "PO-7"}})
    assert reply.status == 200, reply.text
    assert reply.json["fields"]["customer_reference"] == "PO-7"
    assert reply.json["version"] == 2

    same = api(
        "PATCH /cases/{case_id}", path, body={"fields": {"customer_reference": "PO-7"}, "expected_version": 2}
    )
    assert same.status == 200
    assert same.json["version"] == 2  # nothing changed, nothing written
    assert len(api.history(case["id"])) == 2


def test_edit_refusals(api: Api) -> None:
    case = api.register()
    path = {"case_id": case["id"]}

    locked = api("PATCH /cases/{case_id}", path, body={"fields": {"global_feasibility_conclusion": "x"}})
    assert locked.status == 409
    assert locked.error["code"] == "FIELDS_LOCKED"
    assert locked.error["details"]["fields"] == ["global_feasibility_conclusion"]

    stale = api("PATCH /cases/{case_id}", path, body={"fields": {"title": "New"}, "expected_version": 0})
    assert stale.status == 409
    assert stale.error["code"] == "STALE_VERSION"
    assert stale.error["details"] == {"expected_version": 0, "current_version": 1}

    not_mine = api("PATCH /cases/{case_id}", path, user="john", body={"fields": {"title": "New"}})
    assert not_mine.status == 403
    assert not_mine.error["code"] == "NOT_ALLOWED"

    no_fields = api("PATCH /cases/{case_id}", path, body={})
    assert no_fields.status == 422
    assert no_fields.error["code"] == "INVALID_REQUEST"

    assert api.get(case["id"])["version"] == 1


# --- transitions --------------------------------------------------------------------------------------------


def test_transition_refusals_then_success(api: Api) -> None:
    case = api.register()

    related = api.transition(case["id"], "Pending Pre-Approval")
    assert related.status == 422
    assert related.error["code"] == "RELATED_REQUIRED"
    assert related.error["details"] == {"related": {"products": 1}}

    illegal = api.transition(case["id"], "Implemented")
    assert illegal.status == 409
    assert illegal.error["code"] == "ILLEGAL_TRANSITION"
    assert illegal.error["details"]["from"] == "Registration"

    forbidden = api.transition(case["id"], "Pending Pre-Approval", user="john")
    assert forbidden.status == 403
    assert forbidden.error["code"] == "NOT_ALLOWED"

    unknown = api.transition(case["id"], "Nirvana")
    assert unknown.status == 422
    assert unknown.error["code"] == "UNKNOWN_STATUS"

    assert api.add_product(case["id"]).status == 201
    done = api.transition(case["id"], "Pending Pre-Approval", expected_version=2)
    assert done.status == 200, done.text
    moved = done.json
    assert moved["status"] == "Pending Pre-Approval" and moved["state"] == "in_approval"
    assert moved["version"] == 3
    assert moved["pending_approval"]["step"] == "pre_approval"
    assert moved["pending_approval"]["approvers"] == [{"username": "john", "decision": None}]
    assert api.get(case["id"], user="john")["can_decide_approval"] is True


# --- related lists and notes --------------------------------------------------------------------------------


def test_products_add_list_remove(api: Api) -> None:
    case = api.register()
    path = {"case_id": case["id"]}

    added = api.add_product(case["id"])
    assert added.status == 201
    assert added.json["related_products_count"] == 1 and added.json["version"] == 2

    again = api.add_product(case["id"])
    assert again.status == 409
    assert again.error["code"] == "ALREADY_LINKED"

    unknown = api.add_product(case["id"], code="P-999")
    assert unknown.status == 422
    assert unknown.error["code"] == "UNKNOWN_REFERENCE"

    listed = api("GET /cases/{case_id}/products", path)
    assert listed.status == 200
    (item,) = listed.json["items"]
    assert item["key"] == "P-100" and item["label"] == "Polyamide PA66 Natural" and item["added_by"] == "mary"

    removed = api("DELETE /cases/{case_id}/products/{key}", {**path, "key": "P-100"})
    assert removed.status == 200
    assert removed.json["related_products_count"] == 0 and removed.json["version"] == 3
    gone = api("DELETE /cases/{case_id}/products/{key}", {**path, "key": "P-100"})
    assert gone.status == 404
    assert gone.error["code"] == "NOT_LINKED"
    assert api("GET /cases/{case_id}/products", path).json["items"] == []


def test_accounts_add_list_remove(api: Api) -> None:
    case = api.register()
    path = {"case_id": case["id"]}

    added = api("POST /cases/{case_id}/accounts", path, body={"account_id": "ACC-1002"})
    assert added.status == 201
    assert added.json["related_counts"]["accounts"] == 1
    again = api("POST /cases/{case_id}/accounts", path, body={"account_id": "ACC-1002"})
    assert again.status == 409
    assert again.error["code"] == "ALREADY_LINKED"

    listed = api("GET /cases/{case_id}/accounts", path)
    assert [(i["key"], i["label"]) for i in listed.json["items"]] == [("ACC-1002", "Globex")]

    removed = api("DELETE /cases/{case_id}/accounts/{key}", {**path, "key": "ACC-1002"})
    assert removed.status == 200
    assert removed.json["related_counts"].get("accounts", 0) == 0
    gone = api("DELETE /cases/{case_id}/accounts/{key}", {**path, "key": "ACC-1002"})
    assert gone.status == 404
    assert gone.error["code"] == "NOT_LINKED"


def test_related_keys_are_matched_as_api_gateway_decodes_them(api: Api) -> None:
    """ERP product codes can hold spaces: API Gateway passes the path percent-encoded in rawPath and decoded
    in pathParameters. The route must match the decoded key: taken from the raw path (as it once was),
    "PA66 GF30" arrives as "PA66%20GF30" and the DELETE answers 404 NOT_LINKED."""
    put_directory_record("PRODUCT#PA66 GF30", "PRODUCT", {"code": "PA66 GF30", "name": "PA66 30% glass"})
    case = api.register()
    path = {"case_id": case["id"]}
    assert api.add_product(case["id"], code="PA66 GF30").status == 201

    event = http_event(
        "DELETE /cases/{case_id}/products/{key}", {**path, "key": "PA66 GF30"}, claims=jwt_claims("mary")
    )
    assert event["rawPath"].endswith("/products/PA66%20GF30")
    assert event["pathParameters"]["key"] == "PA66 GF30"
    removed = api.invoke(event)

    assert removed.status == 200, removed.text
    assert removed.json["related_products_count"] == 0


def test_notes_add_and_list(api: Api) -> None:
    case = api.register()
    path = {"case_id": case["id"]}

    reply = api("POST /cases/{case_id}/notes", path, user="john", body={"text": "  Called the plant.  "})
    assert reply.status == 201, reply.text
    note = reply.json
    assert note["case_id"] == case["id"] and note["author"] == "john" and note["text"] == "Called the plant."
    api("POST /cases/{case_id}/notes", path, body={"text": "Second"})

    listed = api("GET /cases/{case_id}/notes", path)
    assert listed.status == 200
    assert [n["text"] for n in listed.json["items"]] == ["Called the plant.", "Second"]
    assert listed.json["items"][0]["id"] == note["id"]

    blank = api("POST /cases/{case_id}/notes", path, body={"text": ""})
    assert blank.status == 422
    unknown = api("POST /cases/{case_id}/notes", {"case_id": "nope"}, body={"text": "x"})
    assert unknown.status == 404
    assert api.get(case["id"])["version"] == 1  # notes do not change the case


# --- assignment ---------------------------------------------------------------------------------------------


def test_reassignment_by_a_sales_manager_only(api: Api) -> None:
    case = api.register()
    path = {"case_id": case["id"]}

    refused = api("POST /cases/{case_id}/assignment", path, user="mary", body={"assignee": "frank"})
    assert refused.status == 403
    assert refused.error["code"] == "NOT_ALLOWED"

    reply = api("POST /cases/{case_id}/assignment", path, user="peter", body={"assignee": "frank"})
    assert reply.status == 200, reply.text
    assert reply.json["assignee"] == "frank" and reply.json["version"] == 2

    unknown = api("POST /cases/{case_id}/assignment", path, user="peter", body={"assignee": "nobody"})
    assert unknown.status == 422


# --- approvals in the API -----------------------------------------------------------------------------------


def test_api_approval_by_the_approver_only(api: Api) -> None:
    case = api.submitted()
    path = {"case_id": case["id"]}

    frank = api("POST /cases/{case_id}/approvals", path, user="frank", body={"decision": "approve"})
    assert frank.status == 403
    assert frank.error["code"] == "NOT_AN_APPROVER"

    bad = api("POST /cases/{case_id}/approvals", path, user="john", body={"decision": "maybe"})
    assert bad.status == 422
    assert bad.error["code"] == "INVALID_REQUEST"

    reply = api("POST /cases/{case_id}/approvals", path, user="john", body={"decision": "approve"})
    assert reply.status == 200, reply.text
    decided = reply.json
    assert decided["status"] == "Under Assessment" and decided["assignee"] == "frank"
    assert decided["pending_approval"] is None

    twice = api("POST /cases/{case_id}/approvals", path, user="john", body={"decision": "approve"})
    assert twice.status == 409
    assert twice.error["code"] == "NO_PENDING_APPROVAL"


# --- approval link pages ------------------------------------------------------------------------------------


def _link(case_id: str, valid_for: int = 3600, approver: str = "john") -> str:
    raw = base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode().rstrip("=")
    dynamo.DynamoCaseRepository().save_token(
        ApprovalToken(
            token_hash=hash_token(raw),
            case_id=case_id,
            step="pre_approval",
            round=1,
            approver=approver,
            expires_at=int(time.time()) + valid_for,
        )
    )
    return raw


def _form(api: Api, token: str, form: str) -> Reply:
    """A browser's form POST; API Gateway hands a form body to Lambda base64-encoded."""
    return api(
        "POST /approvals/{token}",
        {"token": token},
        raw_body=form.encode(),
        content_type="application/x-www-form-urlencoded",
    )


def _assert_page(reply: Reply, status: int) -> None:
    assert reply.status == status, reply.text
    assert reply.headers["content-type"].startswith("text/html")
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in reply.headers["content-security-policy"]
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.text.lstrip().lower().startswith("<!doctype html")


def test_approval_link_get_shows_a_page_and_changes_nothing(api: Api) -> None:
    case = api.submitted(title="Halogen-free <grade>")
    token = _link(case["id"])
    before = api.get(case["id"])
    history = api.history(case["id"])

    for _ in range(2):  # a mail scanner, then the person
        page = api("GET /approvals/{token}", {"token": token})
        _assert_page(page, 200)
        assert "John Supply" in page.text and "Pre-approval" in page.text
        # names as the email shows them, not the username and the unit's code
        assert "<dd>Mary Sales</dd>" in page.text and "<dd>Specialty Polymers</dd>" in page.text
        assert "Halogen-free &lt;grade&gt;" in page.text and "<grade>" not in page.text
        assert '<form method="post">' in page.text

    after = api.get(case["id"])
    assert after["version"] == before["version"] and after["status"] == "Pending Pre-Approval"
    assert len(api.history(case["id"])) == len(history)


def test_approval_link_post_decides_once(api: Api) -> None:
    case = api.submitted()
    token = _link(case["id"])

    no_reason = api(  # a client that sends the form as text: isBase64Encoded false
        "POST /approvals/{token}",
        {"token": token},
        raw_body="decision=reject&comment=",
        content_type="application/x-www-form-urlencoded",
    )
    _assert_page(no_reason, 422)
    assert '<form method="post">' in no_reason.text and 'role="alert"' in no_reason.text
    assert api.get(case["id"])["status"] == "Pending Pre-Approval"

    approved = _form(api, token, "decision=approve&comment=Fine+by+me")
    _assert_page(approved, 200)
    case_now = api.get(case["id"])
    assert case_now["status"] == "Under Assessment" and case_now["assignee"] == "frank"
    last = api.history(case["id"])[-1]
    assert last["by"] == "john" and last["comment"] == "Fine by me"

    again = _form(api, token, "decision=approve")
    _assert_page(again, 410)
    assert "TOKEN_USED" in again.text
    _assert_page(api("GET /approvals/{token}", {"token": token}), 410)


def test_expired_and_unknown_links(api: Api) -> None:
    case = api.submitted()
    expired = _link(case["id"], valid_for=-5)

    _assert_page(api("GET /approvals/{token}", {"token": expired}), 410)
    post = _form(api, expired, "decision=approve")
    _assert_page(post, 410)
    assert "TOKEN_EXPIRED" in post.text

    unknown = api("GET /approvals/{token}", {"token": "x" * 43})
    _assert_page(unknown, 404)
    assert "TOKEN_UNKNOWN" in unknown.text
    _assert_page(_form(api, "x" * 43, "decision=approve"), 404)
    assert api.get(case["id"])["status"] == "Pending Pre-Approval"


def test_a_link_whose_approval_was_decided_in_the_api_is_gone(api: Api) -> None:
    case = api.submitted()
    token = _link(case["id"])
    path = {"case_id": case["id"]}
    assert (
        api("POST /cases/{case_id}/approvals", path, user="john", body={"decision": "approve"}).status == 200
    )

    page = api("GET /approvals/{token}", {"token": token})
    _assert_page(page, 410)
    assert "APPROVAL_NOT_PENDING" in page.text


# --- docs ---------------------------------------------------------------------------------------------------


def _openapi(api: Api) -> dict[str, Any]:
    reply = api("GET /openapi.json")
    assert reply.status == 200
    return reply.json


API_ROUTES = {key: route for key, route in ROUTES.items() if route.function != "docs"}  # docs: not described
CREATED = {"POST /cases", "POST /cases/{case_id}/products", "POST /cases/{case_id}/accounts"}
CREATED |= {"POST /cases/{case_id}/notes", "POST /cases/{case_id}/activities"}
CREATED |= {"POST /cases/{case_id}/feedback"}
CREATED |= {"POST /cases/{case_id}/service_requests", "POST /cases/{case_id}/communications"}
CREATED |= {"POST /customers", "POST /contacts", "POST /customers/{customer_id}/comments"}
CREATED |= {f"POST /customers/{{customer_id}}/{kind}" for kind in ("ship-to", "prices", "cross-references")}
CREATED |= {"POST /customers/{customer_id}/profile/{set_code}"}
CREATED |= {"POST /imports/uploads"}
CREATED |= {"POST /resources", "POST /cases/{case_id}/bookings"}
ACCEPTED = {"POST /imports"}  # 202: the import job runs asynchronously


def test_openapi_describes_every_template_route(api: Api) -> None:
    spec = _openapi(api)
    assert spec["openapi"].startswith("3.") and spec["info"]["title"] == "casework"
    assert "jwt" in spec["components"]["securitySchemes"]
    described = {f"{method.upper()} {path}" for path, ops in spec["paths"].items() for method in ops}
    assert sorted(set(API_ROUTES) - described) == []
    assert sorted(described - set(API_ROUTES)) == []  # and nothing the gateway would not route
    assert "requestBody" in spec["paths"]["/cases"]["post"]


def test_the_openapi_document_is_valid_and_documents_the_errors(api: Api) -> None:
    """Schema-driven clients and fuzzers resolve every reference and check error responses too."""
    from openapi_spec_validator import validate

    spec = _openapi(api)
    validate(spec)  # raises on a dangling $ref (it did: #/$defs/ErrorBody, 160 times) or any other fault
    assert "$defs" not in json.dumps(spec["paths"])
    responses = spec["paths"]["/cases"]["post"]["responses"]
    for status in ("400", "401", "403", "404", "409", "415", "422", "503"):
        error = responses[status]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ErrorResponse"}, status  # one schema, referred to
    schemas = spec["components"]["schemas"]
    assert schemas["ErrorBody"]["required"] == ["code", "message"]
    assert "CASE_NOT_FOUND" in schemas["ErrorCode"]["enum"]  # the code is the enum of every code


def test_openapi_documents_each_routes_success_response(api: Api) -> None:
    """A client generator needs the 200/201 body. A route that passes only its error responses (as every
    route once passed responses=ERRORS) makes Powertools leave the success response out."""
    spec = _openapi(api)
    undocumented = []
    for key, route in API_ROUTES.items():
        method, path = key.split(" ", 1)
        if route.public:
            continue  # the HTML pages, checked below
        status = "201" if key in CREATED else "202" if key in ACCEPTED else "200"
        content = spec["paths"][path][method.lower()]["responses"].get(status, {}).get("content", {})
        if "schema" not in content.get("application/json", {}):
            undocumented.append(f"{key} -> {status}")
    assert undocumented == []


def test_openapi_says_email_links_need_no_token(api: Api) -> None:
    """The template puts no authorizer in front of /approvals/{token}, so the spec must say security=[].
    Powertools drops a falsy security=[] (as it once did here), and the global JWT requirement applies."""
    spec = _openapi(api)
    public = [key for key, route in API_ROUTES.items() if route.public]
    assert public == [
        "GET /approvals/{token}",
        "POST /approvals/{token}",
        "GET /acceptances/{token}",
        "POST /acceptances/{token}",
        "GET /l/{token}",  # the SMS's short acceptance link
        "POST /l/{token}",
    ]
    for key in public:
        method, path = key.split(" ", 1)
        assert spec["paths"][path][method.lower()].get("security") == [], key


def test_docs_page(api: Api) -> None:
    reply = api("GET /docs")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert "swagger" in reply.text.lower()


# --- the outbox, and nothing half-written -------------------------------------------------------------------


def test_history_items_carry_their_events_and_refusals_write_nothing(api: Api, stack: LocalResources) -> None:
    case = api.submitted()
    path = {"case_id": case["id"]}
    assert (
        api("POST /cases/{case_id}/approvals", path, user="john", body={"decision": "approve"}).status == 200
    )
    assert api("POST /cases/{case_id}/notes", path, body={"text": "n"}).status == 201

    items = partition(stack.table_name, case["id"])
    history = sorted((i for i in items if i["sk"].startswith("HIST#")), key=lambda i: i["sk"])
    assert [i["sk"] for i in history] == [f"HIST#{v:08d}" for v in range(1, 5)]
    ids: list[str] = []
    for item in history:
        assert stored_events(item), item["sk"]
        assert all(e["case_id"] == case["id"] and e["type"] for e in stored_events(item))
        ids += [e["id"] for e in stored_events(item)]
    assert len(ids) == len(set(ids))
    types = [[e["type"] for e in stored_events(i)] for i in history]
    assert types[0] == ["CaseRegistered"]
    assert "ApprovalRequested" in types[2] and "CaseAssigned" in types[3]

    count = len(items)
    refusals = [
        api.add_product(case["id"]),  # related lists are editable in Registration only
        api.transition(case["id"], "Implemented"),
        api("PATCH /cases/{case_id}", path, body={"fields": {"title": "x"}}),
        api("POST /cases/{case_id}/approvals", path, user="john", body={"decision": "approve"}),
        api("POST /cases/{case_id}/transitions", path, user="frank", body={"to": "Approval Pending"}),
    ]
    assert [(r.status, r.error["code"]) for r in refusals] == [
        (409, "RELATED_LOCKED"),
        (409, "ILLEGAL_TRANSITION"),
        (409, "FIELDS_LOCKED"),
        (409, "NO_PENDING_APPROVAL"),
        (422, "MISSING_FIELDS"),
    ]
    assert len(partition(stack.table_name, case["id"])) == count
    assert api.get(case["id"])["version"] == 4


def test_a_duplicate_link_writes_neither_case_nor_history(api: Api, stack: LocalResources) -> None:
    case = api.register()
    assert api.add_product(case["id"]).status == 201
    before = partition(stack.table_name, case["id"])

    again = api.add_product(case["id"])

    assert again.status == 409 and again.error["code"] == "ALREADY_LINKED"
    after = partition(stack.table_name, case["id"])
    assert sorted(i["sk"] for i in after) == sorted(i["sk"] for i in before)
    (case_item,) = [i for i in after if i["sk"] == "CASE"]
    assert case_item["version"] == 2
