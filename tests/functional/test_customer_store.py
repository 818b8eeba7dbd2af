"""The customer store's shared contract (upsert_customer, upsert_contact, contact_by_identifiers) on moto, as
the ERP ingest and the imports call it: one transaction per write (record, identifier items, history), the
ERP's source_version deciding between newer, equal and older, identifiers unique."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from casework.domain.errors import Conflict, ValidationFailed
from casework.domain.model import Actor
from casework.http.wiring import customer_service
from infra.local.template import LocalResources

ERP = Actor(username="erp", display_name="ERP", roles=frozenset({"Integration"}))


def partition(stack: LocalResources, pk: str) -> dict[str, dict[str, Any]]:
    table = boto3.resource("dynamodb").Table(stack.table_name)
    items = table.query(KeyConditionExpression=Key("pk").eq(pk), ConsistentRead=True)["Items"]
    return {i["sk"]: i for i in items}


def item(stack: LocalResources, pk: str, sk: str) -> dict[str, Any] | None:
    table = boto3.resource("dynamodb").Table(stack.table_name)
    return table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")


def customer(**fields: Any) -> dict[str, Any]:
    return {"id": "ACC-7001", "name": "Initech", "vat_number": " gb123 ", **fields}


def person(**fields: Any) -> dict[str, Any]:
    return {
        "type": "PERSON",
        "first_name": "Peter",
        "last_name": "Gibbons",
        "identifiers": {"id_number": " ab-123 "},
        "emails": [{"type": "WORK", "address": "Peter@Initech.Example"}],
        **fields,
    }


def test_a_new_customer_is_created_with_its_vat_item_and_history(stack: LocalResources) -> None:
    outcome, record = customer_service().upsert_customer(ERP, customer(), source_version=3)

    assert outcome == "created"
    assert record["id"] == "ACC-7001" and record["vat_number"] == "GB123"
    assert record["version"] == 1 and record["source_version"] == 3
    assert record["created_by"] == record["updated_by"] == "erp"
    stored = partition(stack, "ACCOUNT#ACC-7001")
    assert stored["ACCOUNT"]["body"]["name"] == "Initech"
    assert stored["ACCOUNT"]["dirpk"] == "CUSTNAME#in"
    history = stored["HIST#00000001"]["body"]
    assert history["by"] == "erp" and history["action"] == "created" and history["source_version"] == 3
    assert history["changes"]["name"] == {"before": None, "after": "Initech"}
    assert item(stack, "IDENT#vat_number#GB123", "IDENT")["body"]["customer_id"] == "ACC-7001"


def test_source_versions_newer_wins_equal_is_unchanged_older_is_stale(stack: LocalResources) -> None:
    service = customer_service()
    service.upsert_customer(ERP, customer(), source_version=5)

    assert service.upsert_customer(ERP, customer(name="Initrode"), source_version=5)[0] == "unchanged"
    assert service.upsert_customer(ERP, customer(name="Initrode"), source_version=4)[0] == "stale"
    assert partition(stack, "ACCOUNT#ACC-7001")["ACCOUNT"]["body"]["name"] == "Initech"  # nothing written

    outcome, record = service.upsert_customer(ERP, customer(name="Initrode"), source_version=6)
    assert outcome == "updated" and record["name"] == "Initrode" and record["version"] == 2
    history = partition(stack, "ACCOUNT#ACC-7001")["HIST#00000002"]["body"]
    assert history["changes"] == {"name": {"before": "Initech", "after": "Initrode"}}
    assert partition(stack, "ACCOUNT#ACC-7001")["ACCOUNT"]["dirpk"] == "CUSTNAME#in"


def test_the_source_version_condition_holds_at_the_write_not_only_at_the_read(stack: LocalResources) -> None:
    """An older event read the record before a newer one was written: its write is refused; it is stale."""
    service = customer_service()
    service.upsert_customer(ERP, customer(), source_version=1)
    store = service.store
    real_get = store.get
    raced: list[bool] = []

    def get_then_newer_arrives(kind: str, record_id: str) -> dict[str, Any] | None:
        seen = real_get(kind, record_id)
        if not raced:
            raced.append(True)
            store.get = real_get  # type: ignore[method-assign]
            service.upsert_customer(ERP, customer(name="Newest"), source_version=9)
        return seen

    store.get = get_then_newer_arrives  # type: ignore[method-assign]
    outcome, record = service.upsert_customer(ERP, customer(name="Older"), source_version=2)

    assert outcome == "stale" and record["name"] == "Newest"
    assert partition(stack, "ACCOUNT#ACC-7001")["ACCOUNT"]["body"]["source_version"] == 9


def test_a_contact_is_found_by_any_identifier_and_updated_never_duplicated(stack: LocalResources) -> None:
    service = customer_service()
    outcome, created = service.upsert_contact(ERP, person())
    assert outcome == "created"
    assert created["id"].startswith("CON-") and len(created["id"]) == 16 and created["id"][4:].isupper()
    assert created["identifiers"] == {"id_number": "AB-123"}
    assert created["name"] == "Peter Gibbons" and created["email"] == "Peter@initech.example"

    outcome, updated = service.upsert_contact(
        ERP, {"identifiers": {"id_number": "ab-123"}, "geographic_area": "North"}
    )
    assert outcome == "updated" and updated["id"] == created["id"]
    assert updated["geographic_area"] == "North" and updated["first_name"] == "Peter"  # merged, not replaced
    assert service.contact_by_identifiers({"id_number": "AB-123 "})["id"] == created["id"]
    assert service.contact_by_identifiers({"passport_number": "nope"}) is None


def test_an_identifier_of_another_contact_is_a_conflict_and_nothing_is_written(stack: LocalResources) -> None:
    service = customer_service()
    _, first = service.upsert_contact(ERP, person())
    _, second = service.upsert_contact(ERP, person(identifiers={"passport_number": "P1"}, first_name="Jo"))

    with pytest.raises(Conflict) as refused:
        service.upsert_contact(ERP, {"id": second["id"], "identifiers": {"id_number": "AB-123"}})

    assert refused.value.code == "DUPLICATE_IDENTIFIER"
    assert refused.value.details["owner"] == first["id"]
    assert set(partition(stack, f"CONTACT#{second['id']}")) == {"CONTACT", "HIST#00000001"}
    assert item(stack, "IDENT#passport_number#P1", "IDENT")["body"]["contact_id"] == second["id"]
    with pytest.raises(Conflict) as ambiguous:
        service.upsert_contact(ERP, {"identifiers": {"id_number": "AB-123", "passport_number": "P1"}})
    assert ambiguous.value.code == "DUPLICATE_IDENTIFIER"


def test_a_changed_identifier_releases_the_old_one(stack: LocalResources) -> None:
    service = customer_service()
    _, contact = service.upsert_contact(ERP, person())

    service.upsert_contact(ERP, {"id": contact["id"], "identifiers": {"id_number": "XY-9"}})

    assert item(stack, "IDENT#id_number#AB-123", "IDENT") is None
    assert item(stack, "IDENT#id_number#XY-9", "IDENT")["body"]["contact_id"] == contact["id"]
    _, other = service.upsert_contact(ERP, person(identifiers={"id_number": "AB-123"}))
    assert other["id"] != contact["id"]


def test_invalid_data_raises_with_every_problem_and_writes_nothing(stack: LocalResources) -> None:
    service = customer_service()
    with pytest.raises(ValidationFailed) as invalid:
        service.upsert_contact(
            ERP,
            person(
                identifiers={"tax_id": "1", "passport_number": " "},
                emails=[{"address": "not-an-email"}],
                colour="blue",
            ),
        )
    assert invalid.value.code == "INVALID_FIELDS"
    locations = {p["location"] for p in invalid.value.details["problems"]}
    expected = {"identifiers.tax_id.[key]", "identifiers.passport_number", "emails.0.address", "colour"}
    assert expected <= locations
    with pytest.raises(ValidationFailed) as missing:
        service.upsert_contact(ERP, {"type": "PERSON", "first_name": "Ann"})
    assert missing.value.code == "MISSING_FIELDS"
    problems = missing.value.details["problems"]
    assert problems == [{"location": "last_name", "message": "required for a PERSON"}]
    assert item(stack, "IDENT#passport_number#", "IDENT") is None


def test_a_contact_can_only_belong_to_an_existing_customer(stack: LocalResources) -> None:
    service = customer_service()
    with pytest.raises(ValidationFailed) as unknown:
        service.upsert_contact(ERP, person(account_id="ACC-NOPE"))
    assert unknown.value.code == "UNKNOWN_CUSTOMER"
    assert item(stack, "IDENT#id_number#AB-123", "IDENT") is None

    _, contact = service.upsert_contact(ERP, person(account_id="ACC-1001"))
    assert partition(stack, f"CONTACT#{contact['id']}")["CONTACT"]["dirpk"] == "CONTACTS#ACC-1001"


def test_seeded_records_without_a_version_are_upgraded_on_their_first_upsert(stack: LocalResources) -> None:
    service = customer_service()
    outcome, record = service.upsert_contact(ERP, {"id": "CON-2001", "geographic_area": "West"})
    assert outcome == "updated" and record["geographic_area"] == "West"
    assert record["type"] == "PERSON" and record["name"] == "Alice Brown"
    assert record["version"] >= 1
