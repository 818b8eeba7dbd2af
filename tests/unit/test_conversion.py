"""Automatic lead conversion (casework.services.conversion) against an in-memory store that keeps the
DynamoDB adapter's contract: the account is created and the contact updated together or not at all, and an
existing account means "converted already"."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from casework.domain.errors import Conflict, NotFound, ValidationFailed
from casework.services.conversion import (
    ALREADY_CONVERTED,
    CONVERTED,
    NOT_APPLICABLE,
    LeadConverter,
    account_id_for,
)

LEAD = "3f2a9c4e7b1d4e0f9a8b7c6d5e4f3a2b"
ACCOUNT = "ACC-3F2A9C4E7B1D"
AT = "2026-11-24T10:00:00.000Z"


class InMemoryConversionStore:
    def __init__(self, contacts: dict[str, dict[str, Any]] | None = None) -> None:
        self.contacts = copy.deepcopy(contacts or {})
        self.accounts: dict[str, dict[str, Any]] = {}
        self.writes = 0

    def contact(self, contact_id: str) -> dict[str, Any] | None:
        found = self.contacts.get(contact_id)
        return copy.deepcopy(found) if found is not None else None

    def convert(
        self, account: dict[str, Any], contact_id: str, at: str, contact: dict[str, Any] | None = None
    ) -> bool:
        existing = self.accounts.get(account["id"])
        if existing is not None:
            if existing["created_from_lead"] != account["created_from_lead"]:
                raise Conflict("ACCOUNT_EXISTS", "taken")
            return False
        if contact_id not in self.contacts:
            raise NotFound("CONTACT_NOT_FOUND", "no contact")
        if self.contacts[contact_id].get("account_id") not in (None, account["id"]):
            raise Conflict("ALREADY_CUSTOMER", "the contact has another account")  # as the table's condition
        self.accounts[account["id"]] = dict(account)
        contact = self.contacts[contact_id]
        contact.update(life_cycle_state="Financial", account_id=account["id"])
        contact.setdefault("financial_since", at)
        self.writes += 1
        return True


def contact(contact_id: str = "CON-2001", **extra: Any) -> dict[str, Any]:
    return {
        "id": contact_id,
        "name": "Dana Prospect",
        "email": "dana@example.com",
        "geographic_area": "EMEA",
        "life_cycle_state": "Prospect",
        **extra,
    }


def lead_won(
    conversion: dict[str, Any] | None = None,
    *,
    case_id: str = LEAD,
    version: int = 4,
    contact_id: str | None = "CON-2001",
    **overrides: Any,
) -> dict[str, Any]:
    event = {
        "id": f"{case_id}:{version}:0",
        "type": "LeadWon",
        "schema_version": 1,
        "case_id": case_id,
        "case_type": "lead",
        "workflow_version": 1,
        "occurred_at": AT,
        "actor": "carol",
        "data": {
            "status": "Won",
            "state": "won",
            "contact_id": contact_id,
            "lead_title": "Fleet lubricants for Dana",
            "lead_number": case_id,
            "conversion": conversion,
        },
    }
    return event | overrides


CONVERSION = {"account_classification": "Business", "credit_rating": "A"}


@pytest.fixture
def store() -> InMemoryConversionStore:
    return InMemoryConversionStore({"CON-2001": contact(), "CON-2002": contact("CON-2002", name="Eli")})


@pytest.fixture
def converter(store: InMemoryConversionStore) -> LeadConverter:
    return LeadConverter(store)


def test_account_id_is_derived_from_the_lead() -> None:
    assert account_id_for(LEAD) == ACCOUNT
    assert account_id_for("abcdef0123456789" * 2) == "ACC-ABCDEF012345"


def test_a_won_lead_converts_once(converter: LeadConverter, store: InMemoryConversionStore) -> None:
    assert converter.handle(lead_won(CONVERSION)) == CONVERTED

    assert store.accounts == {
        ACCOUNT: {
            "id": ACCOUNT,
            "name": "Dana Prospect",
            "classification": "Business",
            "credit_rating": "A",
            "contact_id": "CON-2001",
            "created_from_lead": LEAD,
            "created_at": AT,
        }
    }
    assert store.contacts["CON-2001"] == contact(
        life_cycle_state="Financial", account_id=ACCOUNT, financial_since=AT
    )
    assert store.contacts["CON-2002"]["life_cycle_state"] == "Prospect"


def test_duplicate_delivery_is_already_converted(
    converter: LeadConverter, store: InMemoryConversionStore
) -> None:
    assert converter.handle(lead_won(CONVERSION)) == CONVERTED
    assert converter.handle(lead_won(CONVERSION)) == ALREADY_CONVERTED
    # A later event for the same lead (another id, other settings) does not convert it again either.
    later = lead_won({"account_classification": "Retail", "credit_rating": "C"}, version=9)
    assert converter.handle(later) == ALREADY_CONVERTED

    assert list(store.accounts) == [ACCOUNT]
    assert store.accounts[ACCOUNT]["classification"] == "Business"
    assert store.writes == 1


def test_another_lead_gets_its_own_account(converter: LeadConverter, store: InMemoryConversionStore) -> None:
    other = "9" * 32
    assert converter.handle(lead_won(CONVERSION)) == CONVERTED
    assert converter.handle(lead_won(CONVERSION, case_id=other, contact_id="CON-2002")) == CONVERTED
    assert sorted(store.accounts) == [ACCOUNT, "ACC-999999999999"]
    assert store.contacts["CON-2002"]["account_id"] == "ACC-999999999999"


@pytest.mark.parametrize(
    "event",
    [
        lead_won(None),
        lead_won(CONVERSION, type="CaseTransitioned"),
        lead_won(CONVERSION, data=None),
        {"id": "x", "type": "LeadWon", "case_id": LEAD, "case_type": "lead"},
    ],
    ids=["conversion-null", "other-event", "no-data", "no-conversion"],
)
def test_nothing_to_do_without_automatic_conversion(
    converter: LeadConverter, store: InMemoryConversionStore, event: dict[str, Any]
) -> None:
    assert converter.handle(event) == NOT_APPLICABLE
    assert store.accounts == {} and store.writes == 0
    assert store.contacts["CON-2001"]["life_cycle_state"] == "Prospect"


def test_a_missing_contact_is_a_permanent_failure(
    converter: LeadConverter, store: InMemoryConversionStore
) -> None:
    with pytest.raises(NotFound) as caught:
        converter.handle(lead_won(CONVERSION, contact_id="CON-404"))
    assert caught.value.code == "CONTACT_NOT_FOUND"
    assert caught.value.details == {"case_id": LEAD, "contact_id": "CON-404"}
    assert store.accounts == {}


def test_a_contact_deleted_before_the_write_fails_the_same_way(store: InMemoryConversionStore) -> None:
    class Vanishing(InMemoryConversionStore):
        def contact(self, contact_id: str) -> dict[str, Any] | None:
            found = super().contact(contact_id)
            self.contacts.pop(contact_id, None)
            return found

    vanishing = Vanishing(store.contacts)
    with pytest.raises(NotFound):
        LeadConverter(vanishing).handle(lead_won(CONVERSION))
    assert vanishing.accounts == {}


@pytest.mark.parametrize(
    ("event", "code"),
    [
        (lead_won(CONVERSION, contact_id=None), "LEAD_WITHOUT_CONTACT"),
        (lead_won(CONVERSION, contact_id="  "), "LEAD_WITHOUT_CONTACT"),
        (lead_won(["Business"]), "INVALID_CONVERSION"),  # type: ignore[arg-type]
        (lead_won(CONVERSION, occurred_at=None), "INVALID_EVENT"),
        (lead_won(CONVERSION, case_id=""), "INVALID_EVENT"),
    ],
)
def test_unusable_lead_won_events_are_refused(
    converter: LeadConverter, store: InMemoryConversionStore, event: dict[str, Any], code: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        converter.handle(event)
    assert caught.value.code == code
    assert store.accounts == {}


def test_an_account_id_taken_by_another_lead_is_not_success(store: InMemoryConversionStore) -> None:
    store.accounts[ACCOUNT] = {"id": ACCOUNT, "created_from_lead": LEAD[:12] + "0" * 20}
    with pytest.raises(Conflict):
        LeadConverter(store).handle(lead_won(CONVERSION))
    assert store.contacts["CON-2001"]["life_cycle_state"] == "Prospect"


def test_a_contact_who_is_a_customer_already_keeps_their_account() -> None:
    customer = contact("CON-2001", life_cycle_state="Financial", account_id="ACC-1001")
    store = InMemoryConversionStore({"CON-2001": customer})
    assert LeadConverter(store).handle(lead_won(CONVERSION)) == "already_customer"
    assert store.accounts == {} and store.writes == 0
    assert store.contacts["CON-2001"]["account_id"] == "ACC-1001"
