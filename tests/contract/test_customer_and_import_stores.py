"""The customer store (casework.services.ports.CustomerStore) and the import service's job store and files:
the in-memory stand-ins of tests/import_fakes.py (and of tests/unit/test_customers.py for the customer
store), and the lead conversion store of tests/unit/test_conversion.py, against casework.adapters.customers,
casework.adapters.imports and casework.adapters.contacts on moto."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from casework.adapters.contacts import DynamoConversionStore
from casework.adapters.customers import DynamoCustomerStore
from casework.adapters.imports import DynamoJobStore, S3Files
from casework.domain.errors import Conflict, DomainError, NotFound, ValidationFailed
from casework.domain.imports import ImportJob
from casework.services.conversion import ConversionStore
from casework.services.ports import CustomerStore, RecordWrite
from tests.contract.conftest import IMPLEMENTATIONS, implementation
from tests.fakes import InMemoryDirectory
from tests.import_fakes import MemoryCustomerStore, MemoryFiles, MemoryJobs
from tests.unit.test_conversion import InMemoryConversionStore
from tests.unit.test_customers import InMemoryCustomerStore

AT = "2025-03-03T09:00:00+00:00"


def refusal(call: Any, *args: Any, **kwargs: Any) -> DomainError:
    with pytest.raises(DomainError) as refused:
        call(*args, **kwargs)
    return refused.value


# --- customers and contacts: upserts, versions, identifiers -------------------------------------------------


@pytest.fixture(params=["import fake", "customers fake", "dynamo"])
def store(request: pytest.FixtureRequest) -> CustomerStore:
    if request.param == "import fake":
        return MemoryCustomerStore(InMemoryDirectory())  # type: ignore[return-value]
    if request.param == "customers fake":
        return InMemoryCustomerStore()
    request.getfixturevalue("table")
    return DynamoCustomerStore()


def customer(customer_id: str = "C-1", version: int = 1, **values: Any) -> dict[str, Any]:
    return {"id": customer_id, "name": "Initech", "status": "Active", "version": version, **values}


def contact(contact_id: str = "P-1", version: int = 1, **values: Any) -> dict[str, Any]:
    return {
        "id": contact_id,
        "name": "Ann Lee",
        "type": "PERSON",
        "account_id": "C-1",
        "identifiers": {"id_number": "ID1"},
        "version": version,
        **values,
    }


def write(kind: str, record: dict[str, Any], expected: int | None, **change: Any) -> RecordWrite:
    history = {"version": record["version"], "at": AT, "by": "mary", "action": "changed", "changes": {}}
    return RecordWrite(kind, record["id"], record, expected, history, **change)


def test_a_new_customer_is_stored_with_its_identifier(store: CustomerStore) -> None:
    store.write(write("customer", customer(vat_number="CY1"), None, claim=[("vat_number", "CY1")]))

    assert store.get("customer", "C-1") == customer(vat_number="CY1")
    assert store.identifier_owner("vat_number", "CY1") == "C-1"
    assert store.get("customer", "C-404") is None
    assert store.identifier_owner("vat_number", "CY404") is None


def test_a_record_is_created_once_and_changed_only_from_its_current_version(store: CustomerStore) -> None:
    store.write(write("customer", customer(), None))

    twice = refusal(store.write, write("customer", customer(name="Again"), None))
    store.write(write("customer", customer(version=2, name="Initrode"), 1))
    stale = refusal(store.write, write("customer", customer(version=2, name="Stale"), 1))

    for error in (twice, stale):
        assert isinstance(error, Conflict) and error.code == "CONCURRENT_UPDATE"
    assert store.get("customer", "C-1") == customer(version=2, name="Initrode")


def test_an_identifier_belongs_to_one_record_and_a_refused_write_writes_nothing(store: CustomerStore) -> None:
    store.write(write("customer", customer(), None))
    store.write(write("contact", contact(), None, claim=[("id_number", "ID1")], customer_must_exist="C-1"))
    other = contact("P-2", identifiers={"id_number": "ID2"})
    store.write(write("contact", other, None, claim=[("id_number", "ID2")], customer_must_exist="C-1"))

    taking = contact("P-2", version=2, identifiers={"id_number": "ID1"})
    error = refusal(
        store.write,
        write("contact", taking, 1, claim=[("id_number", "ID1")], release=[("id_number", "ID2")]),
    )

    assert isinstance(error, Conflict) and error.code == "DUPLICATE_IDENTIFIER"
    assert store.identifier_owner("id_number", "ID1") == "P-1"
    assert store.identifier_owner("id_number", "ID2") == "P-2"  # not released: nothing was written
    assert store.get("contact", "P-2") == other


def test_a_released_identifier_can_be_claimed_by_another_record(store: CustomerStore) -> None:
    store.write(write("customer", customer(), None))
    store.write(write("contact", contact(), None, claim=[("id_number", "ID1")]))
    store.write(
        write(
            "contact",
            contact(version=2, identifiers={"id_number": "ID9"}),
            1,
            claim=[("id_number", "ID9")],
            release=[("id_number", "ID1")],
        )
    )

    store.write(write("contact", contact("P-2"), None, claim=[("id_number", "ID1")]))

    assert store.identifier_owner("id_number", "ID1") == "P-2"
    assert store.identifier_owner("id_number", "ID9") == "P-1"


def test_a_contact_of_an_unknown_customer_is_refused(store: CustomerStore) -> None:
    error = refusal(
        store.write,
        write(
            "contact",
            contact(account_id="C-404"),
            None,
            claim=[("id_number", "ID1")],
            customer_must_exist="C-404",
        ),
    )

    assert isinstance(error, ValidationFailed) and error.code == "UNKNOWN_CUSTOMER"
    assert store.get("contact", "P-1") is None
    assert store.identifier_owner("id_number", "ID1") is None


def test_an_erp_change_applies_only_over_an_older_source_version(store: CustomerStore) -> None:
    store.write(write("customer", customer(source_version=5), None, source_version=5))

    same = refusal(store.write, write("customer", customer(version=2, source_version=5), 1, source_version=5))
    older = refusal(
        store.write, write("customer", customer(version=2, source_version=4), 1, source_version=4)
    )
    store.write(write("customer", customer(version=2, name="Newer", source_version=6), 1, source_version=6))

    for error in (same, older):
        assert isinstance(error, Conflict) and error.code == "CONCURRENT_UPDATE"
    assert store.get("customer", "C-1") == customer(version=2, name="Newer", source_version=6)


def test_a_deleted_record_is_gone(store: CustomerStore) -> None:
    store.write(write("customer", customer(), None))
    gone = RecordWrite(
        "customer", "C-1", None, 1, {"version": 2, "at": AT, "by": "mary", "action": "deleted"}
    )

    store.write(gone)

    assert store.get("customer", "C-1") is None


# --- import jobs --------------------------------------------------------------------------------------------


@pytest.fixture(params=IMPLEMENTATIONS)
def jobs(request: pytest.FixtureRequest) -> Any:
    return implementation(request, MemoryJobs, DynamoJobStore)


def job(job_id: str = "JOB-1", key: str = "imports/leads.csv") -> ImportJob:
    return ImportJob(
        id=job_id,
        kind="leads",
        bucket="casework-test-importbucket",
        key=key,
        dry_run=False,
        requested_by="mary",
        created_at=AT,
        updated_at=AT,
    )


def test_a_job_is_created_once_and_found_by_its_file(jobs: Any) -> None:
    assert jobs.create(job()) is True
    assert jobs.create(replace(job(), requested_by="john")) is False

    assert jobs.get("JOB-1") == job()
    assert jobs.latest_for("casework-test-importbucket", "imports/leads.csv") == job()
    assert jobs.get("JOB-404") is None
    assert jobs.latest_for("casework-test-importbucket", "imports/other.csv") is None


def test_the_latest_job_of_a_file_is_the_last_created(jobs: Any) -> None:
    jobs.create(job("JOB-1"))
    jobs.create(job("JOB-2"))

    latest = jobs.latest_for("casework-test-importbucket", "imports/leads.csv")

    assert latest is not None and latest.id == "JOB-2"


def test_a_job_is_saved_only_from_its_current_version(jobs: Any) -> None:
    jobs.create(job())
    running = replace(job(), state="running", checkpoint=10)

    saved = jobs.save(running)
    stale = refusal(jobs.save, replace(running, checkpoint=20))
    missing = refusal(jobs.save, job("JOB-404"))

    assert saved == replace(running, version=1)
    assert jobs.get("JOB-1") == saved
    for error in (stale, missing):
        assert isinstance(error, Conflict) and error.code == "STALE_JOB"


# --- import files -------------------------------------------------------------------------------------------


@pytest.fixture(params=IMPLEMENTATIONS)
def files(request: pytest.FixtureRequest) -> tuple[Any, str]:
    """(files, bucket)."""
    if request.param == "fake":
        return MemoryFiles(), "casework-test-importbucket"
    res = request.getfixturevalue("table")
    bucket = res.physical["ImportBucket"]["Ref"]
    return S3Files(), bucket


def test_files_are_stored_listed_by_prefix_and_tagged_by_content(files: tuple[Any, str]) -> None:
    store, bucket = files
    store.put(bucket, "imports/b.csv", b"b")
    store.put(bucket, "imports/a.csv", b"a")
    store.put(bucket, "errors/a.csv", b"x")
    first_tag = store.etag(bucket, "imports/a.csv")

    store.put(bucket, "imports/a.csv", b"a, changed")

    assert store.get(bucket, "imports/a.csv") == b"a, changed"
    assert store.etag(bucket, "imports/a.csv") not in (None, first_tag)
    assert [key for key, _ in store.list(bucket, "imports/")] == ["imports/a.csv", "imports/b.csv"]
    assert dict(store.list(bucket, "imports/"))["imports/b.csv"] == store.etag(bucket, "imports/b.csv")
    assert store.etag(bucket, "imports/none.csv") is None
    missing = refusal(store.get, bucket, "imports/none.csv")
    assert isinstance(missing, NotFound) and missing.code == "FILE_NOT_FOUND"


# --- lead conversion: the account and the contact made Financial, once -----------------------------------


@pytest.fixture(params=IMPLEMENTATIONS)
def conversions(request: pytest.FixtureRequest) -> ConversionStore:
    """Over the demo contacts (CON-2001 and CON-2003 are Prospects without an account)."""
    return implementation(
        request, lambda: InMemoryConversionStore(InMemoryDirectory().contacts), DynamoConversionStore
    )


def lead_account(lead: str = "LEAD-1", account_id: str = "ACC-LEAD1") -> dict[str, Any]:
    return {"id": account_id, "name": "Alice Brown", "status": "Active", "created_from_lead": lead}


def test_a_conversion_makes_the_contact_a_financial_customer_once(conversions: ConversionStore) -> None:
    before = conversions.contact("CON-2001")
    assert before is not None and before["life_cycle_state"] == "Prospect"

    assert conversions.convert(lead_account(), "CON-2001", AT) is True
    assert conversions.convert(lead_account(), "CON-2001", "2025-04-01T00:00:00+00:00") is False  # again

    after = conversions.contact("CON-2001")
    assert after == {
        **before,
        "life_cycle_state": "Financial",
        "account_id": "ACC-LEAD1",
        "financial_since": AT,
    }
    assert conversions.contact("CON-404") is None


def test_an_account_id_taken_by_another_lead_is_a_conflict(conversions: ConversionStore) -> None:
    conversions.convert(lead_account("LEAD-1"), "CON-2001", AT)

    error = refusal(conversions.convert, lead_account("LEAD-2"), "CON-2003", AT)

    assert isinstance(error, Conflict) and error.code == "ACCOUNT_EXISTS"
    assert conversions.contact("CON-2003")["life_cycle_state"] == "Prospect"  # type: ignore[index]


def test_a_contact_with_another_account_stays_with_it(conversions: ConversionStore) -> None:
    conversions.convert(lead_account("LEAD-1", "ACC-LEAD1"), "CON-2001", AT)

    error = refusal(conversions.convert, lead_account("LEAD-2", "ACC-LEAD2"), "CON-2001", AT)

    assert isinstance(error, Conflict) and error.code == "ALREADY_CUSTOMER"
    assert conversions.contact("CON-2001")["account_id"] == "ACC-LEAD1"  # type: ignore[index]
    assert (
        conversions.convert(lead_account("LEAD-2", "ACC-LEAD2"), "CON-2003", AT) is True
    )  # nothing half-written


def test_converting_an_unknown_contact_writes_nothing(conversions: ConversionStore) -> None:
    error = refusal(conversions.convert, lead_account(), "CON-404", AT)

    assert isinstance(error, NotFound) and error.code == "CONTACT_NOT_FOUND"
    assert conversions.convert(lead_account(), "CON-2001", AT) is True  # the account was not written
