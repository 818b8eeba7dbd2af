"""Customers (accounts) and contacts: the use cases of the API, and the upserts the ERP and imports share.

Every change writes the record, the uniqueness items of its identifiers and an audit history entry (who,
when, each changed field before and after) in one transaction (casework.services.ports.RecordWrite).

ERP events carry a ``source_version``: a write holds only if the stored record has none or a lower one, a
condition the store checks in the same transaction (never read-then-write). An older event is "stale", the
same one again "unchanged": nothing is written for either.

Length (over ~600 lines): customers and contacts are one aggregate pair (a contact moves between customers,
identifiers are unique across both, one audit trail); their use cases share the write path and the checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from casework.domain.customers import (
    CODE_PATTERN,
    CONTACT_DERIVED,
    CUSTOMER_LISTING,
    IDENTIFIER_TYPES,
    Comment,
    CrossReference,
    ShipTo,
    SpecialPrice,
    changes,
    contact_fields,
    contact_identifiers,
    customer_fields,
    entry,
    listing,
    name_prefix,
    normalise_identifier,
    profile_answers,
    question_set,
    stored_fields,
)
from casework.domain.error_codes import ErrorCode
from casework.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed, require_version_read
from casework.domain.model import Actor
from casework.domain.visibility import CUSTOMER_ROLES, list_scope, may_see_customers
from casework.services.ports import (
    Clock,
    CustomerStore,
    Directory,
    IdFactory,
    Page,
    RecordWrite,
    Row,
    SubItem,
    active_user,
)

if TYPE_CHECKING:
    from casework.domain.views import CaseRow

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
MAX_ENTRIES_DELETED = 90  # a delete is one transaction (100 items at most) with the record, its VAT, history
MAX_KEY_LENGTH = 200  # ids and entry keys from a URL are checked against this before any lookup
WRITE_ATTEMPTS = 3  # an upsert that meets a concurrent write reads again and retries; API edits never do


@dataclass(frozen=True)
class EntryKind:
    """A kind of customer entry: its sort key under the customer, model, error code and product field."""

    prefix: str
    model: type
    code: str
    key_fields: tuple[str, ...]
    product_field: str | None = None

    def key(self, fields: dict[str, Any]) -> str:
        return self.prefix + "#".join(str(fields[f]) for f in self.key_fields)


ENTRIES = {
    "ship_to": EntryKind("SHIPTO#", ShipTo, "SHIP_TO", ("code",)),
    "price": EntryKind("PRICE#", SpecialPrice, "PRICE", ("product_code", "valid_from"), "product_code"),
    "cross_reference": EntryKind(
        "XREF#", CrossReference, "CROSS_REFERENCE", ("customer_item_code",), "product_code"
    ),
    "comment": EntryKind("COMMENT#", Comment, "COMMENT", ("at", "id")),
    "answers": EntryKind("ANSWERS#", dict, "ANSWERS", ("set", "at")),
}
ENTRY_PREFIXES = ("SHIPTO#", "PRICE#", "XREF#", "COMMENT#", "ANSWERS#")


def stored_entry(body: dict[str, Any]) -> dict[str, Any]:
    """An entry's fields without what the store adds (key, who, when)."""
    return {k: v for k, v in body.items() if k not in ("key", "added_by", "added_at")}


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

    # --- the API: who may -----------------------------------------------------------------------------------

    def actor(self, username: str | None) -> Actor:
        return active_user(self.directory, username)

    def _reader(self, username: str, kind: str, record_id: str) -> Actor:
        """Who may read a customer or contact: customer-facing roles (casework.domain.visibility); for the
        others it does not exist, as an unknown id."""
        actor = self.actor(username)
        if not may_see_customers(actor):
            raise not_found(kind, record_id[:MAX_KEY_LENGTH])
        return actor

    def _searcher(self, username: str) -> Actor:
        actor = self.actor(username)
        require_role(actor, CUSTOMER_ROLES, "look customers or contacts up")
        return actor

    def _editor(self, username: str) -> Actor:
        actor = self.actor(username)
        require_role(actor, EDIT_ROLES, "create or change customers and contacts")
        return actor

    def _existing(self, kind: str, record_id: str) -> dict[str, Any]:
        if not record_id or len(record_id) > MAX_KEY_LENGTH:  # no such id could be stored (nor looked up)
            raise not_found(kind, record_id[:MAX_KEY_LENGTH])
        record = self.store.get(kind, record_id)
        if record is None:
            raise not_found(kind, record_id)
        return record

    @staticmethod
    def _expect(kind: str, record: dict[str, Any], expected_version: int | None) -> None:
        require_version_read(kind, expected_version, record.get("version", 0))

    def _edit(
        self,
        kind: str,
        actor: Actor,
        record_id: str,
        given: dict[str, Any],
        expected_version: int | None,
        stored: dict[str, Any] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """One API change on the version the client read (the latest when it names none; ``stored`` when the
        caller has just read it). A concurrent write between the read and the write is STALE_VERSION too: the
        client reloads, nothing is retried for it."""
        stored = stored or self._existing(kind, record_id)
        self._expect(kind, stored, expected_version)
        stale = f"The {kind} changed meanwhile; reload and try again."
        with _lost_race_answered_as(ErrorCode.STALE_VERSION, stale, keep_details=True):
            return self._save(kind, actor, record_id, given, stored, **options)[1]

    # --- customers ------------------------------------------------------------------------------------------

    def create_customer(self, username: str, data: dict[str, Any]) -> dict[str, Any]:
        """A new customer: ``id`` is its account number (one is given as ``ACC-`` + 12 hex when left out)."""
        actor = self._editor(username)
        record_id = data.get("id") if isinstance(data, dict) else None
        if not record_id:
            record_id = "ACC-" + self.new_id().replace("-", "")[:12].upper()
        fields = customer_fields({**data, "id": record_id})  # every problem before anything is read
        if self.store.get("customer", fields["id"]) is not None:
            raise Conflict(
                ErrorCode.CUSTOMER_EXISTS, f"Customer {fields['id']} exists already.", {"id": fields["id"]}
            )
        with _lost_race_answered_as(ErrorCode.CUSTOMER_EXISTS, f"Customer {fields['id']} exists already."):
            return self._save("customer", actor, fields["id"], data | {"id": fields["id"]}, None)[1]

    def get_customer(self, username: str, customer_id: str, limit: int = 25) -> dict[str, Any]:
        """The customer (with its latest profile answers), the first page of its contacts and of its open
        cases of every type: one GetItem and two Queries. Of its open cases, those the caller may see."""
        actor = self._reader(username, "customer", customer_id)
        record = self._existing("customer", customer_id)
        contacts = self.store.contacts_of(customer_id, None, limit)
        cases = self.store.open_cases_of(customer_id, None, limit, visible_to=list_scope(actor, frozenset()))
        return {
            **record,
            "contacts": {"items": contacts.items, "next_cursor": contacts.next_cursor},
            "open_cases": {"items": cases.items, "next_cursor": cases.next_cursor},
        }

    def find_customers(
        self,
        username: str,
        *,
        name: str | None = None,
        vat_number: str | None = None,
        account_number: str | None = None,
        cursor: str | None = None,
        limit: int = 25,
    ) -> Page:
        """By exactly one of: name prefix (a Query on the name index), VAT number (GetItem of its uniqueness
        item, then of the customer) or account number (GetItem)."""
        self._searcher(username)
        given = {
            k: v
            for k, v in {"name": name, "vat_number": vat_number, "account_number": account_number}.items()
            if v
        }
        if len(given) != 1:
            raise ValidationFailed(
                ErrorCode.ONE_FILTER,
                "Find customers by exactly one of name, vat_number and account_number.",
                {"given": sorted(given)},
            )
        if name:
            return self.store.customers_by_name(name_prefix(name), cursor, limit)
        if vat_number:
            account_number = self.store.identifier_owner("vat_number", normalise_identifier(vat_number))
        record = self.store.get("customer", account_number) if account_number else None
        return Page([listing(record, CUSTOMER_LISTING)] if record else [])

    def edit_customer(
        self, username: str, customer_id: str, changes: dict[str, Any], expected_version: int | None
    ) -> dict[str, Any]:
        actor = self._editor(username)
        _keeps_its_id(changes, customer_id, "The account number of a customer does not change.")
        return self._edit("customer", actor, customer_id, changes, expected_version)

    def delete_customer(self, username: str, customer_id: str, expected_version: int | None = None) -> None:
        """Admin only. Refused while cases or contacts name the customer; its entries go with it, its history
        stays (a customer created again with the account number goes on from there)."""
        actor = self.actor(username)
        require_role(actor, ADMIN_ROLES, "delete customers")
        stored = self._existing("customer", customer_id)
        self._expect("customer", stored, expected_version)
        if self.store.has_cases(customer_id):
            raise Conflict(
                ErrorCode.CUSTOMER_HAS_CASES,
                f"Cases name customer {customer_id}; it cannot be deleted.",
                {"id": customer_id},
            )
        if self.store.contacts_of(customer_id, None, 1).items:
            raise Conflict(
                ErrorCode.CUSTOMER_HAS_CONTACTS,
                f"Customer {customer_id} has contacts; move them first.",
                {"id": customer_id},
            )
        entries = []
        for prefix in ENTRY_PREFIXES:
            entries += [SubItem(sk=sk, body=None) for sk in self._entry_keys(customer_id, prefix)]
        if len(entries) > MAX_ENTRIES_DELETED:
            raise Conflict(
                ErrorCode.TOO_MANY_ENTRIES,
                f"Customer {customer_id} has {len(entries)} entries; delete some first.",
                {"entries": len(entries), "max": MAX_ENTRIES_DELETED},
            )
        at = self.clock().isoformat()
        version = stored.get("version", 0) + 1
        with _lost_race_answered_as(
            ErrorCode.STALE_VERSION, "The customer changed meanwhile; reload and try again."
        ):
            self.store.write(
                RecordWrite(
                    kind="customer",
                    id=customer_id,
                    record=None,
                    expected_version=stored.get("version", 0),
                    history={
                        "version": version,
                        "at": at,
                        "by": actor.username,
                        "action": "deleted",
                        "changes": changes(stored_fields(stored), None),
                    },
                    release=sorted(self._identifiers("customer", stored)),
                    sub_items=tuple(entries),
                )
            )

    def _entry_keys(self, customer_id: str, prefix: str) -> list[str]:
        keys, cursor = [], None
        while True:
            page = self.store.sub_items(customer_id, prefix, cursor, 100)
            keys += [item["key"] for item in page.items]
            cursor = page.next_cursor
            if not cursor or len(keys) > MAX_ENTRIES_DELETED:
                return keys

    def _list(self, kind: str, record_id: str, page: Page[Row], cursor: str | None) -> Page[Row]:
        """One Query answers a list; only an empty first page asks whether the record exists (404)."""
        if not page.items and not page.next_cursor and not cursor:
            self._existing(kind, record_id)
        return page

    def customer_history(self, username: str, customer_id: str, cursor: str | None, limit: int) -> Page:
        """Newest first. A deleted customer's history stays readable: it is the audit trail."""
        self._reader(username, "customer", customer_id)
        return self._list(
            "customer", customer_id, self.store.history("customer", customer_id, cursor, limit), cursor
        )

    def customer_contacts(self, username: str, customer_id: str, cursor: str | None, limit: int) -> Page:
        self._reader(username, "customer", customer_id)
        return self._list("customer", customer_id, self.store.contacts_of(customer_id, cursor, limit), cursor)

    def customer_cases(
        self, username: str, customer_id: str, cursor: str | None, limit: int
    ) -> Page[CaseRow]:
        actor = self._reader(username, "customer", customer_id)
        scope = list_scope(actor, frozenset())
        page = self.store.open_cases_of(customer_id, cursor, limit, visible_to=scope)
        return self._list("customer", customer_id, page, cursor)

    # --- a customer's entries -------------------------------------------------------------------------------

    def add_entry(self, username: str, customer_id: str, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """A ship-to address, special price or cross reference: written with the customer's new version and a
        history entry, in one transaction. Refused (409 <KIND>_EXISTS) when its key is taken."""
        actor = self._editor(username)
        spec = ENTRIES[kind]
        fields = entry(spec.model, data)
        stored = self._existing("customer", customer_id)
        if spec.product_field:
            self._known_product(fields[spec.product_field])
        key = spec.key(fields)
        if kind == "price":
            self._no_overlap(customer_id, fields)
        at = self.clock().isoformat()
        body = {**fields, "key": key, "added_by": actor.username, "added_at": at}
        self._change_entry(actor, customer_id, stored, kind, key, body=body, before=None, after=fields)
        return body

    def remove_entry(self, username: str, customer_id: str, kind: str, key_parts: tuple[str, ...]) -> None:
        actor = self._editor(username)
        spec = ENTRIES[kind]
        key = spec.prefix + "#".join(key_parts)
        stored = self._existing("customer", customer_id)
        before = self.store.sub_item(customer_id, key) if len(key) <= MAX_KEY_LENGTH else None
        if before is None:
            raise NotFound(f"{spec.code}_NOT_FOUND", f"Customer {customer_id} has no {key}.", {"key": key})
        self._change_entry(
            actor, customer_id, stored, kind, key, body=None, before=stored_entry(before), after=None
        )

    def _change_entry(
        self,
        actor: Actor,
        customer_id: str,
        stored: dict[str, Any],
        kind: str,
        key: str,
        *,
        body: dict[str, Any] | None,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        """Write (``body``) or remove (None) one entry item of a customer on the version just read, in the
        customer's own transaction, its history holding the entry's fields ``before`` and ``after``."""
        self._edit(
            "customer",
            actor,
            customer_id,
            {},
            stored.get("version", 0),
            stored,
            action=f"{kind}_added" if body is not None else f"{kind}_removed",
            sub_items=(SubItem(sk=key, body=body, must_exist=body is None, code=ENTRIES[kind].code),),
            entry_changes={key: {"before": before, "after": after}},
        )

    def entries(
        self, username: str, customer_id: str, kind: str, cursor: str | None, limit: int, within: str = ""
    ) -> Page:
        self._reader(username, "customer", customer_id)
        page = self.store.sub_items(customer_id, ENTRIES[kind].prefix + within, cursor, limit)
        return self._list("customer", customer_id, page, cursor)

    def _known_product(self, code: str) -> None:
        if self.directory.product(code) is None:
            raise ValidationFailed(
                ErrorCode.UNKNOWN_PRODUCT, f"There is no product {code!r}.", {"product_code": code}
            )

    def _no_overlap(self, customer_id: str, price: dict[str, Any]) -> None:
        candidate = SpecialPrice.model_validate(stored_entry(price))
        cursor = None
        while True:
            page = self.store.sub_items(customer_id, f"PRICE#{price['product_code']}#", cursor, 100)
            for other in page.items:
                if candidate.overlaps(other):
                    raise Conflict(
                        ErrorCode.PRICE_OVERLAP,
                        f"A special price for {price['product_code']} is valid in that period already.",
                        {
                            "key": other["key"],
                            "valid_from": other["valid_from"],
                            "valid_to": other.get("valid_to"),
                        },
                    )
            cursor = page.next_cursor
            if not cursor:
                return

    def add_comment(self, username: str, customer_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """A note on the customer with who and when; comments are kept, never edited."""
        actor = self._editor(username)
        fields = entry(Comment, data)
        self._existing("customer", customer_id)
        at = self.clock().isoformat()
        comment_id = self.new_id().replace("-", "")[:12]
        key = f"COMMENT#{at}#{comment_id}"
        body = {"id": comment_id, "key": key, "text": fields["text"], "by": actor.username, "at": at}
        self.store.add_sub_item(customer_id, SubItem(sk=key, body=body, must_exist=False, code="COMMENT"))
        return body

    # --- contacts -------------------------------------------------------------------------------------------

    def create_contact(self, username: str, data: dict[str, Any]) -> dict[str, Any]:
        actor = self._editor(username)
        if not isinstance(data, dict):
            contact_fields(data)
        contact_id = data.get("id") or new_contact_id(self.new_id)
        contact_fields({**data, "id": contact_id})  # every problem before anything is read
        if self.store.get("contact", contact_id) is not None:
            raise Conflict(
                ErrorCode.CONTACT_EXISTS, f"Contact {contact_id} exists already.", {"id": contact_id}
            )
        with _lost_race_answered_as(ErrorCode.CONTACT_EXISTS, f"Contact {contact_id} exists already."):
            return self._save("contact", actor, contact_id, {**data, "id": contact_id}, None)[1]

    def get_contact(self, username: str, contact_id: str) -> dict[str, Any]:
        self._reader(username, "contact", contact_id)
        return self._existing("contact", contact_id)

    def edit_contact(
        self, username: str, contact_id: str, changes: dict[str, Any], expected_version: int | None
    ) -> dict[str, Any]:
        actor = self._editor(username)
        _keeps_its_id(changes, contact_id, "The id of a contact does not change.")
        if "account_id" in changes:
            raise ValidationFailed(
                ErrorCode.INVALID_FIELDS,
                "Move a contact to a customer with POST /contacts/{id}/move.",
                {"problems": [{"location": "account_id", "message": "changed by moving the contact"}]},
            )
        return self._edit("contact", actor, contact_id, changes, expected_version)

    def move_contact(
        self, username: str, contact_id: str, account_id: str | None, expected_version: int | None
    ) -> dict[str, Any]:
        """To a customer, or back to Unassigned (``account_id`` None); the history keeps where it was."""
        actor = self._editor(username)
        return self._edit(
            "contact", actor, contact_id, {"account_id": account_id}, expected_version, action="moved"
        )

    def find_contacts(self, username: str, identifiers: Mapping[str, str | None]) -> Page:
        """By one identifier: a GetItem of its uniqueness item, then of the contact."""
        self._searcher(username)
        given = {k: v for k, v in identifiers.items() if v}
        if len(given) != 1:
            raise ValidationFailed(
                ErrorCode.ONE_FILTER,
                f"Find contacts by exactly one of {', '.join(IDENTIFIER_TYPES)}.",
                {"given": sorted(given)},
            )
        contact = self.contact_by_identifiers(given)
        return Page([contact] if contact else [])

    def contact_history(self, username: str, contact_id: str, cursor: str | None, limit: int) -> Page:
        self._reader(username, "contact", contact_id)
        return self._list(
            "contact", contact_id, self.store.history("contact", contact_id, cursor, limit), cursor
        )

    # --- profiling ------------------------------------------------------------------------------------------

    def get_question_set(self, username: str, code: str, version: int | None = None) -> dict[str, Any]:
        self.actor(username)
        _set_code(code)
        body, version = self.store.question_set(code, version)
        return {"set": code, "version": version, "questions": body}

    def put_question_set(
        self, username: str, code: str, data: dict[str, Any], expected_version: int
    ) -> dict[str, Any]:
        """Admin: a new immutable version; answers keep the version they answered."""
        actor = self.actor(username)
        require_role(actor, ADMIN_ROLES, "change profiling question sets")
        _set_code(code)
        body = {**question_set(data), "saved_by": actor.username, "saved_at": self.clock().isoformat()}
        version = self.store.put_question_set(code, body, expected_version)
        return {"set": code, "version": version, "questions": body}

    def answer_profile(
        self,
        username: str,
        customer_id: str,
        code: str,
        answers: dict[str, Any],
        set_version: int | None = None,
    ) -> dict[str, Any]:
        """A customer's answers to a version of a question set (the latest when not named), kept with who and
        when; the customer shows the latest answers of each set. One transaction."""
        actor = self._editor(username)
        questions, set_version = self.store.question_set(_set_code(code), set_version)
        checked = profile_answers(questions, answers)
        stored = self._existing("customer", customer_id)
        at = self.clock().isoformat()
        answered = {
            "set": code,
            "set_version": set_version,
            "answers": checked,
            "by": actor.username,
            "at": at,
        }
        key = f"ANSWERS#{code}#{at}"
        profile = {**(stored.get("profile") or {}), code: answered}
        self._edit(
            "customer",
            actor,
            customer_id,
            {"profile": profile},
            stored.get("version", 0),
            stored,
            action="profile_answered",
            sub_items=(SubItem(sk=key, body={**answered, "key": key}, must_exist=False, code="ANSWERS"),),
        )
        return answered

    def profile_answers(
        self, username: str, customer_id: str, code: str, cursor: str | None, limit: int
    ) -> Page:
        """Every answer set given for a question set, oldest first."""
        return self.entries(username, customer_id, "answers", cursor, limit, within=f"{code}#")

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
                ErrorCode.DUPLICATE_IDENTIFIER,
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
        entry_changes: dict[str, dict[str, Any]] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Merge ``given`` into the stored record, validate the whole, and write it with its identifier items
        and history entry (``entry_changes`` adds what changed in the sub-items written with it). Returns the
        outcome and the record as stored."""
        base = self._business(kind, stored)
        fields = self._fields(kind, {**base, **given, "id": record_id})
        diff = {**changes(stored_fields(stored) if stored else None, fields), **(entry_changes or {})}
        if stored is not None and not diff and source_version is None:
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
        write = RecordWrite(
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
        try:
            self.store.write(write)
        except Conflict as exc:
            if exc.code != "HISTORY_EXISTS" or stored is not None:
                raise
            # created again after a delete: the history (kept) goes on where it stopped
            last = self.store.history(kind, record_id, None, 1).items[0]["version"]
            record = {**record, "version": last + 1}
            history = {**history, "version": last + 1}
            self.store.write(replace(write, record=record, history=history))
        return (UPDATED if stored and diff else UNCHANGED if stored else CREATED), record

    @staticmethod
    def _fields(kind: str, merged: dict[str, Any]) -> dict[str, Any]:
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


def _set_code(code: str) -> str:
    if not re.fullmatch(CODE_PATTERN, code) or len(code) > 40:
        raise ValidationFailed(
            ErrorCode.INVALID_SET_CODE, f"{code[:40]!r} is not a question set code.", {"set": code[:40]}
        )
    return code


@contextmanager
def _lost_race_answered_as(code: ErrorCode, message: str, *, keep_details: bool = False) -> Iterator[None]:
    """A write that lost a race with another (the store's CONCURRENT_UPDATE) answered as the client sees it:
    the record it read has changed since (STALE_VERSION), or the one it creates exists already."""
    try:
        yield
    except Conflict as exc:
        if exc.code != ErrorCode.CONCURRENT_UPDATE:
            raise
        raise Conflict(code, message, exc.details if keep_details else None) from None


def require_role(actor: Actor, roles: frozenset[str], what: str) -> None:
    if not roles & actor.roles:
        raise Forbidden(ErrorCode.NOT_ALLOWED, f"You may not {what}.", {"roles": sorted(roles)})


def not_found(kind: str, record_id: str) -> NotFound:
    code = ErrorCode.CUSTOMER_NOT_FOUND if kind == "customer" else ErrorCode.CONTACT_NOT_FOUND
    return NotFound(code, f"There is no {kind} {record_id!r}.", {"id": record_id})


def _keeps_its_id(changes: dict[str, Any], record_id: str, message: str) -> None:
    if "id" in changes and changes["id"] != record_id:
        raise ValidationFailed(
            ErrorCode.INVALID_FIELDS,
            message,
            {"problems": [{"location": "id", "message": "cannot be changed"}]},
        )
