"""Customers and contacts: the domain's validation (pure) and the service's use cases against an in-memory
store that keeps the DynamoDB adapter's contract (casework.services.ports.CustomerStore): a write holds
entirely or not at all, on the record's version, the ERP's source_version and the identifiers' owners."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework.domain.customers import (
    SpecialPrice,
    contact_fields,
    customer_fields,
    name_key,
    name_prefix,
    profile_answers,
)
from casework.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from casework.domain.model import Actor
from casework.services.customers import CustomerService
from casework.services.ports import Page, RecordWrite, SubItem

# --- the domain ---------------------------------------------------------------------------------------------


def test_a_person_needs_first_and_last_name_and_gets_a_display_name_and_primary_email() -> None:
    fields = contact_fields(
        {
            "id": "CON-1",
            "type": "PERSON",
            "first_name": " Ana ",
            "last_name": "Ruiz",
            "emails": [{"address": "ana@Example.COM"}, {"type": "HOME", "address": "a@b.example"}],
        }
    )
    assert fields["name"] == "Ana Ruiz" and fields["email"] == "ana@example.com"
    assert fields["life_cycle_state"] == "Prospect" and fields["identifiers"] == {}
    with pytest.raises(ValidationFailed) as missing:
        contact_fields({"id": "CON-1", "type": "PERSON", "last_name": "Ruiz"})
    assert missing.value.code == "MISSING_FIELDS"
    assert missing.value.details["problems"] == [
        {"location": "first_name", "message": "required for a PERSON"}
    ]


def test_a_company_needs_a_company_name() -> None:
    assert contact_fields({"id": "C", "type": "COMPANY", "company_name": "Ruiz SL"})["name"] == "Ruiz SL"
    with pytest.raises(ValidationFailed) as missing:
        contact_fields({"id": "C", "type": "COMPANY", "first_name": "Ana"})
    assert missing.value.code == "MISSING_FIELDS"


def test_identifiers_are_of_the_four_known_types_non_empty_and_normalised() -> None:
    base = {"id": "C", "type": "COMPANY", "company_name": "X"}
    fields = contact_fields(
        {**base, "identifiers": {"vat_registration_number": " esb-12 ", "id_number": "a1"}}
    )
    assert fields["identifiers"] == {"id_number": "A1", "vat_registration_number": "ESB-12"}
    with pytest.raises(ValidationFailed) as invalid:
        contact_fields({**base, "identifiers": {"tax_number": "1", "passport_number": "  "}})
    assert invalid.value.code == "INVALID_FIELDS"
    assert {p["location"] for p in invalid.value.details["problems"]} == {
        "identifiers.tax_number.[key]",
        "identifiers.passport_number",
    }


def test_every_problem_is_listed_with_its_location_and_bookkeeping_is_not_input() -> None:
    with pytest.raises(ValidationFailed) as invalid:
        contact_fields(
            {
                "id": "C",
                "type": "PERSON",
                "first_name": "A",
                "last_name": "B",
                "phones": [{"number": "12"}],
                "emails": [{"address": "a@b"}],
                "version": 4,
                "name": "Given",
                "shoe_size": 44,
            }
        )
    assert invalid.value.code == "INVALID_FIELDS"
    locations = {p["location"] for p in invalid.value.details["problems"]}
    assert locations == {"phones.0.number", "emails.0.address", "version", "name", "shoe_size"}


def test_customer_fields_normalise_the_vat_number_and_check_the_account_number() -> None:
    fields = customer_fields({"id": "ACC-1", "name": "Acme", "vat_number": " gb 1 "})
    assert fields["vat_number"] == "GB 1" and fields["status"] == "Active"
    with pytest.raises(ValidationFailed) as invalid:
        customer_fields({"id": "ACC 1/", "name": "Acme", "status": "Sleeping"})
    assert {p["location"] for p in invalid.value.details["problems"]} == {"id", "status"}


def test_names_are_searched_without_case_accents_or_extra_spaces() -> None:
    assert name_key("  Émile   BOULANGER ") == "emile boulanger"
    assert name_prefix("ÉM") == "em"
    with pytest.raises(ValidationFailed) as short:
        name_prefix(" é ")
    assert short.value.code == "NAME_PREFIX_TOO_SHORT"


@given(st.text(alphabet="abcXYZéÉñ -", min_size=1), st.integers(min_value=1, max_value=40))
def test_what_a_user_types_of_a_name_finds_it(name: str, typed: int) -> None:
    """The first characters of a name (not stopping on a space) give a prefix of its key; keys are stable."""
    prefix = name[:typed]
    if not prefix.endswith(" "):
        assert name_key(name).startswith(name_key(prefix))
    assert name_key(name_key(name)) == name_key(name) == name_key(name.upper())


def test_special_prices_overlap_when_they_share_a_day() -> None:
    june = SpecialPrice.model_validate(
        {"product_code": "P", "price": 1, "valid_from": "2026-06-01", "valid_to": "2026-06-30"}
    )
    assert june.overlaps({"valid_from": "2026-06-30", "valid_to": None})
    assert june.overlaps({"valid_from": "2026-01-01", "valid_to": "2026-06-01"})
    assert not june.overlaps({"valid_from": "2026-07-01"})
    assert not june.overlaps({"valid_from": "2026-01-01", "valid_to": "2026-05-31"})
    open_ended = SpecialPrice.model_validate({"product_code": "P", "price": 1, "valid_from": "2026-06-01"})
    assert open_ended.overlaps({"valid_from": "2030-01-01"})


def test_profile_answers_follow_their_question_set() -> None:
    questions = {
        "title": "t",
        "questions": [
            {
                "code": "segment",
                "text": "S",
                "type": "choice",
                "choices": ["OEM", "Retail"],
                "required": True,
            },
            {"code": "tags", "text": "T", "type": "multiple_choice", "choices": ["a", "b"]},
            {"code": "staff", "text": "N", "type": "number"},
            {"code": "eco", "text": "E", "type": "boolean"},
        ],
    }
    assert profile_answers(questions, {"segment": "OEM", "tags": ["a"], "staff": 3, "eco": None}) == {
        "segment": "OEM",
        "tags": ["a"],
        "staff": 3,
    }
    with pytest.raises(ValidationFailed) as invalid:
        profile_answers(questions, {"segment": "Army", "tags": ["c"], "staff": True, "eco": "yes", "x": 1})
    assert {p["location"] for p in invalid.value.details["problems"]} == {
        "answers.segment",
        "answers.tags",
        "answers.staff",
        "answers.eco",
        "answers.x",
    }
    with pytest.raises(ValidationFailed) as missing:
        profile_answers(questions, {"staff": 2})
    assert missing.value.code == "MISSING_FIELDS"


# --- the service, on an in-memory store -------------------------------------------------------------------


class InMemoryCustomerStore:
    """The adapter's contract: all of a write or nothing, conditions checked at the write."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        self.identifiers: dict[tuple[str, str], str] = {}
        self.histories: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.subs: dict[str, dict[str, dict[str, Any]]] = {}
        self.cases: set[str] = set()
        self.sets: dict[str, list[dict[str, Any]]] = {}
        self.writes: list[RecordWrite] = []

    def get(self, kind: str, record_id: str) -> dict[str, Any] | None:
        found = self.records.get((kind, record_id))
        return copy.deepcopy(found) if found is not None else None

    def identifier_owner(self, identifier_type: str, value: str) -> str | None:
        return self.identifiers.get((identifier_type, value))

    def write(self, change: RecordWrite) -> None:
        key = (change.kind, change.id)
        stored = self.records.get(key)
        if change.customer_must_exist and ("customer", change.customer_must_exist) not in self.records:
            raise ValidationFailed("UNKNOWN_CUSTOMER", "no such customer")
        if change.expected_version is None:
            holds = stored is None
        elif change.expected_version == 0:
            holds = stored is not None and "version" not in stored
        else:
            holds = stored is not None and stored.get("version") == change.expected_version
        held = (stored or {}).get("source_version")
        if change.source_version is not None and held is not None and held >= change.source_version:
            holds = False
        if not holds:
            raise Conflict("CONCURRENT_UPDATE", "changed meanwhile")
        for claimed in change.claim:
            if self.identifiers.get(claimed, change.id) != change.id:
                raise Conflict("DUPLICATE_IDENTIFIER", "taken", {"owner": self.identifiers[claimed]})
        history = self.histories.setdefault(key, [])
        if any(h["version"] == change.history["version"] for h in history):
            raise Conflict("HISTORY_EXISTS", "history")
        subs = self.subs.setdefault(change.id, {})
        for sub in change.sub_items:
            if sub.must_exist is False and sub.sk in subs:
                raise Conflict(f"{sub.code}_EXISTS", "exists")
            if (sub.must_exist or sub.body is None) and sub.sk not in subs:
                raise NotFound(f"{sub.code}_NOT_FOUND", "missing")
        # every condition held: all of it
        self.writes.append(change)
        if change.record is None:
            del self.records[key]
        else:
            self.records[key] = copy.deepcopy(change.record)
        for released in change.release:
            self.identifiers.pop(released, None)
        for claimed in change.claim:
            self.identifiers[claimed] = change.id
        history.append(copy.deepcopy(change.history))
        for sub in change.sub_items:
            if sub.body is None:
                subs.pop(sub.sk)
            else:
                subs[sub.sk] = copy.deepcopy(sub.body)

    def history(self, kind: str, record_id: str, cursor: str | None, limit: int) -> Page:
        entries = sorted(self.histories.get((kind, record_id), []), key=lambda h: -h["version"])
        return Page(entries[:limit])

    def sub_items(self, customer_id: str, prefix: str, cursor: str | None, limit: int) -> Page:
        subs = self.subs.get(customer_id, {})
        return Page([subs[k] for k in sorted(subs) if k.startswith(prefix)][:limit])

    def sub_item(self, customer_id: str, sk: str) -> dict[str, Any] | None:
        return self.subs.get(customer_id, {}).get(sk)

    def add_sub_item(self, customer_id: str, sub: SubItem) -> None:
        self.subs.setdefault(customer_id, {})[sub.sk] = dict(sub.body or {})

    def customers_by_name(self, key_prefix: str, cursor: str | None, limit: int) -> Page:
        found = [
            r
            for (k, _), r in sorted(self.records.items())
            if k == "customer" and name_key(r["name"]).startswith(key_prefix)
        ]
        return Page(found[:limit])

    def contacts_of(self, account_id: str, cursor: str | None, limit: int) -> Page:
        found = [
            r
            for (k, _), r in sorted(self.records.items())
            if k == "contact" and r.get("account_id") == account_id
        ]
        return Page(found[:limit])

    def open_cases_of(
        self, account_id: str, cursor: str | None, limit: int, *, visible_to: Any = None
    ) -> Page:
        return Page([{"id": c} for c in sorted(self.cases) if c.startswith(account_id)][:limit])

    def has_cases(self, account_id: str) -> bool:
        return any(c.startswith(account_id) for c in self.cases)

    def question_set(self, code: str, version: int | None = None) -> tuple[dict[str, Any], int]:
        versions = self.sets.get(code)
        if not versions or (version is not None and not 1 <= version <= len(versions)):
            raise NotFound("UNKNOWN_PROFILE_SET", "no set")
        version = version or len(versions)
        return versions[version - 1], version

    def put_question_set(self, code: str, body: dict[str, Any], expected_version: int) -> int:
        versions = self.sets.setdefault(code, [])
        if expected_version != len(versions):
            raise Conflict("STALE_VERSION", "stale")
        versions.append(body)
        return len(versions)


class Users:
    ROLES = {"mary": "Sales Rep", "fred": "Field Technician", "admin": "Admin", "carol": "Care Agent"}

    def user(self, username: str) -> Actor | None:
        role = self.ROLES.get(username)
        return Actor(username=username, roles=frozenset({role})) if role else None

    def product(self, code: str) -> dict[str, Any] | None:
        return {"code": code} if code.startswith("P-") else None


ERP = Actor(username="erp")


@pytest.fixture
def store() -> InMemoryCustomerStore:
    return InMemoryCustomerStore()


@pytest.fixture
def service(store: InMemoryCustomerStore) -> CustomerService:
    start = datetime(2026, 11, 30, 9, tzinfo=UTC)
    ticks = itertools.count()
    ids = (f"{n:012x}" + "0" * 20 for n in itertools.count(0xABC))
    return CustomerService(
        store=store,
        directory=Users(),  # type: ignore[arg-type]
        clock=lambda: start + timedelta(seconds=next(ticks)),
        new_id=lambda: next(ids),
    )


def test_erp_versions_newer_wins_equal_is_unchanged_older_is_stale(
    service: CustomerService, store: InMemoryCustomerStore
) -> None:
    assert service.upsert_customer(ERP, {"id": "A1", "name": "Acme"}, source_version=2)[0] == "created"
    assert service.upsert_customer(ERP, {"id": "A1", "name": "Acme 2"}, source_version=2)[0] == "unchanged"
    assert service.upsert_customer(ERP, {"id": "A1", "name": "Acme 0"}, source_version=1)[0] == "stale"
    assert len(store.writes) == 1
    outcome, record = service.upsert_customer(ERP, {"id": "A1", "name": "Acme 3"}, source_version=3)
    assert outcome == "updated" and record["name"] == "Acme 3" and record["version"] == 2
    assert store.histories[("customer", "A1")][-1]["changes"] == {
        "name": {"before": "Acme", "after": "Acme 3"}
    }


def test_a_newer_erp_version_without_changes_is_unchanged_but_remembered(
    service: CustomerService, store: InMemoryCustomerStore
) -> None:
    """Else an older event arriving after it (but newer than the stored one) would overwrite newer data."""
    service.upsert_customer(ERP, {"id": "A1", "name": "Acme"}, source_version=1)
    assert service.upsert_customer(ERP, {"id": "A1", "name": "Acme"}, source_version=5)[0] == "unchanged"
    assert store.records[("customer", "A1")]["source_version"] == 5
    assert service.upsert_customer(ERP, {"id": "A1", "name": "Acme 3"}, source_version=3)[0] == "stale"


def test_an_upsert_without_changes_writes_nothing(
    service: CustomerService, store: InMemoryCustomerStore
) -> None:
    service.upsert_customer(ERP, {"id": "A1", "name": "Acme", "vat_number": "x1"})
    assert service.upsert_customer(ERP, {"id": "A1", "name": "Acme", "vat_number": "X1 "})[0] == "unchanged"
    assert len(store.writes) == 1


def test_an_upsert_that_meets_a_concurrent_write_reads_again(
    service: CustomerService, store: InMemoryCustomerStore
) -> None:
    service.upsert_customer(ERP, {"id": "A1", "name": "Acme"})
    real_write, raced = store.write, []

    def concurrent_first(change: RecordWrite) -> None:
        if not raced:
            raced.append(change)
            real_write(
                RecordWrite(
                    "customer",
                    "A1",
                    {**store.records[("customer", "A1")], "version": 2, "status": "Inactive"},
                    1,
                    {"version": 2},
                )
            )
        real_write(change)

    store.write = concurrent_first  # type: ignore[method-assign]
    outcome, record = service.upsert_customer(ERP, {"id": "A1", "name": "Acme 2"})
    assert outcome == "updated" and record["version"] == 3 and record["status"] == "Inactive"


def test_a_contact_is_matched_by_identifier_and_two_owners_are_a_conflict(service: CustomerService) -> None:
    _, first = service.upsert_contact(
        ERP, {"type": "COMPANY", "company_name": "A", "identifiers": {"id_number": "1"}}
    )
    assert first["id"] == "CON-000000000ABC"
    _, second = service.upsert_contact(
        ERP, {"type": "COMPANY", "company_name": "B", "identifiers": {"passport_number": "2"}}
    )
    outcome, same = service.upsert_contact(
        ERP, {"identifiers": {"id_number": " 1"}, "geographic_area": "West"}
    )
    assert outcome == "updated" and same["id"] == first["id"] and same["company_name"] == "A"
    with pytest.raises(Conflict) as two:
        service.upsert_contact(ERP, {"identifiers": {"id_number": "1", "passport_number": "2"}})
    assert two.value.code == "DUPLICATE_IDENTIFIER"
    assert set(two.value.details["owners"].values()) == {first["id"], second["id"]}
    assert service.contact_by_identifiers({"passport_number": "2"})["id"] == second["id"]
    assert service.contact_by_identifiers({}) is None


def test_field_technicians_read_but_do_not_edit_and_only_admins_delete(
    service: CustomerService, store: InMemoryCustomerStore
) -> None:
    service.create_customer("mary", {"id": "A1", "name": "Acme"})
    assert service.get_customer("fred", "A1")["name"] == "Acme"
    for attempt in (
        lambda: service.edit_customer("fred", "A1", {"name": "X"}, None),
        lambda: service.create_contact("fred", {"type": "COMPANY", "company_name": "X"}),
        lambda: service.delete_customer("mary", "A1"),
    ):
        with pytest.raises(Forbidden) as refused:
            attempt()
        assert refused.value.code == "NOT_ALLOWED"
    with pytest.raises(Forbidden):
        service.get_customer("stranger", "A1")
    store.cases.add("A1-case")
    with pytest.raises(Conflict) as has_cases:
        service.delete_customer("admin", "A1")
    assert has_cases.value.code == "CUSTOMER_HAS_CASES"


def test_a_stale_expected_version_is_refused_and_nothing_written(
    service: CustomerService, store: InMemoryCustomerStore
) -> None:
    service.create_customer("mary", {"id": "A1", "name": "Acme"})
    service.edit_customer("mary", "A1", {"name": "Acme 2"}, 1)
    with pytest.raises(Conflict) as stale:
        service.edit_customer("carol", "A1", {"name": "Acme 3"}, 1)
    assert stale.value.code == "STALE_VERSION" and stale.value.details["current_version"] == 2
    assert store.records[("customer", "A1")]["name"] == "Acme 2"


def test_moving_a_contact_keeps_where_it_was_in_history(
    service: CustomerService, store: InMemoryCustomerStore
) -> None:
    service.create_customer("mary", {"id": "A1", "name": "Acme"})
    contact = service.create_contact("mary", {"type": "PERSON", "first_name": "A", "last_name": "B"})
    service.move_contact("carol", contact["id"], "A1", None)
    assert [c["id"] for c in service.customer_contacts("mary", "A1", None, 10).items] == [contact["id"]]
    moved = service.move_contact("carol", contact["id"], None, 2)
    assert "account_id" not in moved
    changes = [h["changes"].get("account_id") for h in store.histories[("contact", contact["id"])]]
    assert changes == [None, {"before": None, "after": "A1"}, {"before": "A1", "after": None}]
    with pytest.raises(ValidationFailed) as unknown:
        service.move_contact("carol", contact["id"], "NOPE", None)
    assert unknown.value.code == "UNKNOWN_CUSTOMER"


def test_a_customer_created_again_after_a_delete_goes_on_with_its_history(
    service: CustomerService, store: InMemoryCustomerStore
) -> None:
    service.create_customer("mary", {"id": "A1", "name": "Acme", "vat_number": "V1"})
    service.add_entry("mary", "A1", "ship_to", {"code": "D1", "address": {"town": "Hull"}})
    service.delete_customer("admin", "A1")
    assert store.subs["A1"] == {} and store.identifiers == {}
    again = service.create_customer("mary", {"id": "A1", "name": "Acme", "vat_number": "V1"})
    assert again["version"] == 4
    assert [h["action"] for h in store.histories[("customer", "A1")]] == [
        "created",
        "ship_to_added",
        "deleted",
        "created",
    ]


def test_profile_answers_update_the_customer_and_are_kept_per_answer_set(
    service: CustomerService, store: InMemoryCustomerStore
) -> None:
    service.create_customer("mary", {"id": "A1", "name": "Acme"})
    with pytest.raises(Forbidden):
        service.put_question_set(
            "mary", "size", {"title": "S", "questions": [{"code": "n", "text": "N", "type": "number"}]}, 0
        )
    service.put_question_set(
        "admin", "size", {"title": "S", "questions": [{"code": "n", "text": "N", "type": "number"}]}, 0
    )
    service.answer_profile("mary", "A1", "size", {"n": 1})
    service.answer_profile("carol", "A1", "size", {"n": 2})
    assert store.records[("customer", "A1")]["profile"]["size"]["answers"] == {"n": 2}
    answers = service.profile_answers("mary", "A1", "size", None, 10).items
    assert [(a["by"], a["answers"]) for a in answers] == [("mary", {"n": 1}), ("carol", {"n": 2})]
