"""Imports on moto, as Lambda would run them: files put in the template's ImportBucket (moto's S3 sends the
"Object Created" event through the template's EventBridge rule to the ImportQueue), the ImportFunction invoked
with the queue's real messages, POST/GET /imports through the API function the template names.

One seeded moto account per module (the API tests' ``aws`` fixture); the table is restored per test, and
each test uses keys of its own in the bucket and starts from an empty queue.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from casework.adapters import imports as import_adapters
from casework.domain import imports
from casework.http import wiring
from infra.local.functions import LambdaContext
from infra.local.template import LocalResources
from tests.functional.moto_account import load_function
from tests.functional.shapes import sqs_record
from tests.functional.test_api_handlers import Api
from tests.import_fakes import lead_row, table_bytes


class ShortLivedContext(LambdaContext):
    """An invocation with ``seconds`` left: the import continues in a new message after one chunk."""

    def __init__(self, seconds: float) -> None:
        super().__init__("casework-test-imports")
        self.seconds = seconds

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return int(self.seconds * 1000)


@pytest.fixture
def env(stack: LocalResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalResources]:
    monkeypatch.setenv("IMPORT_BUCKET", stack.physical["ImportBucket"]["Ref"])
    monkeypatch.setenv("IMPORT_QUEUE_URL", stack.physical["ImportQueue"]["QueueUrl"])
    monkeypatch.setenv("IMPORT_RUN_AS", "admin")
    monkeypatch.delenv("IMPORT_CHUNK_ROWS", raising=False)
    for cached in (wiring.import_service, wiring.customer_service, import_adapters._client):
        cached.cache_clear()
    sqs, url = boto3.client("sqs"), stack.physical["ImportQueue"]["QueueUrl"]
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:  # what an earlier test left (PurgeQueue is allowed once a minute)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    yield stack
    for cached in (wiring.import_service, wiring.customer_service):
        cached.cache_clear()


@pytest.fixture
def import_fn(env: LocalResources, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load_function("imports", monkeypatch, prefix="imports_test")


class Imports:
    """The bucket, the queue and the import function, as a test drives them."""

    def __init__(self, res: LocalResources, fn: ModuleType, api: Api) -> None:
        self.res, self.fn, self.api = res, fn, api
        self.bucket = res.physical["ImportBucket"]["Ref"]
        self.queue_url = res.physical["ImportQueue"]["QueueUrl"]
        self.queue_name = res.physical["ImportQueue"]["QueueName"]
        self.s3, self.sqs = boto3.client("s3"), boto3.client("sqs")
        self.prefix = uuid.uuid4().hex[:8]
        self.invocations = 0

    def upload(self, kind: str, data: bytes, name: str = "file.csv", folder: str = "incoming") -> str:
        key = (
            f"{folder}/{kind}/{self.prefix}-{name}"
            if folder == "incoming"
            else f"{folder}/{self.prefix}-{name}"
        )
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return key

    def job_of(self, key: str, user: str = "admin") -> dict[str, Any]:
        """GET /imports?key=: the newest job of a file (how an uploader finds their upload's job)."""
        reply = self.api("GET /imports", query={"key": key}, user=user)
        assert reply.status == 200, reply.text
        return reply.json

    def receive(self) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        messages = response.get("Messages", [])
        for message in messages:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return messages

    def invoke(self, bodies: list[str], context: LambdaContext | None = None) -> dict[str, Any]:
        self.invocations += 1
        event = {"Records": [sqs_record(body, queue=self.queue_name) for body in bodies]}
        return self.fn.handler(event, context or LambdaContext("casework-test-imports"))

    def drain(self, context: LambdaContext | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Deliver the queue's messages one by one (the template's BatchSize: 1) until it is empty."""
        results = []
        for _ in range(limit):
            messages = self.receive()
            if not messages:
                return results
            for message in messages:
                results.append(self.invoke([message["Body"]], context))
        raise AssertionError("the import never finished")

    def job(self, job_id: str, user: str = "admin") -> dict[str, Any]:
        reply = self.api("GET /imports/{job_id}", {"job_id": job_id}, user=user)
        assert reply.status == 200, reply.text
        return reply.json

    def start(self, key: str, kind: str = "leads", user: str = "admin", **body: Any) -> dict[str, Any]:
        reply = self.api("POST /imports", user=user, body={"kind": kind, "key": key, **body})
        assert reply.status == 202, reply.text
        return reply.json

    def read(self, key: str) -> imports.Table:
        return imports.read_table(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())


@pytest.fixture
def io(env: LocalResources, import_fn: ModuleType, api: Api) -> Imports:
    return Imports(env, import_fn, api)


def table_items(res: LocalResources) -> dict[str, int]:
    """How many items of each kind the table holds (a test-side Scan: nothing on a request path)."""
    counts: dict[str, int] = {}
    kwargs: dict[str, Any] = {"ProjectionExpression": "pk"}  # keys only: workflow bodies are large
    table = boto3.resource("dynamodb").Table(res.table_name)
    while True:
        page = table.scan(**kwargs)
        for item in page["Items"]:
            kind = item["pk"].split("#", 1)[0]
            counts[kind] = counts.get(kind, 0) + 1
        if "LastEvaluatedKey" not in page:
            return counts
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def data_items(res: LocalResources) -> dict[str, int]:
    """Everything but the import jobs themselves (and their files' pointers to them)."""
    return {k: v for k, v in table_items(res).items() if k not in ("IMPORT", "IMPORTFILE")}


def contact_with(res: LocalResources, identifier: str) -> dict[str, Any] | None:
    table = boto3.resource("dynamodb").Table(res.table_name)
    owner = table.query(KeyConditionExpression=Key("pk").eq(f"IDENT#id_number#{identifier}"))["Items"]
    if not owner:
        return None
    contact_id = owner[0]["body"]["contact_id"]
    return table.get_item(Key={"pk": f"CONTACT#{contact_id}", "sk": "CONTACT"})["Item"]["body"]


# --- uploads, re-imports, the error file ------------------------------------------------------------------


def test_an_uploaded_file_creates_contacts_and_leads_and_the_job_shows_it(io: Imports):
    key = io.upload("leads", table_bytes([lead_row(1, **{"Product Code": "P-100,P-200"}), lead_row(2)]))
    assert [o["batchItemFailures"] for o in io.drain()] == [[]]  # the S3 event started the job
    job = io.job_of(key)
    etag = io.s3.head_object(Bucket=io.bucket, Key=key)["ETag"].strip('"')
    assert job["id"] == imports.dropped_job_id(io.bucket, key, etag, "leads") == io.job(job["id"])["id"]
    assert job["state"] == "succeeded" and job["key"] == key
    assert job["counts"] == {"read": 2, "created": 2, "updated": 0, "unchanged": 0, "failed": 0}
    assert job["contacts"] == {"created": 2}
    assert job["progress"] == {"rows_done": 2, "total_rows": 2, "percent": 100.0}

    contact = contact_with(io.res, "ID000001")
    assert contact["name"] == "Ann Lee 1" and contact["created_by"] == "admin"
    leads = io.api("GET /cases", query={"type": "lead", "assignee": "mary"}, user="mary").json["items"]
    mine = [lead for lead in leads if lead["contact_id"] == contact["id"]]
    assert len(mine) == 1
    lead = io.api.get(mine[0]["id"], user="mary")
    assert (lead["status"], lead["fields"]["category"], lead["created_by"]) == (
        "New",
        "BUSINESS_SME",
        "admin",
    )
    # its history as any lead's: registered by the importer, then its products of interest added
    registered, *added = io.api.history(lead["id"])
    assert (registered["action"], registered["by"], registered["to_status"]) == ("registered", "admin", "New")
    assert [h["action"] for h in added] == ["related_added", "related_added"]
    products = io.api("GET /cases/{case_id}/products", {"case_id": lead["id"]}, user="mary").json["items"]
    assert sorted(p["key"] for p in products) == ["P-100", "P-200"]


def test_importing_the_same_file_again_creates_nothing_new(io: Imports):
    data = table_bytes([lead_row(1), lead_row(2)], "xlsx")
    io.upload("leads", data, "first.xlsx")
    io.drain()
    before = data_items(io.res)
    again = io.start(io.upload("leads", data, "again.xlsx", folder="uploads"))
    io.drain()
    job = io.job(again["id"])
    assert job["counts"] == {"read": 2, "created": 0, "updated": 0, "unchanged": 2, "failed": 0}
    assert data_items(io.res) == before


def test_failed_rows_come_back_in_an_error_file_that_can_be_fixed_and_imported(io: Imports):
    rows = [
        lead_row(1),
        lead_row(2, **{"Lead Importance Level": "critical"}),
        lead_row(3, **{"Target Amount": "a lot"}),
        lead_row(4, **{"Account Number": "ACC-NOPE"}),
    ]
    key = io.upload("leads", table_bytes(rows))
    io.drain()
    job = io.job_of(key)
    assert job["state"] == "completed_with_errors"
    assert job["counts"] == {"read": 4, "created": 1, "updated": 0, "unchanged": 0, "failed": 3}
    assert contact_with(io.res, "ID000002") is None and contact_with(io.res, "ID000004") is None

    errors = io.read(job["error_file"])
    assert errors.format == "csv" and errors.header == imports.LEAD_COLUMNS
    failed = [dict(zip(errors.header, r, strict=True)) for r in errors.rows()]
    assert [r["Identifiers"] for r in failed] == [
        "id_number|ID000002",
        "id_number|ID000003",
        "id_number|ID000004",
    ]
    assert failed[0]["Error Message"] == "Lead Importance Level: 'critical' is not one of high, medium, low"
    assert failed[1]["Error Message"] == "Target Amount: 'a lot' is not a number of at least 0"
    assert "ACC-NOPE" in failed[2]["Error Message"]

    failed[0]["Lead Importance Level"] = "medium"
    failed[1]["Target Amount"] = "900"
    failed[2]["Account Number"] = "ACC-1001"
    fixed = io.upload("leads", table_bytes(failed), "fixed.csv")
    io.drain()
    again = io.job_of(fixed)
    assert again["counts"] == {"read": 3, "created": 3, "updated": 0, "unchanged": 0, "failed": 0}
    assert contact_with(io.res, "ID000004")["account_id"] == "ACC-1001"


def test_a_dry_run_reports_and_writes_nothing(io: Imports):
    before = data_items(io.res)
    job = io.start(
        io.upload("leads", table_bytes([lead_row(1), lead_row(2, **{"Lead Type": "B2C"})]), folder="uploads"),
        dry_run=True,
    )
    io.drain()
    job = io.job(job["id"])
    assert job["dry_run"] is True and job["state"] == "completed_with_errors"
    assert job["counts"] == {"read": 2, "created": 1, "updated": 0, "unchanged": 0, "failed": 1}
    assert data_items(io.res) == before


def test_customers_and_contacts_files_upsert_by_account_number_and_identifiers(io: Imports):
    customers = [{"Account Number": "ACC-9001", "Name": "Initech", "VAT Registration Number": "CY99"}]
    io.upload("customers", table_bytes(customers, columns=imports.CUSTOMER_COLUMNS))
    contacts = [
        {
            "Contact Type": "COMPANY",
            "Company Name": "Initech",
            "Identifiers": "id_number|INI-1",
            "Account Number": "ACC-9001",
        },
        {"Contact Type": "PERSON", "First Name": "Bo", "Identifiers": "id_number|INI-2"},
    ]
    key = io.upload("contacts", table_bytes(contacts, columns=imports.CONTACTS_FILE_COLUMNS))
    io.drain()
    job = io.job_of(key)
    assert job["counts"] == {"read": 2, "created": 1, "updated": 0, "unchanged": 0, "failed": 1}
    assert contact_with(io.res, "INI-1")["account_id"] == "ACC-9001"
    message = next(io.read(job["error_file"]).rows())[-1]
    assert message == "First Name and Last Name: required for a new contact of type PERSON"


# --- bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"%PDF-1.7\n\x00\x00binary body", "not a CSV or XLSX file"),
        (bytes(range(256)) * 4, "not a CSV or XLSX file"),
        (table_bytes([lead_row()], columns=imports.CUSTOMER_COLUMNS), "missing required columns"),
    ],
    ids=["empty", "pdf", "random-bytes", "customer-columns-in-a-leads-file"],
)
def test_a_bad_file_fails_its_job_with_a_clear_message_and_writes_nothing(io: Imports, data, message):
    before = data_items(io.res)
    job = io.start(io.upload("leads", data, "bad.csv", folder="uploads"))
    assert io.job(job["id"])["state"] == "queued"
    io.drain()
    job = io.job(job["id"])
    assert job["state"] == "failed" and message in job["message"]
    assert data_items(io.res) == before


@pytest.mark.parametrize(
    ("user", "body", "status", "code"),
    [
        ("admin", {"kind": "orders", "key": "x.csv"}, 422, "INVALID_REQUEST"),
        ("admin", {"kind": "leads"}, 422, "INVALID_REQUEST"),
        ("admin", {"kind": "leads", "key": "uploads/none.csv"}, 422, "FILE_NOT_FOUND"),
        ("admin", {"kind": "leads", "key": "uploads/none.csv", "bucket": "elsewhere"}, 422, "UNKNOWN_BUCKET"),
        ("mary", {"kind": "leads", "key": "uploads/none.csv"}, 403, "NOT_ALLOWED"),
        ("nobody", {"kind": "leads", "key": "uploads/none.csv"}, 403, "UNKNOWN_USER"),
    ],
)
def test_bad_import_requests_get_a_clear_4xx(io: Imports, user, body, status, code):
    reply = io.api("POST /imports", user=user, body=body)
    assert (reply.status, reply.error["code"]) == (status, code)
    assert io.receive() == []


def test_a_job_is_shown_only_to_its_requester_and_managers(io: Imports):
    job = io.start(io.upload("leads", table_bytes([lead_row()]), folder="uploads"), user="peter")
    assert io.job(job["id"], user="peter")["requested_by"] == "peter"
    assert io.job(job["id"], user="admin")["id"] == job["id"]
    for user, job_id in (("mary", job["id"]), ("admin", "IMP-NOSUCHJOB")):
        reply = io.api("GET /imports/{job_id}", {"job_id": job_id}, user=user)
        assert (reply.status, reply.error["code"]) == (404, "IMPORT_NOT_FOUND")
    for user, key in (("mary", job["key"]), ("admin", "uploads/never.csv")):
        reply = io.api("GET /imports", query={"key": key}, user=user)
        assert (reply.status, reply.error["code"]) == (404, "IMPORT_NOT_FOUND")
    assert io.api("GET /imports", user="admin").status == 422  # the key is required


def test_an_unreadable_message_fails_alone_and_the_batch_goes_on(io: Imports):
    job = io.start(io.upload("leads", table_bytes([lead_row(1)]), folder="uploads"))
    (run,) = io.receive()
    result = io.invoke(["{not json", json.dumps({"action": "run", "job_id": job["id"]}), run["Body"]])
    assert len(result["batchItemFailures"]) == 2
    assert io.job(job["id"])["state"] == "succeeded"


# --- redelivery, continuation, the schedule -----------------------------------------------------------------


def test_a_redelivered_message_does_not_import_twice(io: Imports):
    job = io.start(io.upload("leads", table_bytes([lead_row(1), lead_row(2)]), folder="uploads"))
    (run,) = io.receive()
    io.invoke([run["Body"]])
    after_first = (io.job(job["id"]), data_items(io.res))
    io.invoke([run["Body"]])  # SQS delivers at least once
    assert (io.job(job["id"]), data_items(io.res)) == after_first
    assert after_first[0]["counts"]["created"] == 2


def test_a_file_continues_across_invocations_when_time_runs_low(io: Imports, monkeypatch):
    monkeypatch.setenv("IMPORT_CHUNK_ROWS", "2")
    wiring.import_service.cache_clear()
    key = io.upload("leads", table_bytes([lead_row(n) for n in range(7)]))
    results = io.drain(ShortLivedContext(seconds=5))  # less than the reserve: one chunk per invocation
    assert len(results) == 4 and all(r["batchItemFailures"] == [] for r in results)
    job = io.job_of(key)
    assert job["state"] == "succeeded"
    assert job["counts"] == {"read": 7, "created": 7, "updated": 0, "unchanged": 0, "failed": 0}


def test_the_schedule_imports_files_that_have_no_job_yet(io: Imports):
    key = io.upload("contacts", table_bytes([], columns=imports.CONTACTS_FILE_COLUMNS))
    io.receive()  # the upload's event is lost: the schedule's tick catches the file
    schedule = boto3.client("scheduler").get_schedule(Name=io.res.physical["ImportSchedule"]["Ref"])
    assert schedule["Target"]["Arn"] == io.res.physical["ImportQueue"]["Arn"]
    io.invoke([schedule["Target"]["Input"]])
    io.drain()
    assert io.job_of(key)["state"] == "succeeded"
    io.invoke([schedule["Target"]["Input"]])  # the next tick: every file has its job
    assert io.receive() == []


def test_an_upload_link_takes_the_file_and_it_imports_on_arrival(io: Imports):
    import requests

    reply = io.api(
        "POST /imports/uploads", user="peter", body={"kind": "leads", "filename": "June leads.xlsx"}
    )
    assert reply.status == 201, reply.text
    upload = reply.json
    assert upload["key"].startswith("incoming/leads/") and upload["key"].endswith("-June-leads.xlsx")
    rows = [lead_row(1), lead_row(2, **{"Lead Priority Level": "0"})]
    put = requests.put(upload["upload_url"], data=table_bytes(rows, "xlsx"), timeout=5)
    assert put.status_code == 200
    io.drain()
    job = io.job_of(upload["key"])
    assert job["counts"]["created"] == 1 and job["counts"]["failed"] == 1
    errors = requests.get(job["error_file_url"], timeout=5)
    assert errors.status_code == 200
    table = imports.read_table(errors.content)
    assert table.format == "xlsx"
    assert next(table.rows())[-1] == "Lead Priority Level: '0' is not a whole number from 1 to 10"


@pytest.mark.parametrize(
    ("user", "body", "status", "code"),
    [
        ("admin", {"kind": "leads", "filename": "scan.pdf"}, 422, "UNSUPPORTED_FILE"),
        ("admin", {"kind": "orders", "filename": "a.csv"}, 422, "INVALID_REQUEST"),
        ("admin", {"kind": "leads"}, 422, "INVALID_REQUEST"),
        ("mary", {"kind": "leads", "filename": "a.csv"}, 403, "NOT_ALLOWED"),
    ],
)
def test_bad_upload_requests_get_a_clear_4xx(io: Imports, user, body, status, code):
    reply = io.api("POST /imports/uploads", user=user, body=body)
    assert (reply.status, reply.error["code"]) == (status, code)


def test_an_import_keeps_its_request_budget_per_row(io: Imports):
    """A new lead row is one GetItem for its identifier, one for the contact the store upserts, one for the
    lead's contact, and two transactions (contact, lead); the job adds a few per invocation, and a checkpoint
    per 100 rows. No Scan."""
    from infra.bench import CallCounter, dynamodb_calls

    io.upload("leads", table_bytes([lead_row(900)]), "warm.csv")  # configuration and directory cached
    io.drain()
    key = io.upload("leads", table_bytes([lead_row(n) for n in range(20)]), "budget.csv")
    with CallCounter().counting() as calls:
        io.drain()
    dynamodb = dynamodb_calls(calls)
    assert io.job_of(key)["counts"]["created"] == 20
    assert "Scan" not in dynamodb
    assert dynamodb == {
        "GetItem": 3 * 20 + 1,  # + the job, read by the run
        "TransactWriteItems": 2 * 20 + 1,  # + the job with its file's pointer, created by the upload event
        "PutItem": 3,  # the job saved: started, after its one chunk, completed
    }
