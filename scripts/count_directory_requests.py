"""Prints the DynamoDB requests each directory Admin operation makes, counted at botocore, with the admin
function warm (the caller already cached), and how long a deactivation check takes to list a user's work as
their open cases grow. No Scan, ever.

    .venv/bin/python scripts/count_directory_requests.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from moto import mock_aws  # noqa: E402

NEW_CASE = {"type": "csr", "title": "Bench", "description": "d", "account_id": "ACC-1001"}
ERIN = {"roles": ["Care Agent"], "business_units": ["CARE"], "display_name": "Erin"}
OPERATIONS = [
    ("read a user", "GET", "/directory/users/carol", 200, {}),
    ("list a unit's users", "GET", "/directory/users", 200, {"query": {"unit": "CARE"}}),
    ("list units", "GET", "/directory/units", 200, {}),
    ("create a user (1 unit)", "PUT", "/directory/users/erin", 200, {"body": ERIN}),
    (
        "move a user to 2 units",
        "PUT",
        "/directory/users/erin",
        200,
        {"body": {**ERIN, "business_units": ["CARE", "FIELD"]}},
    ),
    ("change a unit", "PUT", "/directory/units/FIELD", 200, {"body": {"name": "Field Service"}}),
    ("set an area rule", "PUT", "/directory/areas/South", 200, {"body": {"business_unit": "FIELD"}}),
    ("refused change (422)", "PUT", "/directory/users/erin", 422, {"body": {**ERIN, "roles": ["Wizard"]}}),
    ("audit (one page)", "GET", "/directory/audit", 200, {"query": {"kind": "user", "key": "erin"}}),
    (
        "deactivate (nothing held)",
        "PUT",
        "/directory/users/erin",
        200,
        {"body": {**ERIN, "business_units": ["CARE", "FIELD"], "active": False}},
    ),
    (
        "deactivate refused (409)",
        "PUT",
        "/directory/users/mary",
        409,
        {"body": {"roles": ["Sales Rep"], "business_units": ["SP"], "active": False}},
    ),
]


def main() -> int:
    with mock_aws():
        from infra.bench import ApiDriver, CallCounter, dynamodb_calls

        api, counter = ApiDriver(stage="dirbench"), CallCounter()
        assert api.call("POST", "/cases", body=NEW_CASE)[0] == 201  # mary's: she cannot be deactivated
        api.call("GET", "/directory/units", user="admin")  # warms the admin function (caller cached)
        print(f"{'operation (admin function, warm)':34} {'requests':>8}  breakdown")
        scans = 0
        for name, method, path, expect, kwargs in OPERATIONS:
            with counter.counting() as calls:
                status, body = api.call(method, path, user="admin", **kwargs)
            assert status == expect, (name, status, body)
            counted = dynamodb_calls(calls)
            scans += counted.get("Scan", 0)
            detail = ", ".join(f"{op} {n}" for op, n in counted.items())
            print(f"{name:34} {sum(counted.values()):>8}  {detail}")
        print(f"\nScan requests in all of the above: {scans}")

        print(f"\n{'open cases held by mary':24} {'requests':>8} {'ms':>6}  (deactivation refused; moto)")
        held = 1
        for target in (10, 100, 300):
            while held < target:
                assert api.call("POST", "/cases", body=NEW_CASE)[0] == 201
                held += 1
            with counter.counting() as calls:
                started = time.perf_counter()
                status, body = api.call("PUT", "/directory/users/mary", user="admin", **OPERATIONS[-1][4])
                elapsed = (time.perf_counter() - started) * 1000
            assert status == 409, body
            print(f"{held:24} {sum(dynamodb_calls(calls).values()):>8} {elapsed:>6.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
