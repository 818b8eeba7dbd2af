"""Import jobs against in-memory fakes: what gets created, re-imports, the error file, dry runs, refused rows,
checkpoints across invocations, redelivered messages and crashed invocations."""

from __future__ import annotations

import json

import pytest

from casework.domain import imports
from casework.domain.errors import Forbidden, NotFound, ValidationFailed
from tests.import_fakes import BUCKET, lead_row, make_import_service, table_bytes

PLENTY = lambda: 900.0  # noqa: E731 - seconds left in the invocation


def start(service, parts, data: bytes, key: str = "incoming/leads/june.csv", user: str = "admin", **kw):
    parts["files"].put(BUCKET, key, data)
    kind = kw.pop("kind", imports.kind_of_key(key) or "leads")
    job = service.request(user, kind=kind, key=key, **kw)
    message = parts["queue"].messages.pop()
    assert message == {"action": "run", "job_id": job["id"], "checkpoint": 0}
    return job["id"]


def run_all(service, parts, job_id: str, time_left=PLENTY) -> list[str]:
    """Run the job, then every continuation it queues, as the queue would deliver them."""
    outcomes = [service.run(job_id, 0, time_left)]
    while parts["queue"].messages:
        message = parts["queue"].messages.pop(0)
        outcomes.append(service.run(message["job_id"], message["checkpoint"], time_left))
    return outcomes


def job(service, job_id: str) -> dict:
    return service.job("admin", job_id)


def leads(parts) -> list:
    return [c for c in parts["repo"].cases.values() if c.type == "lead"]


def test_an_import_creates_contacts_and_their_leads_through_the_engine():
    service, parts = make_import_service()
    job_id = start(service, parts, table_bytes([lead_row(1), lead_row(2)]))
    assert run_all(service, parts, job_id) == ["finished"]
    view = job(service, job_id)
    assert view["state"] == "succeeded"
    assert view["counts"] == {"read": 2, "created": 2, "updated": 0, "unchanged": 0, "failed": 0}
    assert view["contacts"] == {"created": 2}
    assert view["progress"] == {"rows_done": 2, "total_rows": 2, "percent": 100.0}
    assert view["error_file"] is None
    created = sorted(leads(parts), key=lambda c: c.contact_id)
    found = [parts["customers"].contact_by_identifiers({"id_number": f"ID00000{n}"}) for n in (1, 2)]
    assert parts["store"].writes == 2
    assert [c.contact_id for c in created] == sorted(f["id"] for f in found)
    assert found[0]["name"] == "Ann Lee 1" and found[0]["emails"][0]["address"] == "ann1@customer.example"
    lead = created[0]
    assert (lead.status, lead.assignee, lead.business_unit, lead.created_by) == ("New", "mary", "SP", "admin")
    assert lead.fields["category"] == "BUSINESS_SME" and lead.fields["target_amount"] == 12500.5
    # the history and events of any lead: registered, and assigned to mary (who is emailed)
    events = [(e.type, e.case_id) for e in parts["repo"].outbox]
    for case in created:
        assert ("CaseRegistered", case.id) in events and ("CaseAssigned", case.id) in events


def test_importing_the_same_file_again_creates_nothing_new():
    service, parts = make_import_service()
    data = table_bytes([lead_row(1), lead_row(2)])
    run_all(service, parts, start(service, parts, data))
    contacts, cases = dict(parts["contacts"]), len(parts["repo"].cases)
    again = start(service, parts, data)
    run_all(service, parts, again)
    assert job(service, again)["counts"] == {
        "read": 2,
        "created": 0,
        "updated": 0,
        "unchanged": 2,
        "failed": 0,
    }
    assert job(service, again)["contacts"] == {"unchanged": 2}
    assert parts["contacts"] == contacts
    assert len(parts["repo"].cases) == cases


def test_an_existing_contact_is_found_by_identifier_and_updated_not_duplicated():
    service, parts = make_import_service()
    run_all(service, parts, start(service, parts, table_bytes([lead_row(1)])))
    before = len(parts["contacts"])
    changed = lead_row(
        1, **{"New Contact": "F", "Email Address": "new@customer.example", "Description": "Another"}
    )
    job_id = start(service, parts, table_bytes([changed]))
    run_all(service, parts, job_id)
    assert job(service, job_id)["contacts"] == {"updated": 1}
    assert job(service, job_id)["counts"]["created"] == 1  # a second lead for the same contact
    assert len(parts["contacts"]) == before
    found = parts["customers"].contact_by_identifiers({"id_number": "ID000001"})
    assert found["email"] == "new@customer.example"


def test_failed_rows_go_to_an_error_file_that_can_be_fixed_and_imported_again():
    service, parts = make_import_service()
    rows = [
        lead_row(1),
        lead_row(2, **{"Lead Category": "GOLD"}),
        lead_row(3, **{"Probability to Win": "lots"}),
        lead_row(4, **{"Assigned to User": "nobody"}),
    ]
    job_id = start(service, parts, table_bytes(rows, "xlsx"), key="incoming/leads/june.xlsx")
    run_all(service, parts, job_id)
    view = job(service, job_id)
    assert view["state"] == "completed_with_errors"
    assert view["counts"] == {"read": 4, "created": 1, "updated": 0, "unchanged": 0, "failed": 3}
    assert view["error_file"].startswith("errors/leads/june.") and view["error_file"].endswith(".xlsx")
    # nothing of a refused row was written: one contact, one lead
    assert len(parts["contacts"]) == 4 + 1 and len(leads(parts)) == 1

    error_file = imports.read_table(parts["files"].get(BUCKET, view["error_file"]))
    assert error_file.format == "xlsx"
    failed = [dict(zip(error_file.header, r, strict=True)) for r in error_file.rows()]
    assert [r["Last Name"] for r in failed] == ["Lee 2", "Lee 3", "Lee 4"]
    messages = [r["Error Message"] for r in failed]
    assert messages[0].startswith("Lead Category: 'GOLD' is not one of BUSINESS, BUSINESS_SME")
    assert messages[1] == "Probability to Win: 'lots' is not a whole number from 0 to 100"
    assert "nobody" in messages[2]

    failed[0]["Lead Category"] = "BUSINESS"
    failed[1]["Probability to Win"] = "20"
    failed[2]["Assigned to User"] = "peter"
    fixed = start(service, parts, table_bytes(failed, "xlsx"), key="incoming/leads/june-fixed.xlsx")
    run_all(service, parts, fixed)
    assert job(service, fixed)["counts"] == {
        "read": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
    }
    assert len(leads(parts)) == 4


def test_a_dry_run_reports_what_would_happen_and_writes_nothing():
    service, parts = make_import_service()
    run_all(service, parts, start(service, parts, table_bytes([lead_row(1)])))
    contacts, cases, writes = (
        dict(parts["contacts"]),
        dict(parts["repo"].cases),
        parts["store"].writes,
    )
    rows = [lead_row(1), lead_row(2), lead_row(3, **{"Lead Type": "B2C"})]
    job_id = start(service, parts, table_bytes(rows), dry_run=True)
    run_all(service, parts, job_id)
    view = job(service, job_id)
    assert view["dry_run"] is True
    assert view["counts"] == {"read": 3, "created": 1, "updated": 0, "unchanged": 1, "failed": 1}
    assert view["message"].startswith("3 rows read: 1 would be created")
    assert parts["contacts"] == contacts and parts["store"].writes == writes
    assert parts["repo"].cases == cases


def test_customers_and_contacts_imports_upsert_on_their_natural_keys():
    service, parts = make_import_service()
    customers = [
        {"Account Number": "ACC-9001", "Name": "Initech"},
        {"Account Number": "ACC-9002", "Name": ""},
    ]
    job_id = start(
        service,
        parts,
        table_bytes(customers, columns=imports.CUSTOMER_COLUMNS),
        key="incoming/customers/a.csv",
    )
    run_all(service, parts, job_id)
    assert job(service, job_id)["counts"] == {
        "read": 2,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "failed": 1,
    }
    assert parts["accounts"]["ACC-9001"]["name"] == "Initech"

    contacts = [
        {"Contact Type": "COMPANY", "Company Name": "Initech", "Identifiers": "vat_registration_number|CY1"}
    ]
    data = table_bytes(contacts, columns=imports.CONTACTS_FILE_COLUMNS)
    first = start(service, parts, data, key="incoming/contacts/a.csv")
    again = start(service, parts, data, key="incoming/contacts/b.csv")
    run_all(service, parts, first)
    run_all(service, parts, again)
    assert job(service, first)["counts"]["created"] == 1
    assert job(service, again)["counts"]["unchanged"] == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"%PDF-1.4\n\x00\x01\x02binary", "not a CSV or XLSX file"),
        (table_bytes([lead_row()], columns=imports.CUSTOMER_COLUMNS), "missing required columns"),
    ],
    ids=["empty", "pdf", "wrong-columns"],
)
def test_a_bad_file_fails_the_job_with_a_clear_message_and_writes_nothing(data, message):
    service, parts = make_import_service()
    job_id = start(service, parts, data)
    assert run_all(service, parts, job_id) == ["failed"]
    view = job(service, job_id)
    assert view["state"] == "failed" and message in view["message"]
    assert parts["store"].writes == 0 and not leads(parts)


def test_requests_are_checked_before_a_job_exists():
    service, parts = make_import_service()
    with pytest.raises(Forbidden):
        service.request("mary", kind="leads", key="incoming/leads/x.csv")
    with pytest.raises(ValidationFailed) as missing:
        service.request("admin", kind="leads", key="incoming/leads/none.csv")
    assert missing.value.code == "FILE_NOT_FOUND"
    parts["files"].put(BUCKET, "x.csv", b"a")
    with pytest.raises(ValidationFailed) as kind:
        service.request("admin", kind="orders", key="x.csv")
    assert kind.value.code == "UNKNOWN_IMPORT_KIND"
    with pytest.raises(ValidationFailed) as bucket:
        service.request("admin", kind="leads", key="x.csv", bucket="somebody-elses")
    assert bucket.value.code == "UNKNOWN_BUCKET"
    assert parts["jobs"].jobs == {} and parts["queue"].messages == []


def test_a_job_is_shown_to_its_requester_and_managers_only():
    service, parts = make_import_service()
    job_id = start(service, parts, table_bytes([lead_row()]), user="peter")
    assert service.job("peter", job_id)["requested_by"] == "peter"
    assert service.job("admin", job_id)["id"] == job_id
    with pytest.raises(NotFound):
        service.job("mary", job_id)
    with pytest.raises(NotFound):
        service.job("admin", "IMP-NOPE")
    assert service.job_of_file("peter", "incoming/leads/june.csv")["id"] == job_id
    with pytest.raises(NotFound):
        service.job_of_file("mary", "incoming/leads/june.csv")


# --- checkpoints, continuation, redelivery ------------------------------------------------------------------


class Budget:
    """An invocation's time left, plenty for the first ``chunks`` checks (one before every chunk after the
    first: an invocation always gets one chunk done), then too little."""

    def __init__(self, chunks: int) -> None:
        self.calls, self.chunks = 0, chunks

    def __call__(self) -> float:
        self.calls += 1
        return 900.0 if self.calls <= self.chunks else 1.0


def test_a_job_continues_in_new_invocations_when_time_runs_low():
    service, parts = make_import_service(chunk_rows=2)
    job_id = start(service, parts, table_bytes([lead_row(n) for n in range(7)]))
    assert service.run(job_id, 0, Budget(1)) == "continued"  # two chunks, then out of time
    view = job(service, job_id)
    assert view["state"] == "running" and view["checkpoint"] == 4
    assert view["progress"] == {"rows_done": 4, "total_rows": 7, "percent": 57.1}
    assert parts["queue"].messages == [{"action": "run", "job_id": job_id, "checkpoint": 4}]
    message = parts["queue"].messages.pop()
    assert service.run(job_id, message["checkpoint"], Budget(5)) == "finished"
    assert job(service, job_id)["counts"]["created"] == 7 and len(leads(parts)) == 7


def test_a_redelivered_message_does_not_import_a_chunk_twice():
    service, parts = make_import_service(chunk_rows=2)
    job_id = start(service, parts, table_bytes([lead_row(n) for n in range(6)]))
    assert service.run(job_id, 0, Budget(1)) == "continued"
    saves = parts["jobs"].saves
    assert service.run(job_id, 0, PLENTY) == "stale"  # the first message again
    assert parts["jobs"].saves == saves
    message = parts["queue"].messages.pop()
    assert service.run(job_id, message["checkpoint"], PLENTY) == "finished"
    assert service.run(job_id, message["checkpoint"], PLENTY) == "stale"
    assert job(service, job_id)["counts"] == {
        "read": 6,
        "created": 6,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
    }


def test_an_invocation_that_dies_before_its_checkpoint_loses_nothing():
    service, parts = make_import_service(chunk_rows=2)
    job_id = start(service, parts, table_bytes([lead_row(n) for n in range(4)]))
    original_save = parts["jobs"].save
    calls = {"n": 0}

    def dies_after_first_chunk(j):
        calls["n"] += 1
        if calls["n"] == 2:  # the first save starts the job, the second is the first chunk's checkpoint
            raise RuntimeError("timed out")
        return original_save(j)

    parts["jobs"].save = dies_after_first_chunk
    with pytest.raises(RuntimeError):
        service.run(job_id, 0, PLENTY)
    assert len(leads(parts)) == 2  # written, but not checkpointed
    parts["jobs"].save = original_save
    assert service.run(job_id, 0, PLENTY) == "finished"  # the message, redelivered
    view = job(service, job_id)
    assert view["counts"] == {"read": 4, "created": 2, "updated": 0, "unchanged": 2, "failed": 0}
    assert len(leads(parts)) == 4 and len(parts["contacts"]) == 4 + 4


def test_the_schedule_and_the_upload_event_make_one_job_per_file():
    service, parts = make_import_service()
    parts["files"].put(BUCKET, "incoming/leads/a.csv", table_bytes([lead_row(1)]))
    parts["files"].put(
        BUCKET, "incoming/contacts/b.csv", table_bytes([], columns=imports.CONTACTS_FILE_COLUMNS)
    )
    parts["files"].put(BUCKET, "incoming/readme.txt", b"drop files in a folder per kind")
    etag = parts["files"].etag(BUCKET, "incoming/leads/a.csv")
    dropped = service.dropped(BUCKET, "incoming/leads/a.csv", etag, "admin")
    assert dropped is not None and dropped.kind == "leads"
    assert service.dropped(BUCKET, "incoming/leads/a.csv", etag, "admin").id == dropped.id
    assert service.dropped(BUCKET, "incoming/readme.txt", "e", "admin") is None
    queued = service.scan(BUCKET, "incoming/", "admin")
    assert len(queued) == 1 and queued[0] != dropped.id  # the contacts file; the leads file has its job
    assert service.scan(BUCKET, "incoming/", "admin") == []
    assert [m["job_id"] for m in parts["queue"].messages] == queued


def test_an_empty_file_with_a_header_succeeds_with_nothing_read():
    service, parts = make_import_service()
    job_id = start(service, parts, table_bytes([]))
    assert run_all(service, parts, job_id) == ["finished"]
    assert job(service, job_id)["state"] == "succeeded" and job(service, job_id)["counts"]["read"] == 0


def test_a_hundred_thousand_rows_finish_across_invocations(benchmark_rows=100_000):
    """Generated here, never checked in: parsing, validation and checkpointing over 100,000 rows of a contacts
    file, as a dry run (no write per row keeps it to seconds; the writes are the functional tests' and the
    bench's), in invocations that each run out of time after a few chunks."""
    service, parts = make_import_service(chunk_rows=5_000)
    header = ",".join(imports.CONTACTS_FILE_COLUMNS)
    width = len(imports.CONTACTS_FILE_COLUMNS)
    lines = [header]
    for n in range(benchmark_rows):
        values = ["T", "PERSON", f"id_number|N{n}", "Ann", f"Lee{n}"] + [""] * (width - 5)
        if n % 10_000 == 0:
            values[1] = "ROBOT"
        lines.append(",".join(values))
    job_id = start(service, parts, "\n".join(lines).encode(), key="incoming/contacts/big.csv", dry_run=True)
    outcomes = [service.run(job_id, 0, Budget(3))]
    while parts["queue"].messages:
        message = parts["queue"].messages.pop(0)
        outcomes.append(service.run(message["job_id"], message["checkpoint"], Budget(3)))
    assert outcomes == ["continued"] * 4 + ["finished"]
    view = job(service, job_id)
    assert view["counts"] == {"read": 100_000, "created": 99_990, "updated": 0, "unchanged": 0, "failed": 10}
    assert parts["store"].writes == 0
    errors = imports.read_table(parts["files"].get(BUCKET, view["error_file"]))
    assert len(list(errors.rows())) == 10
    assert json.loads(json.dumps(view))["progress"]["percent"] == 100.0


def test_an_upload_link_puts_a_safe_name_under_the_kinds_incoming_folder():
    service, _ = make_import_service()
    upload = service.upload("admin", kind="contacts", filename="C:\\tmp/../June leads (v2).XLSX")
    assert upload["key"].startswith("incoming/contacts/2025-03-03/")
    assert upload["key"].endswith("-June-leads-v2.xlsx")
    assert imports.kind_of_key(upload["key"]) == "contacts"
    assert upload["upload_url"].endswith("?put&expires=900") and upload["method"] == "PUT"
    for filename, error in (("notes.pdf", ValidationFailed), ("noextension", ValidationFailed)):
        with pytest.raises(error) as caught:
            service.upload("admin", kind="leads", filename=filename)
        assert caught.value.code == "UNSUPPORTED_FILE"
    with pytest.raises(Forbidden):
        service.upload("mary", kind="leads", filename="a.csv")


def test_a_finished_job_links_its_error_file():
    service, parts = make_import_service()
    job_id = start(service, parts, table_bytes([lead_row(1, **{"Contact Type": "X"})]))
    run_all(service, parts, job_id)
    view = job(service, job_id)
    assert view["error_file_url"] == f"https://{BUCKET}.s3.example/{view['error_file']}?get&expires=900"


def test_a_job_whose_continuation_was_lost_is_taken_on_by_the_redelivered_message():
    service, parts = make_import_service(chunk_rows=2)
    job_id = start(service, parts, table_bytes([lead_row(n) for n in range(6)]))
    assert service.run(job_id, 0, Budget(1)) == "continued"
    parts["queue"].messages.clear()  # the continuation (checkpoint 4) never reached the queue
    assert service.run(job_id, 0, PLENTY) == "stale"  # a duplicate while the job is fresh
    service.clock.advance(21 * 60)  # the first message comes back after its visibility timeout
    assert service.run(job_id, 0, PLENTY) == "finished"
    assert job(service, job_id)["counts"]["created"] == 6 and len(leads(parts)) == 6


def test_the_schedule_queues_again_a_job_whose_first_message_was_lost():
    service, parts = make_import_service()
    parts["files"].put(BUCKET, "incoming/leads/a.csv", table_bytes([lead_row(1)]))
    (queued,) = service.scan(BUCKET, "incoming/", "admin")
    parts["queue"].messages.clear()  # sending it failed after the job was created
    assert service.scan(BUCKET, "incoming/", "admin") == []  # a tick soon after: it may still be on its way
    service.clock.advance(21 * 60)
    assert service.scan(BUCKET, "incoming/", "admin") == [queued]
    assert parts["queue"].messages == [{"action": "run", "job_id": queued, "checkpoint": 0}]


REFERRAL = {"Lead Type": "REFERRAL", "Lead Category": "PERSON", "Lead Source Type": "recommended_by_contact"}


def test_a_leads_products_of_interest_are_linked_and_a_reimport_adds_only_new_ones():
    service, parts = make_import_service()
    rows = [
        lead_row(1, **{"Product Code": "P-100, P-200"}),
        lead_row(2, **{"Product Code": "SVC-REPAIR"}),
        lead_row(3, **REFERRAL, **{"Product Code": "P-999"}),  # a type that names no products
    ]
    job_id = start(service, parts, table_bytes(rows))
    run_all(service, parts, job_id)
    view = job(service, job_id)
    assert view["counts"] == {"read": 3, "created": 1, "updated": 0, "unchanged": 0, "failed": 2}
    (lead,) = [parts["repo"].get(c.id) for c in leads(parts)]
    assert lead.related_counts["products"] == 2
    assert set(parts["repo"].links[(lead.id, "products")]) == {"P-100", "P-200"}
    failed = [
        dict(zip(t.header, r, strict=True))
        for t in [imports.read_table(parts["files"].get(BUCKET, view["error_file"]))]
        for r in t.rows()
    ]
    assert failed[0]["Error Message"] == "Product Code: 'SVC-REPAIR' is not one of P-100, P-200, SVC-INSTALL"
    assert failed[1]["Error Message"] == "Product Code: 'P-999' is not a known product"

    again = start(service, parts, table_bytes([lead_row(1, **{"Product Code": "P-100,SVC-INSTALL"})]))
    run_all(service, parts, again)
    assert job(service, again)["counts"]["updated"] == 1  # the same lead, one product more
    assert set(parts["repo"].links[(lead.id, "products")]) == {"P-100", "P-200", "SVC-INSTALL"}
    assert len(leads(parts)) == 1
    same = start(service, parts, table_bytes([lead_row(1, **{"Product Code": "P-100,SVC-INSTALL"})]))
    run_all(service, parts, same)
    assert job(service, same)["counts"]["unchanged"] == 1
