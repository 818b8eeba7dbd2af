"""The directory's records as an Admin changes them, on the single table.

    USER#<name>    / PROFILE              a user (roles, business units, default unit, active)
    UNIT#<code>    / UNIT                 a business unit; ``members`` (role -> usernames) kept from the users
    AREA#<area>    / AREA                 a geographic area's routing rule (area -> business unit)
    DIRECTORY      / UNITS                the registry of unit codes (adapters.directory.UNIT_REGISTRY)
    DIRECTORY      / ROLES                optional: the known roles (else domain.directory_admin.KNOWN_ROLES)
    DIRAUDIT#<kind>#<key> / V#<version:08d>   who changed it, when, before and after

Every change is one TransactWriteItems: the record (conditioned on the version read), the units whose member
lists it changes (conditioned on their ``version`` and ``members_version`` as read, so a unit edit and a
member change never overwrite each other), the registry when a unit is added, and the audit item.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from casework.adapters.codec import plain
from casework.adapters.directory import UNIT_REGISTRY
from casework.adapters.dynamo import (
    UNIT_SHARDS,
    CaseItem,
    DirectoryItem,
    _tx_connection,
    explain_cancellation,
    item_body,
    open_key,
    partition_page,
    read_row,
)
from casework.domain.directory_admin import KNOWN_ROLES
from casework.domain.error_codes import ErrorCode
from casework.domain.errors import Conflict
from casework.services.directory_admin import DirectoryWrite
from casework.services.ports import Page

RECORD_KEYS = {"user": ("USER", "PROFILE"), "unit": ("UNIT", "UNIT"), "area": ("AREA", "AREA")}
ROLES_RECORD = ("DIRECTORY", "ROLES")
# Items a work lookup reads per Query page (its filter keeps few of them; DynamoDB stops a page at 1 MB).
WORK_PAGE = 500


def record_key(kind: str, key: str) -> tuple[str, str]:
    prefix, sk = RECORD_KEYS[kind]
    return f"{prefix}#{key}", sk


def audit_partition(kind: str, key: str) -> str:
    return f"DIRAUDIT#{kind}#{key}"


def _get(pk: str, sk: str) -> dict[str, Any] | None:
    return item_body(DirectoryItem, pk, sk, consistent=True)


def _unchanged(name: str, read: int | None) -> Condition:
    """The body's counter ``name`` is still what was read (0: the record was stored without one)."""
    path = DirectoryItem.body[name]
    return (path.does_not_exist() | (path == 0)) if not read else path == read


def _as_read(read_version: int | None) -> Condition:
    if read_version is None:
        return DirectoryItem.pk.does_not_exist()
    return DirectoryItem.pk.exists() & _unchanged("version", read_version)


class DynamoDirectoryAdmin:
    """Reads here are strongly consistent and uncached: an Admin sees what the next change is checked on."""

    def record(self, kind: str, key: str) -> dict[str, Any] | None:
        return _get(*record_key(kind, key))

    def records(self, kind: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Many records by key (BatchGetItem, 100 a request); missing ones are left out."""
        found: dict[str, dict[str, Any]] = {}
        wanted = [record_key(kind, key) for key in dict.fromkeys(keys)]
        for item in DirectoryItem.batch_get(wanted, consistent_read=True):
            if item.body is not None:
                found[item.pk.split("#", 1)[1]] = plain(item.body.as_dict())
        return found

    def roles(self) -> tuple[str, ...]:
        stored = _get(*ROLES_RECORD)
        return tuple(stored["roles"]) if stored and stored.get("roles") else KNOWN_ROLES

    def unit_registry(self) -> tuple[list[str], int]:
        """The unit codes and the registry's version (0: never changed through the API)."""
        stored = _get(*UNIT_REGISTRY) or {}
        return list(stored.get("codes", ())), int(stored.get("version", 0))

    def write(self, change: DirectoryWrite) -> None:
        pk, sk = record_key(change.kind, change.key)
        try:
            with TransactWrite(connection=_tx_connection()) as tx:
                condition = _as_read(change.read_version)
                if change.kind == "unit" and change.read_version is not None:
                    # a user change may have rewritten the members meanwhile: never put back the old lists
                    condition &= _unchanged("members_version", change.record.get("members_version", 0))
                tx.save(DirectoryItem(pk=pk, sk=sk, body=change.record), condition=condition)
                for unit in change.units:
                    tx.save(
                        DirectoryItem(*record_key("unit", unit.code), body=unit.record),
                        condition=DirectoryItem.pk.exists()
                        & _unchanged("version", unit.read_version)
                        & _unchanged("members_version", unit.read_members_version),
                    )
                if change.registry is not None:
                    codes, read = change.registry
                    tx.save(
                        DirectoryItem(*UNIT_REGISTRY, body={"codes": codes, "version": read + 1}),
                        condition=_unchanged("version", read),
                    )
                tx.save(
                    DirectoryItem(
                        pk=audit_partition(change.kind, change.key),
                        sk=f"V#{change.audit['version']:08d}",
                        body=change.audit,
                    ),
                    condition=DirectoryItem.pk.does_not_exist(),
                )
        except TransactWriteError as exc:
            stale = Conflict(
                ErrorCode.STALE_VERSION,
                f"The {change.kind} (or a unit it changes) changed meanwhile; reload and try again.",
                {"kind": change.kind, "key": change.key},
            )
            meaning = explain_cancellation(exc, lambda _index, _reason: stale, stale)
            if meaning is exc:
                raise
            raise meaning from None

    def audit(self, kind: str, key: str, cursor: str | None, limit: int) -> Page:
        # newest first; a cursor of another record's audit is refused (400)
        return partition_page(
            DirectoryItem, audit_partition(kind, key), "V#", cursor, limit, newest_first=True
        )

    # --- a user's work: what deactivating them would strand ------------------------------------------------

    def open_assignments(
        self, username: str, limit: int, units: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Open cases assigned to ``username``: gsi2v2 ``ASSIGNEE#<user>``, kept to open ones by the list
        row's ``open``. Reads the user's closed cases too, page by page, up to ``limit`` found."""
        condition = CaseItem.listing["open"] == True  # noqa: E712 (a filter expression)
        if units is not None:  # only those of these units
            condition &= CaseItem.listing["business_unit"].is_in(*units)
        iterator = CaseItem.by_assignee.query(
            f"ASSIGNEE#{username}",
            filter_condition=condition,
            limit=limit,
            page_size=WORK_PAGE,
        )
        return [_case_line(item) for item in iterator]

    def pending_approvals(
        self, username: str, units: list[str], case_types: list[str], limit: int
    ) -> list[dict[str, Any]]:
        """Open cases of ``units`` whose pending approval waits for ``username``: one Query per (type, unit,
        shard) on gsi4 (open cases only), filtered on the list row's ``awaiting`` (its undecided approvers).
        Approvers are members of the case's unit or named by its rules, so ``units`` (theirs and those naming
        them) bound where to look."""
        waiting_for_them = CaseItem.listing["awaiting"].contains(username)
        found: list[dict[str, Any]] = []
        for unit in units:
            for case_type in case_types:
                for shard in range(UNIT_SHARDS):
                    iterator = CaseItem.open_by_due.query(
                        open_key(case_type, unit, shard),
                        filter_condition=waiting_for_them,
                        limit=limit - len(found),
                        page_size=WORK_PAGE,
                    )
                    found += [_case_line(item) for item in iterator]
                    if len(found) >= limit:
                        return found
        return found


def _case_line(item: CaseItem) -> dict[str, Any]:
    body = read_row(item)
    return {key: body.get(key) for key in ("id", "type", "title", "status", "business_unit")}
