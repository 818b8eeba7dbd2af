"""Subscribing the ERP is configuration: the template's ``ErpEventQueueArn`` parameter. Without it nothing of
the subscription exists; with it every casework event on the bus reaches the ERP's queue (and nothing else
does), delivered with retries and a dead-letter queue of ours. Checked on the template and on the local
stack built from it, which honours the template's conditions as CloudFormation would."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.local.template import create_resources, load_template

TEMPLATE = load_template()
ERP_RESOURCES = {
    "ErpSubscriberDeadLetterQueue",
    "ErpSubscriberRole",
    "ErpSubscriberRule",
    "ErpSubscriberDeadLetterQueuePolicy",
    "ErpSubscriberDeadLetterAlarm",
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws():
        yield


def _with_erp_queue(arn: str) -> dict[str, Any]:
    template = copy.deepcopy(TEMPLATE)
    template["Parameters"]["ErpEventQueueArn"]["Default"] = arn
    return template


def _rules(bus: str) -> set[str]:
    return {r["Name"] for r in boto3.client("events").list_rules(EventBusName=bus)["Rules"]}


def _bodies(queue_url: str) -> list[dict[str, Any]]:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_every_erp_resource_exists_only_with_the_parameter() -> None:
    resources = TEMPLATE["Resources"]
    assert {k for k, v in resources.items() if v.get("Condition") == "HasErpEventQueue"} == ERP_RESOURCES
    assert TEMPLATE["Conditions"]["HasErpEventQueue"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ErpEventQueueArn"}, ""]}]
    }
    assert TEMPLATE["Parameters"]["ErpEventQueueArn"]["Default"] == ""
    outputs = TEMPLATE["Outputs"]
    assert outputs["ErpSubscriberRoleArn"]["Condition"] == "HasErpEventQueue"


def test_the_rule_sends_every_casework_event_with_retries_and_a_dead_letter_queue() -> None:
    props = TEMPLATE["Resources"]["ErpSubscriberRule"]["Properties"]
    assert props["EventPattern"] == {"source": ["casework"]}
    (target,) = props["Targets"]
    assert target["Arn"] == {"Ref": "ErpEventQueueArn"}
    assert target["RoleArn"] == {"Fn::GetAtt": ["ErpSubscriberRole", "Arn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["ErpSubscriberDeadLetterQueue", "Arn"]}}
    (statement,) = TEMPLATE["Resources"]["ErpSubscriberRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    assert (statement["Action"], statement["Resource"]) == ("sqs:SendMessage", {"Ref": "ErpEventQueueArn"})


@pytest.mark.parametrize(
    ("arn", "accepted"),
    [
        ("", True),
        ("arn:aws:sqs:eu-west-1:123456789012:erp-casework-events", True),
        ("arn:aws-us-gov:sqs:us-gov-west-1:123456789012:erp_events", True),
        ("arn:aws:sqs:eu-west-1:123456789012:erp-events.fifo", False),  # FIFO needs a message group
        ("https://sqs.eu-west-1.amazonaws.com/123456789012/erp-events", False),  # a URL, not the ARN
        ("arn:aws:sns:eu-west-1:123456789012:erp-events", False),
    ],
)
def test_the_parameter_takes_a_standard_queue_arn_or_nothing(arn: str, accepted: bool) -> None:
    pattern = TEMPLATE["Parameters"]["ErpEventQueueArn"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, arn)) is accepted


def test_without_the_parameter_the_local_stack_has_no_erp_subscription(aws: None) -> None:
    local = create_resources(TEMPLATE, stage="plain")

    assert not ERP_RESOURCES & set(local.physical)
    rules = {
        "casework-plain-NotifyRule",
        "casework-plain-ConvertRule",
        "casework-plain-IngestRule",
        "casework-plain-RulesRule",
        "casework-plain-FeedbackSummaryRule",  # FeedbackGiven to the feedback summary
    }
    assert _rules(local.event_bus_name) == rules  # IngestRule takes the ERP's events in, nothing out


def test_with_the_parameter_every_casework_event_reaches_the_erp_queue(aws: None) -> None:
    sqs = boto3.client("sqs")
    erp_url = sqs.create_queue(QueueName="erp-casework-events")["QueueUrl"]
    erp_arn = sqs.get_queue_attributes(QueueUrl=erp_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]

    local = create_resources(_with_erp_queue(erp_arn), stage="erp")

    assert "casework-erp-ErpSubscriberRule" in _rules(local.event_bus_name)
    assert "QueueUrl" in local.physical["ErpSubscriberDeadLetterQueue"]
    entry = {"EventBusName": local.event_bus_name, "Detail": json.dumps({"id": "c1:1:0"})}
    sent = boto3.client("events").put_events(
        Entries=[
            entry | {"Source": "casework", "DetailType": "CaseRegistered"},
            entry | {"Source": "casework", "DetailType": "LeadWon"},
            entry | {"Source": "erp.orders", "DetailType": "OrderPlaced"},
        ]
    )
    assert sent["FailedEntryCount"] == 0
    received = _bodies(erp_url)
    assert sorted(b["detail-type"] for b in received) == ["CaseRegistered", "LeadWon"]
    assert {b["source"] for b in received} == {"casework"}
    assert all(b["detail"] == {"id": "c1:1:0"} for b in received)
