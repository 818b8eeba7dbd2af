"""ERP events at the edge: the queued message read into an ErpDetail, and products and orders on the table.

    PRODUCT#<code>     / PRODUCT   the directory's product (cases read code and name); body carries the ERP's
                                   fields and source_version
    ORDER#<order_id>   / ORDER     a quote, sales order or loaner order; gsi3v2 (the by-account index) lists
                                   a customer's orders under gsi3pk ORDERS#<account_id>, gsi1sk
                                   <order_date>#<order_id> (the ORDERS# prefix keeps them apart from the case
                                   lists on the same index, keyed ACCOUNT#<id>#<shard>); the index holds the
                                   order row (``listing``: the order without its lines)

Each upsert is one PutItem with the condition ``attribute_not_exists(pk) OR attribute_not_exists
(body.source_version) OR body.source_version < :v``, returning the old item either way (ReturnValues and
ReturnValuesOnConditionCheckFailure): created / updated on success, unchanged / stale on a failed condition,
with no second request.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError
from pynamodb.attributes import MapAttribute, UnicodeAttribute

from casework.adapters.codec import plain
from casework.adapters.dynamo import (
    DirectoryItem,
    Item,
    _index,
    _one_page,
    cursor_scope,
    decode_cursor,
    item_body,
)
from casework.adapters.events import PoisonMessage, queued_event_model
from casework.services.erp import EVENT_TYPES, ErpDetail, Outcome, UnknownEventType, problems
from casework.services.ports import Page

CONDITION_FAILED = "ConditionalCheckFailedException"


# --- the queued message -------------------------------------------------------------------------------------


def erp_event(body: str | None, message_id: str) -> dict[str, Any]:
    """An SQS message body (an EventBridge event from the ERP) -> {"event_id", "detail_type", "detail"}.

    Raises PoisonMessage (retrying cannot help; it ends in the DLQ) with a stable code: MALFORMED_MESSAGE (not
    JSON, or not an EventBridge event), UNKNOWN_EVENT_TYPE, INVALID_ERP_EVENT (no event_id, no version or
    updated_at, no data)."""
    try:
        envelope = queued_event_model().model_validate_json(body or "")
    except ValidationError as exc:
        raise PoisonMessage(
            f"message {message_id} is not an EventBridge event: {problems(exc)[:3]}", code="MALFORMED_MESSAGE"
        ) from None
    if envelope.detail_type not in EVENT_TYPES:
        raise PoisonMessage(UnknownEventType(envelope.detail_type).message, code="UNKNOWN_EVENT_TYPE")
    try:
        detail = ErpDetail.model_validate(envelope.detail)
    except ValidationError as exc:
        raise PoisonMessage(
            f"message {message_id} ({envelope.detail_type}) breaks the ERP event contract: {problems(exc)}",
            code="INVALID_ERP_EVENT",
        ) from None
    # The idempotency key is the ERP's event id: EventBridge gives a re-sent event a new envelope id.
    return {"event_id": detail.event_id, "detail_type": envelope.detail_type, "detail": detail}


# --- the table ----------------------------------------------------------------------------------------------


class OrderItem(Item, discriminator="order"):
    gsi3pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()  # <order_date>#<order_id>: gsi3v2 sorts on gsi1sk, the cases' list sort key
    listing: MapAttribute[str, Any] = MapAttribute(null=True)  # the order list's row, what gsi3v2 holds
    by_account = _index("gsi3v2", "gsi3pk", "gsi1sk")()


def order_row(order: dict[str, Any]) -> dict[str, Any]:
    """An order as the customer's order list shows it: the order without its lines (up to 500; the order
    itself, GET /orders/{id}, has them), and how many there are."""
    return {**{k: v for k, v in order.items() if k != "lines"}, "line_count": len(order.get("lines") or [])}


def product_key(code: str) -> tuple[str, str]:
    return f"PRODUCT#{code}", "PRODUCT"


def order_key(order_id: str) -> tuple[str, str]:
    return f"ORDER#{order_id}", "ORDER"


def orders_partition(account_id: str) -> str:
    return f"ORDERS#{account_id}"


def _newer_only(source_version: int) -> Any:
    stored = Item.body["source_version"]
    return Item.pk.does_not_exist() | stored.does_not_exist() | (stored < source_version)


def _stored_version(raw_item: dict[str, Any] | None) -> int | None:
    value = ((raw_item or {}).get("body") or {}).get("M", {}).get("source_version") or {}
    return int(value["N"]) if "N" in value else None


def conditional_put(item: Item, source_version: int) -> Outcome:
    """One PutItem that holds only over an older (or no) ERP version; what it replaced tells the outcome."""
    kwargs = item.get_save_kwargs_from_instance(
        condition=_newer_only(source_version), return_values_on_condition_failure="ALL_OLD"
    )
    kwargs["ReturnValues"] = "ALL_OLD"
    # The botocore client itself: PynamoDB's error wrapper drops the old item a failed condition returns.
    client = item._get_connection().connection.client
    try:
        old = client.put_item(**kwargs).get("Attributes")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != CONDITION_FAILED:
            raise  # throttling and the like: transient, the message is retried
        stored = _stored_version(exc.response.get("Item"))
        return "unchanged" if stored == source_version else "stale"
    return "updated" if old else "created"


class DynamoErpStore:
    def put_product(self, product: dict[str, Any], source_version: int) -> Outcome:
        body = {**product, "source_version": source_version}
        return conditional_put(DirectoryItem(*product_key(product["code"]), body=body), source_version)

    def put_order(self, order: dict[str, Any], source_version: int) -> Outcome:
        body = {**order, "source_version": source_version}
        item = OrderItem(
            *order_key(order["order_id"]),
            body=body,
            gsi3pk=orders_partition(order["account_id"]),
            gsi1sk=f"{order['order_date']}#{order['order_id']}",
            listing=order_row(body),
        )
        return conditional_put(item, source_version)

    def product(self, code: str) -> dict[str, Any] | None:
        return item_body(DirectoryItem, *product_key(code), consistent=False)

    def order(self, order_id: str) -> dict[str, Any] | None:
        return item_body(OrderItem, *order_key(order_id), consistent=False)

    def customer_orders(self, account_id: str, cursor: str | None, limit: int) -> Page:
        partition = orders_partition(account_id)
        scope = cursor_scope("gsi3v2", partition)
        iterator = OrderItem.by_account.query(
            partition,
            scan_index_forward=False,  # newest order date first
            page_size=limit,
            last_evaluated_key=decode_cursor(cursor, scope),
        )
        items, next_cursor = _one_page(iterator, OrderItem, scope)
        rows = [i.listing for i in items if isinstance(i, OrderItem) and i.listing is not None]
        return Page([plain(row.as_dict()) for row in rows], next_cursor)
