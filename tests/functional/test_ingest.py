"""ERP events in, invoked as Lambda would: real-shaped SQS records carrying the ERP's EventBridge events, the
ingest function (functions/ingest/app.py) against moto resources built from template.yaml and seeded as the
local stack is; then the products and orders over the API (the read function).

Uses the API tests' module-scoped moto account (tests/functional/conftest.py): the table is restored to its
seeded state for every test.
"""

from __future__ import annotations

import base64
import io
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID

from casework.adapters import erp
from casework.http.wiring import customer_service
from infra.bench import CallCounter, dynamodb_calls
from infra.local.dispatcher import build_dispatcher
from infra.local.functions import LambdaContext, LocalFunction, import_file
from infra.local.stack import erp_source, put_erp_events
from infra.local.template import LocalResources, load_template
from tests.functional.shapes import sqs_record
from tests.functional.test_api_handlers import ENV, Api

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
QUEUE = "casework-api-IngestQueue"
OK = {"batchItemFailures": []}

PRODUCT = {
    "code": "P-300",
    "name": "PA6 Black",
    "type": "Physical good",
    "family": "Polyamides",
    "brand": "Ultramid",
    "price": 12.5,
    "currency": "EUR",
    "availability": "in_stock",
}
ORDER = {
    "order_id": "SO-9001",
    "kind": "sales_order",
    "number": "9001",
    "account_id": "ACC-1001",
    "status": "open",
    "order_date": "2026-11-20",
    "currency": "EUR",
    "lines": [{"line": 1, "product_code": "P-100", "description": "PA66", "quantity": 3, "unit_price": 2.5}],
}


# --- fixtures and shapes ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ingest_fn(aws: tuple[LocalResources, Any]) -> Iterator[ModuleType]:
    """functions/ingest/app.py, imported once for the module inside its moto account (its idempotency
    records go to that table)."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in ENV.items():
            mp.setenv(key, value)
        module = import_file(ROOT / "functions" / "ingest" / "app.py", "casework_ingest_test_fn")
        mp.setitem(sys.modules, module.__name__, module)
        yield module


@pytest.fixture(autouse=True)
def fresh_services(ingest_fn: ModuleType) -> None:
    """A new container's services per test (the table under them is restored per test)."""
    customer_service.cache_clear()
    ingest_fn.ingest.cache_clear()


def erp_body(
    detail_type: str,
    data: dict[str, Any],
    *,
    event_id: str | None = None,
    version: int | None = 1,
    updated_at: str | None = None,
) -> str:
    """The EventBridge event the ERP puts on the bus, as the rule delivers it to the queue (a new envelope id
    per delivery, as EventBridge gives an event the ERP re-sends)."""
    detail: dict[str, Any] = {"event_id": event_id or f"erp-{uuid.uuid4()}", "data": data}
    if version is not None:
        detail["version"] = version
    if updated_at is not None:
        detail["updated_at"] = updated_at
    return json.dumps(
        {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": "erp",
            "account": DEFAULT_ACCOUNT_ID,
            "time": "2026-11-20T09:00:00Z",
            "region": REGION,
            "resources": [],
            "detail": detail,
        }
    )


def message(body: str, message_id: str | None = None) -> dict[str, Any]:
    return sqs_record(body, message_id, QUEUE)


def erp_message(detail_type: str, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return message(erp_body(detail_type, data, **kwargs))


def invoke(fn: ModuleType, *records: dict[str, Any]) -> dict[str, Any]:
    return fn.handler({"Records": list(records)}, LambdaContext("casework-ingest-test"))


def stored(table: str, pk: str, sk: str) -> dict[str, Any] | None:
    item = boto3.resource("dynamodb").Table(table).get_item(Key={"pk": pk, "sk": sk}).get("Item")
    return json.loads(json.dumps(item, default=float)) if item else None  # Decimal -> JSON numbers


class Log:
    """The ingest function's log lines (Powertools writes JSON lines to the stream it was given at import)."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self, message: str) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in self.stream.getvalue().splitlines() if line.startswith("{")]
        return [line for line in lines if line.get("message") == message]


@pytest.fixture
def log(ingest_fn: ModuleType) -> Iterator[Log]:
    captured = Log()
    handler, level = ingest_fn.logger.registered_handler, ingest_fn.logger.log_level
    original = handler.setStream(captured.stream)
    ingest_fn.logger.setLevel("INFO")  # the module's environment says WARNING
    yield captured
    handler.setStream(original)
    ingest_fn.logger.setLevel(level)


# --- each kind, in order and out of order -------------------------------------------------------------------


def test_a_product_is_created_then_updated(stack: LocalResources, ingest_fn: ModuleType) -> None:
    assert invoke(ingest_fn, erp_message("ProductUpserted", PRODUCT, version=1)) == OK
    item = stored(stack.table_name, "PRODUCT#P-300", "PRODUCT")
    assert item is not None and item["kind"] == "directory"  # the directory's product, as cases read it
    assert item["body"] == {**PRODUCT, "source_version": 1}

    cheaper = {**PRODUCT, "price": 11.9, "availability": "low_stock"}
    assert invoke(ingest_fn, erp_message("ProductUpserted", cheaper, version=2)) == OK
    assert stored(stack.table_name, "PRODUCT#P-300", "PRODUCT")["body"] == {**cheaper, "source_version": 2}


def test_a_seeded_product_takes_the_erps_first_version(stack: LocalResources, ingest_fn: ModuleType) -> None:
    """Records casework had before the ERP (no source_version) are the ERP's to overwrite."""
    renamed = {"code": "P-100", "name": "Polyamide PA66 Natural (ERP)", "price": 4, "currency": "EUR"}
    assert invoke(ingest_fn, erp_message("ProductUpserted", renamed, version=1)) == OK
    assert (
        stored(stack.table_name, "PRODUCT#P-100", "PRODUCT")["body"]["name"] == "Polyamide PA66 Natural (ERP)"
    )


def test_an_order_is_created_and_listed_under_its_customer(
    stack: LocalResources, ingest_fn: ModuleType
) -> None:
    assert invoke(ingest_fn, erp_message("OrderUpserted", ORDER, version=3)) == OK
    item = stored(stack.table_name, "ORDER#SO-9001", "ORDER")
    assert item is not None
    assert item["gsi3pk"] == "ORDERS#ACC-1001" and item["gsi1sk"] == "2026-11-20#SO-9001"
    assert item["body"]["lines"][0]["amount"] == 7.5 and item["body"]["totals"] == {"net": 7.5}

    shipped = {**ORDER, "status": "shipped", "account_id": "ACC-1002"}  # the ERP moved it to another customer
    assert invoke(ingest_fn, erp_message("OrderUpserted", shipped, version=4)) == OK
    item = stored(stack.table_name, "ORDER#SO-9001", "ORDER")
    assert item["body"]["status"] == "shipped" and item["gsi3pk"] == "ORDERS#ACC-1002"


def test_an_older_update_never_overwrites_a_newer_one(
    stack: LocalResources, ingest_fn: ModuleType, log: Log
) -> None:
    newer, older = {**PRODUCT, "name": "v2"}, {**PRODUCT, "name": "v1"}
    assert invoke(ingest_fn, erp_message("ProductUpserted", newer, version=2)) == OK
    assert (
        invoke(ingest_fn, erp_message("ProductUpserted", older, version=1)) == OK
    )  # a success: nothing to retry

    assert stored(stack.table_name, "PRODUCT#P-300", "PRODUCT")["body"]["name"] == "v2"
    outcomes = [line["outcome"] for line in log.lines("ERP event handled")]
    assert outcomes == ["created", "stale"]


def test_timestamps_order_updates_when_the_erp_has_no_versions(
    stack: LocalResources, ingest_fn: ModuleType
) -> None:
    late = erp_message(
        "OrderUpserted", {**ORDER, "status": "invoiced"}, version=None, updated_at="2026-11-21T10:00:00+01:00"
    )
    early = erp_message(
        "OrderUpserted", {**ORDER, "status": "open"}, version=None, updated_at="2026-11-21T08:59:59Z"
    )
    assert invoke(ingest_fn, late, early) == OK
    assert stored(stack.table_name, "ORDER#SO-9001", "ORDER")["body"]["status"] == "invoiced"


def history(table: str, pk: str) -> list[dict[str, Any]]:
    items = (
        boto3.resource("dynamodb")
        .Table(table)
        .query(KeyConditionExpression=Key("pk").eq(pk) & Key("sk").begins_with("HIST#"), ConsistentRead=True)[
            "Items"
        ]
    )
    return json.loads(json.dumps(items, default=float))


CUSTOMER = {"id": "ACC-7001", "name": "Initech", "vat_number": "DE123456789", "classification": "Business"}
PERSON = {
    "type": "PERSON",
    "first_name": "Peter",
    "last_name": "Gibbons",
    "identifiers": {"id_number": "X1234567"},
    "emails": [{"type": "WORK", "address": "peter@initech.example"}],
    "account_id": "ACC-7001",
}


def test_a_customer_is_created_then_updated_by_the_erp_with_its_history(
    stack: LocalResources, ingest_fn: ModuleType
) -> None:
    assert invoke(ingest_fn, erp_message("CustomerUpserted", CUSTOMER, version=1)) == OK
    assert (
        invoke(ingest_fn, erp_message("CustomerUpserted", {**CUSTOMER, "credit_rating": "B"}, version=2))
        == OK
    )

    body = stored(stack.table_name, "ACCOUNT#ACC-7001", "ACCOUNT")["body"]
    assert body["name"] == "Initech" and body["vat_number"] == "DE123456789" and body["credit_rating"] == "B"
    assert body["source_version"] == 2 and body["created_by"] == body["updated_by"] == "erp"
    entries = history(stack.table_name, "ACCOUNT#ACC-7001")
    assert [(e["body"]["by"], e["body"]["source_version"]) for e in entries] == [("erp", 1), ("erp", 2)]


def test_a_contact_without_an_id_is_found_by_its_identifiers_never_duplicated(
    stack: LocalResources, ingest_fn: ModuleType
) -> None:
    assert invoke(ingest_fn, erp_message("CustomerUpserted", CUSTOMER)) == OK
    assert invoke(ingest_fn, erp_message("ContactUpserted", PERSON, version=1)) == OK
    moved = {**PERSON, "geographic_area": "North", "emails": [{"address": "peter.g@initech.example"}]}
    assert invoke(ingest_fn, erp_message("ContactUpserted", moved, version=2)) == OK

    (ident,) = [i for i in _partition_items(stack.table_name, "IDENT#id_number#X1234567")]
    contact_id = ident["body"]["contact_id"]
    assert contact_id.startswith("CON-")
    contact = stored(stack.table_name, f"CONTACT#{contact_id}", "CONTACT")["body"]
    assert contact["name"] == "Peter Gibbons" and contact["email"] == "peter.g@initech.example"
    assert contact["account_id"] == "ACC-7001" and contact["source_version"] == 2
    assert len(history(stack.table_name, f"CONTACT#{contact_id}")) == 2


def test_customer_events_out_of_order_and_twice_have_the_newest_ones_effect(
    stack: LocalResources, ingest_fn: ModuleType
) -> None:
    newer = erp_body("CustomerUpserted", {**CUSTOMER, "name": "Initech v2"}, event_id="c-2", version=2)
    older = erp_body("CustomerUpserted", {**CUSTOMER, "name": "Initech v1"}, event_id="c-1", version=1)
    assert invoke(ingest_fn, message(newer), message(older), message(newer)) == OK

    assert stored(stack.table_name, "ACCOUNT#ACC-7001", "ACCOUNT")["body"]["name"] == "Initech v2"
    assert len(history(stack.table_name, "ACCOUNT#ACC-7001")) == 1  # one write: nothing stale, nothing twice


def test_a_contact_before_its_customer_goes_in_on_redelivery_once_the_customer_is_there(
    stack: LocalResources, ingest_fn: ModuleType, log: Log
) -> None:
    contact = erp_message("ContactUpserted", {**PERSON, "id": "CON-7001"})
    assert invoke(ingest_fn, contact) == {"batchItemFailures": [{"itemIdentifier": contact["messageId"]}]}
    assert [line["code"] for line in log.lines("message rejected")] == ["UNKNOWN_CUSTOMER"]

    assert invoke(ingest_fn, erp_message("CustomerUpserted", CUSTOMER)) == OK
    assert invoke(ingest_fn, contact) == OK  # SQS delivers it again
    assert stored(stack.table_name, "CONTACT#CON-7001", "CONTACT")["body"]["account_id"] == "ACC-7001"


def test_invalid_customers_and_contacts_fail_alone_with_the_customer_stores_code(
    stack: LocalResources, ingest_fn: ModuleType, log: Log
) -> None:
    no_name = erp_message("CustomerUpserted", {"id": "ACC-7002"})
    company_without_name = erp_message("ContactUpserted", {"id": "CON-7002", "type": "COMPANY"})
    good = erp_message("CustomerUpserted", CUSTOMER)

    result = invoke(ingest_fn, no_name, good, company_without_name)

    assert {f["itemIdentifier"] for f in result["batchItemFailures"]} == {
        no_name["messageId"],
        company_without_name["messageId"],
    }
    assert stored(stack.table_name, "ACCOUNT#ACC-7002", "ACCOUNT") is None
    assert stored(stack.table_name, "ACCOUNT#ACC-7001", "ACCOUNT") is not None
    codes = {line["message_id"]: line["code"] for line in log.lines("message rejected")}
    assert codes[no_name["messageId"]] == codes[company_without_name["messageId"]] == "MISSING_FIELDS"


def _partition_items(table: str, pk: str) -> list[dict[str, Any]]:
    return boto3.resource("dynamodb").Table(table).query(KeyConditionExpression=Key("pk").eq(pk))["Items"]


# --- exactly once in effect ---------------------------------------------------------------------------------


def test_a_duplicate_delivery_has_one_effect(stack: LocalResources, ingest_fn: ModuleType) -> None:
    body = erp_body("ProductUpserted", PRODUCT, event_id="erp-dup-1", version=1)
    assert invoke(ingest_fn, message(body)) == OK

    counter = CallCounter()
    with counter.counting() as calls:  # the same ERP event again, in a new envelope and message
        again = erp_body("ProductUpserted", {**PRODUCT, "name": "changed in between"}, event_id="erp-dup-1")
        assert invoke(ingest_fn, message(again), message(body)) == OK
    # One idempotency check each (the record is there: completed); the product is not written again.
    assert dynamodb_calls(calls) == {"PutItem": 2}
    assert stored(stack.table_name, "PRODUCT#P-300", "PRODUCT")["body"]["name"] == "PA6 Black"


def test_nothing_is_lost_when_a_write_fails(
    stack: LocalResources, ingest_fn: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A throttled write fails the message (retried by SQS); the idempotency record does not hold the retry
    back."""
    real_put = erp.conditional_put
    throttled = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "PutItem"
    )
    failures = iter([throttled])

    def flaky_put(item: Any, source_version: int) -> str:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_put(item, source_version)

    monkeypatch.setattr(erp, "conditional_put", flaky_put)
    record = erp_message("ProductUpserted", PRODUCT, version=1)
    assert invoke(ingest_fn, record) == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert stored(stack.table_name, "PRODUCT#P-300", "PRODUCT") is None

    assert invoke(ingest_fn, record) == OK  # SQS delivers it again after the visibility timeout
    assert stored(stack.table_name, "PRODUCT#P-300", "PRODUCT")["body"]["name"] == "PA6 Black"


# --- bad messages fail alone, with their reason logged ------------------------------------------------------


def test_bad_messages_are_batch_item_failures_and_the_rest_of_the_batch_goes_on(
    stack: LocalResources, ingest_fn: ModuleType, log: Log
) -> None:
    no_event_id = json.loads(erp_body("ProductUpserted", PRODUCT))
    del no_event_id["detail"]["event_id"]
    bad = {
        "MALFORMED_MESSAGE": message('{"detail-type": "ProductUpserted", "detail": '),
        "UNKNOWN_EVENT_TYPE": erp_message("InvoicePaid", {"invoice": "I-1"}),
        "INVALID_ERP_EVENT": message(json.dumps(no_event_id)),
        "INVALID_PRODUCT": erp_message("ProductUpserted", {**PRODUCT, "price": -3}),
        "INVALID_ORDER": erp_message("OrderUpserted", {**ORDER, "kind": "invoice"}),
    }
    good = erp_message("ProductUpserted", PRODUCT)
    records = [bad["MALFORMED_MESSAGE"], bad["UNKNOWN_EVENT_TYPE"], good, bad["INVALID_ERP_EVENT"]]
    records += [bad["INVALID_PRODUCT"], bad["INVALID_ORDER"]]

    result = invoke(ingest_fn, *records)

    failed = [f["itemIdentifier"] for f in result["batchItemFailures"]]
    assert sorted(failed) == sorted(r["messageId"] for r in bad.values())
    assert stored(stack.table_name, "PRODUCT#P-300", "PRODUCT") is not None
    assert stored(stack.table_name, "ORDER#SO-9001", "ORDER") is None
    rejected = {line["message_id"]: line for line in log.lines("message rejected")}
    assert {code: rejected[r["messageId"]]["code"] for code, r in bad.items()} == {code: code for code in bad}
    assert "price" in json.dumps(rejected[bad["INVALID_PRODUCT"]["messageId"]]["details"])


def test_a_failed_event_is_tried_again_on_redelivery(stack: LocalResources, ingest_fn: ModuleType) -> None:
    """A refused event leaves no idempotency record behind: fixed data under the same event id goes in."""
    body = erp_body("ProductUpserted", {**PRODUCT, "currency": None}, event_id="erp-fix-1")
    assert invoke(ingest_fn, message(body))["batchItemFailures"]
    fixed = erp_body("ProductUpserted", PRODUCT, event_id="erp-fix-1")
    assert invoke(ingest_fn, message(fixed)) == OK
    assert stored(stack.table_name, "PRODUCT#P-300", "PRODUCT") is not None


# --- the bus, the rule and the local /_dev/events -----------------------------------------------------------


def test_erp_events_on_the_bus_reach_the_ingest_queue_only(stack: LocalResources) -> None:
    template = load_template()
    sqs = boto3.client("sqs")
    ingest_queue = stack.queue_url({"Ref": "IngestQueue"})
    status, reply = put_erp_events(
        [
            {"detail-type": "ProductUpserted", "detail": {"event_id": "e1", "version": 1, "data": PRODUCT}},
            {"detail-type": "InvoicePaid", "detail": {"event_id": "e2", "version": 1, "data": {}}},
        ],
        erp_source(template),
        stack.event_bus_name,
    )
    assert status == 202 and reply["failed"] == 0 and reply["source"] == "erp"

    received = sqs.receive_message(QueueUrl=ingest_queue, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["detail-type"] for m in received] == ["ProductUpserted"]  # the rule's types
    notified = sqs.receive_message(QueueUrl=stack.notify_queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    )
    assert notified == []  # the ERP's events are not ours: no emails
    for m in received:
        sqs.delete_message(QueueUrl=ingest_queue, ReceiptHandle=m["ReceiptHandle"])


def test_the_local_stack_delivers_erp_events_to_the_ingest_function(
    stack: LocalResources, ingest_fn: ModuleType
) -> None:
    """POST /_dev/events -> bus -> IngestRule -> IngestQueue -> dispatcher -> IngestFunction, as template.yaml
    says; a bad event stays on the queue (for SQS to redrive to the DLQ), the good one is acknowledged."""
    template = load_template()
    function = LocalFunction(
        "IngestFunction", ingest_fn.handler, _props(template, "IngestFunction")["Events"]
    )
    dispatcher = build_dispatcher({"IngestFunction": function}, stack, REGION)
    good = {"event_id": "e-good", "version": 1, "data": PRODUCT}
    bad = {"event_id": "e-bad", "version": 1, "data": {**ORDER, "lines": "none"}}
    status, _ = put_erp_events(
        [{"detail-type": "ProductUpserted", "detail": good}, {"detail-type": "OrderUpserted", "detail": bad}],
        erp_source(template),
        stack.event_bus_name,
    )
    assert status == 202

    assert dispatcher.pump_queues() == 2
    assert dispatcher.delivered == 1
    assert stored(stack.table_name, "PRODUCT#P-300", "PRODUCT")["body"]["name"] == "PA6 Black"
    attrs = boto3.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url({"Ref": "IngestQueue"}), AttributeNames=["All"]
    )["Attributes"]
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "1"  # the bad one, until it is received again
    assert json.loads(attrs["RedrivePolicy"]) == {
        "deadLetterTargetArn": stack.physical["IngestDeadLetterQueue"]["Arn"],
        "maxReceiveCount": 5,
    }
    boto3.client("sqs").purge_queue(QueueUrl=stack.queue_url({"Ref": "IngestQueue"}))


def _props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]["Properties"]


@pytest.mark.parametrize(
    "body",
    [[], {"detail": {}}, {"detail-type": "ProductUpserted"}, [{"detail-type": 1, "detail": {}}], "text"],
)
def test_dev_events_refuses_what_is_not_an_event(stack: LocalResources, body: Any) -> None:
    status, reply = put_erp_events(body, "erp", stack.event_bus_name)
    assert status == 422 and reply["error"]["code"] == "INVALID_EVENTS"


# --- products and orders over the API -----------------------------------------------------------------------


def test_products_over_the_api(api: Api, ingest_fn: ModuleType) -> None:
    invoke(ingest_fn, erp_message("ProductUpserted", PRODUCT, version=5))

    reply = api("GET /products/{code}", {"code": "P-300"})
    assert reply.status == 200 and reply.json == {**PRODUCT, "source_version": 5}
    assert api("GET /products/{code}", {"code": "P-100"}).json == {
        "code": "P-100",
        "name": "Polyamide PA66 Natural",
    }
    reply = api("GET /products/{code}", {"code": "P-404"})
    assert reply.status == 404 and reply.error["code"] == "PRODUCT_NOT_FOUND"
    reply = api("GET /products/{code}", {"code": "P-300"}, user="mallory")
    assert reply.status == 403 and reply.error["code"] == "UNKNOWN_USER"

    # Cases name ERP products like any other (the directory reads code and name).
    case = api.register()
    assert api.add_product(case["id"], "P-300").status == 201


def test_orders_over_the_api(api: Api, ingest_fn: ModuleType) -> None:
    orders = [
        {**ORDER, "order_id": "SO-1", "order_date": "2026-10-01"},
        {**ORDER, "order_id": "QT-2", "kind": "quote", "order_date": "2026-11-15"},
        {**ORDER, "order_id": "LO-3", "kind": "loaner_order", "order_date": "2026-11-02"},
        {**ORDER, "order_id": "SO-4", "account_id": "ACC-1002"},
    ]
    assert invoke(ingest_fn, *(erp_message("OrderUpserted", o) for o in orders)) == OK

    reply = api("GET /orders/{order_id}", {"order_id": "QT-2"})
    assert reply.status == 200
    assert reply.json["kind"] == "quote" and reply.json["lines"][0]["product_code"] == "P-100"
    reply = api("GET /orders/{order_id}", {"order_id": "SO-404"})
    assert reply.status == 404 and reply.error["code"] == "ORDER_NOT_FOUND"

    first = api("GET /customers/{customer_id}/orders", {"customer_id": "ACC-1001"}, query={"limit": "2"})
    assert first.status == 200
    assert [o["order_id"] for o in first.json["items"]] == ["QT-2", "LO-3"]  # newest order date first
    rest = api(
        "GET /customers/{customer_id}/orders",
        {"customer_id": "ACC-1001"},
        query={"limit": "2", "cursor": first.json["next_cursor"]},
    )
    assert [o["order_id"] for o in rest.json["items"]] == ["SO-1"] and rest.json["next_cursor"] is None
    empty = api("GET /customers/{customer_id}/orders", {"customer_id": "ACC-7777"})
    assert empty.status == 200 and empty.json == {"items": [], "next_cursor": None}

    bad = api("GET /customers/{customer_id}/orders", {"customer_id": "ACC-1001"}, query={"cursor": "nope!"})
    assert bad.status == 400 and bad.error["code"] == "INVALID_CURSOR"
    # A cursor is good only for the list that returned it (DynamoDB would refuse another's start key).
    bad = api(
        "GET /customers/{customer_id}/orders",
        {"customer_id": "ACC-1002"},
        query={"cursor": first.json["next_cursor"]},
    )
    assert bad.status == 400 and bad.error["code"] == "INVALID_CURSOR"
    forged = base64.urlsafe_b64encode(json.dumps({"gsi3pk": {"S": "ORDERS#ACC-1001"}}).encode()).decode()
    bad = api("GET /customers/{customer_id}/orders", {"customer_id": "ACC-1001"}, query={"cursor": forged})
    assert bad.status == 400 and bad.error["code"] == "INVALID_CURSOR"
    bad = api("GET /customers/{customer_id}/orders", {"customer_id": "ACC-1001"}, query={"limit": "0"})
    assert bad.status == 422 and bad.error["code"] == "INVALID_REQUEST"

    # The orders share the by-account index with the cases, under keys of their own: case lists stay cases.
    cases = api("GET /cases", query={"account_id": "ACC-1001"})
    assert cases.status == 200 and all("order_id" not in c for c in cases.json["items"])


def test_a_case_shows_the_order_it_names(api: Api, ingest_fn: ModuleType) -> None:
    plain_case = api.register()
    reply = api("GET /cases/{case_id}/order", {"case_id": plain_case["id"]})
    assert reply.status == 404 and reply.error["code"] == "NO_ORDER"

    # A customer request names the order it is about (its field order_id; any case type may have one).
    case = api.register(type="customer_request", fields={"order_id": "SO-9001"})
    reply = api("GET /cases/{case_id}/order", {"case_id": case["id"]})
    assert reply.status == 404 and reply.error["code"] == "ORDER_NOT_FOUND"  # the ERP has not sent it yet

    assert invoke(ingest_fn, erp_message("OrderUpserted", ORDER)) == OK
    reply = api("GET /cases/{case_id}/order", {"case_id": case["id"]})
    assert reply.status == 200 and reply.json["order_id"] == "SO-9001" and reply.json["status"] == "open"

    reply = api("GET /cases/{case_id}/order", {"case_id": "no-such-case"})
    assert reply.status == 404 and reply.error["code"] != "NO_ORDER"
