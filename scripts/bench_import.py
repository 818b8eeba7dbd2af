"""Prints what an import costs: DynamoDB requests per imported row (by operation) and rows per second, for a
leads file of new contacts (default 10,000 rows), and for its first 1,000 rows imported again (unchanged).

In process, on moto (with infra.local.moto_patches, as the local stack runs it): the template's bucket,
queue and rule, the file put in the bucket (moto's S3 emits the Object Created event to the queue), and the
ImportFunction invoked with the queue's messages, as Lambda would, until the queue is empty. Requests are
counted at botocore. Rows per second on moto say how the code scales (no request is slower than the one
before); DynamoDB itself answers in single-digit milliseconds, so on AWS the figure is bound by latency.

    .venv/bin/python scripts/bench_import.py [--rows 10000] [--again 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from moto import mock_aws  # noqa: E402


def lead_file(rows: int, tag: str) -> bytes:
    from casework.domain import imports

    def row(n: int) -> dict[str, str]:
        return {
            "New Contact": "T",
            "Contact Type": "PERSON",
            "Identifiers": f"id_number|{tag}{n:07d}",
            "First Name": "Ann",
            "Last Name": f"Bench {n}",
            "Email Address": f"ann{n}@bench.example",
            "Lead Type": "B2B",
            "Lead Category": "BUSINESS_SME",
            "Lead Priority Level": str(1 + n % 10),
            "Lead Importance Level": "high",
            "Probability to Win": str(n % 101),
            "Target Amount": f"{1000 + n}.50",
            "Description": f"Bench lead {n}",
            "Lead Source Type": "website",
            "Assigned to Unit": "SP",
            "Assigned to User": "mary",
        }

    header = list(imports.LEAD_COLUMNS)
    return imports.write_table("csv", header, ([row(n).get(c, "") for c in header] for n in range(rows)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--again", type=int, default=1_000, help="rows of the file imported again")
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    with mock_aws():
        import boto3

        from infra.bench import ApiDriver, CallCounter
        from infra.local import moto_patches

        moto_patches.install()
        api = ApiDriver(stage="bench")
        physical = api.resources.physical
        os.environ.update(
            IMPORT_BUCKET=physical["ImportBucket"]["Ref"],
            IMPORT_QUEUE_URL=physical["ImportQueue"]["QueueUrl"],
            IMPORT_RUN_AS="admin",
            IMPORT_RESERVE_SECONDS="60",
        )
        from casework.http import wiring

        wiring.import_service.cache_clear()
        function = api.functions["ImportFunction"]
        s3, sqs = boto3.client("s3"), boto3.client("sqs")
        queue_url, counter = physical["ImportQueue"]["QueueUrl"], CallCounter()

        def deliver() -> int:
            """Invoke the function with each queued message (batch size 1) until the queue is empty."""
            invocations = 0
            while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages"):
                (message,) = messages
                record = {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": physical["ImportQueue"]["Arn"],
                    "awsRegion": "eu-west-1",
                }
                result = function.invoke({"Records": [record]})
                assert result == {"batchItemFailures": []}, result
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                invocations += 1
            return invocations

        data = lead_file(args.rows, "B")
        print(f"leads file: {args.rows} rows of new contacts, {len(data) / 1e6:.1f} MB CSV\n")
        print(f"{'run':22} {'rows/s':>8} {'s':>7} {'invocations':>11}  DynamoDB requests per row")
        runs = (
            ("first import", "incoming/leads/bench.csv", args.rows, data),
            (f"first {args.again} again", "incoming/leads/again.csv", args.again, lead_file(args.again, "B")),
        )
        for run, key, rows, data in runs:
            with counter.counting() as calls:
                started = time.perf_counter()
                s3.put_object(Bucket=physical["ImportBucket"]["Ref"], Key=key, Body=data)
                invocations = deliver()
                seconds = time.perf_counter() - started
            job = wiring.import_service().jobs.latest_for(physical["ImportBucket"]["Ref"], key)
            assert job is not None and job.counts["read"] == rows, job
            dynamodb = Counter({op: n for (service, op), n in calls.items() if service == "dynamodb"})
            per_row = ", ".join(f"{op} {n / rows:.2f}" for op, n in sorted(dynamodb.items()))
            total = sum(dynamodb.values()) / rows
            print(
                f"{run:22} {rows / seconds:>8.0f} {seconds:>7.1f} {invocations:>11}  {total:.2f} ({per_row})"
            )
            outcome = {k: v for k, v in job.counts.items() if v}
            print(f"{'':22} job {job.state}: {outcome}, contacts {dict(job.contacts)}")
        print(
            "\nScan requests: 0 (none is ever made)"
            if not any(op == "Scan" for (_, op) in calls)
            else "SCAN!"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
