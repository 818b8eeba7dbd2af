"""Prints the DynamoDB requests each API operation makes, counted at botocore, in a new container (cold: no
directory or definitions cached) and in a warm one. Budget: a read is one GetItem or Query; a change is one
read plus one TransactWriteItems. No Scan, ever.

    .venv/bin/python scripts/count_requests.py
"""

from __future__ import annotations

import os
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


def holiday_steps(run, temperature: str) -> None:
    """Approvals that survive holidays (issue 8): a delegation, an approval request that asks the delegate,
    a recall."""
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    period = {
        "delegate": "susan",
        "from": today.isoformat(),
        "until": (today + timedelta(days=3)).isoformat(),
    }
    run("delegation set (PUT)", temperature, "PUT", "/users/me/delegation", 200, user="john", body=period)
    run("delegation read (GET)", temperature, "GET", "/users/me/delegation", 200, user="john")
    case = run("register", temperature, "POST", "/cases", 201, body=NEW_CASE)["id"]
    run("add product", temperature, "POST", f"/cases/{case}/products", 201, body={"product_code": "P-100"})
    submit = {"to": "Pending Pre-Approval"}
    run("submit (delegate asked too)", temperature, "POST", f"/cases/{case}/transitions", 200, body=submit)
    run("recall", temperature, "POST", f"/cases/{case}/recall", 200, body={"comment": "c"})
    run("delegation end (DELETE)", temperature, "DELETE", "/users/me/delegation", 200, user="john")


def reminder_run(api, counter, pending: int = 3) -> list[tuple[dict[str, int], dict[str, int]]]:
    """``pending`` CSRs left waiting for John's pre-approval, then one reminder run as if two days had passed
    (the remind function, as its schedule runs it) and the same run again that day: (counts, requests)."""
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    from infra.bench import dynamodb_calls
    from infra.seed import verify_sender

    verify_sender(os.environ["MAIL_FROM"])
    for _ in range(pending):
        case = api.call("POST", "/cases", body=NEW_CASE)[1]
        api.call("POST", f"/cases/{case['id']}/products", body={"product_code": "P-100"})
        api.call("POST", f"/cases/{case['id']}/transitions", body={"to": "Pending Pre-Approval"})

    module = sys.modules["local_fn_RemindFunction"]
    later = datetime.now(UTC) + timedelta(hours=49)
    out = []
    for _ in range(2):
        reminders = replace(module.reminders(), clock=lambda: later)
        with counter.counting() as calls:
            counts = reminders.run()
        out.append((counts, dynamodb_calls(calls)))
    return out


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


ERP_RECORDS = {
    "CustomerUpserted": {"id": "ACC-900", "name": "Bench customer", "classification": "Business"},
    "ContactUpserted": {
        "id": "CON-900",
        "type": "PERSON",
        "first_name": "Bench",
        "last_name": "Contact",
        "identifiers": {"id_number": "B900"},
        "account_id": "ACC-900",
    },
    "ProductUpserted": {"code": "P-900", "name": "Bench product", "price": 9.5, "currency": "EUR"},
    "OrderUpserted": {
        "order_id": "SO-900",
        "kind": "sales_order",
        "number": "900",
        "account_id": "ACC-1001",
        "status": "open",
        "order_date": "2026-11-30",
        "currency": "EUR",
        "lines": [{"line": 1, "product_code": "P-100", "quantity": 2, "unit_price": 3.5}],
    },
}


def erp_message(detail_type: str, data: dict, event_id: str, version: int) -> dict:
    """An SQS record carrying the ERP's EventBridge event, as the ingest function receives it."""
    import json
    import uuid

    envelope = {
        "version": "0",
        "id": str(uuid.uuid4()),  # EventBridge: a new envelope per delivery
        "detail-type": detail_type,
        "source": "erp",
        "account": "123456789012",
        "time": "2026-11-30T09:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {"event_id": event_id, "version": version, "data": data},
    }
    arn = "arn:aws:sqs:eu-west-1:123456789012:bench-IngestQueue"
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "r",
        "body": json.dumps(envelope),
        "attributes": {},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
    }


def erp_events(functions: dict, counter) -> list[tuple[str, dict[str, int]]]:
    """DynamoDB requests per ERP event (one event per invocation, the function warm): the first delivery of an
    update, the same event delivered again, and an older version arriving after a newer one."""
    from infra.bench import dynamodb_calls

    ingest = functions["IngestFunction"]
    rows = []
    for detail_type, data in ERP_RECORDS.items():
        kind = detail_type.removesuffix("Upserted").lower()
        ingest.invoke({"Records": [erp_message(detail_type, data, f"warm-{kind}", 1)]})  # warms the container
        deliveries = [
            ("first delivery (an update)", f"{kind}-2", 2),
            ("duplicate delivery", f"{kind}-2", 2),
            ("stale (older) delivery", f"{kind}-older", 1),
        ]
        for label, event_id, version in deliveries:
            with counter.counting() as calls:
                result = ingest.invoke({"Records": [erp_message(detail_type, data, event_id, version)]})
            assert result == {"batchItemFailures": []}, (kind, label, result)
            rows.append((f"ERP {kind}: {label}", dynamodb_calls(calls)))
    return rows


def main() -> int:
    with mock_aws():
        from casework.http.wiring import case_service, customer_service
        from infra.bench import BENCH_QUESTIONS, ApiDriver, CallCounter, ColdWarmRequests, customer_steps

        api, counter = ApiDriver(), CallCounter()
        meter = ColdWarmRequests(api, counter, case_service, customer_service)
        run = meter.run

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

            holiday_steps(run, temperature)
            care_steps(run, temperature)
            for name, method, path, expect, kwargs, _ in customer_steps(n):
                run(name, temperature, method, path, expect, **kwargs)

        meter.print_table(30)

        print(f"\n{'approval reminder run (+49 h)':40} {'requests':>8}  breakdown")
        for counts, calls in reminder_run(api, counter):
            detail = ", ".join(f"{op} {n}" for op, n in calls.items())
            print(f"{counts!s:40} {sum(calls.values()):>8}  {detail}")

        print(f"\n{'ERP event (ingest function, warm)':40} {'requests':>8}  breakdown")
        for name, calls in erp_events(api.functions, counter):
            detail = ", ".join(f"{op} {n}" for op, n in calls.items())
            print(f"{name:40} {sum(calls.values()):>8}  {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
