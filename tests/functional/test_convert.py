"""Automatic lead conversion, invoked as Lambda would: real-shaped SQS events wrapping EventBridge envelopes
of LeadWon events, against moto resources built from template.yaml.

convert: SQS (EventBridge envelope) -> one account + the contact made Financial, exactly once per lead,
however often and however concurrently the event is delivered.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from casework.adapters.contacts import DynamoConversionStore
from casework.adapters.directory import DynamoDirectory, put_directory_record
from casework.adapters.events import EventBridgePublisher
from casework.domain.errors import Conflict, NotFound
from infra.local.dispatcher import build_dispatcher
from infra.local.functions import LambdaContext, load_functions
from infra.local.template import LocalResources, load_template
from tests.functional import shapes
from tests.functional.moto_account import load_function, moto_account
from tests.functional.shapes import envelope, sqs_record

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
QUEUE = "casework-cv-ConvertQueue"
TEMPLATE = load_template()
LEAD = "3f2a9c4e7b1d4e0f9a8b7c6d5e4f3a2b"
ACCOUNT = "ACC-3F2A9C4E7B1D"
AT = "2026-11-24T10:00:00.000Z"
CONVERSION = {"account_classification": "Business", "credit_rating": "A"}


# --- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalResources]:
    env = {"MAIL_FROM": "casework@casework.example", "PUBLIC_BASE_URL": "http://127.0.0.1:3000"}
    with moto_account(monkeypatch, "cv", **env) as res:
        put_directory_record("CONTACT#CON-1", "CONTACT", contact("CON-1", "Dana Prospect"))
        put_directory_record("CONTACT#CON-2", "CONTACT", contact("CON-2", "Eli Prospect"))
        yield res


@pytest.fixture
def convert_fn(stack: LocalResources, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A fresh import per test; its idempotency knows a Lambda context, for direct calls of convert()."""
    module = load_function("convert", monkeypatch)
    module.consumer.config.register_lambda_context(LambdaContext("casework-test"))
    return module


# --- helpers ----------------------------------------------------------------------------------------------


def contact(contact_id: str, name: str) -> dict[str, Any]:
    return {
        "id": contact_id,
        "name": name,
        "email": f"{contact_id.lower()}@example.com",
        "geographic_area": "EMEA",
        "life_cycle_state": "Prospect",
    }


def lead_won(
    conversion: dict[str, Any] | None = CONVERSION,
    *,
    case_id: str = LEAD,
    version: int = 4,
    contact_id: str = "CON-1",
) -> dict[str, Any]:
    return {
        "id": f"{case_id}:{version}:0",
        "type": "LeadWon",
        "schema_version": 1,
        "case_id": case_id,
        "case_type": "lead",
        "workflow_version": 1,
        "occurred_at": AT,
        "actor": "carol",
        "data": {
            "status": "Won",
            "state": "won",
            "contact_id": contact_id,
            "lead_title": "Fleet lubricants",
            "lead_number": case_id,
            "conversion": conversion,
        },
    }


def for_event(event: dict[str, Any], message_id: str | None = None) -> dict[str, Any]:
    return shapes.for_event(event, message_id, QUEUE)


def invoke(fn: ModuleType, *records: dict[str, Any]) -> dict[str, Any]:
    return fn.handler({"Records": list(records)}, LambdaContext("casework-test"))


OK = {"batchItemFailures": []}


def item(table: str, pk: str, sk: str) -> dict[str, Any] | None:
    return boto3.resource("dynamodb").Table(table).get_item(Key={"pk": pk, "sk": sk}).get("Item")


def accounts(table: str) -> list[dict[str, Any]]:
    """Every ACCOUNT item (a Scan: test-only, to prove there is no second one under any key)."""
    items = boto3.resource("dynamodb").Table(table).scan()["Items"]
    return [i for i in items if i["pk"].startswith("ACCOUNT#")]


def idempotency_records(table: str) -> list[dict[str, Any]]:
    items = boto3.resource("dynamodb").Table(table).scan()["Items"]
    return [i for i in items if i["sk"] == "IDEMPOTENCY" and i["pk"].startswith("convert#")]


# --- the handler ------------------------------------------------------------------------------------------


def test_lead_won_creates_the_account_and_makes_the_contact_financial(
    stack: LocalResources, convert_fn: ModuleType
) -> None:
    assert invoke(convert_fn, for_event(lead_won())) == OK

    account = item(stack.table_name, f"ACCOUNT#{ACCOUNT}", "ACCOUNT")
    assert account is not None and account["kind"] == "directory"
    assert account["body"] == {
        "id": ACCOUNT,
        "name": "Dana Prospect",
        "classification": "Business",
        "credit_rating": "A",
        "contact_id": "CON-1",
        "created_from_lead": LEAD,
        "created_at": AT,
    }
    contact_item = item(stack.table_name, "CONTACT#CON-1", "CONTACT")
    assert contact_item is not None
    assert contact_item["body"] == {
        **contact("CON-1", "Dana Prospect"),
        "life_cycle_state": "Financial",
        "account_id": ACCOUNT,
        "financial_since": AT,
    }
    # The directory reads it like any other account.
    assert DynamoDirectory(ttl_seconds=0).account(ACCOUNT)["created_from_lead"] == LEAD
    assert item(stack.table_name, "CONTACT#CON-2", "CONTACT")["body"]["life_cycle_state"] == "Prospect"


def test_delivered_twice_converts_once(stack: LocalResources, convert_fn: ModuleType) -> None:
    record = for_event(lead_won())

    assert invoke(convert_fn, record) == OK
    assert invoke(convert_fn, record) == OK
    # EventBridge may deliver the same event again as a new message.
    assert invoke(convert_fn, for_event(lead_won())) == OK

    assert [a["pk"] for a in accounts(stack.table_name)] == [f"ACCOUNT#{ACCOUNT}"]
    assert idempotency_records(stack.table_name) == []  # the transaction's condition is the idempotency


def test_a_conversion_is_one_read_and_one_transaction(stack: LocalResources, convert_fn: ModuleType) -> None:
    """No idempotency record, no second read of the contact: its GetItem, then the conditional transaction;
    a redelivery the same two requests, writing nothing."""
    from infra.bench import CallCounter, dynamodb_calls

    counter = CallCounter()
    for outcome in ("converted", "already_converted"):
        with counter.counting() as calls:
            assert convert_fn.convert(event=lead_won()) == outcome
        assert dynamodb_calls(calls) == {"GetItem": 1, "TransactWriteItems": 1}
    assert [a["pk"] for a in accounts(stack.table_name)] == [f"ACCOUNT#{ACCOUNT}"]


def test_a_batch_with_a_duplicate_converts_once(stack: LocalResources, convert_fn: ModuleType) -> None:
    event = lead_won()
    other = lead_won(case_id="9" * 32, contact_id="CON-2")

    assert invoke(convert_fn, for_event(event), for_event(other), for_event(event)) == OK

    assert sorted(a["pk"] for a in accounts(stack.table_name)) == [
        f"ACCOUNT#{ACCOUNT}",
        "ACCOUNT#ACC-999999999999",
    ]
    assert item(stack.table_name, "CONTACT#CON-2", "CONTACT")["body"]["account_id"] == "ACC-999999999999"


def test_the_transaction_alone_stops_a_second_account(stack: LocalResources, convert_fn: ModuleType) -> None:
    """Another event for the same lead (another id) finds the account."""
    assert convert_fn.convert(event=lead_won()) == "converted"
    again = lead_won({"account_classification": "Retail", "credit_rating": "C"}, version=9)
    assert convert_fn.convert(event=again) == "already_converted"

    (account,) = accounts(stack.table_name)
    assert account["body"]["classification"] == "Business"


def test_no_conversion_settings_means_nothing_happens(stack: LocalResources, convert_fn: ModuleType) -> None:
    assert invoke(convert_fn, for_event(lead_won(None))) == OK
    assert convert_fn.convert(event=lead_won(None, version=5)) == "not_applicable"

    assert accounts(stack.table_name) == []
    assert item(stack.table_name, "CONTACT#CON-1", "CONTACT")["body"]["life_cycle_state"] == "Prospect"


def test_malformed_messages_fail_alone(stack: LocalResources, convert_fn: ModuleType) -> None:
    result = invoke(
        convert_fn,
        sqs_record("this is not json", "bad-1"),
        sqs_record(json.dumps({"source": "casework", "detail-type": "LeadWon"}), "bad-2"),  # no detail
        sqs_record(json.dumps(envelope({**lead_won(), "id": ""})), "bad-3"),  # detail without an id
        for_event(lead_won(), "good"),
    )

    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": "bad-1"},
            {"itemIdentifier": "bad-2"},
            {"itemIdentifier": "bad-3"},
        ]
    }
    assert len(accounts(stack.table_name)) == 1


def test_a_missing_contact_fails_the_message_and_a_retry_can_succeed(
    stack: LocalResources, convert_fn: ModuleType
) -> None:
    record = for_event(lead_won(contact_id="CON-404"), "no-contact")

    assert invoke(convert_fn, record) == {"batchItemFailures": [{"itemIdentifier": "no-contact"}]}
    assert accounts(stack.table_name) == []
    assert idempotency_records(stack.table_name) == []  # nothing recorded: the retry runs again

    # Still missing on the retry: still a failure (after maxReceiveCount, SQS parks it in the DLQ).
    assert invoke(convert_fn, record) == {"batchItemFailures": [{"itemIdentifier": "no-contact"}]}
    # Once the contact exists (e.g. the directory sync caught up), the same message converts the lead.
    put_directory_record("CONTACT#CON-404", "CONTACT", contact("CON-404", "Late Arrival"))
    assert invoke(convert_fn, record) == OK
    assert item(stack.table_name, "CONTACT#CON-404", "CONTACT")["body"]["account_id"] == ACCOUNT


# --- the DynamoDB store -----------------------------------------------------------------------------------


def account_body(lead: str = LEAD, contact_id: str = "CON-1") -> dict[str, Any]:
    return {
        "id": "ACC-" + lead[:12].upper(),
        "name": "Dana Prospect",
        "classification": "Business",
        "credit_rating": "A",
        "contact_id": contact_id,
        "created_from_lead": lead,
        "created_at": AT,
    }


def test_racing_conversions_write_one_account(stack: LocalResources) -> None:
    """Two deliveries that both read the contact before either writes: one transaction wins."""
    first, second = DynamoConversionStore(), DynamoConversionStore()
    assert first.contact("CON-1") == second.contact("CON-1") == contact("CON-1", "Dana Prospect")

    assert first.convert(account_body(), "CON-1", AT) is True
    assert second.convert(account_body() | {"created_at": "later"}, "CON-1", "later") is False

    (account,) = accounts(stack.table_name)
    assert account["body"]["created_at"] == AT
    assert item(stack.table_name, "CONTACT#CON-1", "CONTACT")["body"]["financial_since"] == AT


def test_a_contact_that_is_financial_already_keeps_its_date(stack: LocalResources) -> None:
    put_directory_record(
        "CONTACT#CON-1",
        "CONTACT",
        contact("CON-1", "Dana") | {"life_cycle_state": "Financial", "financial_since": "2020-01-01"},
    )
    assert DynamoConversionStore().convert(account_body(), "CON-1", AT) is True
    body = item(stack.table_name, "CONTACT#CON-1", "CONTACT")["body"]
    assert (body["account_id"], body["financial_since"]) == (ACCOUNT, "2020-01-01")


def test_a_contact_with_another_account_is_never_relinked(stack: LocalResources) -> None:
    """A second lead's conversion racing past the service's check: the transaction refuses it atomically."""
    put_directory_record(
        "CONTACT#CON-1",
        "CONTACT",
        contact("CON-1", "Dana") | {"life_cycle_state": "Financial", "account_id": "A-1"},
    )
    with pytest.raises(Conflict) as exc:
        DynamoConversionStore().convert(account_body(), "CON-1", AT)
    assert exc.value.code == "ALREADY_CUSTOMER"
    assert accounts(stack.table_name) == []
    assert item(stack.table_name, "CONTACT#CON-1", "CONTACT")["body"]["account_id"] == "A-1"


def test_a_missing_contact_writes_nothing(stack: LocalResources) -> None:
    with pytest.raises(NotFound) as caught:
        DynamoConversionStore().convert(account_body(contact_id="CON-404"), "CON-404", AT)
    assert caught.value.code == "CONTACT_NOT_FOUND"
    assert accounts(stack.table_name) == []
    assert item(stack.table_name, "CONTACT#CON-404", "CONTACT") is None  # the update did not create it


def test_only_this_leads_account_means_already_converted(stack: LocalResources) -> None:
    """Same 12-character prefix, another lead: the account id is taken, which is not success."""
    put_directory_record(f"ACCOUNT#{ACCOUNT}", "ACCOUNT", account_body(LEAD[:12] + "0" * 20))
    with pytest.raises(Conflict) as caught:
        DynamoConversionStore().convert(account_body(), "CON-1", AT)
    assert caught.value.code == "ACCOUNT_EXISTS"
    assert item(stack.table_name, "CONTACT#CON-1", "CONTACT")["body"]["life_cycle_state"] == "Prospect"


def test_an_account_exists_and_the_contact_is_gone(stack: LocalResources) -> None:
    """Converted earlier, contact deleted since: a redelivery is still just 'already converted'."""
    assert DynamoConversionStore().convert(account_body(), "CON-1", AT) is True
    boto3.resource("dynamodb").Table(stack.table_name).delete_item(
        Key={"pk": "CONTACT#CON-1", "sk": "CONTACT"}
    )
    assert DynamoConversionStore().convert(account_body(), "CON-1", AT) is False


class CancelledConnection:
    """Stands in for PynamoDB's connection: the transaction is cancelled with the given reason codes."""

    def __init__(self, *codes: str | None) -> None:
        self.codes = codes

    def transact_write_items(self, **_: Any) -> None:
        reasons = [CancellationReason(code=code) if code else None for code in self.codes]
        error = {"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}}
        cause = VerboseClientError(error, "TransactWriteItems", cancellation_reasons=reasons)
        raise TransactWriteError("Failed to write transaction items", cause=cause)


@pytest.mark.parametrize(
    "codes",
    [(None, "TransactionConflict"), ("TransactionConflict", None), ("ThrottlingError", None), ()],
    ids=["contact-conflict", "account-conflict", "throttled", "no-reasons"],
)
def test_other_cancellations_are_raised_for_a_retry(
    stack: LocalResources, monkeypatch: pytest.MonkeyPatch, codes: tuple[str | None, ...]
) -> None:
    """Only a failed account condition means "converted already"; anything else is retried."""
    monkeypatch.setattr("casework.adapters.contacts._tx_connection", lambda: CancelledConnection(*codes))
    with pytest.raises(TransactWriteError):
        DynamoConversionStore().convert(account_body(), "CON-1", AT)


# --- the local stack's wiring -----------------------------------------------------------------------------


@pytest.fixture
def local_functions(stack: LocalResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    # every function starts only with what it needs set, as the local stack sets it (the import function's)
    monkeypatch.setenv("IMPORT_BUCKET", stack.physical["ImportBucket"]["Ref"])
    monkeypatch.setenv("IMPORT_QUEUE_URL", stack.physical["ImportQueue"]["QueueUrl"])
    before = set(sys.modules)
    functions, _routes = load_functions(TEMPLATE)
    yield functions
    for name in set(sys.modules) - before:
        if name.startswith("local_fn_"):
            del sys.modules[name]


def test_every_sqs_function_is_delivered_from_its_own_queue(
    stack: LocalResources, local_functions: dict[str, Any]
) -> None:
    dispatcher = build_dispatcher(local_functions, stack, REGION)

    assert {q.function.logical_id: q.queue_url.rsplit("/", 1)[-1] for q in dispatcher.queues} == {
        "NotifyFunction": "casework-cv-NotifyQueue",
        "ConvertFunction": "casework-cv-ConvertQueue",
        "IngestFunction": "casework-cv-IngestQueue",
        "ImportFunction": "casework-cv-ImportQueue",
        "RulesFunction": "casework-cv-RulesQueue",
        "FeedbackSummaryFunction": "casework-cv-FeedbackSummaryQueue",
    }
    arns = {q.function.logical_id: q.queue_arn for q in dispatcher.queues}
    assert arns["ConvertFunction"] == stack.physical["ConvertQueue"]["Arn"]
    (stream,) = dispatcher.streams
    assert stream.function.logical_id == "PublishFunction"
    assert (stream.stream_arn, stream.on_failure_queue_url) == (stack.table_stream_arn, stack.publish_dlq_url)


def test_the_local_stack_delivers_lead_won_to_the_convert_function(
    stack: LocalResources, local_functions: dict[str, Any]
) -> None:
    """Bus -> ConvertRule -> ConvertQueue -> dispatcher -> ConvertFunction, all as template.yaml says."""
    convert_queue = stack.physical["ConvertQueue"]["QueueUrl"]
    publisher = EventBridgePublisher(stack.event_bus_name)
    other = {**lead_won(), "id": f"{LEAD}:3:0", "type": "CaseTransitioned"}
    publisher.publish([other, lead_won(), lead_won()])  # the second LeadWon: EventBridge delivering twice

    # Only the convert function here: the notify queue also gets every casework event (no lead workflow).
    dispatcher = build_dispatcher({"ConvertFunction": local_functions["ConvertFunction"]}, stack, REGION)
    delivered = 0
    while handled := dispatcher.pump_queues():
        delivered += handled

    assert delivered == 2  # the rule routes LeadWon only
    assert dispatcher.delivered == 2  # both acknowledged (deleted from the queue), none failed
    assert [a["pk"] for a in accounts(stack.table_name)] == [f"ACCOUNT#{ACCOUNT}"]
    assert item(stack.table_name, "CONTACT#CON-1", "CONTACT")["body"]["life_cycle_state"] == "Financial"
    attrs = boto3.client("sqs").get_queue_attributes(
        QueueUrl=convert_queue,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attrs == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_convert_queue_redrives_to_its_dead_letter_queue(stack: LocalResources) -> None:
    sqs = boto3.client("sqs")
    attrs = sqs.get_queue_attributes(
        QueueUrl=stack.queue_url({"Ref": "ConvertQueue"}), AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    assert json.loads(attrs["RedrivePolicy"]) == {
        "deadLetterTargetArn": stack.physical["ConvertDeadLetterQueue"]["Arn"],
        "maxReceiveCount": 5,
    }
