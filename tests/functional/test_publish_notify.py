"""The outbox relay and the notifier, invoked as Lambda would: real-shaped stream and SQS events, against
moto resources built from template.yaml, the demo directory and the shipped CSR workflow.

publish: stream INSERT of a history item -> EventBridge -> (rule) -> notify queue.
notify:  SQS (EventBridge envelope) -> approval link / assignment / closure email through SES, once per event.
"""

from __future__ import annotations

import base64
import email
import email.policy
import itertools
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from casework.adapters import dynamo
from casework.adapters.codec import plain
from casework.adapters.definitions import DynamoWorkflowStore
from casework.adapters.directory import DynamoDirectory
from casework.services.cases import CaseService
from casework.services.link_tokens import hash_token
from infra.local.functions import LambdaContext
from infra.local.template import LocalResources
from infra.seed import seed, verify_sender
from tests.functional.moto_account import load_function, moto_account
from tests.functional.shapes import envelope, for_event, sqs_record, stored_events, subscriber_queue

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
MAIL_FROM = "casework@casework.example"
BASE_URL = "http://127.0.0.1:3000"
FRONT_END = "https://crm.example.com/cases/{id}"  # the template parameter CaseUrlTemplate
LINK = re.compile(r"http://127\.0\.0\.1:3000/approvals/([A-Za-z0-9_-]+)")


# --- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalResources]:
    env = {
        "MAIL_FROM": MAIL_FROM,
        "PUBLIC_BASE_URL": BASE_URL + "/",
        "APPROVAL_TOKEN_TTL_HOURS": "168",
        "CASE_URL_TEMPLATE": FRONT_END,
    }
    with moto_account(monkeypatch, "fn", **env) as res:
        seed()
        verify_sender(MAIL_FROM)
        yield res


def _load(function: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load_function(function, monkeypatch)


@pytest.fixture
def publish_fn(stack: LocalResources, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return _load("publish", monkeypatch)


@pytest.fixture
def notify_fn(stack: LocalResources, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return _load("notify", monkeypatch)


@pytest.fixture
def service(stack: LocalResources) -> CaseService:
    ids = itertools.count(1)
    return CaseService(
        dynamo.DynamoCaseRepository(),
        DynamoDirectory(ttl_seconds=0),
        DynamoWorkflowStore(),
        clock=lambda: datetime.now(UTC),
        new_id=lambda: f"CSR-{next(ids):05d}",
    )


# --- helpers ----------------------------------------------------------------------------------------------


def submitted_case(service: CaseService, title: str = "Halogen-free grade for Acme") -> str:
    """A CSR in Pending Pre-Approval (john approves pre-approvals in SP). History: v1 registered, v2 product
    linked, v3 submitted (CaseTransitioned + ApprovalRequested)."""
    case = service.register(
        "mary", type="csr", title=title, description="UL94 V-0 at 0.8 mm.", account_id="ACC-1001"
    )
    service.change_related("mary", case.id, kind="products", key="P-100", added=True)
    case = service.transition("mary", case.id, to="Pending Pre-Approval")
    assert case.status == "Pending Pre-Approval"
    return case.id


def raw_item(table: str, pk: str, sk: str) -> dict[str, Any]:
    """The item in DynamoDB's AttributeValue form, as a stream record's NewImage carries it."""
    return boto3.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]


def history_events(table: str, case_id: str, version: int) -> list[dict[str, Any]]:
    item = raw_item(table, f"CASE#{case_id}", f"HIST#{version:08d}")
    return stored_events(item)


def stream_record(
    res: LocalResources, image: dict[str, Any], seq: str, name: str = "INSERT"
) -> dict[str, Any]:
    # a stream record carries binary attributes (a case's packed body) base64-encoded, as JSON does
    image = json.loads(json.dumps(image, default=lambda raw: base64.b64encode(raw).decode()))
    keys = {"pk": image["pk"], "sk": image["sk"]}
    data: dict[str, Any] = {
        "ApproximateCreationDateTime": 1741000000,
        "Keys": keys,
        "SequenceNumber": seq,
        "SizeBytes": len(json.dumps(image)),
        "StreamViewType": "NEW_IMAGE",
    }
    if name in ("INSERT", "MODIFY"):
        data["NewImage"] = image
    if name in ("MODIFY", "REMOVE"):
        data["OldImage"] = image
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": data,
        "eventSourceARN": res.table_stream_arn,
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def sent() -> list[email.message.EmailMessage]:
    messages = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    return [email.message_from_string(m.raw_data, policy=email.policy.default) for m in messages]


def parts(message: email.message.EmailMessage) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def of_type(events: list[dict[str, Any]], event_type: str) -> dict[str, Any]:
    (event,) = [e for e in events if e["type"] == event_type]
    return event


def receive_all(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    out: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])
        if not batch.get("Messages"):
            return out
        out += batch["Messages"]


# --- publish ----------------------------------------------------------------------------------------------


def test_stream_insert_with_events_reaches_the_notify_queue(
    stack: LocalResources, service: CaseService, publish_fn: ModuleType
) -> None:
    """Both events of the submit go on the bus; the notify rule passes only the one that emails somebody
    (the approval request: ``notify`` true), not the transition (``notify`` false)."""
    case_id = submitted_case(service)
    image = raw_item(stack.table_name, f"CASE#{case_id}", "HIST#00000003")
    assert len(stored_events(image)) == 2
    expected = history_events(stack.table_name, case_id, 3)
    assert [(e["type"], e["notify"]) for e in expected] == [
        ("CaseTransitioned", False),
        ("ApprovalRequested", True),
    ]

    result = publish_fn.handler(
        {"Records": [stream_record(stack, image, "100")]}, LambdaContext("casework-test")
    )

    assert result == {"batchItemFailures": []}
    messages = receive_all(stack.notify_queue_url)
    (body,) = [json.loads(m["Body"]) for m in messages]
    assert body["detail-type"] == "ApprovalRequested" and body["source"] == "casework"
    assert body["detail"] == expected[1]  # the outbox event, unchanged (numbers as numbers)
    assert body["detail"]["data"]["round"] == 1
    assert body["time"] == expected[1]["occurred_at"][:19] + "Z"


def test_modify_and_inserts_without_events_publish_nothing(
    stack: LocalResources, service: CaseService, publish_fn: ModuleType
) -> None:
    case_id = submitted_case(service)
    history = raw_item(stack.table_name, f"CASE#{case_id}", "HIST#00000003")
    case_item = raw_item(stack.table_name, f"CASE#{case_id}", "CASE")
    no_events = {k: v for k, v in history.items() if k != "zevents"} | {
        "sk": {"S": "HIST#00000099"},
        "events": {"L": []},
    }
    event = {
        "Records": [
            stream_record(stack, history, "200", name="MODIFY"),
            stream_record(stack, case_item, "201"),  # INSERT of an item without "events"
            stream_record(stack, no_events, "202"),  # INSERT with an empty outbox
            stream_record(stack, history, "203", name="REMOVE"),
        ]
    }

    assert publish_fn.handler(event, LambdaContext("casework-test")) == {"batchItemFailures": []}
    assert receive_all(stack.notify_queue_url) == []


def test_put_events_failure_reports_the_record_for_retry(
    stack: LocalResources, service: CaseService, publish_fn: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = submitted_case(service)
    registered = raw_item(stack.table_name, f"CASE#{case_id}", "HIST#00000001")
    submitted = raw_item(stack.table_name, f"CASE#{case_id}", "HIST#00000003")

    class FlakyEvents:
        """Accepts everything except events of submitted cases' approval requests."""

        def __init__(self) -> None:
            self.real = boto3.client("events")

        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            if any(e["DetailType"] == "ApprovalRequested" for e in Entries):
                return {
                    "FailedEntryCount": 1,
                    "Entries": [
                        {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
                        if e["DetailType"] == "ApprovalRequested"
                        else {"EventId": str(uuid.uuid4())}
                        for e in Entries
                    ],
                }
            return self.real.put_events(Entries=Entries)

    monkeypatch.setattr(publish_fn.publisher, "_client", FlakyEvents())
    every_event = subscriber_queue(stack.event_bus_name)
    event = {"Records": [stream_record(stack, registered, "300"), stream_record(stack, submitted, "301")]}

    result = publish_fn.handler(event, LambdaContext("casework-test"))

    assert result == {"batchItemFailures": [{"itemIdentifier": "301"}]}
    published = [json.loads(m["Body"])["detail-type"] for m in receive_all(every_event)]
    assert published == ["CaseRegistered"]


def test_publisher_chunks_by_ten(stack: LocalResources) -> None:
    from casework.adapters.events import EventBridgePublisher

    calls: list[int] = []

    class Recorder:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            calls.append(len(Entries))
            return {"FailedEntryCount": 0, "Entries": [{"EventId": "x"} for _ in Entries]}

    events = [
        {"id": f"C:1:{i}", "type": "T", "occurred_at": "2025-03-03T09:00:00.000Z", "data": {}}
        for i in range(23)
    ]
    EventBridgePublisher("bus", client=Recorder()).publish(events)
    assert calls == [10, 10, 3]


# --- notify -----------------------------------------------------------------------------------------------


def test_outbox_to_approval_email_end_to_end(
    stack: LocalResources, service: CaseService, publish_fn: ModuleType, notify_fn: ModuleType
) -> None:
    """Stream -> publish -> bus -> queue -> notify: john gets one email with a working single-use link."""
    case_id = submitted_case(service)
    image = raw_item(stack.table_name, f"CASE#{case_id}", "HIST#00000003")
    publish_fn.handler({"Records": [stream_record(stack, image, "400")]}, LambdaContext("casework-test"))
    messages = receive_all(stack.notify_queue_url)
    event = {
        "Records": [
            {
                **sqs_record(m["Body"], m["MessageId"]),
                "receiptHandle": m["ReceiptHandle"],
                "attributes": m["Attributes"],
                "md5OfBody": m["MD5OfBody"],
            }
            for m in messages
        ]
    }

    assert notify_fn.handler(event, LambdaContext("casework-test")) == {"batchItemFailures": []}

    (message,) = sent()
    assert message["To"] == "john@casework.example"
    assert message["From"] == MAIL_FROM
    assert message["Subject"] == f"Approval requested: Halogen-free grade for Acme ({case_id})"
    text, html = parts(message)
    (raw,) = set(LINK.findall(text))
    assert LINK.findall(html) and set(LINK.findall(html)) == {raw}
    assert len(raw) >= 43  # 32 random bytes, urlsafe base64
    assert "Review and decide" in html
    for expected in ("Acme Corp", "Specialty Polymers", "Mary Sales", "Pre-approval", "UL94 V-0 at 0.8 mm."):
        assert expected in text and expected in html

    # Stored hashed, bound to approver + case + step + round; the raw token is nowhere in the table.
    token = dynamo.DynamoCaseRepository().token(hash_token(raw))
    assert token is not None
    assert (token.case_id, token.step, token.round, token.approver) == (case_id, "pre_approval", 1, "john")
    assert token.expires_at > datetime.now(UTC).timestamp() + 167 * 3600
    items = boto3.client("dynamodb").scan(TableName=stack.table_name)["Items"]
    assert raw not in json.dumps(items, default=repr)
    # ... and the link works: the approve function's confirm page would find it.
    assert service.approval_page(raw).step == "pre_approval"


def test_same_event_twice_sends_one_email(
    stack: LocalResources, service: CaseService, notify_fn: ModuleType
) -> None:
    case_id = submitted_case(service)
    approval = of_type(history_events(stack.table_name, case_id, 3), "ApprovalRequested")
    record = for_event(approval)

    assert notify_fn.handler(sqs_event(record), LambdaContext("casework-test")) == {"batchItemFailures": []}
    assert notify_fn.handler(sqs_event(record), LambdaContext("casework-test")) == {"batchItemFailures": []}
    # EventBridge may deliver the same event again as a new message.
    assert notify_fn.handler(sqs_event(for_event(approval)), LambdaContext("casework-test")) == {
        "batchItemFailures": []
    }

    assert len(sent()) == 1
    (claim,) = ledger_items(stack.table_name)  # the email's claim, marked sent; no idempotency record
    assert claim["pk"]["S"] == f"SENT#{approval['id']}" and claim["state"]["S"] == "sent"
    assert "expires_at" in claim and claim["body"]["M"]["message_id"]["S"]
    assert idempotency_records(stack.table_name) == []
    tokens = [i for i in scan(stack.table_name) if i["pk"]["S"].startswith("TOKEN#")]
    assert len(tokens) == 1  # the duplicates issued no second link


def scan(table: str) -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=table)["Items"]  # test-only, small table


def ledger_items(table: str) -> list[dict[str, Any]]:
    return [i for i in scan(table) if i["pk"]["S"].startswith("SENT#")]


def idempotency_records(table: str) -> list[dict[str, Any]]:
    return [i for i in scan(table) if i["sk"]["S"] == "IDEMPOTENCY"]


def test_two_deliveries_of_an_event_at_once_send_one_email(
    stack: LocalResources,
    service: CaseService,
    notify_fn: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two deliveries of the same event running together in two containers: the first claims the email, the
    second finds the claim and sends nothing (it fails, to come back once the first is done, and then finds
    it sent)."""
    import threading

    from casework.adapters.mailer import SesMailer

    case_id = submitted_case(service)
    approval = of_type(history_events(stack.table_name, case_id, 3), "ApprovalRequested")
    real_send, inside_send, second_done = SesMailer.send, threading.Event(), threading.Event()

    def slow(self: SesMailer, to: str, subject: str, text: str, html: str) -> str:
        inside_send.set()  # the first delivery holds the claim now ...
        assert second_done.wait(10)  # ... while the second one runs to its end
        return real_send(self, to, subject, text, html)

    monkeypatch.setattr(SesMailer, "send", slow)
    results: dict[str, Any] = {}

    def first() -> None:
        results["first"] = notify_fn.handler(sqs_event(for_event(approval, "m-1")), LambdaContext("t"))

    worker = threading.Thread(target=first)
    worker.start()
    assert inside_send.wait(10)
    other_container = load_function("notify", monkeypatch, prefix="other")
    results["second"] = other_container.handler(sqs_event(for_event(approval, "m-2")), LambdaContext("t"))
    second_done.set()
    worker.join(10)

    assert results["first"] == {"batchItemFailures": []}
    assert results["second"] == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}  # back later
    (failed,) = [r for r in caplog.records if r.getMessage() == "message failed"]
    assert failed.levelname == "WARNING" and failed.code == "EMAIL_IN_PROGRESS"  # expected: no traceback
    assert len(sent()) == 1
    monkeypatch.setattr(SesMailer, "send", real_send)
    assert notify_fn.handler(sqs_event(for_event(approval, "m-2")), LambdaContext("t")) == {
        "batchItemFailures": []
    }
    assert len(sent()) == 1


def test_a_claim_whose_holder_died_is_taken_over_after_its_lease(
    stack: LocalResources, service: CaseService, notify_fn: ModuleType
) -> None:
    """A delivery that claimed an email and died before sending it (a timeout) does not lose the email: the
    redelivery waits out the lease, then sends it."""
    from casework.adapters.dynamo import DynamoSentLedger

    case_id = submitted_case(service)
    approval = of_type(history_events(stack.table_name, case_id, 3), "ApprovalRequested")
    recipient = "approval_requested:john"
    assert DynamoSentLedger().claim(approval["id"], recipient)  # the dead holder's claim

    redelivered = notify_fn.handler(sqs_event(for_event(approval, "m-1")), LambdaContext("t"))
    assert redelivered == {"batchItemFailures": [{"itemIdentifier": "m-1"}]} and sent() == []
    boto3.client("dynamodb").update_item(  # the lease runs out
        TableName=stack.table_name,
        Key={"pk": {"S": f"SENT#{approval['id']}"}, "sk": {"S": recipient}},
        UpdateExpression="SET lease_until = :past",
        ExpressionAttributeValues={":past": {"N": "1"}},
    )
    _deliver(notify_fn, [approval])
    assert len(sent()) == 1 and ledger_items(stack.table_name)[0]["state"]["S"] == "sent"


def test_poison_messages_fail_alone(
    stack: LocalResources, service: CaseService, notify_fn: ModuleType
) -> None:
    case_id = submitted_case(service)
    approval = of_type(history_events(stack.table_name, case_id, 3), "ApprovalRequested")
    event = sqs_event(
        sqs_record("this is not json", "bad-1"),
        sqs_record(json.dumps({"source": "casework", "detail-type": "X"}), "bad-2"),  # no detail
        sqs_record(json.dumps(envelope({**approval, "id": ""})), "bad-3"),  # detail without an id
        sqs_record(json.dumps(envelope(approval)), "good"),
    )

    result = notify_fn.handler(event, LambdaContext("casework-test"))

    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": "bad-1"},
            {"itemIdentifier": "bad-2"},
            {"itemIdentifier": "bad-3"},
        ]
    }
    assert [m["To"] for m in sent()] == ["john@casework.example"]


def test_a_batch_of_only_poison_is_reported_not_raised(stack: LocalResources, notify_fn: ModuleType) -> None:
    result = notify_fn.handler(sqs_event(sqs_record("[]", "only")), LambdaContext("casework-test"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "only"}]}


def test_assignment_emails_the_assignee_unless_they_did_it(
    stack: LocalResources, service: CaseService, notify_fn: ModuleType
) -> None:
    case_id = submitted_case(service)
    service.decide("john", case_id, decision="approve")  # -> Under Assessment, assigned to frank
    events = history_events(stack.table_name, case_id, 4)
    assigned = of_type(events, "CaseAssigned")
    assert assigned["data"]["assignee"] == "frank" and assigned["actor"] == "john"

    assert notify_fn.handler(sqs_event(*map(for_event, events)), LambdaContext("casework-test")) == {
        "batchItemFailures": []
    }

    (message,) = sent()
    assert message["To"] == "frank@casework.example"
    assert message["Subject"] == f"Assigned to you: Halogen-free grade for Acme ({case_id})"
    text, html = parts(message)
    # "Open the case" goes to the front end's page, never to the API (a browser would get 401 JSON there)
    for expected in (
        "Under Assessment",
        "entered Under Assessment",
        f"https://crm.example.com/cases/{case_id}",
    ):
        assert expected in text and expected in html
    assert not LINK.search(text) and f"{BASE_URL}/cases/" not in text + html

    own = {**assigned, "id": f"{case_id}:99:0", "actor": "frank"}
    assert notify_fn.handler(sqs_event(for_event(own)), LambdaContext("casework-test")) == {
        "batchItemFailures": []
    }
    assert len(sent()) == 1


def test_without_a_front_end_the_emails_carry_no_case_link(
    stack: LocalResources, service: CaseService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASE_URL_TEMPLATE", "")
    notify_fn = _load("notify", monkeypatch)
    case_id = submitted_case(service)
    service.decide("john", case_id, decision="approve")  # -> assigned to frank
    events = history_events(stack.table_name, case_id, 4)
    assert notify_fn.handler(sqs_event(*map(for_event, events)), LambdaContext("casework-test")) == {
        "batchItemFailures": []
    }
    (message,) = sent()
    text, html = parts(message)
    assert case_id in text and "Open the case" not in text + html and "/cases/" not in text + html


def test_closing_emails_the_creator_with_the_reason(
    stack: LocalResources, service: CaseService, notify_fn: ModuleType
) -> None:
    case_id = submitted_case(service)
    service.decide("john", case_id, decision="reject", comment="Volume too small for a custom grade.")
    events = history_events(stack.table_name, case_id, 4)
    assert of_type(events, "CaseTransitioned")["data"]["state"] == "closed"

    assert notify_fn.handler(sqs_event(*map(for_event, events)), LambdaContext("casework-test")) == {
        "batchItemFailures": []
    }

    (message,) = sent()
    assert message["To"] == "mary@casework.example"
    assert message["Subject"] == f"Closed - Rejected: Halogen-free grade for Acme ({case_id})"
    text, html = parts(message)
    for expected in ("Closed - Rejected", "Volume too small for a custom grade.", "John Supply"):
        assert expected in text and expected in html


def test_no_link_for_an_approval_already_decided(
    stack: LocalResources, service: CaseService, notify_fn: ModuleType
) -> None:
    case_id = submitted_case(service)
    approval = of_type(history_events(stack.table_name, case_id, 3), "ApprovalRequested")
    service.decide("john", case_id, decision="approve")

    assert notify_fn.handler(sqs_event(for_event(approval)), LambdaContext("casework-test")) == {
        "batchItemFailures": []
    }

    assert sent() == []
    tokens = [
        i
        for i in boto3.client("dynamodb").scan(TableName=stack.table_name)["Items"]
        if i["sk"]["S"] == "TOKEN"
    ]
    assert tokens == []


def test_user_text_is_escaped_in_html(
    stack: LocalResources, service: CaseService, notify_fn: ModuleType
) -> None:
    title = '<script>alert("x")</script> & <b>bold</b>'
    case_id = submitted_case(service, title=title)
    approval = of_type(history_events(stack.table_name, case_id, 3), "ApprovalRequested")

    assert notify_fn.handler(sqs_event(for_event(approval)), LambdaContext("casework-test")) == {
        "batchItemFailures": []
    }

    (message,) = sent()
    text, html = parts(message)
    assert "<script>" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert title in text  # plain text stays plain
    assert message["Subject"] == f"Approval requested: {title} ({case_id})"


def test_subject_cannot_inject_headers(stack: LocalResources) -> None:
    from casework.adapters.mailer import build_message

    message = build_message(
        MAIL_FROM, "a@casework.example", "Hi\r\nBcc: evil@x.example\n\tthere", "t", "<p>h</p>"
    )
    assert message["Subject"] == "Hi Bcc: evil@x.example there"
    assert message["Bcc"] is None


# --- a service request waiting in a unit ------------------------------------------------------------------


def faulty_item(service: CaseService, title: str, assignee: str | None = None) -> dict[str, Any]:
    """A FAULTY_ITEM request of Alice (North: routed to Customer Care: carol, dave, tina), by carol."""
    return service.register(
        "carol",
        type="service_request",
        subtype="FAULTY_ITEM",
        title=title,
        contact_id="CON-2001",
        assignee=assignee,
    )


def _deliver(notify_fn: ModuleType, events: list[dict[str, Any]]) -> None:
    result = notify_fn.handler(sqs_event(*map(for_event, events)), LambdaContext("casework-test"))
    assert result == {"batchItemFailures": []}


def test_a_request_waiting_in_its_unit_is_told_to_the_units_members_once(
    stack: LocalResources, service: CaseService, notify_fn: ModuleType
) -> None:
    case = service.register(
        "carol",
        type="service_request",
        subtype="FAULTY_ITEM",
        title="Router dead on arrival",
        contact_id="CON-2001",  # North -> Customer Care (carol, dave, tina), nobody assigned
    )
    assert case.assignee is None and case.business_unit == "CARE"
    registered = history_events(stack.table_name, case.id, 1)
    # dave takes it before the registration's email goes out: the email still goes where the event meant
    service.take("dave", case.id)

    _deliver(notify_fn, registered)
    _deliver(notify_fn, registered)  # a redelivery: nobody is told twice

    mails = sent()
    assert sorted(m["To"] for m in mails) == ["dave@casework.example", "tina@casework.example"]  # not carol
    assert all(
        m["Subject"].startswith("Waiting for someone in Customer Care: Router dead on arrival") for m in mails
    )
    # the type's "new faulty item" email to the assignee: the event had none, so it goes to nobody
    assert not any("New faulty item report" in m["Subject"] for m in mails)
    text, html = parts(mails[0])
    assert "Alice Brown" in text and "Alice Brown" in html and case.id in text


def test_an_assigned_request_is_told_to_its_assignee_not_the_unit(
    stack: LocalResources, service: CaseService, notify_fn: ModuleType
) -> None:
    case = faulty_item(service, "Router rattles", assignee="dave")
    _deliver(notify_fn, history_events(stack.table_name, case.id, 1))
    subjects = sorted((m["To"], m["Subject"].split(":")[0]) for m in sent())
    assert subjects == [
        ("dave@casework.example", "Assigned to you"),
        ("dave@casework.example", "New faulty item report"),
    ]


def test_moving_a_request_to_another_unit_without_a_user_tells_that_unit(
    stack: LocalResources, service: CaseService, notify_fn: ModuleType
) -> None:
    case = service.register(
        "carol", type="service_request", title="Site survey", contact_id="CON-2001", assignee="dave"
    )
    moved = service.reassign("tina", case.id, business_unit="FIELD")
    assert moved.business_unit == "FIELD" and moved.assignee is None
    _deliver(notify_fn, history_events(stack.table_name, case.id, 2))
    assert [(m["To"], m["Subject"].split(":")[0]) for m in sent()] == [
        ("fred@casework.example", "Waiting for someone in Field Service")
    ]


# --- an agent's communication -----------------------------------------------------------------------------


def _communication_events(table: str, case_id: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :comm)",
        ExpressionAttributeValues={":pk": {"S": f"CASE#{case_id}"}, ":comm": {"S": "COMM#"}},
    )["Items"]
    return [e for item in items for e in plain(TypeDeserializer().deserialize({"L": item["events"]["L"]}))]


def test_a_communication_goes_to_the_contact_once_and_is_marked_sent(
    stack: LocalResources, service: CaseService, notify_fn: ModuleType
) -> None:
    case = service.register(
        "carol", type="service_request", title="Modem reboots", contact_id="CON-2001", assignee="carol"
    )
    written = service.communicate(
        "carol", case.id, subject="About your modem", text="Line 1\n<b>not bold</b>"
    )
    (event,) = _communication_events(stack.table_name, case.id)
    assert event["type"] == "CommunicationRequested"

    _deliver(notify_fn, [event])
    _deliver(notify_fn, [{**event}])  # redelivered: not sent twice

    (message,) = sent()
    assert message["To"] == "alice@customer.example" and message["Subject"] == "About your modem"
    text, html = parts(message)
    assert "<b>not bold</b>" in text and "&lt;b&gt;not bold&lt;/b&gt;" in html  # written, not markup
    (listed,) = service.communications("carol", case.id).items
    assert listed.id == written.id and listed.sent_at and listed.message_id


def test_a_communication_from_a_template_is_rendered_with_the_cases_tags(
    stack: LocalResources, service: CaseService, notify_fn: ModuleType
) -> None:
    case = faulty_item(service, "Dead router", assignee="carol")
    template = next(
        n.template
        for n in service.definition_of(service.repo.get(case.id)).notifications
        if n.recipient == "contact" and n.subject
    )
    service.communicate("carol", case.id, template=template)
    _deliver(notify_fn, _communication_events(stack.table_name, case.id))
    (message,) = sent()
    text, _ = parts(message)
    assert "Dear Alice Brown" in text and case.id in text and "{{" not in text


def test_a_retry_after_a_failed_send_emails_only_those_not_emailed_yet(
    stack: LocalResources, service: CaseService, notify_fn: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    from casework.adapters.mailer import SesMailer

    case = faulty_item(service, "Router smokes")  # waits in Customer Care: dave and tina are told
    registered = history_events(stack.table_name, case.id, 1)
    real_send = SesMailer.send
    outage = {"tina@casework.example"}

    def flaky(self: SesMailer, to: str, subject: str, text: str, html: str) -> str:
        if to in outage:
            raise ConnectionError("SES endpoint unreachable")
        return real_send(self, to, subject, text, html)

    monkeypatch.setattr(SesMailer, "send", flaky)
    first = notify_fn.handler(sqs_event(for_event(registered[0], "m-1")), LambdaContext("casework-test"))
    assert first == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}  # retried by SQS
    assert [m["To"] for m in sent()] == ["dave@casework.example"]
    # dave's email is marked sent; tina's claim was released with the failure, for the retry to take
    assert [(i["sk"]["S"], i["state"]["S"]) for i in ledger_items(stack.table_name)] == [
        ("case_waiting:dave", "sent")
    ]

    outage.clear()
    _deliver(notify_fn, registered)  # the retry
    assert sorted(m["To"] for m in sent()) == ["dave@casework.example", "tina@casework.example"]


# --- what wakes the publisher -----------------------------------------------------------------------------


def test_the_stream_filter_wakes_the_publisher_only_for_items_that_carry_events(
    stack: LocalResources, service: CaseService
) -> None:
    from infra.local.functions import filter_patterns, matches
    from infra.local.template import load_template

    source = load_template()["Resources"]["PublishFunction"]["Properties"]["Events"]["Outbox"]["Properties"]
    patterns = filter_patterns(source)
    case_id = submitted_case(service)
    service.add_note("mary", case_id, "A note")
    note_sk = next(
        i["sk"]["S"]
        for i in boto3.client("dynamodb").query(
            TableName=stack.table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :note)",
            ExpressionAttributeValues={":pk": {"S": f"CASE#{case_id}"}, ":note": {"S": "NOTE#"}},
        )["Items"]
    )

    def wakes(pk: str, sk: str, name: str = "INSERT") -> bool:
        record = stream_record(stack, raw_item(stack.table_name, pk, sk), "1", name)
        return any(matches(p, record) for p in patterns)

    assert wakes(f"CASE#{case_id}", "HIST#00000003") and wakes(f"CASE#{case_id}", note_sk)
    assert not wakes(f"CASE#{case_id}", "CASE")  # the case itself: its history item carries the events
    assert not wakes(f"CASE#{case_id}", "CASE", "MODIFY")
    assert not wakes("USER#mary", "PROFILE")


def test_an_event_that_emails_nobody_writes_nothing(
    stack: LocalResources, service: CaseService, notify_fn: ModuleType
) -> None:
    case_id = submitted_case(service)
    linked = of_type(history_events(stack.table_name, case_id, 2), "RelatedItemAdded")  # no rule mails it
    before = scan(stack.table_name)

    _deliver(notify_fn, [linked])
    assert scan(stack.table_name) == before and sent() == []
    _deliver(notify_fn, [of_type(history_events(stack.table_name, case_id, 3), "ApprovalRequested")])
    assert len(ledger_items(stack.table_name)) == 1 and len(sent()) == 1
