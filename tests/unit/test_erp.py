"""ERP events in, pure: the detail contract and its ordering, reading a queued message, products and orders
validated and mapped, customers and contacts handed to the customer store, and the read use cases. Fakes
keep the stores' promise: a write holds only over an older (or no) ERP version."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from casework.adapters.erp import erp_event
from casework.adapters.events import PoisonMessage
from casework.domain.errors import Forbidden, NotFound, ValidationFailed
from casework.domain.model import Actor
from casework.services.erp import ERP_ACTOR, ErpDetail, ErpIngest, ErpReader
from casework.services.ports import Page
from tests.fakes import page_of

# --- fakes --------------------------------------------------------------------------------------------------


def newest_wins(records: dict[str, dict[str, Any]], key: str, record: dict[str, Any], version: int) -> str:
    stored = records.get(key)
    if stored is not None and stored.get("source_version") is not None:
        if stored["source_version"] == version:
            return "unchanged"
        if stored["source_version"] > version:
            return "stale"
    records[key] = {**record, "source_version": version}
    return "updated" if stored is not None else "created"


class FakeErpStore:
    def __init__(self) -> None:
        self.products: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}

    def put_product(self, product: dict[str, Any], source_version: int) -> str:
        return newest_wins(self.products, product["code"], product, source_version)

    def put_order(self, order: dict[str, Any], source_version: int) -> str:
        return newest_wins(self.orders, order["order_id"], order, source_version)

    def product(self, code: str) -> dict[str, Any] | None:
        return self.products.get(code)

    def order(self, order_id: str) -> dict[str, Any] | None:
        return self.orders.get(order_id)

    def customer_orders(self, account_id: str, cursor: str | None, limit: int) -> Page:
        mine = [o for o in self.orders.values() if o["account_id"] == account_id]
        mine.sort(key=lambda o: (o["order_date"], o["order_id"]), reverse=True)
        return page_of(mine, cursor, limit, f"orders|{account_id}")  # paged as the table's index is


class FakeCustomers:
    """The customer store's upserts as the shared contract describes them (branch `customers`)."""

    def __init__(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        self.contacts: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, Actor, int | None]] = []

    def upsert_customer(
        self, actor: Actor, data: dict[str, Any], *, source_version: int | None = None
    ) -> tuple[str, dict[str, Any]]:
        self.calls.append(("customer", actor, source_version))
        if not data.get("id") or not data.get("name"):
            raise ValidationFailed("INVALID_CUSTOMER", "A customer needs an id and a name.")
        outcome = newest_wins(self.customers, data["id"], data, source_version or 0)
        return outcome, self.customers[data["id"]]

    def upsert_contact(
        self, actor: Actor, data: dict[str, Any], *, source_version: int | None = None
    ) -> tuple[str, dict[str, Any]]:
        self.calls.append(("contact", actor, source_version))
        contact_id = data.get("id") or "CON-0000000000AA"
        outcome = newest_wins(self.contacts, contact_id, {**data, "id": contact_id}, source_version or 0)
        return outcome, self.contacts[contact_id]


@pytest.fixture
def store() -> FakeErpStore:
    return FakeErpStore()


@pytest.fixture
def customers() -> FakeCustomers:
    return FakeCustomers()


@pytest.fixture
def ingest(store: FakeErpStore, customers: FakeCustomers) -> ErpIngest:
    return ErpIngest(customers=customers, store=store)


def detail(data: dict[str, Any], version: int | None = 1, **extra: Any) -> ErpDetail:
    return ErpDetail.model_validate({"event_id": "evt-1", "version": version, "data": data, **extra})


PRODUCT = {
    "code": "P-300",
    "name": "PA6 Black",
    "type": "Physical good",
    "family": "Polyamides",
    "brand": "Ultramid",
    "price": "12.50",
    "currency": "eur",
    "availability": "in_stock",
}
ORDER = {
    "order_id": "SO-9001",
    "kind": "sales_order",
    "number": "9001",
    "account_id": "ACC-1001",
    "status": "open",
    "order_date": "2026-11-20",
    "currency": "EUR",
    "lines": [
        {"line": 1, "product_code": "P-100", "description": "PA66", "quantity": 3, "unit_price": "2.10"},
        {"line": 2, "product_code": "P-200", "quantity": "1.5", "unit_price": 10, "amount": 14},
    ],
}


# --- the detail contract ------------------------------------------------------------------------------------


def test_a_detail_needs_an_event_id_and_a_version_or_a_timestamp() -> None:
    with pytest.raises(ValueError, match="event_id"):
        ErpDetail.model_validate({"version": 1, "data": {}})
    with pytest.raises(ValueError, match="version"):
        ErpDetail.model_validate({"event_id": "e", "data": {}})
    with pytest.raises(ValueError, match="timezone"):  # a local time cannot be ordered against others
        ErpDetail.model_validate({"event_id": "e", "updated_at": "2026-11-20T10:00:00", "data": {}})
    assert ErpDetail.model_validate({"event_id": " e ", "version": 7, "data": {}}).event_id == "e"


def test_updated_at_orders_as_epoch_microseconds_whatever_the_offset() -> None:
    def at(stamp: str) -> int:
        return ErpDetail.model_validate({"event_id": "e", "updated_at": stamp, "data": {}}).source_version

    assert at("1970-01-01T00:00:01.000002Z") == 1_000_002
    assert at("2026-11-20T10:00:00+01:00") == at("2026-11-20T09:00:00Z")
    assert at("2026-11-20T09:00:00.000001Z") > at("2026-11-20T10:00:00+01:00")


def test_version_wins_over_updated_at_when_both_are_given() -> None:
    both = {"event_id": "e", "version": 3, "updated_at": "2026-11-20T09:00:00Z", "data": {}}
    assert ErpDetail.model_validate(both).source_version == 3


# --- reading a queued message -------------------------------------------------------------------------------


def eventbridge(detail_type: str, detail_body: Any) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": detail_type,
            "source": "erp",
            "account": "123456789012",
            "time": "2026-11-20T09:00:00Z",
            "region": "eu-west-1",
            "resources": [],
            "detail": detail_body,
        }
    )


def test_a_message_is_read_into_the_erps_event_id_type_and_detail() -> None:
    body = eventbridge("ProductUpserted", {"event_id": "erp-42", "version": 2, "data": PRODUCT})
    event = erp_event(body, "m-1")
    assert event["event_id"] == "erp-42"  # the ERP's id, not the envelope's: a re-sent event keeps it
    assert event["detail_type"] == "ProductUpserted"
    assert event["detail"].source_version == 2 and event["detail"].data == PRODUCT


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", "MALFORMED_MESSAGE"),
        ("", "MALFORMED_MESSAGE"),
        (json.dumps({"detail": {"event_id": "e"}}), "MALFORMED_MESSAGE"),  # not an EventBridge event
        (eventbridge("InvoicePaid", {"event_id": "e", "version": 1, "data": {}}), "UNKNOWN_EVENT_TYPE"),
        (eventbridge("ProductUpserted", {"version": 1, "data": PRODUCT}), "INVALID_ERP_EVENT"),
        (eventbridge("ProductUpserted", {"event_id": "e", "data": PRODUCT}), "INVALID_ERP_EVENT"),
        (eventbridge("ProductUpserted", {"event_id": "e", "version": 1}), "INVALID_ERP_EVENT"),
        (eventbridge("ProductUpserted", "a string"), "MALFORMED_MESSAGE"),  # EventBridge details are objects
    ],
)
def test_unreadable_messages_are_poison_with_a_stable_code(body: str, code: str) -> None:
    with pytest.raises(PoisonMessage) as caught:
        erp_event(body, "m-1")
    assert caught.value.code == code
    assert str(caught.value)


# --- products and orders ------------------------------------------------------------------------------------


def test_a_product_is_created_then_updated_only_by_a_newer_version(
    ingest: ErpIngest, store: FakeErpStore
) -> None:
    created = ingest.handle("ProductUpserted", detail(PRODUCT, version=2))
    assert created == {"type": "ProductUpserted", "key": "P-300", "outcome": "created"}
    assert store.products["P-300"] == {
        "code": "P-300",
        "name": "PA6 Black",
        "type": "Physical good",
        "family": "Polyamides",
        "brand": "Ultramid",
        "price": 12.5,
        "currency": "EUR",
        "availability": "in_stock",
        "source_version": 2,
    }

    renamed = {**PRODUCT, "name": "PA6 Black UV"}
    assert ingest.handle("ProductUpserted", detail(renamed, version=1))["outcome"] == "stale"
    assert ingest.handle("ProductUpserted", detail(renamed, version=2))["outcome"] == "unchanged"
    assert store.products["P-300"]["name"] == "PA6 Black"
    assert ingest.handle("ProductUpserted", detail(renamed, version=3))["outcome"] == "updated"
    assert store.products["P-300"]["name"] == "PA6 Black UV"


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"code": None}, "code"),
        ({"code": "P/300"}, "code"),  # a key that cannot be part of a URL or a table key
        ({"name": "  "}, "name"),
        ({"price": "-1"}, "price"),
        ({"currency": None}, "(record)"),  # a price needs its currency
        ({"availability": "plenty"}, "availability"),
    ],
)
def test_an_invalid_product_is_refused_with_every_problem_and_nothing_stored(
    ingest: ErpIngest, store: FakeErpStore, change: dict[str, Any], location: str
) -> None:
    data = {k: v for k, v in {**PRODUCT, **change}.items() if v is not None}
    with pytest.raises(ValidationFailed) as caught:
        ingest.handle("ProductUpserted", detail(data))
    assert caught.value.code == "INVALID_PRODUCT"
    assert location in [p["location"] for p in caught.value.details["problems"]]
    assert store.products == {}


def test_unknown_product_fields_are_ignored_so_the_erp_can_add_some(ingest: ErpIngest, store) -> None:
    ingest.handle("ProductUpserted", detail({**PRODUCT, "warehouse_bin": "A-12"}))
    assert "warehouse_bin" not in store.products["P-300"]


def test_an_order_keeps_its_lines_and_gets_amounts_and_totals_the_erp_left_out(
    ingest: ErpIngest, store: FakeErpStore
) -> None:
    assert ingest.handle("OrderUpserted", detail(ORDER, version=5))["outcome"] == "created"
    order = store.orders["SO-9001"]
    assert order["kind"] == "sales_order" and order["account_id"] == "ACC-1001"
    assert order["order_date"] == "2026-11-20" and order["source_version"] == 5
    assert [line["amount"] for line in order["lines"]] == [6.3, 14]  # 3 x 2.10; the ERP's own 14
    assert order["totals"] == {"net": 20.3}
    with_totals = {**ORDER, "totals": {"net": 20.3, "tax": 3.86, "gross": 24.16}}
    ingest.handle("OrderUpserted", detail(with_totals, version=6))
    assert store.orders["SO-9001"]["totals"] == {"net": 20.3, "tax": 3.86, "gross": 24.16}


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"kind": "invoice"}, "kind"),
        ({"order_date": "20.11.2026"}, "order_date"),
        ({"account_id": None}, "account_id"),
        (
            {"lines": [{"line": 1, "product_code": "P-100", "quantity": 0, "unit_price": 1}]},
            "lines.0.quantity",
        ),
        ({"lines": [{"line": 1, "product_code": "P-100", "quantity": 1, "unit_price": 1}] * 2}, "(record)"),
    ],
)
def test_an_invalid_order_is_refused_and_nothing_stored(
    ingest: ErpIngest, store: FakeErpStore, change: dict[str, Any], location: str
) -> None:
    data = {k: v for k, v in {**ORDER, **change}.items() if v is not None}
    with pytest.raises(ValidationFailed) as caught:
        ingest.handle("OrderUpserted", detail(data))
    assert caught.value.code == "INVALID_ORDER"
    assert location in [p["location"] for p in caught.value.details["problems"]]
    assert store.orders == {}


# --- customers and contacts go to the customer store --------------------------------------------------------


def test_customers_and_contacts_are_upserted_by_the_erp_actor_with_the_source_version(
    ingest: ErpIngest, customers: FakeCustomers
) -> None:
    customer = {"id": "ACC-7001", "name": "Initech", "vat_number": "DE123456789"}
    assert ingest.handle("CustomerUpserted", detail(customer, version=4)) == {
        "type": "CustomerUpserted",
        "key": "ACC-7001",
        "outcome": "created",
    }
    contact = {"id": "CON-7001", "type": "PERSON", "first_name": "Peter", "last_name": "Gibbons"}
    assert ingest.handle("ContactUpserted", detail(contact, version=9))["outcome"] == "created"
    assert ingest.handle("ContactUpserted", detail(contact, version=8))["outcome"] == "stale"
    assert customers.calls == [
        ("customer", ERP_ACTOR, 4),
        ("contact", ERP_ACTOR, 9),
        ("contact", ERP_ACTOR, 8),
    ]
    assert ERP_ACTOR.username == "erp"


def test_the_customer_stores_refusal_reaches_the_consumer(ingest: ErpIngest) -> None:
    with pytest.raises(ValidationFailed) as caught:
        ingest.handle("CustomerUpserted", detail({"id": "ACC-7001"}))
    assert caught.value.code == "INVALID_CUSTOMER"


def test_an_unknown_type_is_refused(ingest: ErpIngest) -> None:
    with pytest.raises(ValidationFailed) as caught:
        ingest.handle("InvoicePaid", detail({}))
    assert caught.value.code == "UNKNOWN_EVENT_TYPE"


# --- reading products and orders ----------------------------------------------------------------------------


def known_user(username: str) -> Actor:
    if username != "mary":
        raise Forbidden("UNKNOWN_USER", f"{username} is not an active user of casework.")
    return Actor(username)


def test_products_orders_and_a_customers_orders_are_read_by_known_users(
    ingest: ErpIngest, store: FakeErpStore
) -> None:
    ingest.handle("ProductUpserted", detail(PRODUCT))
    ingest.handle("OrderUpserted", detail(ORDER))
    ingest.handle(
        "OrderUpserted", detail({**ORDER, "order_id": "QT-1", "kind": "quote", "order_date": "2026-12-01"})
    )
    reader = ErpReader(store, actor=known_user, case=None)

    assert reader.product("mary", "P-300")["name"] == "PA6 Black"
    assert reader.order("mary", "SO-9001")["number"] == "9001"
    assert [o["order_id"] for o in reader.customer_orders("mary", "ACC-1001", None, 10).items] == [
        "QT-1",
        "SO-9001",
    ]
    assert reader.customer_orders("mary", "ACC-9999", None, 10).items == []
    with pytest.raises(NotFound) as caught:
        reader.product("mary", "P-999")
    assert caught.value.code == "PRODUCT_NOT_FOUND"
    with pytest.raises(NotFound) as caught:
        reader.order("mary", "SO-1")
    assert caught.value.code == "ORDER_NOT_FOUND"
    with pytest.raises(Forbidden):
        reader.order("mallory", "SO-9001")


def test_a_cases_order_is_the_one_its_order_id_field_names(ingest: ErpIngest, store: FakeErpStore) -> None:
    # stand-ins for the case read model: the reader looks at its fields only
    cases = {
        "c-none": SimpleNamespace(id="c-none", fields={}),
        "c-later": SimpleNamespace(id="c-later", fields={"order_id": "SO-9002"}),
        "c-known": SimpleNamespace(id="c-known", fields={"order_id": "SO-9001"}),
    }

    def case(username: str, case_id: str) -> Any:
        if case_id not in cases:
            raise NotFound("CASE_NOT_FOUND", case_id)
        return cases[case_id]

    ingest.handle("OrderUpserted", detail(ORDER))
    reader = ErpReader(store, actor=known_user, case=case)
    assert reader.case_order("mary", "c-known")["order_id"] == "SO-9001"
    for case_id, code in (("c-none", "NO_ORDER"), ("c-later", "ORDER_NOT_FOUND"), ("c-x", "CASE_NOT_FOUND")):
        with pytest.raises(NotFound) as caught:
            reader.case_order("mary", case_id)
        assert caught.value.code == code
