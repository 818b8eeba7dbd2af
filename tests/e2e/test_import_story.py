"""The README's import walk-through over HTTP against the local stack: a file PUT to an upload link imports
itself on arrival; its job and error file (a download link) are read back; the error file, fixed, imports too;
the schedule, run by hand, imports a file whose upload event was not delivered."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from casework.domain import imports
from tests.import_fakes import lead_row, table_bytes

pytestmark = pytest.mark.e2e
BUCKET = "casework-local-importbucket"  # casework-<stage>-<LogicalId>, lower case


def finished_job(api, key: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        reply = api.call("GET", "/imports", "admin", params={"key": key})
        if reply.status_code == 200 and reply.json()["state"] not in ("queued", "running"):
            return reply.json()
        assert time.monotonic() < deadline, reply.text
        time.sleep(0.2)


def upload(api, data: bytes, filename: str) -> str:
    link = api.ok("POST", "/imports/uploads", "admin", 201, json={"kind": "leads", "filename": filename})
    assert requests.put(link["upload_url"], data=data, timeout=5).status_code == 200
    return link["key"]


def test_an_uploaded_file_imports_and_its_error_file_can_be_fixed(api):
    n = uuid.uuid4().int % 10**6
    rows = [lead_row(n), lead_row(n + 1, **{"Lead Priority Level": "urgent"})]
    key = upload(api, table_bytes(rows), "e2e.csv")

    job = finished_job(api, key)
    assert job["state"] == "completed_with_errors"
    assert job["counts"] == {"read": 2, "created": 1, "updated": 0, "unchanged": 0, "failed": 1}
    table = imports.read_table(requests.get(job["error_file_url"], timeout=5).content)
    (failed,) = [dict(zip(table.header, r, strict=True)) for r in table.rows()]
    assert failed["Error Message"] == "Lead Priority Level: 'urgent' is not a whole number from 1 to 10"

    failed["Lead Priority Level"] = "1"
    fixed = upload(api, table_bytes([failed]), "e2e-fixed.csv")
    assert finished_job(api, fixed)["counts"]["created"] == 1


def test_the_schedule_run_by_hand_imports_what_has_no_job(api, moto):
    s3 = moto.client("s3")
    key = f"incoming/contacts/e2e-{uuid.uuid4().hex[:8]}.csv"
    contacts = [
        {
            "Contact Type": "COMPANY",
            "Company Name": "Hooli",
            "Identifiers": f"id_number|H{uuid.uuid4().hex[:8]}",
        }
    ]
    events = moto.client("events")
    rule = next(r["Name"] for r in events.list_rules()["Rules"] if r["Name"].endswith("ImportUploadRule"))
    targets = events.list_targets_by_rule(Rule=rule)["Targets"]
    events.remove_targets(Rule=rule, Ids=[t["Id"] for t in targets])  # the upload's event goes nowhere
    try:
        s3.put_object(
            Bucket=BUCKET, Key=key, Body=table_bytes(contacts, columns=imports.CONTACTS_FILE_COLUMNS)
        )
    finally:
        events.put_targets(Rule=rule, Targets=targets)
    assert api.call("GET", "/imports", "admin", params={"key": key}).status_code == 404
    ran = requests.post(f"{api.base}/_dev/schedules/casework-local-ImportSchedule/run", timeout=5)
    assert ran.status_code == 200 and '"scan"' in ran.json()["input"]
    assert finished_job(api, key)["counts"]["created"] == 1
    missing = requests.post(f"{api.base}/_dev/schedules/nope/run", timeout=5)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "UNKNOWN_SCHEDULE"
