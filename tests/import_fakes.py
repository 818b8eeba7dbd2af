"""In-memory stand-ins for the import service's ports (files, jobs, queue, and the customer store under the
real CustomerService) and helpers that build import files."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from casework.domain import imports
from casework.domain.errors import Conflict, NotFound, ValidationFailed
from casework.domain.imports import ImportJob
from casework.services.customers import CustomerService
from casework.services.imports import ImportService
from casework.services.ports import RecordWrite
from tests.fakes import FixedClock, InMemoryDirectory, SequentialIds, make_service

BUCKET = "casework-test-importbucket"


class MemoryFiles:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.puts = 0

    def get(self, bucket: str, key: str) -> bytes:
        try:
            return self.objects[(bucket, key)]
        except KeyError:
            raise NotFound("FILE_NOT_FOUND", f"There is no file {key!r}.") from None

    def etag(self, bucket: str, key: str) -> str | None:
        data = self.objects.get((bucket, key))
        return None if data is None else f"{len(data):x}-{hash(data) & 0xFFFF:x}"

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.puts += 1
        self.objects[(bucket, key)] = data

    def download_url(self, bucket: str, key: str, seconds: int) -> str:
        return f"https://{bucket}.s3.example/{key}?get&expires={seconds}"

    def upload_url(self, bucket: str, key: str, seconds: int) -> str:
        return f"https://{bucket}.s3.example/{key}?put&expires={seconds}"

    def list(self, bucket: str, prefix: str) -> list[tuple[str, str]]:
        return [
            (k, self.etag(b, k) or "")
            for (b, k) in sorted(self.objects)
            if b == bucket and k.startswith(prefix)
        ]


class MemoryJobs:
    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.latest: dict[tuple[str, str], str] = {}
        self.saves = 0

    def create(self, job: ImportJob) -> bool:
        if job.id in self.jobs:
            return False
        self.jobs[job.id] = job.to_dict()
        self.latest[(job.bucket, job.key)] = job.id
        return True

    def latest_for(self, bucket: str, key: str) -> ImportJob | None:
        job_id = self.latest.get((bucket, key))
        return self.get(job_id) if job_id else None

    def get(self, job_id: str) -> ImportJob | None:
        body = self.jobs.get(job_id)
        return None if body is None else ImportJob.from_dict(copy.deepcopy(body))

    def save(self, job: ImportJob) -> ImportJob:
        stored = self.jobs.get(job.id)
        if stored is None or stored["version"] != job.version:  # the table's condition fails on both
            raise Conflict("STALE_JOB", "The import job changed meanwhile.")
        saved = replace(job, version=job.version + 1)
        self.saves += 1
        self.jobs[job.id] = saved.to_dict()
        return saved


class MemoryQueue:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        self.messages.append(json.loads(json.dumps(message)))


class MemoryCustomerStore:
    """casework.services.ports.CustomerStore in memory, over the directory's own contacts and accounts (so
    the case service sees the contacts an import writes, as it does on the table)."""

    def __init__(self, directory: InMemoryDirectory) -> None:
        self.records = {"contact": directory.contacts, "customer": directory.accounts}
        self.identifiers: dict[tuple[str, str], str] = {}
        self.writes = 0

    def get(self, kind: str, record_id: str) -> dict[str, Any] | None:
        record = self.records[kind].get(record_id)
        return copy.deepcopy(record) if record is not None else None

    def identifier_owner(self, identifier_type: str, value: str) -> str | None:
        return self.identifiers.get((identifier_type, value))

    def write(self, change: RecordWrite) -> None:
        stored = self.records[change.kind].get(change.id)
        held_source = (stored or {}).get("source_version")
        if (
            (stored is None) != (change.expected_version is None)
            or (stored is not None and stored.get("version", 0) != change.expected_version)
            # an ERP event applies only over an older source version, as the table's condition says
            or (
                change.source_version is not None
                and held_source is not None
                and held_source >= change.source_version
            )
        ):
            raise Conflict("CONCURRENT_UPDATE", "The record changed meanwhile.")
        for claim in change.claim:
            if self.identifiers.get(claim, change.id) != change.id:
                raise Conflict("DUPLICATE_IDENTIFIER", f"{claim[0]} {claim[1]} belongs to another record.")
        if change.customer_must_exist and change.customer_must_exist not in self.records["customer"]:
            raise ValidationFailed("UNKNOWN_CUSTOMER", f"There is no customer {change.customer_must_exist}.")
        for claim in change.release:
            self.identifiers.pop(claim, None)
        for claim in change.claim:
            self.identifiers[claim] = change.id
        if change.record is None:
            del self.records[change.kind][change.id]
        else:
            self.records[change.kind][change.id] = copy.deepcopy(change.record)
        self.writes += 1


def make_import_service(**overrides: Any):
    """(service, parts) with the demo directory, the shipped lead configuration and empty stores."""
    directory = InMemoryDirectory()
    store = MemoryCustomerStore(directory)
    customers = CustomerService(
        store=store, directory=directory, clock=FixedClock(), new_id=SequentialIds("C")
    )
    cases, repo = make_service(directory=directory)
    parts = {
        "files": MemoryFiles(),
        "jobs": MemoryJobs(),
        "queue": MemoryQueue(),
        "customers": customers,
        "store": store,
        "contacts": directory.contacts,
        "accounts": directory.accounts,
        "repo": repo,
    }
    service = ImportService(
        files=parts["files"],
        jobs=parts["jobs"],
        queue=parts["queue"],
        customers=parts["customers"],
        cases=cases,
        clock=FixedClock(),
        new_id=SequentialIds("JOB"),
        bucket=BUCKET,
        **overrides,
    )
    return service, parts


# --- import files ------------------------------------------------------------------------------------------


def lead_row(n: int = 1, **values: str) -> dict[str, str]:
    """A valid lead row of the template: a new PERSON contact with identifier id_number|ID<n>."""
    return {
        "New Contact": "T",
        "Contact Type": "PERSON",
        "Identifiers": f"id_number|ID{n:06d}",
        "First Name": "Ann",
        "Last Name": f"Lee {n}",
        "Email Address": f"ann{n}@customer.example",
        "Phone Number": "+357 99 123456",
        "Lead Type": "B2B",
        "Lead Category": "BUSINESS_SME",
        "Lead Priority Level": "3",
        "Lead Importance Level": "high",
        "Probability to Win": "40",
        "Target Amount": "12500.50",
        "Description": f"Needs 20 t of PA66 ({n})",
        "Lead Source Type": "website",
        "Lead Source": "Spring campaign",
        "Assigned to Unit": "SP",
        "Assigned to User": "mary",
        **values,
    }


def table_bytes(
    rows: Iterable[Mapping[str, str]],
    fmt: str = "csv",
    columns: Iterable[str] = imports.LEAD_COLUMNS,
    delimiter: str = ",",
) -> bytes:
    header = list(columns)
    body = [[row.get(c, "") for c in header] for row in rows]
    return imports.write_table(fmt, header, body, delimiter)
