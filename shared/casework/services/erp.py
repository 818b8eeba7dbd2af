"""ERP events in: customers, contacts, products and orders upserted by the ERP; products and orders shown.

The ERP publishes on the casework bus (source ``erp``) one event per changed record, detail-type
``CustomerUpserted`` | ``ContactUpserted`` | ``ProductUpserted`` | ``OrderUpserted``, detail:

    {"event_id": "<the ERP's unique id of this event>",
     "version": <int, the ERP's version of the record>   or   "updated_at": "<ISO 8601 with offset>",
     "data": {...the record...}}

Delivery is at least once and in no particular order, so the handling is exactly-once in effect twice over:
the consumer drops a redelivered ``event_id`` (Powertools idempotency), and every write is conditional on
the record's ``source_version`` (the ERP's version, or ``updated_at`` in epoch microseconds): a record is
written only if the stored one is older or was never written by the ERP. An older event is "stale" and
writes nothing; the same version again is "unchanged". Both are successes: retrying cannot make them newer.

Pure: pydantic validation and mapping; storage goes through ``ErpStore`` and ``CustomerUpserts``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from casework.domain.error_codes import ErrorCode
from casework.domain.errors import NotFound, ValidationFailed
from casework.domain.model import Actor
from casework.services.ports import CustomerUpserts, Page

CUSTOMER_UPSERTED = "CustomerUpserted"
CONTACT_UPSERTED = "ContactUpserted"
PRODUCT_UPSERTED = "ProductUpserted"
ORDER_UPSERTED = "OrderUpserted"
EVENT_TYPES = (CUSTOMER_UPSERTED, CONTACT_UPSERTED, PRODUCT_UPSERTED, ORDER_UPSERTED)

# Who the customer store's audit history names for changes that came from the ERP.
ERP_ACTOR = Actor(username="erp", display_name="ERP")

Outcome = Literal["created", "updated", "unchanged", "stale"]

# Keys become part of table keys and URL paths: no '#', '/', whitespace.
Key = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Currency = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{3}$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False)]


# --- the event detail (the contract) ------------------------------------------------------------------------


class ErpDetail(BaseModel):
    """The ``detail`` of every ERP event. Unknown top-level keys are ignored (the ERP may add some)."""

    model_config = ConfigDict(extra="ignore")

    event_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    version: int | None = Field(None, ge=0, le=2**63 - 1)
    updated_at: AwareDatetime | None = None
    data: dict[str, Any]

    @model_validator(mode="after")
    def _ordered(self) -> ErpDetail:
        if self.version is None and self.updated_at is None:
            raise ValueError("give the record's 'version' or its 'updated_at', so older updates can be told")
        return self

    @property
    def source_version(self) -> int:
        """What orders the updates of one record: the ERP's version, else ``updated_at`` in epoch
        microseconds. An ERP uses one or the other for a kind of record, never both by turns."""
        if self.version is not None:
            return self.version
        assert self.updated_at is not None
        delta = self.updated_at.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# --- products and orders (ours) -----------------------------------------------------------------------------


class ProductRecord(BaseModel):
    """A product of the ERP's catalogue; cases name it by ``code`` and show its ``name``."""

    model_config = ConfigDict(extra="ignore")

    code: Key
    name: Text
    type: Label | None = None
    family: Label | None = None
    brand: Label | None = None
    classification: Label | None = None  # e.g. "service": the care modules offer those on activities
    price: Money | None = None
    currency: Currency | None = None
    availability: Literal["in_stock", "low_stock", "out_of_stock", "on_order", "discontinued"] | None = None
    available_quantity: Decimal | None = Field(None, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _priced_in_a_currency(self) -> ProductRecord:
        if self.price is not None and self.currency is None:
            raise ValueError("a price needs its currency")
        return self


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    line: int = Field(ge=1, le=100_000)
    product_code: Key
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    quantity: Decimal = Field(gt=0, max_digits=18, decimal_places=4, allow_inf_nan=False)
    unit_price: Money
    amount: Money | None = None  # the ERP's (after discounts); quantity x unit price when it sends none

    @model_validator(mode="after")
    def _amount(self) -> OrderLine:
        if self.amount is None:
            self.amount = self.quantity * self.unit_price
        return self


class OrderTotals(BaseModel):
    model_config = ConfigDict(extra="ignore")

    net: Money
    tax: Money | None = None
    gross: Money | None = None


class OrderRecord(BaseModel):
    """A quote, sales order or loaner order: read-only in casework, shown on its customer and on cases that
    name it (a case field ``order_id``)."""

    model_config = ConfigDict(extra="ignore")

    order_id: Key
    kind: Literal["quote", "sales_order", "loaner_order"]
    number: Label
    account_id: Key
    contact_id: Key | None = None
    status: Label
    order_date: date
    currency: Currency
    lines: list[OrderLine] = Field(default_factory=list, max_length=500)
    totals: OrderTotals | None = None  # the sum of the line amounts (net) when the ERP sends none

    @model_validator(mode="after")
    def _lines_and_totals(self) -> OrderRecord:
        numbers = [line.line for line in self.lines]
        if len(set(numbers)) != len(numbers):
            raise ValueError("line numbers must be unique within an order")
        if self.totals is None:
            self.totals = OrderTotals(net=sum((line.amount or Decimal(0) for line in self.lines), Decimal(0)))
        return self


def problems(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"location": ".".join(str(p) for p in err.get("loc", ())) or "(record)", "message": err.get("msg")}
        for err in exc.errors()
    ]


def _valid(model: type[BaseModel], data: dict[str, Any], code: ErrorCode, what: str) -> dict[str, Any]:
    """The record as we store it and show it: JSON types (dates as ISO strings, numbers as int or float:
    amounts are computed in Decimal first, and a float keeps the ERP's two or four decimals exactly)."""
    try:
        record = model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(code, f"The {what} is not valid.", {"problems": problems(exc)}) from None
    stored: dict[str, Any] = _storable(record.model_dump(mode="python", exclude_none=True))
    return stored


def _storable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def valid_product(data: dict[str, Any]) -> dict[str, Any]:
    return _valid(ProductRecord, data, ErrorCode.INVALID_PRODUCT, "product")


def valid_order(data: dict[str, Any]) -> dict[str, Any]:
    return _valid(OrderRecord, data, ErrorCode.INVALID_ORDER, "order")


# --- ports --------------------------------------------------------------------------------------------------


class ErpStore(Protocol):
    """Products and orders on the table: each put is one conditional write (newer ``source_version`` wins)."""

    def put_product(self, product: dict[str, Any], source_version: int) -> Outcome: ...

    def put_order(self, order: dict[str, Any], source_version: int) -> Outcome: ...

    def product(self, code: str) -> dict[str, Any] | None: ...

    def order(self, order_id: str) -> dict[str, Any] | None: ...

    def customer_orders(self, account_id: str, cursor: str | None, limit: int) -> Page: ...


class UnknownEventType(ValidationFailed):
    def __init__(self, detail_type: str) -> None:
        super().__init__(
            "UNKNOWN_EVENT_TYPE",
            f"casework takes no ERP event of type {detail_type!r}.",
            {"detail_type": detail_type, "known": list(EVENT_TYPES)},
        )


# --- the use cases ------------------------------------------------------------------------------------------


class ErpIngest:
    """One ERP event -> one upsert. ``handle`` raises ValidationFailed (or the customer store's Conflict) for
    an event that can never succeed: the consumer reports it as a batch item failure and it ends in the DLQ.
    """

    def __init__(self, customers: CustomerUpserts, store: ErpStore, actor: Actor = ERP_ACTOR) -> None:
        self.customers = customers
        self.store = store
        self.actor = actor

    def handle(self, detail_type: str, detail: ErpDetail) -> dict[str, Any]:
        version = detail.source_version
        if detail_type == PRODUCT_UPSERTED:
            product = valid_product(detail.data)
            return self._result(detail_type, product["code"], self.store.put_product(product, version))
        if detail_type == ORDER_UPSERTED:
            order = valid_order(detail.data)
            return self._result(detail_type, order["order_id"], self.store.put_order(order, version))
        if detail_type in (CUSTOMER_UPSERTED, CONTACT_UPSERTED):
            upsert = (
                self.customers.upsert_customer
                if detail_type == CUSTOMER_UPSERTED
                else self.customers.upsert_contact
            )
            outcome, record = upsert(self.actor, dict(detail.data), source_version=version)
            return self._result(detail_type, str(record.get("id")), outcome)
        raise UnknownEventType(detail_type)

    @staticmethod
    def _result(detail_type: str, key: str, outcome: str) -> dict[str, Any]:
        return {"type": detail_type, "key": key, "outcome": outcome}


class ErpReader:
    """Products and orders as the API shows them. ``actor`` checks the caller is an active user (every
    caller may read the catalogue and orders, as they may read accounts and contacts)."""

    def __init__(self, store: ErpStore, actor: Any, case: Any) -> None:
        self.store = store
        self._actor = actor  # (username) -> Actor, raising Forbidden for unknown users
        self._case = case  # (username, case_id) -> the case as that user may see it (404 if they may not)

    def product(self, username: str, code: str) -> dict[str, Any]:
        self._actor(username)
        product = self.store.product(code)
        if product is None:
            raise NotFound(ErrorCode.PRODUCT_NOT_FOUND, f"There is no product {code!r}.", {"code": code})
        return product

    def order(self, username: str, order_id: str) -> dict[str, Any]:
        self._actor(username)
        return self._order(order_id)

    def _order(self, order_id: str) -> dict[str, Any]:
        order = self.store.order(order_id)
        if order is None:
            raise NotFound(
                ErrorCode.ORDER_NOT_FOUND,
                f"There is no order {order_id!r} (yet: the ERP may not have sent it).",
                {"order_id": order_id},
            )
        return order

    def customer_orders(self, username: str, account_id: str, cursor: str | None, limit: int) -> Page:
        """Newest order date first. An account without orders (or not known yet) has an empty list."""
        self._actor(username)
        return self.store.customer_orders(account_id, cursor, limit)

    def case_order(self, username: str, case_id: str) -> dict[str, Any]:
        """The order a case names in its field ``order_id`` (any case type)."""
        case = self._case(username, case_id)
        order_id = (case.get("fields") or {}).get("order_id")
        if not isinstance(order_id, str) or not order_id.strip():
            raise NotFound(ErrorCode.NO_ORDER, f"Case {case_id} names no order.", {"case_id": case_id})
        return self._order(order_id.strip())
