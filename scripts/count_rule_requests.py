"""Prints the AWS requests one rule evaluation makes: the rules function (functions/rules) fed the SQS record
of one domain event, as Lambda's event source would, against moto with the seeded directory. Counted at
botocore (every boto3 / PynamoDB / Powertools call).

Target: an event no rule is triggered by reads nothing beyond the event and the cached rule set (and writes
nothing, not even an idempotency record). Also shows the alternative of loading the rule set for every
event (no cache) for comparison.

    .venv/bin/python scripts/count_rule_requests.py
"""

from __future__ import annotations

import hashlib
import json
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from moto import mock_aws  # noqa: E402

VISIT_RULE = {
    "id": "faulty-visit",
    "name": "Site visit for faulty items",
    "trigger": {"on": "case_created"},
    "conditions": {"types": ["FAULTY_ITEM"]},
    "actions": [
        {
            "do": "schedule_activity",
            "activity_type": "VISIT",
            "title": "Visit #contact_name: #case_title",
            "assignee": "fred",
            "business_unit": "FIELD",
        }
    ],
}
URGENT_ONLY = {  # triggered by the event, but its condition needs the case: one read, then no action
    **VISIT_RULE,
    "id": "urgent-visit",
    "conditions": {"types": ["FAULTY_ITEM"], "fields": {"impact": 1}},
}


def sqs_event(event: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(
        {"version": "0", "id": str(uuid.uuid4()), "detail-type": event["type"], "detail": event}
    )
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "bench",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:casework-bench-RulesQueue",
                "awsRegion": "eu-west-1",
            }
        ]
    }


def first_event(case_id: str) -> dict[str, Any]:
    """The case's CaseRegistered event as the outbox (its first history item) holds it."""
    from casework.adapters.codec import plain
    from casework.adapters.dynamo import HistoryItem

    item = HistoryItem.get(f"CASE#{case_id}", "HIST#00000001")
    return plain(item.events[0])


def main() -> int:
    with mock_aws():
        from casework.adapters.rules import DynamoRuleStore
        from infra.bench import ApiDriver, CallCounter
        from infra.local.functions import LambdaContext

        api, counter = ApiDriver(), CallCounter()
        status, _ = api.call("PUT", "/rules/service_request", user="admin", body={"rules": [VISIT_RULE]})
        assert status == 200
        rules_fn = api.functions["RulesFunction"]
        module = sys.modules["local_fn_RulesFunction"]

        def case(subtype: str, **fields: Any) -> dict[str, Any]:
            body = {"type": "service_request", "subtype": subtype, "title": "Bench", "contact_id": "CON-2001"}
            status, created = api.call("POST", "/cases", user="carol", body={**body, "fields": fields})
            assert status == 201, created
            return first_event(created["id"])

        def run(event: dict[str, Any]) -> dict[str, int]:
            with counter.counting() as calls:
                result = rules_fn.handler(sqs_event(event), LambdaContext("RulesFunction"))
            assert result == {"batchItemFailures": []}, result
            return {f"{service}:{op}": n for (service, op), n in sorted(calls.items()) if service != "sts"}

        rows: list[tuple[str, dict[str, int]]] = []
        module.runner.cache_clear()
        rows.append(("not triggered (GENERAL), cold container", run(case("GENERAL"))))
        rows.append(("not triggered (GENERAL), warm", run(case("GENERAL"))))
        faulty = case("FAULTY_ITEM")
        rows.append(("triggered and acting (FAULTY_ITEM: a visit)", run(faulty)))
        rows.append(("the same event again (duplicate delivery)", run(faulty)))

        status, _ = api.call(
            "PUT",
            "/rules/service_request",
            user="admin",
            body={"rules": [URGENT_ONLY], "expected_version": 1},
        )
        assert status == 200
        module.runner.cache_clear()
        run(case("GENERAL"))  # warm the new container
        rows.append(("triggered, condition on the case fails", run(case("FAULTY_ITEM", impact=3))))

        uncached = DynamoRuleStore(latest_ttl_seconds=0)
        module.runner().rules = uncached
        run(case("GENERAL"))  # its first event also reads the version's body, once
        rows.append(("not triggered, latest version looked up per event", run(case("GENERAL"))))

        width = max(len(name) for name, _ in rows)
        print("AWS requests per rule evaluation (one SQS record, RulesFunction, moto):")
        for name, calls in rows:
            listed = ", ".join(f"{op} {n}" for op, n in calls.items()) or "none"
            print(f"  {name:<{width}}  {sum(calls.values()):>2}  {listed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
