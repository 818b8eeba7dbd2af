"""Customers and contacts on the single table (casework.services.ports.CustomerStore).

    ACCOUNT#<id>   / ACCOUNT              a customer (the account number is its id)
    ACCOUNT#<id>   / HIST#<version:08d>   its audit history: who, when, each changed field before/after
    ACCOUNT#<id>   / SHIPTO#<code>, PRICE#<product>#<valid_from>, XREF#<customer item code>,
                     COMMENT#<at>#<id>, ANSWERS#<set>#<at>     its sub-items
    CONTACT#<id>   / CONTACT, HIST#<version:08d>
    IDENT#<type>#<value> / IDENT          one identifier of one record ({contact_id} or, for a customer's
                                          vat_number, {customer_id}): uniqueness, and lookup by one GetItem

Records carry the sparse ``directory`` index keys: a customer ``CUSTNAME#<2 chars>`` / ``<name key>#<id>``, a
contact with a customer ``CONTACTS#<account>`` / ``<name key>#<id>``; the index projects only ``listing``.

A write is one TransactWriteItems. When DynamoDB cancels it, its reasons come one per item in the order
PynamoDB sends them (condition checks, deletes, puts, updates); each failed condition says what it means.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from pynamodb.constants import ALL_OLD
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from casework.adapters.codec import plain
from casework.adapters.definitions import _Versions
from casework.adapters.dynamo import (
    CaseItem,
    ConfigItem,
    DirectoryItem,
    HistoryItem,
    RelatedItem,
    _one_page,
    _tx_connection,
    _visible_to,
    account_cases,
    account_has_cases,
    cursor_scope,
    decode_cursor,
    explain_cancellation,
    in_sent_order,
    item_body,
    partition_page,
)
from casework.domain.customers import CONTACT_LISTING, CUSTOMER_LISTING, listing, name_key
from casework.domain.error_codes import ErrorCode
from casework.domain.errors import Conflict, DomainError, NotFound, ValidationFailed, require_version_read
from casework.domain.visibility import ListScope
from casework.services.ports import Page, RecordWrite, SubItem

if TYPE_CHECKING:
    from casework.domain.views import CaseRow

RECORD_KEYS = {"customer": ("ACCOUNT", "ACCOUNT"), "contact": ("CONTACT", "CONTACT")}
OWNER_FIELD = {"customer": "customer_id", "contact": "contact_id"}


def record_key(kind: str, record_id: str) -> tuple[str, str]:
    prefix, sk = RECORD_KEYS[kind]
    return f"{prefix}#{record_id}", sk


def identifier_key(identifier_type: str, value: str) -> tuple[str, str]:
    return f"IDENT#{identifier_type}#{value}", "IDENT"


def directory_item(kind: str, record: dict[str, Any]) -> DirectoryItem:
    """The stored item of a record, with its list keys (also used by the seed)."""
    pk, sk = record_key(kind, record["id"])
    key = f"{name_key(record.get('name') or '')}#{record['id']}"
    if kind == "customer":
        list_pk: str | None = f"CUSTNAME#{name_key(record.get('name') or '')[:2]}"
        shown = listing(record, CUSTOMER_LISTING)
    else:
        list_pk = f"CONTACTS#{record['account_id']}" if record.get("account_id") else None
        shown = listing(record, CONTACT_LISTING)
    return DirectoryItem(
        pk=pk,
        sk=sk,
        body=record,
        dirpk=list_pk,
        dirsk=key if list_pk else None,
        listing=shown if list_pk else None,
    )


def identifier_items(kind: str, record: dict[str, Any]) -> list[DirectoryItem]:
    """The uniqueness items a record's identifiers need (the seed writes them with the record)."""
    return [
        DirectoryItem(*identifier_key(t, v), body={"type": t, "value": v, OWNER_FIELD[kind]: record["id"]})
        for t, v in identifiers_of(kind, record)
    ]


def identifiers_of(kind: str, record: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not record:
        return []
    if kind == "customer":
        return [("vat_number", record["vat_number"])] if record.get("vat_number") else []
    return sorted((record.get("identifiers") or {}).items())


class DynamoCustomerStore:
    def __init__(self, latest_ttl_seconds: float = 60.0) -> None:
        self.question_sets = _Versions(ConfigItem, "PROFILESET", latest_ttl_seconds, _no_question_set)

    def get(self, kind: str, record_id: str) -> dict[str, Any] | None:
        return item_body(DirectoryItem, *record_key(kind, record_id), consistent=True)

    def identifier_owner(self, identifier_type: str, value: str) -> str | None:
        try:
            item = DirectoryItem.get(*identifier_key(identifier_type, value), consistent_read=True)
        except (DoesNotExist, ValueError):
            return None
        body = item.body.as_dict() if item.body is not None else {}
        return body.get("contact_id") or body.get("customer_id")

    def write(self, change: RecordWrite) -> None:
        meanings: dict[str, list[DomainError]] = {"check": [], "delete": [], "put": [], "update": []}
        pk, sk = record_key(change.kind, change.id)
        concurrent = Conflict(
            ErrorCode.CONCURRENT_UPDATE, f"The {change.kind} changed meanwhile; reload.", {"id": change.id}
        )
        version = DirectoryItem.body["version"]
        try:
            with TransactWrite(connection=_tx_connection()) as tx:
                if change.customer_must_exist:
                    tx.condition_check(
                        DirectoryItem,
                        *record_key("customer", change.customer_must_exist),
                        condition=DirectoryItem.pk.exists(),
                    )
                    meanings["check"].append(
                        ValidationFailed(
                            ErrorCode.UNKNOWN_CUSTOMER,
                            f"There is no customer {change.customer_must_exist!r}.",
                            {"account_id": change.customer_must_exist},
                        )
                    )
                if change.record is None:
                    tx.delete(
                        DirectoryItem(pk, sk),
                        condition=version.does_not_exist()
                        if change.expected_version == 0
                        else version == change.expected_version,
                    )
                    meanings["delete"].append(concurrent)
                else:
                    if change.expected_version is None:
                        condition = DirectoryItem.pk.does_not_exist()
                    elif change.expected_version == 0:  # stored before records had versions
                        condition = DirectoryItem.pk.exists() & version.does_not_exist()
                    else:
                        condition = version == change.expected_version
                    if change.source_version is not None:
                        stored_source = DirectoryItem.body["source_version"]
                        condition &= stored_source.does_not_exist() | (stored_source < change.source_version)
                    tx.save(directory_item(change.kind, change.record), condition=condition)
                    meanings["put"].append(concurrent)
                self._identifiers(tx, change, meanings)
                self._sub_items(tx, change, meanings)
                tx.save(
                    HistoryItem(pk=pk, sk=f"HIST#{change.history['version']:08d}", body=change.history),
                    condition=HistoryItem.pk.does_not_exist(),
                )
                # a record created again after a delete: its history goes on where it stopped
                meanings["put"].append(Conflict(ErrorCode.HISTORY_EXISTS, "The record has history already."))
        except TransactWriteError as exc:
            raise self._meaning(exc, meanings, concurrent) from None

    @staticmethod
    def _identifiers(tx: TransactWrite, change: RecordWrite, meanings: dict[str, list[DomainError]]) -> None:
        owner = DirectoryItem.body[OWNER_FIELD[change.kind]]
        for identifier_type, value in change.release:
            tx.delete(
                DirectoryItem(*identifier_key(identifier_type, value)),
                condition=DirectoryItem.pk.does_not_exist() | (owner == change.id),
            )
            meanings["delete"].append(
                Conflict(ErrorCode.CONCURRENT_UPDATE, f"The {change.kind} changed meanwhile; reload.")
            )
        for identifier_type, value in change.claim:
            body = {"type": identifier_type, "value": value, OWNER_FIELD[change.kind]: change.id}
            tx.save(
                DirectoryItem(*identifier_key(identifier_type, value), body=body),
                condition=DirectoryItem.pk.does_not_exist() | (owner == change.id),
                return_values=ALL_OLD,
            )
            meanings["put"].append(
                Conflict(
                    ErrorCode.DUPLICATE_IDENTIFIER,
                    f"{identifier_type} {value} belongs to another {change.kind}.",
                    {"type": identifier_type, "value": value},
                )
            )

    @staticmethod
    def _sub_items(tx: TransactWrite, change: RecordWrite, meanings: dict[str, list[DomainError]]) -> None:
        pk = record_key(change.kind, change.id)[0]
        for sub in change.sub_items:
            exists = Conflict(f"{sub.code}_EXISTS", f"{sub.sk} exists already.", {"key": sub.sk})
            missing = NotFound(f"{sub.code}_NOT_FOUND", f"{sub.sk} does not exist.", {"key": sub.sk})
            if sub.body is None:
                tx.delete(RelatedItem(pk=pk, sk=sub.sk), condition=RelatedItem.pk.exists())
                meanings["delete"].append(missing)
                continue
            condition: Condition | None = None
            if sub.must_exist is True:
                condition = RelatedItem.pk.exists()
            elif sub.must_exist is False:
                condition = RelatedItem.pk.does_not_exist()
            tx.save(RelatedItem(pk=pk, sk=sub.sk, body=sub.body), condition=condition)
            meanings["put"].append(missing if sub.must_exist else exists)

    @staticmethod
    def _meaning(
        exc: TransactWriteError, meanings: dict[str, list[DomainError]], concurrent: Conflict
    ) -> Exception:
        order = in_sent_order(meanings)

        def failed(index: int, reason: Any) -> Exception | None:
            if index >= len(order):
                return None
            error = order[index]
            if error.code == "DUPLICATE_IDENTIFIER" and reason.raw_item:
                held = (reason.raw_item.get("body") or {}).get("M", {})
                owner = held.get("contact_id") or held.get("customer_id") or {}
                error.details["owner"] = owner.get("S")
            return error

        return explain_cancellation(exc, failed, concurrent)

    def history(self, kind: str, record_id: str, cursor: str | None, limit: int) -> Page:
        return partition_page(
            HistoryItem, record_key(kind, record_id)[0], "HIST#", cursor, limit, newest_first=True
        )

    def sub_items(self, customer_id: str, prefix: str, cursor: str | None, limit: int) -> Page:
        return partition_page(RelatedItem, record_key("customer", customer_id)[0], prefix, cursor, limit)

    def sub_item(self, customer_id: str, sk: str) -> dict[str, Any] | None:
        try:
            item = RelatedItem.get(record_key("customer", customer_id)[0], sk, consistent_read=True)
        except (DoesNotExist, ValueError):
            return None
        return plain(item.body.as_dict())

    def add_sub_item(self, customer_id: str, sub: SubItem) -> None:
        pk = record_key("customer", customer_id)[0]
        try:
            RelatedItem(pk=pk, sk=sub.sk, body=sub.body).save(condition=RelatedItem.pk.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict(f"{sub.code}_EXISTS", f"{sub.sk} exists already.", {"key": sub.sk}) from None
            raise

    def _listed(self, partition: str, sort_prefix: str, cursor: str | None, limit: int) -> Page:
        scope = cursor_scope("directory", partition, sort_prefix)
        iterator = DirectoryItem.directory_lists.query(
            partition,
            range_key_condition=DirectoryItem.dirsk.startswith(sort_prefix) if sort_prefix else None,
            page_size=limit,
            last_evaluated_key=decode_cursor(cursor, scope),
        )
        items, next_cursor = _one_page(iterator, DirectoryItem, scope)
        listed = cast(list[DirectoryItem], items)  # _one_page builds instances of the model it is given
        return Page([plain(i.listing.as_dict()) for i in listed if i.listing is not None], next_cursor)

    def customers_by_name(self, key_prefix: str, cursor: str | None, limit: int) -> Page:
        return self._listed(f"CUSTNAME#{key_prefix[:2]}", key_prefix, cursor, limit)

    def contacts_of(self, account_id: str, cursor: str | None, limit: int) -> Page:
        return self._listed(f"CONTACTS#{account_id}", "", cursor, limit)

    def open_cases_of(
        self, account_id: str, cursor: str | None, limit: int, *, visible_to: ListScope | None = None
    ) -> Page[CaseRow]:
        filters = [CaseItem.listing["open"] == True]  # noqa: E712 (a filter expression, not a comparison)
        if visible_to is not None and not visible_to.everything:
            filters.append(_visible_to(visible_to))  # and only those the caller may see
        return account_cases(account_id, None, filters, cursor, limit, "open")

    def has_cases(self, account_id: str) -> bool:
        return account_has_cases(account_id)

    # --- profiling question sets: PROFILESET#<code> / V#<version:04d>, immutable ---

    def question_set(self, code: str, version: int | None = None) -> tuple[dict[str, Any], int]:
        return self.question_sets.get(code, version)

    def put_question_set(self, code: str, body: dict[str, Any], expected_version: int) -> int:
        latest = self.question_sets.newest(code) or 0
        require_version_read("question set", expected_version, latest)
        version = latest + 1
        try:
            ConfigItem(pk=f"PROFILESET#{code}", sk=f"V#{version:04d}", body=body).save(
                condition=ConfigItem.pk.does_not_exist()
            )
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict(
                    ErrorCode.STALE_VERSION, "Somebody saved the question set at the same time."
                ) from None
            raise
        self.question_sets.forget_latest()
        return version


def _no_question_set(code: str, version: int | None) -> NotFound:
    suffix = "" if version is None else f" version {version}"
    return NotFound(
        ErrorCode.UNKNOWN_PROFILE_SET, f"There is no profiling question set {code!r}{suffix}.", {"set": code}
    )


def seed_customers(customers: list[dict[str, Any]], contacts: list[dict[str, Any]], at: str) -> int:
    """Seed customers and contacts as valid records of the current model (version 1, a "created" history
    entry, list keys and identifier items), in batches. Returns how many records."""
    from casework.domain.customers import seeded_record

    records, histories = [], []
    for kind, given in (("customer", customers), ("contact", contacts)):
        for data in given:
            record, entry = seeded_record(kind, data, at)
            records += [directory_item(kind, record), *identifier_items(kind, record)]
            histories.append(
                HistoryItem(pk=record_key(kind, record["id"])[0], sk="HIST#00000001", body=entry)
            )
    with DirectoryItem.batch_write() as batch:
        for item in records:
            batch.save(item)
    with HistoryItem.batch_write() as history_batch:
        for history in histories:
            history_batch.save(history)
    return len(histories)
