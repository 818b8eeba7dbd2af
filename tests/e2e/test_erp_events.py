"""ERP events over the local stack, as the README's "ERP events" section shows them: POST /_dev/events puts
one of each kind on the bus (Source erp), the IngestRule and the dispatcher deliver them to the ingest
function, and the records show up over the API; an older event changes nothing, an unknown one goes nowhere.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import Api

pytestmark = pytest.mark.e2e


def wait_for(api: Api, path: str, user: str = "mary", until: Any = None, timeout: float = 20.0) -> dict:
    """GET ``path`` until it answers 200 (and ``until(body)`` holds): delivery is asynchronous."""
    deadline = time.monotonic() + timeout
    while True:
        r = api.call("GET", path, user)
        if r.status_code == 200 and (until is None or until(r.json())):
            return r.json()
        assert time.monotonic() < deadline, f"GET {path} -> {r.status_code} {r.text}"
        time.sleep(0.2)


def put(api: Api, *events: dict[str, Any]) -> None:
    r = api.call("POST", "/_dev/events", json=list(events))
    assert r.status_code == 202 and r.json()["failed"] == 0, r.text


def test_one_of_each_kind_arrives_and_newest_wins(api: Api) -> None:
    n = uuid.uuid4().hex[:6].upper()
    customer, contact, product, order = f"ACC-E{n}", f"CON-E{n}", f"P-E{n}", f"SO-E{n}"
    put(
        api,
        {
            "detail-type": "CustomerUpserted",
            "detail": {"event_id": f"e-{n}-1", "version": 1, "data": {"id": customer, "name": "Initech"}},
        },
        {
            "detail-type": "ContactUpserted",
            "detail": {
                "event_id": f"e-{n}-2",
                "version": 1,
                "data": {"id": contact, "type": "PERSON", "first_name": "Peter", "last_name": "Gibbons"},
            },
        },
        {
            "detail-type": "ProductUpserted",
            "detail": {
                "event_id": f"e-{n}-3",
                "updated_at": "2026-11-30T09:00:00Z",
                "data": {"code": product, "name": "PA6 Black", "price": 12.5, "currency": "EUR"},
            },
        },
        {
            "detail-type": "OrderUpserted",
            "detail": {
                "event_id": f"e-{n}-4",
                "version": 3,
                "data": {
                    "order_id": order,
                    "kind": "quote",
                    "number": "Q-1",
                    "account_id": customer,
                    "status": "sent",
                    "order_date": "2026-11-30",
                    "currency": "EUR",
                    "lines": [{"line": 1, "product_code": product, "quantity": 4, "unit_price": 12.5}],
                },
            },
        },
    )

    assert wait_for(api, f"/contacts/{contact}")["name"] == "Peter Gibbons"
    assert wait_for(api, f"/products/{product}")["price"] == 12.5
    assert wait_for(api, f"/orders/{order}")["totals"] == {"net": 50}
    listed = wait_for(api, f"/customers/{customer}/orders", until=lambda page: page["items"])
    assert [o["order_id"] for o in listed["items"]] == [order]
    assert wait_for(api, f"/customers/{customer}")["created_by"] == "erp"

    # An older product update (earlier timestamp) and the order's event again: nothing changes.
    put(
        api,
        {
            "detail-type": "ProductUpserted",
            "detail": {
                "event_id": f"e-{n}-5",
                "updated_at": "2026-11-30T08:00:00Z",
                "data": {"code": product, "name": "PA6 Black (old)", "price": 99, "currency": "EUR"},
            },
        },
        {"detail-type": "InvoicePaid", "detail": {"event_id": f"e-{n}-6", "version": 1, "data": {}}},
    )
    newer = {"code": product, "name": "PA6 Black", "price": 11, "currency": "EUR"}
    put(
        api,
        {
            "detail-type": "ProductUpserted",
            "detail": {"event_id": f"e-{n}-7", "updated_at": "2026-11-30T10:00:00Z", "data": newer},
        },
    )
    # The newer event went on the bus after the older one: once it shows, the older one was handled.
    assert wait_for(api, f"/products/{product}", until=lambda p: p["price"] == 11)["name"] == "PA6 Black"

    # A customer request names the order; its order shows on it.
    case = api.ok(
        "POST",
        "/cases",
        "mary",
        201,
        json={
            "type": "customer_request",
            "title": f"Where is quote {order}?",
            "description": "Asked by phone",
            "account_id": customer,
            "fields": {"order_id": order},
        },
    )
    assert api.ok("GET", f"/cases/{case['id']}/order", "mary")["number"] == "Q-1"
    api.error("GET", "/orders/SO-NEVER", "mary", 404, "ORDER_NOT_FOUND")
    api.error("POST", "/_dev/events", None, 422, "INVALID_EVENTS", json={"detail": {}})
