"""The envelope subscribers receive, end to end on moto: an API request's correlation id (the client's
``x-correlation-id`` header, else API Gateway's request id) and the case version reach every event the
request raises, through the outbox and the bus, as the catalogue describes them; a consumer's handling
carries the correlation id of the event it handles."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from casework import correlation
from casework.adapters.codec import plain
from casework.adapters.consumer import event_consumer
from casework.events.catalogue import uncatalogued_fields, validate
from infra.local.functions import LambdaContext, import_file
from infra.local.template import LocalResources
from tests.functional.shapes import for_event, sqs_record, stored_events, subscriber_queue
from tests.functional.test_api_handlers import ROOT, Api, Reply, http_event, jwt_claims

CSR = {"type": "csr", "title": "Antistatic PA66", "description": "Belt rollers", "account_id": "ACC-1001"}


def request(
    api: Api,
    route_key: str,
    path: dict[str, str] | None = None,
    *,
    correlation_id: str | None = None,
    **kwargs: Any,
) -> tuple[Reply, dict[str, Any]]:
    """``route_key`` invoked as mary (with an ``x-correlation-id`` header if given): the reply, the event."""
    event = http_event(route_key, path, claims=jwt_claims("mary"), **kwargs)
    if correlation_id is not None:
        event["headers"]["X-Correlation-Id"] = correlation_id  # any case: API Gateway v2 lower-cases them
    return api.invoke(event), event


def outbox(table: str, pk: str, sk: str) -> list[dict[str, Any]]:
    item = boto3.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
    return stored_events(item)


def cases_of_mary(api: Api) -> list[str]:
    reply = api("GET /cases", query={"assignee": "me"})
    assert reply.status == 200, reply.text
    return [c["id"] for c in reply.json["items"]]


# --- correlation id and case version, from the request to the outbox ---------------------------------------


def test_the_clients_correlation_id_is_on_the_response_and_every_event_the_request_raises(
    api: Api, stack: LocalResources
) -> None:
    reply, _ = request(api, "POST /cases", correlation_id="erp-sync-42/retry:1", body=CSR)

    assert reply.status == 201, reply.text
    assert reply.headers[correlation.HEADER] == "erp-sync-42/retry:1"
    events = outbox(stack.table_name, f"CASE#{reply.json['id']}", "HIST#00000001")
    assert [e["type"] for e in events] == ["CaseRegistered"]
    assert [(e["correlation_id"], e["case_version"]) for e in events] == [("erp-sync-42/retry:1", 1)]
    assert uncatalogued_fields(validate(events[0])) == []


def test_without_the_header_api_gateways_request_id_correlates(api: Api, stack: LocalResources) -> None:
    created, _ = request(api, "POST /cases", body=CSR)
    case_id = created.json["id"]
    path = {"case_id": case_id}
    added, sent = request(api, "POST /cases/{case_id}/products", path, body={"product_code": "P-100"})
    moved, _ = request(api, "POST /cases/{case_id}/transitions", path, body={"to": "Pending Pre-Approval"})
    noted, _ = request(api, "POST /cases/{case_id}/notes", path, correlation_id="note-1", body={"text": "Hi"})

    assert added.status == 201 and moved.status == 200 and noted.status == 201
    request_id = sent["requestContext"]["requestId"]
    assert added.headers[correlation.HEADER] == request_id
    products = outbox(stack.table_name, f"CASE#{case_id}", "HIST#00000002")
    assert [(e["type"], e["correlation_id"], e["case_version"]) for e in products] == [
        ("RelatedItemAdded", request_id, 2)
    ]
    submitted = outbox(stack.table_name, f"CASE#{case_id}", "HIST#00000003")
    assert [e["type"] for e in submitted] == ["CaseTransitioned", "ApprovalRequested"]
    assert {e["case_version"] for e in submitted} == {3}
    assert len({e["correlation_id"] for e in [*products, *submitted]}) == 2  # one per request
    (note_item,) = [
        i
        for i in boto3.resource("dynamodb")
        .Table(stack.table_name)
        .query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :note)",
            ExpressionAttributeValues={":pk": f"CASE#{case_id}", ":note": "NOTE#"},
        )["Items"]
    ]
    (note_event,) = plain(note_item["events"])
    # a note does not change the case: it carries the version it was added to
    assert (note_event["correlation_id"], note_event["case_version"]) == ("note-1", 3)


@pytest.mark.parametrize(
    "sent", ["", "has spaces", "x" * 129, "semi;colon", "new\nline", "<script>"], ids=repr
)
def test_a_malformed_correlation_id_is_refused_and_nothing_is_written(api: Api, sent: str) -> None:
    before = cases_of_mary(api)
    reply, _ = request(api, "POST /cases", correlation_id=sent, body=CSR)

    assert reply.status == 400
    assert reply.error["code"] == "INVALID_CORRELATION_ID" and correlation.HEADER in reply.error["message"]
    assert cases_of_mary(api) == before
    assert correlation.current() is None  # nothing bound leaks into the next invocation


def test_published_events_reach_subscribers_as_the_catalogue_describes_them(
    api: Api, stack: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    created, _ = request(api, "POST /cases", correlation_id="crm-7", body=CSR)
    history = boto3.client("dynamodb").get_item(
        TableName=stack.table_name,
        Key={"pk": {"S": f"CASE#{created.json['id']}"}, "sk": {"S": "HIST#00000001"}},
    )["Item"]
    publish = import_file(ROOT / "functions" / "publish" / "app.py", "casework_envelope_test_publish")
    record = {
        "eventID": "1",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "Keys": {"pk": history["pk"], "sk": history["sk"]},
            "NewImage": history,
            "SequenceNumber": "1",
            "SizeBytes": 1,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": stack.table_stream_arn,
    }

    every_event = subscriber_queue(stack.event_bus_name)
    assert publish.handler({"Records": [record]}, LambdaContext("test")) == {"batchItemFailures": []}
    messages = boto3.client("sqs").receive_message(QueueUrl=every_event, MaxNumberOfMessages=10)
    (body,) = [json.loads(m["Body"]) for m in messages["Messages"]]
    assert (body["source"], body["detail-type"]) == ("casework", "CaseRegistered")
    delivered = validate(body["detail"])
    assert uncatalogued_fields(delivered) == []
    assert (delivered.correlation_id, delivered.case_version, delivered.case_id) == (
        "crm-7",
        1,
        created.json["id"],
    )


# --- consumers ---------------------------------------------------------------------------------------------


def test_a_consumer_handles_an_event_under_its_correlation_id(stack: LocalResources) -> None:
    seen: list[str | None] = []

    def handle(event: dict[str, Any]) -> str:
        seen.append(correlation.current())
        return event["id"]

    consumer = event_consumer(handle, key_prefix="envelope-test")
    base = {
        "type": "NoteAdded",
        "schema_version": 1,
        "case_id": "C1",
        "case_type": "csr",
        "case_version": 3,
        "workflow_version": 1,
        "occurred_at": "2026-11-30T09:00:00.000Z",
        "actor": "frank",
        "data": {"status": "Registration", "state": "open", "note_id": "n1"},
    }
    traced = {**base, "id": "C1:note:n1", "correlation_id": "crm-7"}
    untraced = {**base, "id": "C1:note:n2"}  # published before correlation ids: its own id correlates

    result = consumer.handler(
        {
            "Records": [
                for_event(traced),
                for_event(untraced),
                sqs_record('{"detail": {"not": "an event"}}', "poison"),
            ]
        },
        LambdaContext("test"),
    )

    assert result == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    assert seen == ["crm-7", "C1:note:n2"]
    assert correlation.current() is None
