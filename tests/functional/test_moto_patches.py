"""The two-phase TransactWriteItems of infra/local/moto_patches.py answers as moto (and DynamoDB) does,
without copying the table: a cancelled transaction writes nothing, the reasons come one per item in order,
ALL_OLD returns the item that failed its condition, and a write that fails while being applied is taken back
with its stream records."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from infra.local import moto_patches

REGION = "eu-west-1"
TABLE = "patched"


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    moto_patches.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        client.put_item(TableName=TABLE, Item={"pk": {"S": "A"}, "sk": {"S": "1"}, "v": {"N": "1"}})
        yield client


def _table() -> Any:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[TABLE]


def _items(client: Any) -> dict[tuple[str, str], dict[str, Any]]:
    items = client.scan(TableName=TABLE)["Items"]  # test inspection of a tiny table, not product code
    return {(i["pk"]["S"], i["sk"]["S"]): i for i in items}


def _put(pk: str, sk: str, **extra: Any) -> dict[str, Any]:
    return {"Put": {"TableName": TABLE, "Item": {"pk": {"S": pk}, "sk": {"S": sk}, **extra}}}


def test_install_puts_the_two_phase_transaction_in_place_and_may_be_called_again() -> None:
    """What install() promises: moto's backend runs the two-phase transaction, however often it is called.
    (That it does not wrap itself cannot be seen here: it assigns the same function each time.)"""
    from moto.dynamodb.models import DynamoDBBackend

    moto_patches.install()
    moto_patches.install()
    assert DynamoDBBackend.transact_write_items is moto_patches._transact_write_items


def test_a_transaction_whose_conditions_hold_writes_every_item_and_its_stream_records(ddb: Any) -> None:
    shard = _table().stream_shard
    before = len(shard.items)
    ddb.transact_write_items(
        TransactItems=[
            _put("B", "1", v={"N": "1"}),
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": {"pk": {"S": "A"}, "sk": {"S": "1"}},
                    "UpdateExpression": "SET v = v + :one",
                    "ConditionExpression": "v = :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )
    items = _items(ddb)
    assert items[("A", "1")]["v"] == {"N": "2"} and ("B", "1") in items
    assert [r.record["eventName"] for r in shard.items[before:]] == ["INSERT", "MODIFY"]
    assert _table().stream_shard is shard  # the same shard object: stream readers keep their place


def test_a_failed_condition_cancels_everything_with_one_reason_per_item(ddb: Any) -> None:
    table_before, shard_length = _table(), len(_table().stream_shard.items)
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(
            TransactItems=[
                _put("C", "1"),
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": {"pk": {"S": "A"}, "sk": {"S": "1"}, "v": {"N": "9"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )
    error = raised.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    reasons = error["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"]["v"] == {"N": "1"}  # ALL_OLD: the item as it is
    assert set(_items(ddb)) == {("A", "1")}  # nothing written, not even the first put
    assert _table() is table_before and len(_table().stream_shard.items) == shard_length


def test_the_same_item_twice_is_a_validation_error(ddb: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=[_put("D", "1"), _put("D", "1")])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert ("D", "1") not in _items(ddb)


def test_a_write_failing_while_applied_is_taken_back_with_its_stream_records(ddb: Any) -> None:
    shard = _table().stream_shard
    before = len(shard.items)
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(
            TransactItems=[
                _put("E", "1"),
                {
                    "Update": {  # adding a number to a string: moto finds out only while applying it
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "A"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET v = v + :text",
                        "ExpressionAttributeValues": {":text": {"S": "x"}},
                    }
                },
            ]
        )
    assert raised.value.response["Error"]["Code"] in ("TransactionCanceledException", "ValidationException")
    items = _items(ddb)
    assert ("E", "1") not in items and items[("A", "1")]["v"] == {"N": "1"}
    assert len(shard.items) == before
