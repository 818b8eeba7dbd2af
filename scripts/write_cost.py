"""What a case's life costs on AWS: a full CSR lifecycle and a full service-request lifecycle driven
through the real handlers on moto (the API functions, then the outbox: stream -> publish -> EventBridge ->
SQS -> notify, convert), every DynamoDB write metered the way DynamoDB bills it, then priced.

    .venv/bin/python scripts/write_cost.py [--wru-price 0.625] [--rru-price 0.125] [--lambda-ms 100] ...

Write units are computed from item sizes read before and after each write (moto reports no consumed capacity):
a write costs 1 WRU per started KB of the larger of the old and the new item (2 inside a transaction; a failed
condition costs the item's units too), and every index whose projection of the item changes takes a write of
its own: a new key is a put, a key change a delete plus a put, a changed projected attribute an update, each
per started KB of the projected item (keys plus what the index projects, read from template.yaml). Reads cost
1 RRU per started 4 KB (half eventually consistent, double in a transaction). Stream reads are not billed.

Prices are parameters (on-demand list prices, eu-west-1 / us-east-1, as of 2026-11-30): DynamoDB $0.625 per
million WRU and $0.125 per million RRU; Lambda $0.20 per million requests and $0.0000133334 per GB-s (arm64,
as the template runs), each function at its MemorySize from template.yaml for its invocations' measured
durations: the wall time of each handler call, warm, in process against moto (with infra.local.moto_patches,
as the local stack runs it: transactions without a copy of the table), less the meter's own reads
(--lambda-ms overrides them); EventBridge $1.00 per million custom events; SQS $0.40 per million requests,
counted as they happen (EventBridge sends each message; the poller receives a batch and deletes it); SES
$0.10 per 1,000 emails.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]
# the handlers' CloudWatch metrics (EMF lines on stdout) would bury the figures
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

import botocore.client  # noqa: E402
from moto import mock_aws  # noqa: E402

PRICES_AS_OF = "2026-11-30"
KB = 1024
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


# --- DynamoDB's item size rules -----------------------------------------------------------------------------


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one AttributeValue: strings and binaries their length, numbers ~1 byte per two significant
    digits plus one, maps and lists 3 bytes plus 1 per element plus their contents."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "B":
        return len(data)
    if kind == "N":
        digits = Decimal(data).normalize().as_tuple().digits
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: v}) for v in data)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in data.items())
    raise ValueError(kind)


def item_size(item: dict[str, Any] | None) -> int:
    return sum(len(name.encode()) + value_size(v) for name, v in (item or {}).items())


def units(size: int, per: int = KB) -> int:
    return max(1, math.ceil(size / per))


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, str]
    projection: str  # ALL, KEYS_ONLY, INCLUDE
    include: tuple[str, ...] = ()

    def project(self, item: dict[str, Any] | None, table_keys: tuple[str, str]) -> dict[str, Any] | None:
        """The index's copy of ``item``, or None when the item does not carry the index's keys."""
        if item is None or any(k not in item for k in self.keys):
            return None
        if self.projection == "ALL":
            return item
        kept = {*table_keys, *self.keys, *(self.include if self.projection == "INCLUDE" else ())}
        return {k: v for k, v in item.items() if k in kept}


def table_layout(template: dict[str, Any]) -> tuple[tuple[str, str], list[Index]]:
    props = template["Resources"]["CaseTable"]["Properties"]
    schema = {k["KeyType"]: k["AttributeName"] for k in props["KeySchema"]}
    indexes = []
    for gsi in props.get("GlobalSecondaryIndexes", []):
        keys = {k["KeyType"]: k["AttributeName"] for k in gsi["KeySchema"]}
        projection = gsi["Projection"]
        indexes.append(
            Index(
                gsi["IndexName"],
                (keys["HASH"], keys["RANGE"]),
                projection["ProjectionType"],
                tuple(projection.get("NonKeyAttributes", ())),
            )
        )
    return (schema["HASH"], schema["RANGE"]), indexes


# --- the meter ----------------------------------------------------------------------------------------------


@dataclass
class Bill:
    """What one phase (an API call, a consumer's batch) spent."""

    table_wru: Counter[str] = field(default_factory=Counter)  # by item kind (pk prefix)
    index_wru: Counter[str] = field(default_factory=Counter)  # by index
    rru: float = 0.0
    requests: Counter[str] = field(default_factory=Counter)
    events: int = 0
    emails: int = 0
    writes: list[str] = field(default_factory=list)  # one line per item written, for --verbose

    def add(self, other: Bill) -> None:
        self.table_wru.update(other.table_wru)
        self.index_wru.update(other.index_wru)
        self.rru += other.rru
        self.requests.update(other.requests)
        self.events += other.events
        self.emails += other.emails
        self.writes.extend(other.writes)

    @property
    def wru(self) -> int:
        return sum(self.table_wru.values()) + sum(self.index_wru.values())


def _largest(item: dict[str, Any] | None, top: int = 4) -> str:
    """The item's biggest attributes (and a map's biggest members), where its bytes go."""
    if not item:
        return ""
    sizes = []
    for name, value in item.items():
        sizes.append((len(name.encode()) + value_size(value), name))
        for member, inner in (value.get("M") or {}).items():
            sizes.append((len(member.encode()) + value_size(inner), f"{name}.{member}"))
    return ": " + ", ".join(f"{n} {s}" for s, n in sorted(sizes, reverse=True)[:top])


def _kind(key: dict[str, Any]) -> str:
    pk = next(iter(key.values()))["S"]
    return pk.split("#", 1)[0] if "#" in pk else pk


class Meter:
    """Wraps botocore's one entry point: every DynamoDB write is priced from the items before and after it
    (read with the unwrapped call, so the reads are not billed), every read from the items it returned."""

    def __init__(self, table_keys: tuple[str, str], indexes: list[Index]) -> None:
        self.table_keys, self.indexes = table_keys, indexes
        self.bill = Bill()
        self.changes: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]] = []  # the stream
        self._original = botocore.client.BaseClient._make_api_call
        self.overhead = 0.0  # seconds the meter itself spent (its reads of items): not the function's time

    @contextmanager
    def metering(self) -> Iterator[None]:
        original, meter = self._original, self

        def metered(client: Any, operation: str, params: dict) -> Any:
            service = client.meta.service_model.service_name
            meter.bill.requests[f"{service}:{operation}"] += 1
            if service == "events" and operation == "PutEvents":
                meter.bill.events += len(params.get("Entries", []))
            if service in ("ses", "sesv2") and operation.startswith("Send"):
                destination = params.get("Destination") or {}
                meter.bill.emails += max(1, sum(len(destination.get(k, [])) for k in destination))
            if service != "dynamodb":
                return original(client, operation, params)
            started = time.perf_counter()
            called = [0.0]

            def timed(*args: Any) -> Any:
                began = time.perf_counter()
                try:
                    return original(*args)
                finally:
                    called[0] += time.perf_counter() - began

            try:
                if operation in WRITES:
                    return meter._write(client, operation, params, timed)
                response = timed(client, operation, params)
                meter._read(operation, params, response)
                return response
            finally:
                meter.overhead += time.perf_counter() - started - called[0]

        botocore.client.BaseClient._make_api_call = metered
        try:
            yield
        finally:
            botocore.client.BaseClient._make_api_call = original

    def _key(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: item[k] for k in self.table_keys}

    def _get(self, client: Any, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        got = self._original(client, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True})
        return got.get("Item")

    def _writes(self, operation: str, params: dict) -> list[tuple[str, dict[str, Any], bool]]:
        """(table, key, is a condition check) of every item the request writes."""
        if operation == "PutItem":
            return [(params["TableName"], self._key(params["Item"]), False)]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(params["TableName"], params["Key"], False)]
        if operation == "BatchWriteItem":
            return [
                (
                    table,
                    self._key(r["PutRequest"]["Item"]) if "PutRequest" in r else r["DeleteRequest"]["Key"],
                    False,
                )
                for table, requests in params["RequestItems"].items()
                for r in requests
            ]
        out = []
        for entry in params["TransactItems"]:
            ((kind, body),) = entry.items()
            key = self._key(body["Item"]) if kind == "Put" else body["Key"]
            out.append((body["TableName"], key, kind == "ConditionCheck"))
        return out

    def _write(self, client: Any, operation: str, params: dict, original: Callable) -> Any:
        """``original`` is the timed call (the function's request); the reads around it are the meter's."""
        targets = self._writes(operation, params)
        before = [self._get(client, table, key) for table, key, _ in targets]
        try:
            response = original(client, operation, params)
        except botocore.exceptions.ClientError:
            # a refused condition still costs the item's write units; a cancelled transaction its items'
            factor = 2 if operation == "TransactWriteItems" else 1
            for (_, key, _), old in zip(targets, before, strict=True):
                self.bill.table_wru[_kind(key)] += factor * units(item_size(old))
            raise
        factor = 2 if operation == "TransactWriteItems" else 1
        for (table, key, check), old in zip(targets, before, strict=True):
            if check:  # a condition check is billed like a transactional write of the item, not stored
                self.bill.table_wru[_kind(key)] += factor * units(item_size(old))
                continue
            new = self._get(client, table, key)
            self.changes.append((table, old, new))
            cost = factor * units(max(item_size(old), item_size(new)))
            self.bill.table_wru[_kind(key)] += cost
            self.bill.writes.append(
                f"{operation:18} {key['sk']['S'][:24]:24} {item_size(old):5} -> {item_size(new):5} B "
                f"{cost} WRU{_largest(new)}"
            )
            for index in self.indexes:
                self.bill.index_wru[index.name] += self._index_write(index, old, new)
        return response

    def _index_write(self, index: Index, old: dict | None, new: dict | None) -> int:
        was, now = index.project(old, self.table_keys), index.project(new, self.table_keys)
        if was is None and now is None:
            return 0
        if was is None or now is None:
            return units(item_size(was or now))
        if any(was[k] != now[k] for k in index.keys):  # a key change: delete the old entry, put the new
            return units(item_size(was)) + units(item_size(now))
        return units(max(item_size(was), item_size(now))) if was != now else 0

    def _read(self, operation: str, params: dict, response: dict) -> None:
        if operation == "GetItem" and "Item" in response:
            size, consistent = item_size(response["Item"]), params.get("ConsistentRead", False)
            self.bill.rru += units(size, 4 * KB) * (1 if consistent else 0.5)
        elif operation in ("Query", "Scan"):
            size, consistent = (
                sum(item_size(i) for i in response.get("Items", [])),
                params.get("ConsistentRead"),
            )
            self.bill.rru += units(size, 4 * KB) * (1 if consistent else 0.5)
        elif operation == "BatchGetItem":
            for items in response.get("Responses", {}).values():
                self.bill.rru += sum(units(item_size(i), 4 * KB) for i in items)
        elif operation == "TransactGetItems":
            self.bill.rru += sum(2 * units(item_size(r.get("Item")), 4 * KB) for r in response["Responses"])


# --- the lifecycles -----------------------------------------------------------------------------------------

Step = tuple[str, str, str, int, dict[str, Any]]  # user, method, path, expected status, call kwargs


def csr_lifecycle(api: Any, run: Callable[[Step], Any]) -> None:
    """The README's CSR story, 13 API calls: register, related product and account, submit, John's approval
    (the link's page and decision), the feasibility conclusion, Peter's approval, implemented, satisfaction,
    closed, then the history and Mary's list."""
    case = run(
        (
            "mary",
            "POST",
            "/cases",
            201,
            {
                "body": {
                    "type": "csr",
                    "title": "Antistatic PA66",
                    "description": "Belt rollers for Acme",
                    "account_id": "ACC-1001",
                    "fields": {"requirement_category": "Product Specification"},
                }
            },
        )
    )
    cid = case["id"]
    run(("mary", "POST", f"/cases/{cid}/products", 201, {"body": {"product_code": "P-100"}}))
    run(("mary", "POST", f"/cases/{cid}/accounts", 201, {"body": {"account_id": "ACC-1002"}}))
    run(("mary", "POST", f"/cases/{cid}/transitions", 200, {"body": {"to": "Pending Pre-Approval"}}))
    link = mailed_link("john@", cid, "approvals")
    run((None, "GET", link, 200, {}))
    run((None, "POST", link, 200, {"form": {"decision": "approve", "comment": "OK"}}))
    conclusion = {"global_feasibility_conclusion": "Feasible with additive X"}
    run(
        (
            "frank",
            "POST",
            f"/cases/{cid}/transitions",
            200,
            {"body": {"to": "Approval Pending", "fields": conclusion}},
        )
    )
    run(("peter", "POST", f"/cases/{cid}/approvals", 200, {"body": {"decision": "approve"}}))
    run(("frank", "POST", f"/cases/{cid}/transitions", 200, {"body": {"to": "Implemented"}}))
    satisfied = {"fields": {"customer_satisfaction": "Very satisfied"}}
    run(("mary", "PATCH", f"/cases/{cid}", 200, {"body": satisfied}))
    run(("mary", "POST", f"/cases/{cid}/transitions", 200, {"body": {"to": "Inactive"}}))
    run(("mary", "GET", f"/cases/{cid}/history", 200, {}))
    run(("mary", "GET", "/cases", 200, {"query": {"type": "csr", "assignee": "me"}}))


def mailed_link(to: str, case_id: str, kind: str) -> str:
    """The path of the newest ``/<kind>/`` link emailed to ``to`` about the case, as notify sent it."""
    import re

    from infra.local.stack import sent_mail

    mails = [m for m in sent_mail() if any(a.startswith(to) for a in m["to"]) and case_id in m["text"]]
    links = [re.search(rf"/{kind}/[^\s\"<]+", m["text"]) for m in mails]
    return [link.group(0) for link in links if link][-1]


def service_request_lifecycle(api: Any, run: Callable[[Step], Any]) -> None:
    """A service request from registration to feedback: registered to the contact's unit, accepted,
    acknowledged, resolved, accepted by the contact (the emailed link's page
    and decision), closed, rated; then the assignee's list and the summary."""
    case = run(
        (
            "carol",
            "POST",
            "/cases",
            201,
            {
                "body": {
                    "type": "service_request",
                    "subtype": "FAULTY_ITEM",
                    "title": "Router keeps rebooting",
                    "description": "Since the update",
                    "contact_id": "CON-2001",
                }
            },
        )
    )
    cid = case["id"]
    run(("dave", "POST", f"/cases/{cid}/accept", 200, {"body": {}}))
    ack = {"response_category": "ACK_INVESTIGATING", "response": "We are checking the warranty."}
    run(("dave", "POST", f"/cases/{cid}/transitions", 200, {"body": {"to": "Acknowledged", "fields": ack}}))
    resolution = {"final_resolution_category": "NO_FAULT", "final_resolution": "No fault found."}
    run(
        ("dave", "POST", f"/cases/{cid}/transitions", 200, {"body": {"to": "Resolved", "fields": resolution}})
    )
    link = mailed_link("alice@", cid, "acceptances")
    run((None, "GET", link, 200, {}))
    run((None, "POST", link, 200, {"form": {"decision": "accept", "comment": "Thank you"}}))
    run(("dave", "POST", f"/cases/{cid}/transitions", 200, {"body": {"to": "Closed"}}))
    run(("carol", "POST", f"/cases/{cid}/feedback", 201, {"body": {"rating": 5, "comment": "Quick"}}))
    run(("dave", "GET", "/cases", 200, {"query": {"assignee": "me"}}))
    run(("tina", "GET", "/summaries/service_request", 200, {}))


# --- driving and pricing ------------------------------------------------------------------------------------


@dataclass
class Lifecycle:
    name: str
    api_calls: int = 0
    invocations: Counter[str] = field(default_factory=Counter)
    sqs_messages: int = 0
    sqs_requests: int = 0  # as they happen: a send per message, a receive and a delete per batch handed over
    durations: dict[str, list[float]] = field(default_factory=dict)  # function -> each invocation's ms
    bill: Bill = field(default_factory=Bill)
    consumers: Bill = field(default_factory=Bill)  # the part of ``bill`` spent by publish, notify, convert


def drive(name: str, story: Callable, api: Any, dispatcher: Any, meter: Meter) -> Lifecycle:
    result = Lifecycle(name)

    def settle() -> None:
        """Deliver everything the last call raised (stream -> publish -> bus -> queues -> consumers), with
        each invocation counted and its writes billed to the consumers. The stream is the meter's record of
        the items each write changed (moto's in-process stream API is incomplete), filtered as the event
        source's FilterCriteria filter it."""
        while True:
            changes, meter.changes = meter.changes, []
            meter.bill = Bill()
            with meter.metering():
                delivered = sum(_stream(source, changes) for source in dispatcher.streams)
                delivered += dispatcher.pump_queues()
            result.consumers.add(meter.bill)
            result.bill.add(meter.bill)
            if not delivered:
                return

    def run(step: Step) -> Any:
        user, method, path, expected, kwargs = step
        meter.bill, meter.changes = Bill(), []
        with meter.metering():
            status, body = api.call(method, path, user=user, **kwargs)
        if status != expected:
            raise SystemExit(f"{name}: {method} {path} answered {status}, not {expected}: {body}")
        result.api_calls += 1
        result.invocations["api"] += 1
        result.bill.add(meter.bill)
        settle()
        return body

    counted = _count_invocations(dispatcher, result)
    untimed = _time_handlers(api.functions, meter, result)
    try:
        story(api, run)
    finally:
        counted()
        untimed()
    return result


def _time_handlers(functions: dict[str, Any], meter: Meter, result: Lifecycle) -> Callable[[], None]:
    """Each invocation's duration, as Lambda bills it: the wall time of the handler call (warm, in process,
    against moto), less what the meter spent reading items around the function's writes. Returns the undo."""
    undo = []
    for function in functions.values():
        original = function.handler

        def handler(event: dict, context: Any, _fn: Any = function, _original: Callable = original) -> Any:
            overhead, started = meter.overhead, time.perf_counter()
            try:
                return _original(event, context)
            finally:
                spent = time.perf_counter() - started - (meter.overhead - overhead)
                result.durations.setdefault(_fn.logical_id, []).append(spent * 1000)

        function.handler = handler
        undo.append((function, original))

    def restore() -> None:
        for function, original in undo:
            function.handler = original

    return restore


def _stream(source: Any, changes: list[tuple[str, dict | None, dict | None]]) -> int:
    """One invocation of a stream consumer with the records its filter lets through."""
    from infra.local.functions import matches

    records = []
    for n, (_, old, new) in enumerate(changes):
        if new is None:
            continue  # a delete: no record passes a filter on the new image
        record = {
            "eventID": f"{n}",
            "eventName": "INSERT" if old is None else "MODIFY",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": os.environ["AWS_REGION"],
            "dynamodb": {
                "ApproximateCreationDateTime": 1764460800,
                "Keys": {"pk": new["pk"], "sk": new["sk"]},
                "NewImage": new,
                "SequenceNumber": f"{n + 1:021d}",
                "SizeBytes": item_size(new),
                "StreamViewType": "NEW_IMAGE",
            },
            "eventSourceARN": source.stream_arn,
        }
        if not source.patterns or any(matches(p, record) for p in source.patterns):
            records.append(record)
    if records:
        source.function.invoke({"Records": records})
    return len(records)


def _count_invocations(dispatcher: Any, result: Lifecycle) -> Callable[[], None]:
    """Counts each consumer invocation (and the SQS messages it was handed); returns the undo."""
    undo = []
    for source in [*dispatcher.streams, *dispatcher.queues]:
        function, queue = source.function, hasattr(source, "queue_url")
        original = function.invoke

        def invoke(event: dict, _fn=function, _original=original, _queue=queue) -> Any:
            result.invocations[_fn.logical_id] += 1
            if _queue:
                messages = len(event.get("Records", []))
                # EventBridge sent each message; the poller received this batch and deletes what succeeded
                result.sqs_messages += messages
                result.sqs_requests += messages + 2
            return _original(event)

        function.invoke = invoke
        undo.append((function, original))

    def restore() -> None:
        for function, original in undo:
            function.invoke = original

    return restore


def billed_ms(life: Lifecycle, function: str, args: argparse.Namespace) -> float:
    """The mean billed duration of a function's invocations (Lambda bills each started millisecond), or the
    --lambda-ms override."""
    if args.lambda_ms is not None:
        return float(args.lambda_ms)
    measured = life.durations.get(function) or [0.0]
    return sum(math.ceil(ms) for ms in measured) / len(measured)


def price(life: Lifecycle, args: argparse.Namespace, memory_mb: dict[str, int]) -> dict[str, float]:
    bill = life.bill
    invocations = sum(life.invocations.values())
    calls = Counter({f: len(d) for f, d in life.durations.items()})
    gb_seconds = sum(
        n * billed_ms(life, f, args) / 1000 * memory_mb.get(f, memory_mb["*"]) / 1024
        for f, n in calls.items()
    )
    return {
        "dynamodb writes": bill.wru * args.wru_price / 1e6,
        "dynamodb reads": bill.rru * args.rru_price / 1e6,
        "lambda": invocations * args.lambda_request_price / 1e6 + gb_seconds * args.lambda_gb_second_price,
        "eventbridge": bill.events * args.eventbridge_price / 1e6,
        "sqs": life.sqs_requests * args.sqs_price / 1e6,
        "ses": bill.emails * args.ses_price / 1000,
    }


def report(life: Lifecycle, args: argparse.Namespace, memory_mb: dict[str, int]) -> None:
    bill, consumers = life.bill, life.consumers
    costs = price(life, args, memory_mb)
    without_ses = sum(v for k, v in costs.items() if k != "ses")
    table, index = sum(bill.table_wru.values()), sum(bill.index_wru.values())
    invocations = sum(life.invocations.values())
    print(f"\n{life.name}: {life.api_calls} API calls, {invocations} invocations {dict(life.invocations)}")
    print(
        f"  write units {bill.wru}: table {table} ({dict(bill.table_wru.most_common())}), "
        f"indexes {index} ({dict(sorted(bill.index_wru.items()))})"
    )
    print(
        f"  of which the consumers' (publish, notify, convert): {consumers.wru} {dict(consumers.table_wru)}"
    )
    print(
        f"  read units {bill.rru:g}; events {bill.events}; SQS messages {life.sqs_messages}; "
        f"emails {bill.emails}"
    )
    requests = {k.split(":")[1]: v for k, v in sorted(bill.requests.items()) if k.startswith("dynamodb:")}
    print(f"  DynamoDB requests: {requests}; SQS requests {life.sqs_requests}")
    shown = {
        f: f"{len(d)} x {billed_ms(life, f, args):.0f} ms at {memory_mb.get(f, memory_mb['*'])} MB"
        for f, d in sorted(life.durations.items())
    }
    print(f"  Lambda ({'--lambda-ms' if args.lambda_ms is not None else 'measured, warm'}): {shown}")
    for name, value in costs.items():
        print(f"    {name:16} ${value:.7f}")
    if args.verbose:
        print("  every item written (bytes before -> after, units, largest attributes):")
        for line in bill.writes:
            print(f"    {line}")
    print(f"  per lifecycle: ${sum(costs.values()):.6f} with SES, ${without_ses:.6f} without")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wru-price", type=float, default=0.625, help="$ per million write request units")
    parser.add_argument("--rru-price", type=float, default=0.125, help="$ per million read request units")
    parser.add_argument("--lambda-request-price", type=float, default=0.20, help="$ per million invocations")
    parser.add_argument(
        "--lambda-gb-second-price", type=float, default=0.0000133334, help="$ per GB-second (arm64)"
    )
    parser.add_argument(
        "--lambda-ms", type=float, default=None, help="billed ms per invocation instead of the measured ones"
    )
    parser.add_argument("--eventbridge-price", type=float, default=1.00, help="$ per million custom events")
    parser.add_argument("--sqs-price", type=float, default=0.40, help="$ per million SQS requests")
    parser.add_argument("--ses-price", type=float, default=0.10, help="$ per 1,000 emails")
    parser.add_argument("--verbose", action="store_true", help="print each item written, its size and units")
    args = parser.parse_args()
    print(
        f"Prices as of {PRICES_AS_OF} (on-demand, eu-west-1 / us-east-1): DynamoDB ${args.wru_price}/M WRU, "
        f"${args.rru_price}/M RRU; Lambda ${args.lambda_request_price}/M requests + "
        f"${args.lambda_gb_second_price}/GB-s (arm64) for "
        f"{f'{args.lambda_ms:g} ms' if args.lambda_ms is not None else 'the measured ms'}; EventBridge "
        f"${args.eventbridge_price}/M events; SQS ${args.sqs_price}/M requests; "
        f"SES ${args.ses_price}/1,000 emails"
    )
    with mock_aws():
        from infra.bench import ApiDriver
        from infra.local import moto_patches
        from infra.local.dispatcher import build_dispatcher
        from infra.seed import verify_sender

        # as the local stack and the functional tests run moto: without it, each transaction deep-copies the
        # whole table first, time that moto spends, not the function (the API functions' measured ms)
        moto_patches.install()
        api = ApiDriver(stage="cost")
        verify_sender(os.environ["MAIL_FROM"])
        dispatcher = build_dispatcher(api.functions, api.resources, os.environ["AWS_REGION"])
        template = _template()
        table_keys, indexes = table_layout(template)
        memory_mb = function_memory(template)
        meter = Meter(table_keys, indexes)
        shown = [f"{i.name} {i.projection}{list(i.include) if i.include else ''}" for i in indexes]
        print("indexes: " + ", ".join(shown))
        # a first lifecycle of each warms the caches, as a live container has them; the second is measured
        for name, story in (
            ("CSR lifecycle", csr_lifecycle),
            ("service request lifecycle", service_request_lifecycle),
        ):
            drive(name, story, api, dispatcher, meter)
            report(drive(name, story, api, dispatcher, meter), args, memory_mb)


def function_memory(template: dict[str, Any]) -> dict[str, int]:
    """Each function's MemorySize as template.yaml gives it ("*": the Globals' default)."""
    default = int(template.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    return {
        "*": default,
        **{
            name: int(resource["Properties"]["MemorySize"])
            for name, resource in template["Resources"].items()
            if resource.get("Type") == "AWS::Serverless::Function" and "MemorySize" in resource["Properties"]
        },
    }


def _template() -> dict[str, Any]:
    from infra.local.template import load_template

    return load_template()


if __name__ == "__main__":
    main()
