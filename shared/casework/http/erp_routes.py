"""Products and orders as the ERP sent them (read-only in casework): served by the read function.

One GetItem or one Query each; the case's order is the case read (its visibility rules) plus one GetItem.
"""

from __future__ import annotations

from typing import Annotated, cast

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from casework.http.api import caller
from casework.http.responses import Cursor, Limit, PageResponse, ok, page
from casework.http.wiring import erp_reader

ErpKey = Annotated[str, Path(min_length=1, max_length=200)]


def erp_read_routes() -> Router:
    router = Router()

    @router.get(
        "/products/<code>",
        tags=["erp"],
        summary="A product: code, name, type, family, brand, price, availability (404 PRODUCT_NOT_FOUND)",
        responses=ok(),
    )
    def get_product(code: ErpKey) -> dict:
        return erp_reader().product(caller(router), code)

    @router.get(
        "/orders/<order_id>",
        tags=["erp"],
        summary="A quote, sales order or loaner order: status, lines, totals (404 ORDER_NOT_FOUND)",
        responses=ok(),
    )
    def get_order(order_id: ErpKey) -> dict:
        return erp_reader().order(caller(router), order_id)

    @router.get(
        "/customers/<customer_id>/orders",
        tags=["erp"],
        summary="A customer's orders, newest order date first (one Query)",
        responses=ok(),
    )
    def customer_orders(customer_id: ErpKey, cursor: Cursor = None, limit: Limit = 25) -> PageResponse:
        # a page of plain orders, validated against PageResponse by Powertools on the way out
        return cast(
            PageResponse, page(erp_reader().customer_orders(caller(router), customer_id, cursor, limit))
        )

    @router.get(
        "/cases/<case_id>/order",
        tags=["erp"],
        summary="The order the case names in its field order_id (404 NO_ORDER, ORDER_NOT_FOUND)",
        responses=ok(),
    )
    def case_order(case_id: str) -> dict:
        return erp_reader().case_order(caller(router), case_id)

    return router
