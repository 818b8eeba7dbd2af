"""moto's TransactWriteItems without the copy of every table it touches.

moto (5.x) deep-copies each table a transaction touches before applying it, so that it can roll back a
cancelled one. The cost grows with the table: on the local stack every transition copies every case, history
item and stream record written so far, which makes each request slower than the one before, lets memory grow
by gigabytes over a few hundred requests, and turns a 10,000-row import into hours.

This replacement gives the same answers for the same requests, in two phases:
1. check every operation (one operation per item, no item twice, each condition against the current item)
   and collect the cancellation reasons exactly as moto does, writing nothing;
2. only when every check passed, apply the writes. Should one of them still fail (moto validates update
   expressions only while applying them), the items written so far and their stream records are put back as
   they were, and the transaction is cancelled as moto would cancel it.

A cancelled transaction therefore leaves the table object (and its stream shard) in place, instead of swapping
in a copy. `install()` is idempotent; the local stack and the functional tests call it before any request.
This is a development-harness fix of a dependency's behaviour, reported upstream as a performance issue.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_PATCHED = "_casework_two_phase"
_OPERATIONS = frozenset({"ConditionCheck", "Put", "Delete", "Update"})


def install() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend.transact_write_items, _PATCHED, False):
        return
    setattr(_transact_write_items, _PATCHED, True)
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


def _key_of(backend: Any, table_name: str, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return op["Key"]
    table = backend.get_table(table_name)
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _check(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]]:
    """Phase 1: moto's checks and cancellation reasons, without writing anything."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TransactWriteSingleOpException,
    )

    seen: set[tuple[str, str]] = set()
    reasons: list[tuple[Any, Any, Any]] = []
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        old_image = None
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in _OPERATIONS:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            key = _key_of(backend, table_name, op_type, op)
            unique = (str(table_name), str(dict(sorted(key.items()))))
            if unique in seen:
                raise MultipleTransactionsException()
            seen.add(unique)
            current = backend.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            if condition is not None:
                check = get_filter_expression(
                    condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                )
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old_image = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=old_image)
            reasons.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as exc:
            reasons.append(("ConditionalCheckFailed", str(exc.message), old_image))
        except Exception as exc:  # moto reports any other failure as that item's reason
            reasons.append((type(exc).__name__, str(exc), old_image))
    return reasons


def _apply(backend: Any, op_type: str, op: dict[str, Any]) -> None:
    """Phase 2, one write, with moto's own item operations (they write the stream records too)."""
    condition = {
        "condition_expression": op.get("ConditionExpression"),
        "expression_attribute_names": op.get("ExpressionAttributeNames"),
        "expression_attribute_values": op.get("ExpressionAttributeValues"),
    }
    if op_type == "Put":
        backend.put_item(op["TableName"], op["Item"], **condition)
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], op["Key"], **condition)
    elif op_type == "Update":
        backend.update_item(op["TableName"], op["Key"], update_expression=op["UpdateExpression"], **condition)


class _Undo:
    """What phase 2 changed, so a write that fails half-way can be taken back: the items as they were (deep
    copies of those few items only) and how long each touched stream shard was."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, Any, Any, Any]] = []  # (table, hash, range, item before or None)
        self.shards: dict[int, tuple[Any, int]] = {}

    def remember(self, backend: Any, table_name: str, key: dict[str, Any]) -> None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = backend.get_table(table_name)
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        before = table.get_item(hash_value, range_value)
        self.items.append((table, hash_value, range_value, copy.deepcopy(before)))
        shard = table.stream_shard
        if shard is not None and id(shard) not in self.shards:
            self.shards[id(shard)] = (shard, len(shard.items))

    def undo(self) -> None:
        for table, hash_value, range_value, before in reversed(self.items):
            if range_value is not None:
                if before is None:
                    table.items[hash_value].pop(range_value, None)
                else:
                    table.items[hash_value][range_value] = before
            elif before is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = before
        for shard, length in self.shards.values():
            del shard.items[length:]


# DynamoDB runs a transaction in isolation; moto checks and writes from whichever request thread calls it,
# so two racing transactions could both pass their checks. One at a time, as DynamoDB serialises them.
_ISOLATION = threading.RLock()


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    with _ISOLATION:
        _isolated_transact_write_items(self, transact_items)


def _isolated_transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    from moto.dynamodb.exceptions import TooManyTransactionsException, TransactionCanceledException

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    reasons = _check(self, transact_items)
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)
    undo = _Undo()
    for index, item in enumerate(transact_items):
        op_type, op = next(iter(item.items()))
        if op_type == "ConditionCheck":
            continue
        undo.remember(self, op["TableName"], _key_of(self, op["TableName"], op_type, op))
        try:
            _apply(self, op_type, op)
        except Exception as exc:
            undo.undo()
            failed: list[tuple[Any, Any, Any]] = [(None, None, None)] * len(transact_items)
            failed[index] = (type(exc).__name__, str(exc), None)
            raise TransactionCanceledException(failed) from exc
