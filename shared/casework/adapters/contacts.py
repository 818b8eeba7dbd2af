"""Contacts and lead conversion on the single table (casework.services.conversion.ConversionStore).

    CONTACT#<id>  / CONTACT    directory: a contact {id, name, email, geographic_area, life_cycle_state,
                               account_id?, financial_since?}
    ACCOUNT#<id>  / ACCOUNT    directory: an account (a converted lead's carries created_from_lead)

A conversion is one TransactWriteItems: Put the account only if it does not exist, Update the contact only
if it exists. When DynamoDB cancels it, the cancellation reasons (one per item, in the order PynamoDB sends
them: puts, then updates) say which condition failed, and only that decides what it means.
"""

from __future__ import annotations

import logging
from typing import Any

from pynamodb.constants import ALL_OLD
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from casework.adapters.customers import directory_item
from casework.adapters.dynamo import DirectoryItem, _tx_connection, item_body
from casework.domain.customers import FINANCIAL
from casework.domain.error_codes import ErrorCode
from casework.domain.errors import Conflict, NotFound

logger = logging.getLogger(__name__)

CONDITION_FAILED = "ConditionalCheckFailed"


def contact_key(contact_id: str) -> tuple[str, str]:
    return f"CONTACT#{contact_id}", "CONTACT"


def account_key(account_id: str) -> tuple[str, str]:
    return f"ACCOUNT#{account_id}", "ACCOUNT"


def _created_from_lead(raw_item: dict[str, Any] | None) -> str | None:
    """``body.created_from_lead`` of an item in AttributeValue form (a cancellation reason's Item)."""
    value = ((raw_item or {}).get("body") or {}).get("M", {}).get("created_from_lead") or {}
    return value.get("S")


class DynamoConversionStore:
    def contact(self, contact_id: str) -> dict[str, Any] | None:
        return item_body(DirectoryItem, *contact_key(contact_id), consistent=True)

    def convert(
        self, account: dict[str, Any], contact_id: str, at: str, contact: dict[str, Any] | None = None
    ) -> bool:
        lead_id = account.get("created_from_lead")
        body = DirectoryItem.body
        # the customer's contact list shows the contact: its list keys and listing as they will be (from the
        # record the converter has just read, not a second read of it)
        record = contact if contact is not None else self.contact(contact_id)
        listed = directory_item(
            "contact",
            {**(record or {"id": contact_id}), "account_id": account["id"]} | {"life_cycle_state": FINANCIAL},
        )
        try:
            with TransactWrite(connection=_tx_connection()) as tx:
                tx.save(  # reason 0
                    directory_item("customer", account),
                    condition=DirectoryItem.pk.does_not_exist(),
                    return_values=ALL_OLD,  # tells this lead's account from an id collision
                )
                tx.update(  # reason 1
                    DirectoryItem(*contact_key(contact_id)),
                    actions=[
                        body["life_cycle_state"].set(FINANCIAL),
                        body["account_id"].set(account["id"]),
                        # A contact that was Financial already keeps the date it became one.
                        body["financial_since"].set(body["financial_since"] | at),
                        DirectoryItem.dirpk.set(listed.dirpk),
                        DirectoryItem.dirsk.set(listed.dirsk),
                        DirectoryItem.listing.set(listed.listing),
                    ],
                    # never re-link a customer: another lead's account wins; this delivery retries, finds it
                    condition=DirectoryItem.pk.exists()
                    & DirectoryItem.body.exists()
                    & (body["account_id"].does_not_exist() | (body["account_id"] == account["id"])),
                    return_values=ALL_OLD,
                )
        except TransactWriteError as exc:
            reasons = getattr(exc, "cancellation_reasons", None) or []
            account_reason, contact_reason = [*reasons, None, None][:2]
            if account_reason is not None and account_reason.code == CONDITION_FAILED:
                origin = _created_from_lead(account_reason.raw_item)
                if origin is None or origin == lead_id:
                    # Converted already (an earlier or a racing delivery): nothing was written this time.
                    if origin is None:
                        logger.warning(
                            "account exists; assuming this lead created it",
                            extra={"account_id": account["id"], "case_id": lead_id},
                        )
                    return False
                raise Conflict(
                    ErrorCode.ACCOUNT_EXISTS,
                    f"Account {account['id']} exists and was not created from lead {lead_id}.",
                    {"account_id": account["id"], "case_id": lead_id, "created_from_lead": origin},
                ) from None
            if (
                contact_reason is not None
                and contact_reason.code == CONDITION_FAILED
                and contact_reason.raw_item
            ):
                raise Conflict(
                    ErrorCode.ALREADY_CUSTOMER,
                    f"Contact {contact_id} got an account meanwhile; the retry will leave it as it is.",
                    {"contact_id": contact_id, "case_id": lead_id},
                ) from None
            if contact_reason is not None and contact_reason.code == CONDITION_FAILED:
                raise NotFound(
                    ErrorCode.CONTACT_NOT_FOUND,
                    f"Contact {contact_id} does not exist.",
                    {"contact_id": contact_id, "case_id": lead_id},
                ) from None
            raise  # throttled, a conflicting transaction, ...: transient, the message is retried
        return True
