"""Automatic lead conversion: a won lead whose type converts automatically creates the customer's account
and makes its contact a financial one, exactly once.

The trigger is the ``LeadWon`` domain event. Its ``data.conversion`` carries what the lead type's conversion
settings give the new account (classification, credit rating); it is null when the type does not convert
automatically, and then nothing happens.

Exactly once, under at-least-once delivery: the account id is derived from the lead (``ACC-`` + the first
12 characters of its id, upper case), and the store creates that account and updates the contact in one
all-or-nothing write that refuses to create an existing account. A second delivery, or a racing one, finds
the account and reports "already converted": that condition is the whole of the idempotency (no record per
event is kept besides), so a conversion costs one read of the contact and one transaction.

Pure logic: the store is injected (DynamoDB in casework.adapters.contacts, a dict in the unit tests).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from casework.domain.error_codes import ErrorCode
from casework.domain.errors import NotFound, ValidationFailed

logger = logging.getLogger(__name__)

LEAD_WON: Final = "LeadWon"
FINANCIAL: Final = "Financial"

CONVERTED: Final = "converted"
ALREADY_CONVERTED: Final = "already_converted"
ALREADY_CUSTOMER: Final = "already_customer"  # the contact has an account (from another lead or the ERP)
NOT_APPLICABLE: Final = "not_applicable"


class ConversionStore(Protocol):
    def contact(self, contact_id: str) -> dict[str, Any] | None:
        """The contact's directory record (strongly consistent), or None if there is no such contact."""
        ...

    def convert(
        self, account: dict[str, Any], contact_id: str, at: str, contact: dict[str, Any] | None = None
    ) -> bool:
        """Atomically create ``account`` and make the contact Financial, linked to it (``account_id``,
        ``financial_since`` = ``at``); ``contact`` is its record as just read, if the caller has it. False,
        writing nothing, when this lead converted already (its account exists). Raises NotFound when the
        contact does not exist, Conflict when the account id is taken by something other than this lead's
        conversion."""
        ...


def account_id_for(lead_id: str) -> str:
    """The account a lead converts into. Derived, never generated: every delivery agrees on it."""
    return "ACC-" + lead_id[:12].upper()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


@dataclass
class LeadConverter:
    store: ConversionStore

    def handle(self, event: Mapping[str, Any]) -> str:
        """Convert the lead ``event`` reports won; returns ``converted``, ``already_converted``,
        ``already_customer`` (the contact has an account already: nothing to create) or ``not_applicable``
        (another event type, or a lead type without automatic conversion).

        Raises ValidationFailed for a LeadWon event that cannot be acted on (no contact, no lead id,
        conversion settings that are not an object) and NotFound for a contact that does not exist: both
        are permanent, so the message ends in the dead-letter queue where somebody can look at it.
        """
        if event.get("type") != LEAD_WON:
            return NOT_APPLICABLE
        data = event.get("data")
        data = data if isinstance(data, Mapping) else {}
        conversion = data.get("conversion")
        if conversion is None:
            return NOT_APPLICABLE
        lead_id, contact_id = _text(event.get("case_id")), _text(data.get("contact_id"))
        at = _text(event.get("occurred_at"))
        if not isinstance(conversion, Mapping):
            raise ValidationFailed(
                ErrorCode.INVALID_CONVERSION,
                "The lead's conversion settings are not an object.",
                {"case_id": lead_id, "event_id": event.get("id")},
            )
        if lead_id is None or at is None:
            raise ValidationFailed(
                ErrorCode.INVALID_EVENT,
                "A LeadWon event needs the lead id (case_id) and occurred_at.",
                {"event_id": event.get("id")},
            )
        if contact_id is None:
            raise ValidationFailed(
                ErrorCode.LEAD_WITHOUT_CONTACT,
                f"Lead {lead_id} was won without a contact to convert.",
                {"case_id": lead_id},
            )

        contact = self.store.contact(contact_id)
        if contact is None:
            raise NotFound(
                ErrorCode.CONTACT_NOT_FOUND,
                f"Contact {contact_id} of lead {lead_id} does not exist.",
                {"case_id": lead_id, "contact_id": contact_id},
            )
        existing = contact.get("account_id")
        if existing and existing != account_id_for(lead_id):
            # A customer already (an earlier lead, or the ERP): the won lead is business on their account.
            logger.info(
                "contact is a customer already; no new account",
                extra={"case_id": lead_id, "account_id": existing, "contact_id": contact_id},
            )
            return ALREADY_CUSTOMER
        account = {
            "id": account_id_for(lead_id),
            "name": contact.get("name"),
            "classification": conversion.get("account_classification"),
            "credit_rating": conversion.get("credit_rating"),
            "contact_id": contact_id,
            "created_from_lead": lead_id,
            "created_at": at,
        }
        if self.store.convert(account, contact_id, at, contact):
            logger.info(
                "lead converted",
                extra={"case_id": lead_id, "account_id": account["id"], "contact_id": contact_id},
            )
            return CONVERTED
        logger.info(
            "lead already converted",
            extra={"case_id": lead_id, "account_id": account["id"], "contact_id": contact_id},
        )
        return ALREADY_CONVERTED
