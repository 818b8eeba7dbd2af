"""In-process driver for measuring the API: the real handlers, real-shaped events, moto underneath, and a
counter on every botocore call. Used by scripts/count_requests.py and the request-budget tests."""

from __future__ import annotations

import base64
import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import botocore.client

from infra.local.functions import LambdaContext, load_functions
from infra.local.template import create_resources, load_template


class CallCounter:
    """Counts AWS API calls by (service, operation) while active. Patching botocore's one entry point sees
    everything: boto3 clients, PynamoDB, Powertools."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self._original = botocore.client.BaseClient._make_api_call

    @contextmanager
    def counting(self) -> Iterator[Counter[tuple[str, str]]]:
        counter = self
        original = self._original
        self.calls = Counter()

        def counted(client: Any, operation: str, params: dict) -> Any:
            counter.calls[(client.meta.service_model.service_name, operation)] += 1
            return original(client, operation, params)

        botocore.client.BaseClient._make_api_call = counted
        try:
            yield self.calls
        finally:
            botocore.client.BaseClient._make_api_call = original


def dynamodb_calls(calls: Counter[tuple[str, str]]) -> dict[str, int]:
    return {op: n for (service, op), n in sorted(calls.items()) if service == "dynamodb"}


class ColdWarmRequests:
    """DynamoDB requests per API operation, in a new container ("cold": the ``caches`` given, e.g. the
    wiring's cached services, cleared first) and in a warm one; printed as one table, Scans counted."""

    def __init__(self, api: ApiDriver, counter: CallCounter, *caches: Any) -> None:
        self.api, self.counter, self.caches = api, counter, caches
        self.results: dict[str, dict[str, dict[str, int]]] = {}

    def run(self, name: str, temperature: str, method: str, path: str, expect: int, **request: Any) -> Any:
        if temperature == "cold":
            for cache in self.caches:
                cache.cache_clear()
        with self.counter.counting() as calls:
            status, body = self.api.call(method, path, **request)
        assert status == expect, (name, status, body)
        self.results.setdefault(name, {})[temperature] = dynamodb_calls(calls)
        return body

    def print_table(self, width: int) -> None:
        print(f"{'operation':{width}} {'cold':>5} {'warm':>5}  warm breakdown")
        scans = 0
        for name, by_temperature in self.results.items():
            cold, warm = by_temperature["cold"], by_temperature["warm"]
            scans += cold.get("Scan", 0) + warm.get("Scan", 0)
            detail = ", ".join(f"{op} {n}" for op, n in warm.items())
            print(f"{name:{width}} {sum(cold.values()):>5} {sum(warm.values()):>5}  {detail}")
        print(f"\nScan requests in all of the above: {scans}")


class ApiDriver:
    """Invokes the HTTP functions directly with API Gateway v2 events, as the local gateway would."""

    def __init__(self, stage: str = "bench") -> None:
        os.environ.update(
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION="eu-west-1",
            AWS_REGION="eu-west-1",
            MAIL_FROM="casework@casework.example",
            PUBLIC_BASE_URL="http://127.0.0.1:3000",
            POWERTOOLS_LOG_LEVEL="ERROR",
        )
        template = load_template()
        resources = create_resources(template, stage=stage)
        os.environ.update(
            TABLE_NAME=resources.table_name,
            EVENT_BUS_NAME=resources.event_bus_name,
            # the import function starts only with its bucket and queue set (casework.settings)
            IMPORT_BUCKET=resources.physical["ImportBucket"]["Ref"],
            IMPORT_QUEUE_URL=resources.physical["ImportQueue"]["QueueUrl"],
        )
        from casework.adapters import dynamo
        from casework.http.wiring import case_service, customer_service
        from infra.seed import seed

        dynamo.configure(resources.table_name)
        case_service.cache_clear()
        customer_service.cache_clear()
        seed()
        self.functions, self.routes = load_functions(template)
        self.resources = resources

    def call(self, method: str, path: str, user: str | None = "mary", **request: Any) -> tuple[int, Any]:
        """Invoke the function serving ``method path`` (``request``: body, query, form; see ``event``)."""
        function, event = self.event(method, path, user, **request)
        result = self.functions[function].handler(event, LambdaContext(function))
        content = result.get("body") or ""
        is_json = (
            result.get("headers", {}).get("Content-Type", "application/json").startswith("application/json")
        )
        return result["statusCode"], json.loads(content) if is_json and content else content

    def event(
        self,
        method: str,
        path: str,
        user: str | None = "mary",
        body: Any = None,
        query: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """The function (logical id) serving ``method path`` and the API Gateway v2 event it gets."""
        route = next(r for r in self.routes if r.method == method and r.pattern.match(path))
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": path,
            "rawQueryString": urlencode(query or {}),
            "headers": {"content-type": "application/x-www-form-urlencoded" if form else "application/json"},
            "requestContext": {
                "http": {"method": method, "path": path, "sourceIp": "127.0.0.1"},
                "routeKey": route.route_key,
                "stage": "$default",
                "requestId": "bench",
            },
            "pathParameters": route.pattern.match(path).groupdict(),
            "isBase64Encoded": bool(form),
        }
        if query:
            event["queryStringParameters"] = query
        if user:
            event["requestContext"]["authorizer"] = {"jwt": {"claims": {"username": user}, "scopes": None}}
        if form:
            event["body"] = base64.b64encode(urlencode(form).encode()).decode()
        elif body is not None:
            event["body"] = json.dumps(body)
        return route.function, event

    @staticmethod
    def approval_link(case_id: str, approver: str, step: str, round: int = 1) -> str:
        """An approval link as the notify function issues it: raw token in the URL, its hash in the table."""
        import secrets
        import time

        from casework.adapters.dynamo import DynamoCaseRepository
        from casework.services.link_tokens import hash_token
        from casework.services.ports import ApprovalToken

        raw = secrets.token_urlsafe(32)
        DynamoCaseRepository().save_token(
            ApprovalToken(
                token_hash=hash_token(raw),
                case_id=case_id,
                step=step,
                round=round,
                approver=approver,
                expires_at=int(time.time()) + 3600,
            )
        )
        return f"/approvals/{raw}"


ONE_CHANGE = {"GetItem": 1, "TransactWriteItems": 1}


def customer_steps(n: int) -> list[tuple[str, str, str, int, dict[str, Any], dict[str, int]]]:
    """Customers and contacts over the API, pass ``n`` (fresh ids): (name, method, path, status, call kwargs,
    warm budget). The question set "bench" must exist (``PUT /profiling/bench`` by admin)."""
    account, contact = f"ACC-B{n}", f"CON-B{n}"
    price = {"product_code": "P-100", "price": 9.5, "valid_from": "2026-01-01"}
    person = {"id": contact, "type": "PERSON", "first_name": "Ben", "last_name": f"Ch{n}"}
    person["identifiers"] = {"id_number": f"BID{n}"}
    return [
        (
            "customer create",
            "POST",
            "/customers",
            201,
            {"body": {"id": account, "name": f"Bench {n}"}},
            ONE_CHANGE,
        ),
        # its contacts: 1 Query; its open cases: 1 per gsi3 shard of the account (ACCOUNT_SHARDS, 2), merged
        ("customer page", "GET", f"/customers/{account}", 200, {}, {"GetItem": 1, "Query": 3}),
        ("customer find: name", "GET", "/customers", 200, {"query": {"name": "bench"}}, {"Query": 1}),
        (
            "customer find: VAT",
            "GET",
            "/customers",
            200,
            {"query": {"vat_number": "GB100200300"}},
            {"GetItem": 2},
        ),
        (
            "customer find: account",
            "GET",
            "/customers",
            200,
            {"query": {"account_number": account}},
            {"GetItem": 1},
        ),
        (
            "customer edit",
            "PATCH",
            f"/customers/{account}",
            200,
            {"body": {"vat_number": f"BV{n}"}},
            ONE_CHANGE,
        ),
        (
            "ship-to add",
            "POST",
            f"/customers/{account}/ship-to",
            201,
            {"body": {"code": "D1", "address": {"town": "Hull"}}},
            ONE_CHANGE,
        ),
        (
            "special price add",
            "POST",
            f"/customers/{account}/prices",
            201,
            {"body": price},
            {**ONE_CHANGE, "Query": 1},
        ),
        (
            "comment add",
            "POST",
            f"/customers/{account}/comments",
            201,
            {"body": {"text": "x"}},
            {"GetItem": 1, "PutItem": 1},
        ),
        (
            "profile answer",
            "POST",
            f"/customers/{account}/profile/bench",
            201,
            {"body": {"answers": {"size": 3}}},
            ONE_CHANGE,
        ),
        ("customer history", "GET", f"/customers/{account}/history", 200, {}, {"Query": 1}),
        ("contact create", "POST", "/contacts", 201, {"body": person}, ONE_CHANGE),
        (
            "contact find: identifier",
            "GET",
            "/contacts",
            200,
            {"query": {"id_number": f"BID{n}"}},
            {"GetItem": 2},
        ),
        (
            "contact move",
            "POST",
            f"/contacts/{contact}/move",
            200,
            {"body": {"account_id": account}},
            ONE_CHANGE,
        ),
        ("customer contacts", "GET", f"/customers/{account}/contacts", 200, {}, {"Query": 1}),
    ]


BENCH_QUESTIONS = {"title": "Bench", "questions": [{"code": "size", "text": "Size", "type": "number"}]}
