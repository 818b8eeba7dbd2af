"""In-memory stand-ins for the import service's ports (files, jobs, queue, the customer store) and helpers
that build import files. The customer store keeps the shared customers contract: contacts found by any of
their identifiers, outcomes created/updated/unchanged, DUPLICATE_IDENTIFIER when an identifier belongs to
another contact, ValidationFailed for bad data, nothing written on a refusal."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from casework.domain import imports
from casework.domain.errors import Conflict, NotFound, ValidationFailed
from casework.domain.imports import ImportJob
from casework.domain.model import Actor
from casework.services.imports import ImportService
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

    def list(self, bucket: str, prefix: str) -> list[tuple[str, str]]:
        return [
            (k, self.etag(b, k) or "")
            for (b, k) in sorted(self.objects)
            if b == bucket and k.startswith(prefix)
        ]


class MemoryJobs:
    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.saves = 0

    def create(self, job: ImportJob) -> bool:
        if job.id in self.jobs:
            return False
        self.jobs[job.id] = job.to_dict()
        return True

    def get(self, job_id: str) -> ImportJob | None:
        body = self.jobs.get(job_id)
        return None if body is None else ImportJob.from_dict(copy.deepcopy(body))

    def save(self, job: ImportJob) -> ImportJob:
        stored = self.jobs[job.id]
        if stored["version"] != job.version:
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


class MemoryCustomers:
    """The customers contract, in memory."""

    def __init__(self, contacts: Iterable[dict[str, Any]] = ()) -> None:
        self.contacts: dict[str, dict[str, Any]] = {}
        self.identifiers: dict[tuple[str, str], str] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.writes = 0
        for contact in contacts:
            self._store(dict(contact))

    def _store(self, contact: dict[str, Any]) -> None:
        self.contacts[contact["id"]] = contact
        for kind, value in (contact.get("identifiers") or {}).items():
            self.identifiers[(kind, value)] = contact["id"]

    def contact_by_identifiers(self, identifiers: Mapping[str, str]) -> dict[str, Any] | None:
        for kind, value in identifiers.items():
            contact_id = self.identifiers.get((kind, value))
            if contact_id:
                return copy.deepcopy(self.contacts[contact_id])
        return None

    def upsert_contact(self, actor: Actor, data: dict[str, Any], *, source_version: int | None = None):
        if data.get("type") not in ("PERSON", "COMPANY"):
            raise ValidationFailed("INVALID_CONTACT", "type must be PERSON or COMPANY")
        existing = (
            self.contacts.get(data["id"])
            if data.get("id")
            else self.contact_by_identifiers(data.get("identifiers") or {})
        )
        contact_id = existing["id"] if existing else f"CON-{len(self.contacts) + 1:012X}"
        for kind, value in (data.get("identifiers") or {}).items():
            owner = self.identifiers.get((kind, value))
            if owner and owner != contact_id:
                raise Conflict("DUPLICATE_IDENTIFIER", f"{kind} {value} belongs to contact {owner}.")
        merged = {**(existing or {}), **data, "id": contact_id}
        merged["identifiers"] = {
            **((existing or {}).get("identifiers") or {}),
            **(data.get("identifiers") or {}),
        }
        if existing and {k: v for k, v in merged.items() if k != "version"} == {
            k: v for k, v in existing.items() if k != "version"
        }:
            return "unchanged", copy.deepcopy(existing)
        merged["version"] = (existing or {}).get("version", 0) + 1
        merged.setdefault("life_cycle_state", "Prospect")
        self.writes += 1
        self._store(merged)
        return ("updated" if existing else "created"), copy.deepcopy(merged)

    def upsert_customer(self, actor: Actor, data: dict[str, Any], *, source_version: int | None = None):
        if not data.get("id") or not data.get("name"):
            raise ValidationFailed("INVALID_CUSTOMER", "A customer needs id and name.")
        existing = self.customers.get(data["id"])
        merged = {**(existing or {}), **data}
        if existing == merged:
            return "unchanged", copy.deepcopy(existing)
        self.writes += 1
        self.customers[data["id"]] = merged
        return ("updated" if existing else "created"), copy.deepcopy(merged)


def make_import_service(**overrides: Any):
    """(service, parts) with the demo directory, the shipped lead configuration and empty stores."""
    customers = MemoryCustomers()
    directory = InMemoryDirectory()
    customers.contacts = directory.contacts  # the directory sees the contacts the customer store writes
    cases, repo = make_service(directory=directory)
    parts = {
        "files": MemoryFiles(),
        "jobs": MemoryJobs(),
        "queue": MemoryQueue(),
        "customers": customers,
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
