"""template.yaml is the single source of truth: it lints clean, its code paths exist, and the local stack
built from it (infra/local/template.py) has the same table, queues, bus and rules."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.local.template import TEMPLATE_PATH, LocalResources, create_resources, load_template

REPO_ROOT = TEMPLATE_PATH.parent
TEMPLATE = load_template()
FUNCTIONS = {
    logical_id: resource["Properties"]
    for logical_id, resource in TEMPLATE["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def local(aws: None) -> LocalResources:
    return create_resources(TEMPLATE)


def _props(logical_id: str, template: dict[str, Any] = TEMPLATE) -> dict[str, Any]:
    return template["Resources"][logical_id]["Properties"]


def test_load_template_turns_short_form_tags_into_long_form() -> None:
    redrive = _props("NotifyQueue")["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["NotifyDeadLetterQueue", "Arn"]}
    assert _props("EventBus")["Name"] == {"Fn::Sub": "casework-${Stage}"}
    assert TEMPLATE["Globals"]["Function"]["Layers"] == [{"Ref": "SharedLayer"}]
    assert TEMPLATE["Conditions"]["HasPublicBaseUrl"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "PublicBaseUrl"}, ""]}]
    }
    env = _props("NotifyFunction")["Environment"]["Variables"]
    assert env["PUBLIC_BASE_URL"]["Fn::If"][0] == "HasPublicBaseUrl"


def test_table_matches_template(local: LocalResources) -> None:
    dynamodb = boto3.client("dynamodb")
    table = dynamodb.describe_table(TableName=local.table_name)["Table"]
    spec = _props("CaseTable")

    assert local.table_name == "casework-local"
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} >= {
        "gsi1",
        "gsi2v2",
        "gsi3v2",
        "gsi4",
        "directory",
    }
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {
        i["IndexName"] for i in spec["GlobalSecondaryIndexes"]
    }
    assert table["KeySchema"] == spec["KeySchema"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert table["LatestStreamArn"] == local.table_stream_arn
    ttl = dynamodb.describe_time_to_live(TableName=local.table_name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_notify_queue_redrives_to_its_dead_letter_queue(local: LocalResources) -> None:
    sqs = boto3.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=local.notify_queue_url, AttributeNames=["All"])["Attributes"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=local.notify_dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]

    assert json.loads(attrs["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}
    assert attrs["VisibilityTimeout"] == str(_props("NotifyQueue")["VisibilityTimeout"]) == "90"
    assert local.notify_queue_url.endswith("/casework-local-NotifyQueue")
    assert local.publish_dlq_url.endswith("/casework-local-PublishDeadLetterQueue")


def test_casework_events_on_the_bus_land_on_the_notify_queue(local: LocalResources) -> None:
    events, sqs = boto3.client("events"), boto3.client("sqs")
    entry = {"EventBusName": local.event_bus_name, "DetailType": "CaseRegistered", "Detail": '{"id": "c1"}'}
    result = events.put_events(Entries=[entry | {"Source": "casework"}, entry | {"Source": "erp.orders"}])
    assert result["FailedEntryCount"] == 0

    messages = sqs.receive_message(QueueUrl=local.notify_queue_url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["source"] for m in messages] == ["casework"]
    assert json.loads(messages[0]["Body"])["detail"] == {"id": "c1"}


def test_local_stack_follows_the_template(aws: None) -> None:
    """Nothing is hard-coded in Python: a new GSI or a different redrive count in the template shows up."""
    template = copy.deepcopy(TEMPLATE)
    table = _props("CaseTable", template)
    table["AttributeDefinitions"].append({"AttributeName": "gsi5pk", "AttributeType": "S"})
    table["GlobalSecondaryIndexes"].append(
        {
            "IndexName": "gsi5",
            "KeySchema": [{"AttributeName": "gsi5pk", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
    )
    _props("NotifyQueue", template)["RedrivePolicy"]["maxReceiveCount"] = 3

    local = create_resources(template, stage="other")

    described = boto3.client("dynamodb").describe_table(TableName="casework-other")["Table"]
    indexes = {i["IndexName"] for i in described["GlobalSecondaryIndexes"]}
    assert "gsi5" in indexes and indexes == {i["IndexName"] for i in table["GlobalSecondaryIndexes"]}
    attrs = boto3.client("sqs").get_queue_attributes(
        QueueUrl=local.notify_queue_url, AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == 3
    assert local.event_bus_name == "casework-other"


def test_creating_twice_fails_loudly(local: LocalResources) -> None:
    with pytest.raises(ClientError, match="ResourceInUseException"):
        create_resources(TEMPLATE)


def _cfn_lint() -> list[str]:
    script = Path(sys.executable).with_name("cfn-lint")
    if script.exists():
        return [str(script)]
    found = shutil.which("cfn-lint")
    if found is None:
        pytest.fail("cfn-lint is not installed (pip install -e '.[dev]')")
    return [found]


def test_template_passes_cfn_lint() -> None:
    proc = subprocess.run(
        [*_cfn_lint(), "--", str(TEMPLATE_PATH)], capture_output=True, text=True, cwd=REPO_ROOT, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == ""


def test_only_email_links_and_docs_are_public() -> None:
    public = {
        (event["Properties"]["Method"], event["Properties"]["Path"])
        for props in FUNCTIONS.values()
        for event in props.get("Events", {}).values()
        if event["Type"] == "HttpApi" and event["Properties"].get("Auth", {}).get("Authorizer") == "NONE"
    }
    assert public == {
        ("GET", "/approvals/{token}"),
        ("POST", "/approvals/{token}"),
        ("GET", "/acceptances/{token}"),
        ("POST", "/acceptances/{token}"),
        ("GET", "/l/{token}"),  # the SMS's short acceptance link
        ("POST", "/l/{token}"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
    }
    assert _props("HttpApi")["Auth"]["DefaultAuthorizer"] == "CaseworkJwt"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_code_exists(logical_id: str) -> None:
    props = FUNCTIONS[logical_id]
    handler = props.get("Handler") or TEMPLATE["Globals"]["Function"]["Handler"]
    module, _, attribute = handler.rpartition(".")
    code_dir = REPO_ROOT / props["CodeUri"]
    source = code_dir / f"{module.replace('.', '/')}.py"

    assert code_dir.is_dir(), f"{logical_id}: CodeUri {props['CodeUri']} does not exist"
    assert source.is_file(), f"{logical_id}: {source.relative_to(REPO_ROOT)} does not exist"
    text = source.read_text(encoding="utf-8")
    assert f"def {attribute}" in text or f"{attribute} =" in text, f"{logical_id}: no {attribute} in {source}"
