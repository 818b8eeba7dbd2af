"""Prints the DynamoDB requests of resource booking, and of the feedback summary, counted at botocore in a
new container (cold: no directory, definitions or configuration cached) and a warm one. Budget: a read is
GetItems and Queries only (availability: one Query for the unit's providers of the service plus one per
provider), a booking change is its reads plus one TransactWriteItems. No Scan, ever.

    .venv/bin/python scripts/count_booking_requests.py
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from moto import mock_aws  # noqa: E402

TECHNICIANS = 3  # providers of SVC-VISIT in FIELD: availability reads one partition each


def resource(n: int) -> dict:
    return {
        "id": f"TECH-{n}",
        "name": f"Technician {n}",
        "kind": "person",
        "unit": "FIELD",
        "services": ["SVC-VISIT"],
        "owner": "fred",
        "weekly_hours": {d: [{"from": "08:00", "to": "17:00"}] for d in ("mon", "tue", "wed", "thu", "fri")},
    }


def main() -> int:
    with mock_aws():
        from casework.http.wiring import case_service
        from infra.bench import ApiDriver, CallCounter, ColdWarmRequests

        api = ApiDriver(stage="booking")
        meter = ColdWarmRequests(api, CallCounter(), case_service)
        run = meter.run

        for n in range(TECHNICIANS):
            api.call("POST", "/resources", user="admin", body=resource(n))
        today = datetime.now(UTC).date()
        monday = today + timedelta(days=7 + (7 - today.weekday()) % 7)
        for week, temperature in enumerate(("cold", "warm", "warm")):
            day = monday + timedelta(days=7 * week)
            sr = api.call(
                "POST",
                "/cases",
                user="dave",
                body={
                    "type": "service_request",
                    "subtype": "FAULTY_ITEM",
                    "title": "Bench",
                    "contact_id": "CON-2002",
                    "assignee": "dave",
                },
            )[1]
            visit = api.call(
                "POST",
                f"/cases/{sr['id']}/activities",
                user="dave",
                body={"subtype": "VISIT", "title": "Visit", "assignee": "fred", "gbu": "FIELD"},
            )[1]
            window = {
                "service": "SVC-VISIT",
                "unit": "FIELD",
                "from": f"{day}T08:00:00Z",
                "to": f"{day}T18:00:00Z",
            }
            run(
                f"availability ({TECHNICIANS} providers)",
                temperature,
                "GET",
                "/resources/availability",
                200,
                user="dave",
                query=window,
            )
            slot = {
                "resource_id": "TECH-0",
                "service": "SVC-VISIT",
                "from": f"{day}T09:00:00Z",
                "to": f"{day}T11:00:00Z",
            }
            booking = run(
                "book 2 h (4 granules)",
                temperature,
                "POST",
                f"/cases/{visit['id']}/bookings",
                201,
                user="dave",
                body=slot,
            )
            run(
                "book the same slot again (409)",
                temperature,
                "POST",
                f"/cases/{visit['id']}/bookings",
                409,
                user="dave",
                body=slot,
            )
            run(
                "cancel (frees 4 granules)",
                temperature,
                "POST",
                f"/bookings/{booking['id']}/cancel",
                200,
                user="dave",
                body={},
            )
            run(
                "feedback summary (1 unit)",
                temperature,
                "GET",
                "/analytics/feedback",
                200,
                user="tina",
                query={"period": f"{day:%Y-%m}"},
            )

        meter.print_table(34)
    return 0


if __name__ == "__main__":
    sys.exit(main())
