"""SMS to the contact as Lambda runs it: the notify function texts an acceptance request through SNS (moto
keeps what was sent), and the approve function serves the SMS's short link /l/{token} (GET: the page,
nothing changes; POST: the decision, once)."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from casework.adapters.sms import SnsSmsSender
from infra.local.functions import LambdaContext
from tests.functional.moto_account import load_function
from tests.functional.shapes import for_event, stored_events
from tests.functional.test_api_handlers import Api, ok

SHORT = re.compile(r"/l/([A-Za-z0-9_-]{22})$")
ALICE_MOBILE = "+447911123456"  # the demo directory's Alice Brown (CON-2001)


def texts() -> list[tuple[str, str]]:
    return list(sns_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sms_messages.values())


def events_of(table: str, case_id: str, event_type: str) -> list[dict[str, Any]]:
    items = (
        boto3.resource("dynamodb")
        .Table(table)
        .query(
            KeyConditionExpression=Key("pk").eq(f"CASE#{case_id}") & Key("sk").begins_with("HIST#"),
            ConsistentRead=True,
        )["Items"]
    )
    return [e for item in items for e in stored_events(item) if e["type"] == event_type]


def sms_only_resolutions(api: Api) -> None:
    """An Admin has a faulty item's resolution reach the contact by SMS (and so its acceptance link)."""
    current = ok(api("GET /config/{module}", {"module": "service_request"}, user="admin"))
    for t in current["config"]["types"]:
        if t["code"] == "FAULTY_ITEM":
            for c in t["communications"]:
                if c["to"] == "contact":
                    c["channels"] = ["sms"]
    saved = api(
        "PUT /config/{module}",
        {"module": "service_request"},
        user="admin",
        body={"config": current["config"], "expected_version": current["version"]},
    )
    assert saved.status == 200, saved.text


def form(api: Api, token: str, body: str) -> Any:
    return api(
        "POST /l/{token}",
        {"token": token},
        raw_body=body.encode(),
        content_type="application/x-www-form-urlencoded",
    )


def test_an_acceptance_goes_by_sms_with_a_short_single_use_link(
    api: Api, stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sms_only_resolutions(api)
    case = api(
        "POST /cases",
        user="dave",
        body={
            "type": "service_request",
            "subtype": "FAULTY_ITEM",
            "title": "Router",
            "contact_id": "CON-2001",
            "assignee": "dave",
        },
    ).json
    cid = case["id"]
    fields = {"response_category": "ACK_INVESTIGATING", "response": "Looking"}
    assert api.transition(cid, "Acknowledged", user="dave", fields=fields).status == 200
    fields = {"final_resolution_category": "REPLACED", "final_resolution": "We replace your router."}
    assert api.transition(cid, "Resolved", user="dave", fields=fields).status == 200
    (requested,) = events_of(stack.table_name, cid, "AcceptanceRequested")

    notify = load_function("notify", monkeypatch, prefix="sms")
    before = len(texts())
    result = notify.handler({"Records": [for_event(requested, "m1")]}, LambdaContext("casework-test"))
    assert result["batchItemFailures"] == []

    ((to, text),) = texts()[before:]
    assert to == ALICE_MOBILE and "We replace your router." in text
    (token,) = SHORT.findall(text.splitlines()[-1])

    page = api("GET /l/{token}", {"token": token})
    assert page.status == 200 and "We replace your router." in page.text
    assert api.get(cid, user="dave")["acceptance"]["decision"] is None  # GET changed nothing
    decided = form(api, token, "decision=accept&comment=Thanks")
    assert decided.status == 200, decided.text
    assert api.get(cid, user="dave")["acceptance"]["decision"] == "accept"
    assert form(api, token, "decision=refuse").status == 410  # single use


def test_the_sns_sender_publishes_a_transactional_sms(api: Api) -> None:
    message_id = SnsSmsSender(sender_id="Casework").send(ALICE_MOBILE, "Hello")
    assert texts()[-1] == (ALICE_MOBILE, "Hello") and message_id
