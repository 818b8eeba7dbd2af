"""The directory administered: users, business units and area routing rules, read by managers, changed
by an Admin. Each change is checked whole (every problem listed: 422 INVALID_DIRECTORY_ENTRY), made on
the version read (409 STALE_VERSION), written with the unit member lists it changes and its audit entry
in one transaction, and seen by every function within the directory cache's bound
(casework.adapters.directory.DynamoDirectory: 60 s per process; at once by the process that made it).

Deactivating a user who still holds work is refused (409 USER_HAS_WORK) with the list: open cases
assigned to them, approvals waiting for them, and units whose responsibles or approval rules name them.
Reassign those first; casework never picks a new owner silently. Taking a user out of a unit is refused
the same way while they hold that unit's open cases or pending approvals, and the last active Admin keeps
the role.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from casework.domain.directory_admin import (
    ADMIN_ROLES,
    READ_ROLES,
    Problem,
    changed_fields,
    check_area,
    check_key,
    check_unit,
    check_user,
    emptied_groups,
    entry_defaults,
    members_after,
    parse_entry,
    users_named,
    without_shape_problems,
)
from casework.domain.error_codes import ErrorCode
from casework.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed, require_version_read
from casework.domain.model import Actor
from casework.services.ports import Clock, Page

WORK_LISTED = 50  # at most this many open cases and pending approvals are listed in USER_HAS_WORK


@dataclass(frozen=True)
class UnitMembers:
    """A unit record rewritten with new member lists, on the counters it was read with."""

    code: str
    record: dict[str, Any]
    read_version: int
    read_members_version: int


@dataclass(frozen=True)
class DirectoryWrite:
    """One change: the record (``read_version`` None: it must not exist yet), the units whose members it
    changes, the unit registry (codes after, version read) when a unit is added, and the audit entry."""

    kind: str
    key: str
    record: dict[str, Any]
    read_version: int | None
    audit: dict[str, Any]
    units: tuple[UnitMembers, ...] = ()
    registry: tuple[list[str], int] | None = None


class DirectoryAdminStore(Protocol):
    def record(self, kind: str, key: str) -> dict[str, Any] | None: ...
    def records(self, kind: str, keys: list[str]) -> dict[str, dict[str, Any]]: ...
    def roles(self) -> tuple[str, ...]: ...
    def unit_registry(self) -> tuple[list[str], int]: ...
    def write(self, change: DirectoryWrite) -> None: ...
    def audit(self, kind: str, key: str, cursor: str | None, limit: int) -> Page: ...
    def open_assignments(
        self, username: str, limit: int, units: list[str] | None = None
    ) -> list[dict[str, Any]]: ...
    def pending_approvals(
        self, username: str, units: list[str], case_types: list[str], limit: int
    ) -> list[dict[str, Any]]: ...


class Directory(Protocol):
    def user(self, username: str) -> Actor | None: ...


NOT_FOUND_CODES = {
    "user": ErrorCode.USER_NOT_FOUND,
    "unit": ErrorCode.UNIT_NOT_FOUND,
    "area": ErrorCode.AREA_NOT_FOUND,
}


def invalid(problems: list[Problem]) -> ValidationFailed:
    return ValidationFailed(
        ErrorCode.INVALID_DIRECTORY_ENTRY,
        f"The change has {len(problems)} problem(s); nothing was saved.",
        {"problems": problems},
    )


def _take_expected_version(data: dict[str, Any], problems: list[Problem]) -> int | None:
    value = data.pop("expected_version", None)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        problems.append({"location": "expected_version", "message": "a whole number, 0 or more"})
        return None
    return value


def shown(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    """A record as read, with what seeded records leave implicit: version 0, and a user is active."""
    defaults: dict[str, Any] = {"version": 0, **({"active": True} if kind == "user" else {})}
    return {**defaults, **record}


class DirectoryAdmin:
    def __init__(
        self,
        store: DirectoryAdminStore,
        directory: Directory,
        clock: Clock,
        case_types: Callable[[], list[str]],
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.store, self.directory, self.clock = store, directory, clock
        self.case_types = case_types
        self.on_change = (
            on_change  # e.g. drop this process's directory cache: its next request sees the change
        )

    # --- who may ------------------------------------------------------------------------------------------

    def _actor(self, username: str | None, roles: frozenset[str], what: str) -> Actor:
        actor = self.directory.user(username) if username else None
        if actor is None or not actor.active:
            raise Forbidden(ErrorCode.UNKNOWN_USER, f"{username} is not an active user of casework.")
        if not roles & actor.roles:
            raise Forbidden(ErrorCode.NOT_ALLOWED, f"You may not {what}.", {"roles": sorted(roles)})
        return actor

    def _reader(self, username: str) -> Actor:
        return self._actor(username, READ_ROLES, "read the directory")

    def _admin(self, username: str) -> Actor:
        return self._actor(username, ADMIN_ROLES, "change the directory")

    # --- reads --------------------------------------------------------------------------------------------

    def get(self, username: str, kind: str, key: str) -> dict[str, Any]:
        self._reader(username)
        return self._existing(kind, key)

    def _existing(self, kind: str, key: str) -> dict[str, Any]:
        record = None if check_key(kind, key) else self.store.record(kind, key)
        if record is None:
            raise NotFound(NOT_FOUND_CODES[kind], f"There is no {kind} {key[:80]!r}.", {"key": key[:80]})
        return shown(kind, record)

    def users_of_unit(self, username: str, unit: str) -> Page:
        """The unit's active members (any role), by username: one GetItem and one BatchGetItem."""
        self._reader(username)
        record = self._existing("unit", unit)
        names = sorted({name for names in record.get("members", {}).values() for name in names})
        found = self.store.records("user", names)
        return Page([shown("user", found[name]) for name in names if name in found])

    def units(self, username: str) -> Page:
        self._reader(username)
        codes, _ = self.store.unit_registry()
        found = self.store.records("unit", codes)
        return Page([shown("unit", found[code]) for code in sorted(found)])

    def audit(self, username: str, kind: str, key: str, cursor: str | None, limit: int) -> Page:
        self._reader(username)
        problems = check_key(kind, key)
        if problems:
            raise invalid(problems)
        return self.store.audit(kind, key, cursor, limit)

    # --- changes ------------------------------------------------------------------------------------------

    def _prepare(
        self, kind: str, key: str, data: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any] | None, int | None, list[Problem]]:
        """The entry as given (its readable fields when it has shape problems), the stored record, the
        version the client names, and the shape problems."""
        data = dict(data)
        problems = check_key(kind, key)
        expected = _take_expected_version(data, problems)
        record, shape = parse_entry(kind, data)
        stored = None if check_key(kind, key) else self.store.record(kind, key)
        return record, stored, expected, problems + shape

    @staticmethod
    def _expect(kind: str, stored: dict[str, Any] | None, expected: int | None) -> None:
        require_version_read(kind, expected, 0 if stored is None else int(stored.get("version", 0)))

    @staticmethod
    def _refuse_problems(shape: list[Problem], checked: list[Problem]) -> None:
        problems = shape + without_shape_problems(checked, shape)
        if problems:
            raise invalid(problems)

    def _save(
        self,
        actor: Actor,
        kind: str,
        key: str,
        record: dict[str, Any],
        stored: dict[str, Any] | None,
        **extra: Any,
    ) -> dict[str, Any]:
        read = None if stored is None else int(stored.get("version", 0))
        at = self.clock().isoformat()
        after = {**record, "version": (read or 0) + 1, "updated_by": actor.username, "updated_at": at}
        audit = {
            "kind": kind,
            "key": key,
            "version": after["version"],
            "by": actor.username,
            "at": at,
            "changed": changed_fields({**entry_defaults(kind), **stored} if stored else None, after),
            "before": stored,
            "after": after,
        }
        self.store.write(DirectoryWrite(kind, key, after, read, audit, **extra))
        self.on_change()
        return after

    def put_user(self, username: str, name: str, data: dict[str, Any]) -> dict[str, Any]:
        actor = self._admin(username)
        entry, stored, expected, shape = self._prepare("user", name, data)
        record = {"username": name, **entry}
        checked = check_user(record, roles=self.store.roles(), unit_codes=self.store.unit_registry()[0])
        self._refuse_problems(shape, checked)
        self._expect("user", stored, expected)
        was_active = stored is not None and stored.get("active", True)
        if was_active and not record["active"]:
            self._refuse_if_working(name, stored or {})
        left = sorted(set((stored or {}).get("business_units", ())) - set(record["business_units"]))
        if was_active and record["active"] and left:
            self._refuse_if_working(name, stored or {}, left)
        problems: list[Problem] = self._last_admin(name, stored, record)
        involved = sorted({*(stored or {}).get("business_units", ()), *record.get("business_units", ())})
        units = self.store.records("unit", involved)
        changed: list[UnitMembers] = []
        for code in involved:
            unit = units.get(code)
            if unit is None:
                continue
            before = unit.get("members", {})
            after = members_after(before, code, name, record)
            if after == before:
                continue
            for step in set(emptied_groups(unit, after)) - set(emptied_groups(unit, before)):
                role = unit["approval_rules"][step]["role"]
                problems.append(
                    {
                        "location": "roles" if record.get("active", True) else "active",
                        "message": f"unit {code}: approval step {step!r} would have nobody as {role!r}",
                    }
                )
            read_members = int(unit.get("members_version", 0))
            changed.append(
                UnitMembers(
                    code,
                    {**unit, "members": after, "members_version": read_members + 1},
                    int(unit.get("version", 0)),
                    read_members,
                )
            )
        if problems:
            raise invalid(problems)
        return self._save(actor, "user", name, record, stored, units=tuple(changed))

    def _last_admin(self, name: str, stored: dict[str, Any] | None, record: dict[str, Any]) -> list[Problem]:
        """Somebody must be left to run the directory: the last active Admin keeps the role."""
        was_admin = stored is not None and stored.get("active", True) and "Admin" in stored.get("roles", ())
        if not was_admin or (record["active"] and "Admin" in record["roles"]):
            return []
        units = self.store.records("unit", self.store.unit_registry()[0])
        admins = {n for unit in units.values() for n in unit.get("members", {}).get("Admin", ()) if n != name}
        if admins:
            return []
        where = "roles" if record["active"] else "active"
        return [{"location": where, "message": f"{name} is the last active Admin: nobody would run casework"}]

    def _refuse_if_working(self, name: str, stored: dict[str, Any], leaving: list[str] | None = None) -> None:
        """Deactivating ``name`` (or, with ``leaving``, taking them out of those units) while they hold work
        there is refused with the list."""
        naming: dict[str, list[str]] = {}
        if leaving is None:
            codes, _ = self.store.unit_registry()
            naming = {
                code: users_named(unit).get(name, [])
                for code, unit in self.store.records("unit", codes).items()
                if name in users_named(unit)
            }
        assigned = self.store.open_assignments(name, WORK_LISTED, leaving)
        where = leaving if leaving is not None else sorted({*stored.get("business_units", ()), *naming})
        approvals = self.store.pending_approvals(name, where, self.case_types(), WORK_LISTED)
        if assigned or approvals or naming:
            what = "deactivating them" if leaving is None else f"taking them out of {', '.join(leaving)}"
            raise Conflict(
                ErrorCode.USER_HAS_WORK,
                f"{name} still holds work; reassign it before {what}.",
                {
                    "open_cases": assigned,
                    "pending_approvals": approvals,
                    "named_by_units": [
                        {"unit": code, "location": loc}
                        for code, locs in sorted(naming.items())
                        for loc in locs
                    ],
                    "listed_at_most": WORK_LISTED,
                },
            )

    def put_unit(self, username: str, code: str, data: dict[str, Any]) -> dict[str, Any]:
        actor = self._admin(username)
        entry, stored, expected, shape = self._prepare("unit", code, data)
        members = (stored or {}).get("members", {})
        named = list(users_named(entry))
        users = self.store.records("user", named)
        checked = check_unit(
            entry, roles=self.store.roles(), members=members, users={n: users.get(n) for n in named}
        )
        self._refuse_problems(shape, checked)
        self._expect("unit", stored, expected)
        read_members = int((stored or {}).get("members_version", 0))
        record = {"code": code, **entry, "members": members, "members_version": read_members}
        registry = None
        if stored is None:
            codes, registry_version = self.store.unit_registry()
            registry = (sorted({*codes, code}), registry_version)
        return self._save(actor, "unit", code, record, stored, registry=registry)

    def put_area(self, username: str, area: str, data: dict[str, Any]) -> dict[str, Any]:
        actor = self._admin(username)
        entry, stored, expected, shape = self._prepare("area", area, data)
        checked = (
            check_area(entry, unit_codes=self.store.unit_registry()[0]) if "business_unit" in entry else []
        )
        self._refuse_problems(shape, checked)
        self._expect("area", stored, expected)
        return self._save(actor, "area", area, {"geographic_area": area, **entry}, stored)
