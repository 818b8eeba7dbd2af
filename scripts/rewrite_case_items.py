"""One-off, after deploying a change of the case items' layout over a table with cases: rewrites every case
item in the current layout, and every ERP order's list keys. Each item is put back only if it is still the
one read (a case or order changed meanwhile is already in the new layout). Not a request path: it Scans, a
page at a time.

The layouts it moves: the list keys of 2026-11-30 (the list row ``listing``, sort keys
``<type>#<created_at>#<id>``, gsi3 ``ACCOUNT#<id>#<shard>``, pending_approvals in 16 shards; until the
rewrite the lists cannot show a case written before), and the one list sort key of the same day (gsi2v2
and gsi3v2 sort on ``gsi1sk``: cases drop ``gsi2sk``/``gsi3sk``, their row its id and empty values, and the
gsi4 and pending_approvals sort keys their ``#<id>``; ERP orders move their sort key from ``gsi3sk`` to
``gsi1sk``, without which gsi3v2 does not list them). See template.yaml's CaseTable for the deploy order.

    TABLE_NAME=casework-prod AWS_REGION=eu-west-1 .venv/bin/python scripts/rewrite_case_items.py [--dry-run]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from pynamodb.exceptions import PutError  # noqa: E402

from casework.adapters.dynamo import CaseItem, Item, _case_item, _stored_case  # noqa: E402
from casework.adapters.erp import OrderItem  # noqa: E402


def _rewrite(
    items: Iterable[Item], new_shape: Callable[[Any], tuple[Item, Any]], dry_run: bool
) -> tuple[int, int]:
    """(rewritten, changed meanwhile): each item put back in ``new_shape`` (the item and the condition that
    it is unchanged since the scan)."""
    rewritten = skipped = 0
    for item in items:
        if dry_run:
            rewritten += 1
            continue
        new, unchanged = new_shape(item)
        try:
            new.save(condition=unchanged)
            rewritten += 1
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            skipped += 1  # changed since the scan read it: written in the new layout by that change
    return rewritten, skipped


def _case(item: CaseItem) -> tuple[Item, Any]:
    case = _stored_case(item)
    return _case_item(case, "closed_at" not in case.dates), CaseItem.version == item.version


def _order(item: OrderItem) -> tuple[Item, Any]:
    body = item.body.as_dict()
    new = OrderItem(
        item.pk,
        item.sk,
        body=body,
        gsi3pk=item.gsi3pk,
        gsi1sk=f"{body['order_date']}#{body['order_id']}",  # as DynamoErpStore.put_order writes it
        listing=item.listing,
    )
    return new, OrderItem.body["source_version"] == body["source_version"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="count what would be rewritten")
    args = parser.parse_args()
    done = "would rewrite" if args.dry_run else "rewrote"
    # PynamoDB keeps each scan to its model's items (their discriminator)
    cases = _rewrite(CaseItem.scan(page_size=100), _case, args.dry_run)
    print(f"{done} {cases[0]} case items; {cases[1]} changed meanwhile")
    orders = _rewrite(OrderItem.scan(page_size=100), _order, args.dry_run)
    print(f"{done} {orders[0]} ERP orders; {orders[1]} changed meanwhile")


if __name__ == "__main__":
    main()
