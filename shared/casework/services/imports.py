"""Import jobs: leads, customers and contacts from CSV/XLSX files in S3, row by row, on natural keys.

A job reads its file from its checkpoint in chunks. After each chunk it records, in one conditional update of
the job, the rows done and what they did; so a crashed or timed-out invocation loses nothing (its message is
redelivered and the job resumes from the last checkpoint; the rows it redoes are upserts on natural keys, so
nothing is created twice), and a redelivered message whose checkpoint is behind the job's does nothing.
When the time left runs low, the job queues a message to continue itself from its checkpoint.

Natural keys: a customer is its account number, a contact its identifiers (CustomerService finds it), a lead
a hash of its contact and its lead columns (created with a conditional put: a second import finds it).
A refused row writes nothing: every check that can refuse it runs before its first write.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from itertools import islice
from typing import Any, Protocol

from casework.domain import imports
from casework.domain.error_codes import ErrorCode
from casework.domain.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from casework.domain.imports import (
    ContactRow,
    CustomerRow,
    ImportJob,
    LeadRow,
    RowRefused,
    Table,
)
from casework.domain.model import Actor, timestamp
from casework.services.cases import CaseService
from casework.services.customers import new_contact_id
from casework.services.ports import Clock, CustomerUpserts, IdFactory

IMPORT_ROLES = ("Admin", "Sales Manager")  # who may start an import over the API
MANAGER_ROLES = ("Admin", "Sales Manager")  # who may see every import job
URL_SECONDS = 900  # presigned upload and error-file links
# Longer than an invocation can last (900 s): a running job untouched for this long has lost its message.
STALLED_AFTER = timedelta(minutes=20)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class FileStore(Protocol):
    def get(self, bucket: str, key: str) -> bytes:
        """The object's bytes, or NotFound FILE_NOT_FOUND."""
        ...

    def etag(self, bucket: str, key: str) -> str | None:
        """The object's ETag, or None when there is no such object."""
        ...

    def put(self, bucket: str, key: str, data: bytes) -> None: ...

    def list(self, bucket: str, prefix: str) -> list[tuple[str, str]]:
        """(key, etag) of every object under ``prefix``."""
        ...

    def download_url(self, bucket: str, key: str, seconds: int) -> str:
        """A URL that GETs the object for ``seconds`` (presigned)."""
        ...

    def upload_url(self, bucket: str, key: str, seconds: int) -> str:
        """A URL that PUTs the object for ``seconds`` (presigned)."""
        ...


class JobStore(Protocol):
    def create(self, job: ImportJob) -> bool:
        """Store a new job; False (nothing written) when a job with its id exists already."""
        ...

    def get(self, job_id: str) -> ImportJob | None: ...

    def latest_for(self, bucket: str, key: str) -> ImportJob | None:
        """The newest job of a file (an upload's job is found by its key)."""
        ...

    def save(self, job: ImportJob) -> ImportJob:
        """Store ``job`` if the stored one is still at ``job.version``; returns it at the next version.
        Conflict STALE_JOB when somebody else saved it meanwhile (a racing delivery of the same message)."""
        ...


class JobQueue(Protocol):
    def send(self, message: dict[str, Any]) -> None:
        """Queue a message for the import function (``{"action": "run", "job_id", "checkpoint"}``)."""
        ...


def run_message(job: ImportJob) -> dict[str, Any]:
    return {"action": "run", "job_id": job.id, "checkpoint": job.checkpoint}


def part_key(job_id: str, first_row: int) -> str:
    """Where a chunk's failed rows wait until the job writes its error file (one object per chunk, so a
    redone chunk overwrites its own)."""
    return f"work/{job_id}/failed-{first_row:09d}.json"


@dataclass
class _LeadRules:
    """The latest lead configuration, read once per run: type codes and each type's allowed choices."""

    cases: CaseService
    by_type: dict[str | None, dict[str, tuple[Any, ...]]] = field(default_factory=dict)

    @cached_property
    def type_codes(self) -> list[str]:
        assert self.cases.configs is not None
        config, _ = self.cases.configs.get("lead")
        return [t.code for t in config.types]

    def choices(self, lead_type: str | None) -> dict[str, tuple[Any, ...]]:
        if lead_type not in self.by_type:
            defn = self.cases.workflows.get("lead", subtype=lead_type)
            choices = {name: spec.choices for name, spec in defn.fields.items() if spec.type == "choice"}
            if defn.related_keys.get("products"):  # a type that names its products allows only those
                choices["products"] = defn.related_keys["products"]
            self.by_type[lead_type] = choices
        return self.by_type[lead_type]


@dataclass
class ImportService:
    files: FileStore
    jobs: JobStore
    queue: JobQueue
    customers: CustomerUpserts
    cases: CaseService
    clock: Clock
    new_id: IdFactory
    bucket: str  # the import bucket: the API imports from here only
    chunk_rows: int = 100  # rows between checkpoints
    reserve_seconds: float = 30.0  # continue in a new invocation when less time than this is left

    # --- the API ---

    def _importer(self, username: str, kind: str) -> Actor:
        actor = self.cases.actor(username)
        if not set(IMPORT_ROLES) & actor.roles:
            raise Forbidden(
                ErrorCode.NOT_ALLOWED,
                f"Only {' and '.join(IMPORT_ROLES)} may start imports.",
                {"roles": IMPORT_ROLES},
            )
        if kind not in imports.KINDS:
            raise ValidationFailed(
                ErrorCode.UNKNOWN_IMPORT_KIND, f"There is no {kind!r} import.", {"kinds": list(imports.KINDS)}
            )
        return actor

    def upload(self, username: str, *, kind: str, filename: str) -> dict[str, Any]:
        """Where to PUT a file so that it imports on arrival: a key under ``incoming/<kind>/`` and a presigned
        URL for it (the upload event then starts the job; GET /imports?key= finds it)."""
        self._importer(username, kind)
        stem, dot, ext = re.split(r"[/\\]", filename)[-1].rpartition(".")
        if not dot or ext.lower() not in imports.FORMATS:
            raise ValidationFailed(
                ErrorCode.UNSUPPORTED_FILE, "Imports read .csv and .xlsx files.", {"filename": filename}
            )
        safe = _SAFE_NAME.sub("-", stem).strip("-.")[:80] or "import"
        day = timestamp(self.clock())[:10]
        key = f"incoming/{kind}/{day}/{self.new_id()[:8]}-{safe}.{ext.lower()}"
        return {
            "key": key,
            "upload_url": self.files.upload_url(self.bucket, key, URL_SECONDS),
            "method": "PUT",
            "expires_in": URL_SECONDS,
        }

    def request(
        self, username: str, *, kind: str, key: str, bucket: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """A job for a file already in the import bucket; it runs asynchronously (GET shows how far)."""
        actor = self._importer(username, kind)
        if bucket not in (None, self.bucket):
            raise ValidationFailed(
                ErrorCode.UNKNOWN_BUCKET,
                f"Imports read from the import bucket {self.bucket} only.",
                {"bucket": bucket},
            )
        if self.files.etag(self.bucket, key) is None:
            raise ValidationFailed(
                ErrorCode.FILE_NOT_FOUND, f"There is no file {key!r} in the import bucket.", {"key": key}
            )
        job = self._new_job(
            f"IMP-{self.new_id()[:20].upper()}", kind, self.bucket, key, dry_run, actor.username
        )
        self.jobs.create(job)
        self.queue.send(run_message(job))
        return job.view()

    def job(self, username: str, job_id: str) -> dict[str, Any]:
        return self._visible(username, self.jobs.get(job_id), job_id)

    def job_of_file(self, username: str, key: str) -> dict[str, Any]:
        """The newest job of a file in the import bucket (an upload's job, by the key it was put under)."""
        return self._visible(username, self.jobs.latest_for(self.bucket, key), key)

    def _visible(self, username: str, job: ImportJob | None, asked: str) -> dict[str, Any]:
        """The requester and managers see a job; to anybody else it does not exist."""
        actor = self.cases.actor(username)
        if job is None or (job.requested_by != actor.username and not set(MANAGER_ROLES) & actor.roles):
            raise NotFound(ErrorCode.IMPORT_NOT_FOUND, f"There is no import {asked!r}.", {"import": asked})
        view = job.view()
        if job.error_file:
            view["error_file_url"] = self.files.download_url(job.bucket, job.error_file, URL_SECONDS)
        return view

    # --- files dropped in the bucket, and the schedule ---

    def dropped(self, bucket: str, key: str, etag: str, run_as: str) -> ImportJob | None:
        """The job for a file dropped under ``incoming/<kind>/`` (the same one for a repeated event of the
        same file version); None when the key names no import kind."""
        kind = imports.kind_of_key(key)
        if kind is None:
            return None
        job_id = imports.dropped_job_id(bucket, key, etag, kind)
        job = self._new_job(job_id, kind, bucket, key, False, run_as)
        if not self.jobs.create(job):
            job = self.jobs.get(job_id) or job
        return job

    def scan(self, bucket: str, prefix: str, run_as: str) -> list[str]:
        """The schedule's tick: a job for every file under ``prefix`` that has none yet, each queued to run
        in its own invocation. Files that have a job (from their upload event or an earlier tick) are left."""
        queued = []
        for key, etag in self.files.list(bucket, prefix):
            kind = imports.kind_of_key(key)
            if kind is None:
                continue
            job = self._new_job(
                imports.dropped_job_id(bucket, key, etag, kind), kind, bucket, key, False, run_as
            )
            if self.jobs.create(job):
                self.queue.send(run_message(job))
                queued.append(job.id)
                continue
            existing = self.jobs.get(job.id)
            if (
                existing is not None
                and existing.state == imports.QUEUED
                and self._idle(existing) > STALLED_AFTER
            ):
                self.queue.send(run_message(existing))  # created by a tick whose message was never sent
                queued.append(existing.id)
        return queued

    def _idle(self, job: ImportJob) -> timedelta:
        return self.clock() - datetime.fromisoformat(job.updated_at.replace("Z", "+00:00"))

    def _new_job(self, job_id: str, kind: str, bucket: str, key: str, dry_run: bool, by: str) -> ImportJob:
        at = timestamp(self.clock())
        return ImportJob(
            id=job_id,
            kind=kind,
            bucket=bucket,
            key=key,
            dry_run=dry_run,
            requested_by=by,
            created_at=at,
            updated_at=at,
        )

    # --- running a job ---

    def run(self, job_id: str, checkpoint: int, time_left: Callable[[], float]) -> str:
        """Import from ``checkpoint`` until the file ends or ``time_left()`` (seconds) runs low. Returns
        "finished", "failed", "continued" (a message to go on was queued) or "stale" (the job is past this
        checkpoint or finished: a redelivered or raced message, nothing done)."""
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFound(ErrorCode.IMPORT_NOT_FOUND, f"Import {job_id} does not exist.", {"job_id": job_id})
        if job.finished or (job.checkpoint != checkpoint and not self._stalled(job, checkpoint)):
            return "stale"
        now = timestamp(self.clock())
        try:
            try:
                table = imports.read_table(self.files.get(job.bucket, job.key))
                imports.check_header(job.kind, table.header)
                actor = self.cases.actor(job.requested_by)
            except (ValidationFailed, NotFound, Forbidden) as exc:  # the file's (or its importer's) fault
                self.jobs.save(job.failed(exc.message, now))
                return "failed"
            if job.state == imports.QUEUED:
                total = sum(1 for _ in table.rows())
                job = self.jobs.save(job.started(table.format, total, now))
            job = self._chunks(job, table, actor, time_left)
            if job is None:
                return "continued"
            job = self.jobs.save(job.completed(self._error_file(job, table), timestamp(self.clock())))
        except Conflict as exc:
            if exc.code == "STALE_JOB":
                return "stale"
            raise
        return "finished"

    def _stalled(self, job: ImportJob, checkpoint: int) -> bool:
        """A job past this message's checkpoint that nobody has moved on for longer than an invocation can
        last: its continuation message was lost (queued after the checkpoint, then the send failed). The
        redelivered earlier message takes it on from the job's own checkpoint; a duplicate arriving while the
        job is being worked on finds it recently updated, and stays stale."""
        if job.state != imports.RUNNING or checkpoint > job.checkpoint:
            return False
        return self._idle(job) > STALLED_AFTER

    def _chunks(
        self, job: ImportJob, table: Table, actor: Actor, time_left: Callable[[], float]
    ) -> ImportJob | None:
        rows = table.rows(job.checkpoint)
        rules = _LeadRules(self.cases)
        done_any = False
        while job.total is None or job.checkpoint < job.total:
            if done_any and time_left() < self.reserve_seconds:
                self.queue.send(run_message(job))
                return None
            chunk = list(islice(rows, self.chunk_rows))
            if not chunk:
                break
            outcomes: Counter[str] = Counter()
            contacts: Counter[str] = Counter()
            failed = []
            for offset, values in enumerate(chunk):
                try:
                    outcome, contact = self._row(job, table.header, values, actor, rules)
                except RowRefused as exc:
                    outcome, contact = "failed", None
                    failed.append({"row": job.checkpoint + offset, "values": values, "message": exc.message})
                outcomes[outcome] += 1
                if contact:
                    contacts[contact] += 1
            if failed:
                data = json.dumps(failed, separators=(",", ":")).encode()
                self.files.put(job.bucket, part_key(job.id, job.checkpoint), data)
            job = self.jobs.save(
                job.advanced(
                    job.checkpoint + len(chunk), outcomes, contacts, bool(failed), timestamp(self.clock())
                )
            )
            done_any = True
        return job

    def _error_file(self, job: ImportJob, table: Table) -> str | None:
        """The failed rows of every chunk, in file order, as one file in the input's format."""
        if not job.error_parts:
            return None
        header = imports.error_header(table.header)
        rows = []
        for first in job.error_parts:
            for failed in json.loads(self.files.get(job.bucket, part_key(job.id, first))):
                rows.append(imports.with_error(table.header, failed["values"], failed["message"]))
        key = imports.error_file_key(job.key, job.id)
        self.files.put(job.bucket, key, imports.write_table(table.format, header, rows, table.delimiter))
        return key

    # --- one row ---

    def _row(
        self, job: ImportJob, header: tuple[str, ...], values: list[str], actor: Actor, rules: _LeadRules
    ) -> tuple[str, str | None]:
        """(the row's outcome, its contact's outcome for a lead) or RowRefused."""
        parsed = imports.parse_row(job.kind, header, values)
        try:
            if isinstance(parsed, CustomerRow):
                return self._customer(parsed, actor, job.dry_run), None
            if isinstance(parsed, ContactRow):
                return self._contact(parsed, actor, job.dry_run, self._found(parsed))[0], None
            return self._lead(parsed, actor, job.dry_run, rules)
        except DomainError as exc:  # the customer store's or the engine's refusal of this row
            raise RowRefused([exc.message, *imports.field_problems(exc.details)]) from None

    def _customer(self, row: CustomerRow, actor: Actor, dry_run: bool) -> str:
        if dry_run:
            return "updated" if self.cases.directory.account(row.data["id"]) else "created"
        outcome, _ = self.customers.upsert_customer(actor, dict(row.data))
        return outcome

    def _found(self, row: ContactRow) -> dict[str, Any] | None:
        """The contact that holds any of the row's identifiers, if one does."""
        return self.customers.contact_by_identifiers(row.identifiers) if row.identifiers else None

    def _contact(
        self, row: ContactRow, actor: Actor, dry_run: bool, found: dict[str, Any] | None
    ) -> tuple[str, dict[str, Any] | None]:
        """(outcome, the stored contact); in a dry run the contact found, or None for a new one. ``found``:
        the contact that holds the row's identifiers (``_found``), None when none does."""
        if found is None and not row.new:
            shown = ", ".join(f"{k}|{v}" for k, v in row.identifiers.items())
            raise RowRefused([f"Identifiers: no contact has {shown} (New Contact is F)"])
        if dry_run:
            return ("updated", found) if found else ("created", None)
        # A new contact gets its id here: the customer store would otherwise look the identifiers up again.
        contact_id = found["id"] if found else new_contact_id(self.new_id)
        return self.customers.upsert_contact(actor, {**row.data, "id": contact_id})

    def _lead(self, row: LeadRow, actor: Actor, dry_run: bool, rules: _LeadRules) -> tuple[str, str]:
        problems = imports.lead_code_problems(row, rules.type_codes, rules.choices(row.lead_type))
        listed = rules.choices(row.lead_type).get("products")  # a type's own list: known products already
        problems += [
            f"Product Code: '{code}' is not a known product"
            for code in row.lists.get("products", [])
            if listed is None and self.cases.directory.product(code) is None
        ]
        if problems:
            raise RowRefused(problems)
        found = self._found(row.contact)
        register: dict[str, Any] = dict(
            type="lead",
            subtype=row.lead_type,
            description=row.description,
            account_id=row.account_id,
            business_unit=row.business_unit,
            fields=row.fields,
            assignee=row.assignee,
        )
        # Every check that can refuse the lead runs before the contact is written: nothing half-imported.
        if found is not None:
            case_id = imports.lead_case_id(found["id"], row)
            if self._case_exists(case_id):
                if dry_run:
                    return "unchanged", "unchanged"
                linked = self._link_products(actor, case_id, row)
                contact_outcome = self._contact(row.contact, actor, False, found)[0]
                return ("updated" if linked else "unchanged"), contact_outcome
            self.cases.register(
                actor.username,
                title=row.title(found.get("name")),
                contact_id=found["id"],
                case_id=case_id,
                validate_only=True,
                **register,
            )
        else:
            self._check_lead_for_new_contact(actor, row, register)
        contact_outcome, contact = self._contact(row.contact, actor, dry_run, found)
        if dry_run or contact is None:
            return "created", contact_outcome
        case_id = imports.lead_case_id(contact["id"], row)
        outcome = "created"
        try:
            self.cases.register(
                actor.username,
                title=row.title(contact.get("name")),
                contact_id=contact["id"],
                case_id=case_id,
                **register,
            )
        except Conflict as exc:
            if exc.code != "CASE_EXISTS":
                raise
            outcome = "unchanged"
        if self._link_products(actor, case_id, row) and outcome == "unchanged":
            outcome = "updated"
        return outcome, contact_outcome

    def _link_products(self, actor: Actor, case_id: str, row: LeadRow) -> int:
        """The row's products of interest on the lead's related list, each added once (a change of the lead
        of its own, as adding one by hand is): a re-import adds only those the lead does not have yet."""
        added = 0
        for code in row.lists.get("products", []):
            if self.cases.repo.related_entry(case_id, "products", code) is not None:
                continue
            try:
                self.cases.change_related(actor.username, case_id, kind="products", key=code, added=True)
            except Conflict as exc:
                if exc.code != "ALREADY_LINKED":
                    raise
                continue
            added += 1
        return added

    def _check_lead_for_new_contact(self, actor: Actor, row: LeadRow, register: dict[str, Any]) -> None:
        """The engine's checks of a lead whose contact does not exist yet: all of them but the contact."""
        if not row.contact.new:
            return  # refused by _contact: the contact must exist
        try:
            self.cases.register(
                actor.username, title=row.title(row.contact.name), validate_only=True, **register
            )
        except ValidationFailed as exc:
            if exc.code != ErrorCode.MISSING_FIELDS or list(exc.details.get("fields") or []) != [
                "contact_id"
            ]:
                raise

    def _case_exists(self, case_id: str) -> bool:
        try:
            self.cases.repo.get(case_id)
        except NotFound:
            return False
        return True
