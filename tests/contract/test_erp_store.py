"""casework.services.erp.ErpStore: the unit tests' FakeErpStore (tests/unit/test_erp.py) and
casework.adapters.erp.DynamoErpStore on moto: the newer ERP version wins, orders are listed newest first."""

from __future__ import annotations

from typing import Any

import pytest

from casework.adapters.erp import DynamoErpStore
from casework.services.erp import ErpStore
from tests.contract.conftest import IMPLEMENTATIONS, implementation
from tests.unit.test_erp import FakeErpStore


@pytest.fixture(params=IMPLEMENTATIONS)
def erp(request: pytest.FixtureRequest) -> ErpStore:
    return implementation(request, FakeErpStore, DynamoErpStore)


def product(name: str) -> dict[str, Any]:
    return {"code": "P-900", "name": name, "unit": "kg"}


def order(order_id: str, day: int, account_id: str = "ACC-1001") -> dict[str, Any]:
    return {
        "order_id": order_id,
        "account_id": account_id,
        "order_date": f"2025-03-{day:02d}",
        "status": "open",
    }


def test_the_newest_erp_version_wins_whatever_the_order_of_arrival(erp: ErpStore) -> None:
    assert erp.put_product(product("First"), 2) == "created"
    assert erp.put_product(product("Again"), 2) == "unchanged"
    assert erp.put_product(product("Late"), 1) == "stale"
    assert erp.put_product(product("Newer"), 3) == "updated"

    assert erp.product("P-900") == {**product("Newer"), "source_version": 3}
    assert erp.product("P-404") is None


def test_orders_are_kept_by_version_and_listed_newest_first_page_by_page(erp: ErpStore) -> None:
    for n, day in ((1, 5), (2, 9), (3, 7)):
        assert erp.put_order(order(f"SO-{n}", day), 1) == "created"
    erp.put_order(order("SO-9", 8, account_id="ACC-1002"), 1)
    assert erp.put_order({**order("SO-1", 5), "status": "invoiced"}, 2) == "updated"

    first = erp.customer_orders("ACC-1001", None, 2)
    second = erp.customer_orders("ACC-1001", first.next_cursor, 2) if first.next_cursor else None

    assert [o["order_id"] for o in first.items] == ["SO-2", "SO-3"]
    assert second is not None and [o["order_id"] for o in second.items] == ["SO-1"]
    assert second.items[0]["status"] == "invoiced"
    assert erp.order("SO-9") == {**order("SO-9", 8, account_id="ACC-1002"), "source_version": 1}
    assert erp.order("SO-404") is None
