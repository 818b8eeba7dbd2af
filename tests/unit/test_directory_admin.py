"""The directory's checks (casework.domain.directory_admin) and its service against an in-memory store:
every problem listed with its location, member lists kept from the users, nothing written when a change
is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from casework.domain.directory import actor_from_record
from casework.domain.directory_admin import (
    KNOWN_ROLES,
    check_area,
    check_unit,
    check_user,
    members_after,
    parse_entry,
)
from casework.domain.errors import Conflict, Forbidden, ValidationFailed
from casework.domain.model import Actor
from casework.services.directory_admin import DirectoryAdmin, DirectoryWrite
from casework.services.ports import Page
from tests.fakes import page_of

UNITS = ["CARE", "SP"]


def locations(problems: list[dict[str, str]]) -> dict[str, str]:
    return {p["location"]: p["message"] for p in problems}


# --- the checks ---------------------------------------------------------------------------------------------


def test_a_user_with_an_unknown_role_and_unit_gets_both_problems() -> None:
    user = {
        "roles": ["Care Agent", "Wizard"],
        "business_units": ["CARE", "MOON"],
        "default_business_unit": "SP",
    }
    assert locations(check_user(user, roles=KNOWN_ROLES, unit_codes=UNITS)) == {
        "roles.1": "unknown role 'Wizard'",
        "business_units.1": "unknown business unit 'MOON'",
        "default_business_unit": "'SP' is not one of the user's units",
    }


def test_an_active_user_needs_a_role_and_a_unit_an_inactive_one_does_not() -> None:
    assert set(locations(check_user({"active": True}, roles=KNOWN_ROLES, unit_codes=UNITS))) == {
        "roles",
        "business_units",
    }
    assert check_user({"active": False}, roles=KNOWN_ROLES, unit_codes=UNITS) == []


def test_a_unit_rule_naming_an_unknown_or_inactive_user_or_an_empty_group_is_refused() -> None:
    unit = {
        "name": "Care",
        "responsibles": {"assessment": "ghost"},
        "approval_rules": {
            "refund": {"kind": "user", "users": ["erin"], "mode": "any"},
            "escalation": {"kind": "group", "role": "Team Lead", "mode": "all"},
            "review": {"kind": "group", "role": "Care Agent", "mode": "any"},
            "audit": {"kind": "group", "role": "Wizard", "mode": "any"},
            "quick": {"kind": "auto", "users": ["carol"], "mode": "any"},
        },
    }
    users = {"ghost": None, "erin": {"active": False}, "carol": {"active": True}}
    found = check_unit(unit, roles=KNOWN_ROLES, members={"Care Agent": ["carol"]}, users=users)
    assert locations(found) == {
        "responsibles.assessment": "unknown user 'ghost'",
        "approval_rules.refund.users.0": "'erin' is not active",
        "approval_rules.escalation.role": "empty approver group: nobody is 'Team Lead' here",
        "approval_rules.audit.role": "unknown role 'Wizard'",
        "approval_rules.quick": "an automatic approval names nobody",
    }


def test_an_area_routes_to_a_known_unit_only() -> None:
    assert check_area({"business_unit": "CARE"}, unit_codes=UNITS) == []
    assert locations(check_area({"business_unit": "MOON"}, unit_codes=UNITS)) == {
        "business_unit": "unknown business unit 'MOON'"
    }


def test_shape_problems_are_listed_and_the_fields_in_a_good_shape_are_kept_for_the_checks() -> None:
    record, problems = parse_entry("user", {"roles": ["Wizard"], "active": "maybe", "version": 2, "x": 1})
    assert record == {"roles": ["Wizard"]}
    assert set(locations(problems)) == {"version", "active", "x"}
    record, problems = parse_entry("unit", {"name": " Care ", "approval_rules": {"a": {"kind": "user"}}})
    assert problems == [] and record["name"] == "Care"
    assert record["approval_rules"] == {"a": {"kind": "user", "mode": "any"}}


def test_members_follow_a_users_roles_units_and_active_flag() -> None:
    members = {"Care Agent": ["carol", "dave"], "Team Lead": ["tina"]}
    moved = {"roles": ["Team Lead"], "business_units": ["CARE"], "active": True}
    assert members_after(members, "CARE", "dave", moved) == {
        "Care Agent": ["carol"],
        "Team Lead": ["tina", "dave"],
    }
    assert members_after(members, "CARE", "tina", {**moved, "active": False}) == {
        "Care Agent": ["carol", "dave"]
    }
    assert members_after(members, "SP", "dave", moved) == {"Care Agent": ["carol"], "Team Lead": ["tina"]}


# --- the service --------------------------------------------------------------------------------------------


class FakeStore:
    def __init__(self) -> None:
        self.data: dict[tuple[str, str], dict[str, Any]] = {
            ("user", "admin"): {"username": "admin", "roles": ["Admin"], "business_units": ["SP"]},
            ("user", "tina"): {"username": "tina", "roles": ["Team Lead"], "business_units": ["CARE"]},
            ("user", "carol"): {"username": "carol", "roles": ["Care Agent"], "business_units": ["CARE"]},
            ("unit", "CARE"): {
                "code": "CARE",
                "name": "Care",
                "members": {"Care Agent": ["carol"], "Team Lead": ["tina"]},
            },
            ("unit", "SP"): {"code": "SP", "name": "SP", "members": {"Admin": ["admin"]}},
        }
        self.writes: list[DirectoryWrite] = []
        self.assigned: list[dict[str, Any]] = []
        self.registry_version = 0

    def record(self, kind: str, key: str) -> dict[str, Any] | None:
        return self.data.get((kind, key))

    def records(self, kind: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        return {k: self.data[(kind, k)] for k in keys if (kind, k) in self.data}

    def roles(self) -> tuple[str, ...]:
        return KNOWN_ROLES

    def unit_registry(self) -> tuple[list[str], int]:
        return sorted(k for kind, k in self.data if kind == "unit"), self.registry_version

    def write(self, change: DirectoryWrite) -> None:
        """All of it or nothing, on the versions read, as DynamoDirectoryAdmin's transaction (a record or
        counter stored without a version reads as 0)."""

        def counter(record: dict[str, Any] | None, name: str) -> int:
            return int((record or {}).get(name) or 0)

        stored = self.data.get((change.kind, change.key))
        units = [(unit, self.data.get(("unit", unit.code))) for unit in change.units]
        if (
            (change.read_version is None and stored is not None)
            or (
                change.read_version is not None
                and (stored is None or counter(stored, "version") != change.read_version)
            )
            or (
                change.kind == "unit"
                and change.read_version is not None
                and counter(stored, "members_version") != counter(change.record, "members_version")
            )
            or any(
                held is None
                or counter(held, "version") != unit.read_version
                or counter(held, "members_version") != unit.read_members_version
                for unit, held in units
            )
            or (change.registry is not None and change.registry[1] != self.registry_version)
        ):
            raise Conflict("STALE_VERSION", f"The {change.kind} (or a unit it changes) changed meanwhile.")
        self.writes.append(change)
        self.data[(change.kind, change.key)] = change.record
        for unit in change.units:
            self.data[("unit", unit.code)] = unit.record
        if change.registry is not None:
            self.registry_version = change.registry[1] + 1

    def audit(self, kind: str, key: str, cursor: str | None, limit: int) -> Page:
        entries = [w.audit for w in reversed(self.writes) if (w.kind, w.key) == (kind, key)]  # newest first
        return page_of(entries, cursor, limit, f"audit|{kind}|{key}")

    def open_assignments(self, username: str, limit: int, units: list[str] | None = None) -> list:
        return [case for case in self.assigned if units is None or case.get("business_unit") in units]

    def pending_approvals(self, username: str, units: list[str], case_types: list[str], limit: int) -> list:
        return []


class FakeDirectory:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def user(self, username: str) -> Actor | None:
        record = self.store.data.get(("user", username))
        return actor_from_record(record) if record else None


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def admin(store: FakeStore) -> DirectoryAdmin:
    return DirectoryAdmin(
        store,
        FakeDirectory(store),
        clock=lambda: datetime(2026, 11, 30, tzinfo=UTC),
        case_types=lambda: ["csr"],
    )


def test_a_change_writes_the_record_its_units_and_its_audit_at_once(
    store: FakeStore, admin: DirectoryAdmin
) -> None:
    after = admin.put_user("admin", "carol", {"roles": ["Team Lead"], "business_units": ["CARE"]})
    (write,) = store.writes
    assert write.record == after and after["version"] == 1 and write.read_version == 0
    assert [u.code for u in write.units] == ["CARE"]
    assert write.units[0].record["members"] == {"Team Lead": ["tina", "carol"]}
    assert write.audit["before"]["roles"] == ["Care Agent"] and write.audit["changed"] == ["roles"]


def test_only_an_admin_changes_and_a_manager_reads(store: FakeStore, admin: DirectoryAdmin) -> None:
    with pytest.raises(Forbidden) as refused:
        admin.put_user("tina", "carol", {"roles": ["Admin"], "business_units": ["CARE"]})
    assert refused.value.code == "NOT_ALLOWED" and store.writes == []
    assert admin.get("tina", "user", "carol")["active"] is True
    with pytest.raises(Forbidden):
        admin.get("carol", "user", "tina")


def test_a_refused_change_writes_nothing(store: FakeStore, admin: DirectoryAdmin) -> None:
    with pytest.raises(ValidationFailed) as invalid:
        admin.put_user("admin", "erin", {"roles": ["Wizard"], "business_units": ["MOON"]})
    assert invalid.value.code == "INVALID_DIRECTORY_ENTRY" and len(invalid.value.details["problems"]) == 2
    with pytest.raises(Conflict) as stale:
        admin.put_user(
            "admin", "carol", {"roles": ["Care Agent"], "business_units": ["CARE"], "expected_version": 3}
        )
    assert stale.value.code == "STALE_VERSION"
    store.assigned = [{"id": "c1"}]
    with pytest.raises(Conflict) as working:
        admin.put_user(
            "admin", "carol", {"roles": ["Care Agent"], "business_units": ["CARE"], "active": False}
        )
    assert working.value.code == "USER_HAS_WORK" and working.value.details["open_cases"] == [{"id": "c1"}]
    assert store.writes == []


def test_a_new_unit_is_added_to_the_registry(store: FakeStore, admin: DirectoryAdmin) -> None:
    admin.put_unit("admin", "LOG", {"name": "Logistics", "expected_version": 0})
    (write,) = store.writes
    assert write.registry == (["CARE", "LOG", "SP"], 0) and write.read_version is None
    assert write.record["members"] == {}
