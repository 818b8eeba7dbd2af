"""One-off, after deploying the list keys of 2026-11-30 over a table with cases: rewrites every case item in
the current layout (the list row ``listing``, sort keys ``<type>#<created_at>#<id>``, gsi3
``ACCOUNT#<id>#<shard>``, pending_approvals in 16 shards). Until then the lists cannot show a case written
before (its index entries hold no row). Each item is put back only if its version is still the one read (a
case changed meanwhile is already in the new layout). Not a request path: it Scans, a page at a time.

    TABLE_NAME=casework-prod AWS_REGION=eu-west-1 .venv/bin/python scripts/rewrite_case_items.py [--dry-run]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from pynamodb.exceptions import PutError  # noqa: E402

from casework.adapters.dynamo import CaseItem, _case_item, _stored_case  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="count what would be rewritten")
    args = parser.parse_args()
    rewritten = skipped = 0
    for item in CaseItem.scan(page_size=100):  # PynamoDB keeps it to case items (their discriminator)
        case = _stored_case(item)
        if args.dry_run:
            rewritten += 1
            continue
        try:
            _case_item(case, "closed_at" not in case.dates).save(condition=CaseItem.version == item.version)
            rewritten += 1
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            skipped += 1  # changed since the scan read it: written in the new layout by that change
    done = "would rewrite" if args.dry_run else "rewrote"
    print(f"{done} {rewritten} case items; {skipped} changed meanwhile")


if __name__ == "__main__":
    main()
