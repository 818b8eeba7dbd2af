"""Prints the DynamoDB requests each API operation makes, counted at botocore, in a new container (cold: no
directory or definitions cached) and in a warm one. Budget: a read is one GetItem or Query; a change is one
read plus one TransactWriteItems. No Scan, ever.

    .venv/bin/python scripts/count_requests.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from moto import mock_aws  # noqa: E402

NEW_CASE = {"type": "csr", "title": "Bench", "description": "d", "account_id": "ACC-1001"}


def steps(case_id: str) -> list[tuple[str, str, str, int, dict]]:
    """The CSR's first steps in order: (name, method, path, expected status, call kwargs)."""
    return [
        ("add product", "POST", f"/cases/{case_id}/products", 201, {"body": {"product_code": "P-100"}}),
        ("edit fields (PATCH)", "PATCH", f"/cases/{case_id}", 200, {"body": {"fields": {"title": "B2"}}}),
        (
            "transition",
            "POST",
            f"/cases/{case_id}/transitions",
            200,
            {"body": {"to": "Pending Pre-Approval"}},
        ),
        (
            "approve (API)",
            "POST",
            f"/cases/{case_id}/approvals",
            200,
            {"user": "john", "body": {"decision": "approve"}},
        ),
        ("add note", "POST", f"/cases/{case_id}/notes", 201, {"body": {"text": "n"}}),
        ("get case", "GET", f"/cases/{case_id}", 200, {}),
        (
            "list by type+status",
            "GET",
            "/cases",
            200,
            {"query": {"type": "csr", "status": "Under Assessment"}},
        ),
        ("list assigned to me", "GET", "/cases", 200, {"query": {"assignee": "me"}}),
        ("history", "GET", f"/cases/{case_id}/history", 200, {}),
    ]


NEW_SR = {"type": "service_request", "title": "Bench", "contact_id": "CON-2001"}


def care_steps(run, temperature: str) -> None:
    """A service request's life on the care modules (issue 3), step by step."""
    sr = run("SR register (unit routed)", temperature, "POST", "/cases", 201, user="carol", body=NEW_SR)["id"]
    run("SR accept", temperature, "POST", f"/cases/{sr}/accept", 200, user="dave", body={})
    respond = {"to": "Acknowledged", "fields": {"response_category": "ACK", "response": "ok"}}
    run("SR respond", temperature, "POST", f"/cases/{sr}/transitions", 200, user="dave", body=respond)
    activity = {"subtype": "CALL", "title": "Call", "assignee": "dave"}
    act = run(
        "schedule activity", temperature, "POST", f"/cases/{sr}/activities", 201, user="dave", body=activity
    )
    run(
        "activity start",
        temperature,
        "POST",
        f"/cases/{act['id']}/transitions",
        200,
        user="dave",
        body={"to": "Started"},
    )
    run(
        "activity complete",
        temperature,
        "POST",
        f"/cases/{act['id']}/transitions",
        200,
        user="dave",
        body={"to": "Done"},
    )
    resolve = {
        "to": "Resolved",
        "fields": {"final_resolution_category": "INFO_GIVEN", "final_resolution": "x"},
    }
    run(
        "SR final resolution", temperature, "POST", f"/cases/{sr}/transitions", 200, user="dave", body=resolve
    )
    run(
        "SR complete (children check)",
        temperature,
        "POST",
        f"/cases/{sr}/transitions",
        200,
        user="dave",
        body={"to": "Closed"},
    )
    run("SR feedback", temperature, "POST", f"/cases/{sr}/feedback", 201, user="carol", body={"rating": 4})
    run("SR summary", temperature, "GET", "/summaries/service_request", 200, user="tina")
    lead = {"type": "lead", "title": "Bench", "contact_id": "CON-2003", "assignee": "mary", "gbu": "SP"}
    run("lead register", temperature, "POST", "/cases", 201, body=lead)


def main() -> int:
    with mock_aws():
        from casework.http.wiring import case_service, customer_service
        from infra.bench import BENCH_QUESTIONS, ApiDriver, CallCounter, customer_steps, dynamodb_calls

        api, counter = ApiDriver(), CallCounter()
        results: dict[str, dict[str, dict[str, int]]] = {}

        def run(name: str, temperature: str, method: str, path: str, expect: int, **kwargs) -> dict:
            if temperature == "cold":
                case_service.cache_clear()
                customer_service.cache_clear()
            with counter.counting() as calls:
                status, body = api.call(method, path, **kwargs)
            assert status == expect, (name, status, body)
            results.setdefault(name, {})[temperature] = dynamodb_calls(calls)
            return body

        api.call("PUT", "/profiling/bench", user="admin", body={**BENCH_QUESTIONS, "expected_version": 0})
        for n, temperature in enumerate(("cold", "warm", "warm")):  # the first warm pass warms up
            case = run("register", temperature, "POST", "/cases", 201, body=NEW_CASE)
            for name, method, path, expect, kwargs in steps(case["id"]):
                run(name, temperature, method, path, expect, **kwargs)
            case = api.call("POST", "/cases", body=NEW_CASE)[1]
            api.call("POST", f"/cases/{case['id']}/products", body={"product_code": "P-100"})
            api.call("POST", f"/cases/{case['id']}/transitions", body={"to": "Pending Pre-Approval"})
            link = api.approval_link(case["id"], "john", "pre_approval")
            run("approval link page (GET)", temperature, "GET", link, 200, user=None)
            run(
                "approval link decide (POST)",
                temperature,
                "POST",
                link,
                200,
                user=None,
                form={"decision": "approve"},
            )

            care_steps(run, temperature)
            for name, method, path, expect, kwargs, _ in customer_steps(n):
                run(name, temperature, method, path, expect, **kwargs)

        print(f"{'operation':30} {'cold':>5} {'warm':>5}  warm breakdown")
        scans = 0
        for name, by_temperature in results.items():
            cold, warm = by_temperature["cold"], by_temperature["warm"]
            scans += cold.get("Scan", 0) + warm.get("Scan", 0)
            detail = ", ".join(f"{op} {n}" for op, n in warm.items())
            print(f"{name:30} {sum(cold.values()):>5} {sum(warm.values()):>5}  {detail}")
        print(f"\nScan requests in all of the above: {scans}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
