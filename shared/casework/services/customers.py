"""Customers (accounts) and contacts: the use cases of the API, and the upserts the ERP and imports share.

Every change writes the record, the uniqueness items of its identifiers and an audit history entry (who,
when, each changed field before and after) in one transaction (casework.services.ports.RecordWrite).

ERP events carry a ``source_version``: a write holds only if the stored record has none or a lower one, a
condition the store checks in the same transaction (never read-then-write). An older event is "stale", the
same one again "unchanged": nothing is written for either.
"""

from __future__ import annotations

from typing import Any, Final

from casework.domain.customers import (
    CONTACT_DERIVED,
    changes,
    contact_fields,
    contact_identifiers,
    customer_fields,
    stored_fields,
)
from casework.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from casework.domain.model import Actor
from casework.services.ports import Clock, CustomerStore, Directory, IdFactory, RecordWrite, SubItem

CREATED: Final = "created"
UPDATED: Final = "updated"
UNCHANGED: Final = "unchanged"
STALE: Final = "stale"

EDIT_ROLES = frozenset(
    {
        "Sales Rep",
        "Sales Manager",
        "Customer Service",
        "Care Agent",
        "Team Lead",
        "Supply Chain & Quality",
        "Tech Team & Sales Dev",
        "Admin",
    }
)
ADMIN_ROLES = frozenset({"Admin"})
WRITE_ATTEMPTS = 3  # an upsert that meets a concurrent write reads again and retries; API edits never do


def new_contact_id(new_id: IdFactory) -> str:
    return "CON-" + new_id().replace("-", "")[:12].upper()


def legacy_contact(record: dict[str, Any]) -> dict[str, Any]:
    """A contact stored before contacts had a type (``name`` and ``email`` only) as the current model: a
    PERSON whose last word is the last name."""
    if record.get("type"):
        return record
    first, _, last = (record.get("name") or "").rpartition(" ")
    upgraded = {**record, "type": "PERSON", "first_name": first or last, "last_name": last}
    if record.get("email") and not record.get("emails"):
        upgraded["emails"] = [{"type": "MAIN", "address": record["email"]}]
    return upgraded


class CustomerService:
    def __init__(
        self,
        store: CustomerStore,
        directory: Directory,
        clock: Clock,
        new_id: IdFactory,
    ) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock
        self.new_id = new_id

    # --- the shared contract (ERP ingest, imports) ----------------------------------------------------------

    def upsert_customer(
        self, actor: Actor, data: dict[str, Any], *, source_version: int | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Create or update the customer ``data["id"]`` (the account number) with the fields given."""
        if not isinstance(data, dict) or not data.get("id"):
            customer_fields(data)  # raises: the id is missing (with every other problem)
        return self._upsert("customer", actor, str(data["id"]), data, source_version)

    def upsert_contact(
        self, actor: Actor, data: dict[str, Any], *, source_version: int | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Create or update a contact: ``data["id"]`` if given, else the contact that holds any of the
        identifiers given (never a duplicate), else a new one."""
        if not isinstance(data, dict):
            contact_fields(data)  # raises
        contact_id = data.get("id")
        if not contact_id:
            try:
                holder = self._contact_holding(data.get("identifiers"))
            except ValidationFailed:
                contact_fields({**data, "id": "CON-NEW"})  # every problem of the record, not only these
                raise
            contact_id = holder or new_contact_id(self.new_id)
        return self._upsert("contact", actor, str(contact_id), {**data, "id": contact_id}, source_version)

    def contact_by_identifiers(self, identifiers: dict[str, str]) -> dict[str, Any] | None:
        """The contact holding any of the identifiers (one GetItem each until one is found), or None."""
        contact_id = self._contact_holding(identifiers)
        return self.store.get("contact", contact_id) if contact_id else None

    # --- writing --------------------------------------------------------------------------------------------

    def _contact_holding(self, identifiers: Any) -> str | None:
        """The one contact holding any of ``identifiers``; DUPLICATE_IDENTIFIER when they name two."""
        if not identifiers:
            return None
        owners = {
            t: owner
            for t, v in contact_identifiers(identifiers).items()
            if (owner := self.store.identifier_owner(t, v))
        }
        if len(set(owners.values())) > 1:
            raise Conflict(
                "DUPLICATE_IDENTIFIER",
                "The identifiers given belong to different contacts.",
                {"owners": owners},
            )
        return next(iter(owners.values()), None)

    def _upsert(
        self,
        kind: str,
        actor: Actor,
        record_id: str,
        data: dict[str, Any],
        source_version: int | None,
    ) -> tuple[str, dict[str, Any]]:
        for attempt in range(WRITE_ATTEMPTS):
            stored = self.store.get(kind, record_id)
            if stored is not None and source_version is not None:
                held = stored.get("source_version")
                if held is not None and held >= source_version:
                    return (UNCHANGED if held == source_version else STALE), stored
            try:
                return self._save(kind, actor, record_id, data, stored, source_version=source_version)
            except Conflict as exc:
                if exc.code != "CONCURRENT_UPDATE" or attempt == WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _save(
        self,
        kind: str,
        actor: Actor,
        record_id: str,
        given: dict[str, Any],
        stored: dict[str, Any] | None,
        *,
        source_version: int | None = None,
        action: str | None = None,
        sub_items: tuple[SubItem, ...] = (),
        replace: bool = False,
    ) -> tuple[str, dict[str, Any]]:
        """Merge ``given`` into the stored record (or replace it), validate the whole, and write it with its
        identifier items and history entry. Returns the outcome and the record as stored."""
        fields = self._fields(kind, record_id, given, stored, replace)
        diff = changes(stored_fields(stored) if stored else None, fields)
        if stored is not None and not diff and not sub_items and source_version is None:
            return UNCHANGED, stored
        at = self.clock().isoformat()
        version = (stored or {}).get("version", 0) + 1
        record: dict[str, Any] = {
            **fields,
            "version": version,
            "created_at": (stored or {}).get("created_at", at),
            "created_by": (stored or {}).get("created_by", actor.username),
            "updated_at": at,
            "updated_by": actor.username,
        }
        held = (stored or {}).get("source_version")
        if source_version is not None or held is not None:
            record["source_version"] = source_version if source_version is not None else held
        history: dict[str, Any] = {
            "version": version,
            "at": at,
            "by": actor.username,
            "action": action or (UPDATED if stored else CREATED),
            "changes": diff,
        }
        if source_version is not None:
            history["source_version"] = source_version
        old_ids, new_ids = self._identifiers(kind, stored), self._identifiers(kind, record)
        account = record.get("account_id") if kind == "contact" else None
        if account == (stored or {}).get("account_id"):
            account = None  # checked when it was set
        self.store.write(
            RecordWrite(
                kind=kind,
                id=record_id,
                record=record,
                expected_version=None if stored is None else stored.get("version", 0),
                history=history,
                source_version=source_version,
                claim=sorted(new_ids - old_ids),
                release=sorted(old_ids - new_ids),
                customer_must_exist=account,
                sub_items=sub_items,
            )
        )
        return (UPDATED if stored and diff else UNCHANGED if stored else CREATED), record

    def _fields(
        self, kind: str, record_id: str, given: dict[str, Any], stored: dict[str, Any] | None, replace: bool
    ) -> dict[str, Any]:
        base = {} if replace or stored is None else self._business(kind, stored)
        merged = {**base, **given, "id": record_id}
        return customer_fields(merged) if kind == "customer" else contact_fields(merged)

    @staticmethod
    def _business(kind: str, stored: dict[str, Any] | None) -> dict[str, Any]:
        """A stored record's business fields (contacts stored before the current model upgraded)."""
        if stored is None:
            return {}
        if kind == "customer":
            return stored_fields(stored)
        return stored_fields(legacy_contact(stored), CONTACT_DERIVED)

    @staticmethod
    def _identifiers(kind: str, record: dict[str, Any] | None) -> set[tuple[str, str]]:
        if not record:
            return set()
        if kind == "customer":
            return {("vat_number", record["vat_number"])} if record.get("vat_number") else set()
        return set((record.get("identifiers") or {}).items())


def require_role(actor: Actor, roles: frozenset[str], what: str) -> None:
    if not roles & actor.roles:
        raise Forbidden("NOT_ALLOWED", f"You may not {what}.", {"roles": sorted(roles)})


def not_found(kind: str, record_id: str) -> NotFound:
    code = "CUSTOMER_NOT_FOUND" if kind == "customer" else "CONTACT_NOT_FOUND"
    return NotFound(code, f"There is no {kind} {record_id!r}.", {"id": record_id})
