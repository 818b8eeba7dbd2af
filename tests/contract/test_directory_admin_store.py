"""casework.services.directory_admin.DirectoryAdminStore: the unit tests' FakeStore
(tests/unit/test_directory_admin.py) and casework.adapters.directory_admin.DynamoDirectoryAdmin on moto.

Both start from their own directory (the fake's few users, the table's demo seed), so these tests write
records of their own: a user "zed" and a unit "LAB"."""

from __future__ import annotations

from typing import Any

import pytest

from casework.adapters.directory_admin import DynamoDirectoryAdmin
from casework.domain.errors import Conflict, DomainError
from casework.services.directory_admin import DirectoryAdminStore, DirectoryWrite, UnitMembers
from tests.contract.conftest import IMPLEMENTATIONS, implementation
from tests.unit.test_directory_admin import FakeStore


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request: pytest.FixtureRequest) -> DirectoryAdminStore:
    return implementation(request, FakeStore, DynamoDirectoryAdmin)


def user(version: int, **values: Any) -> dict[str, Any]:
    return {
        "username": "zed",
        "roles": ["Care Agent"],
        "business_units": ["LAB"],
        "version": version,
        **values,
    }


def lab(version: int, members: dict[str, list[str]], members_version: int) -> dict[str, Any]:
    return {
        "code": "LAB",
        "name": "Lab",
        "members": members,
        "version": version,
        "members_version": members_version,
    }


def audit(kind: str, version: int) -> dict[str, Any]:
    return {"kind": kind, "version": version, "by": "admin", "at": f"2026-11-30T10:00:0{version}Z"}


def change(kind: str, key: str, record: dict[str, Any], read: int | None, **more: Any) -> DirectoryWrite:
    return DirectoryWrite(kind, key, record, read, audit(kind, record["version"]), **more)


def stale(call: Any, *args: Any) -> None:
    with pytest.raises(DomainError) as refused:
        call(*args)
    assert isinstance(refused.value, Conflict) and refused.value.code == "STALE_VERSION"


def add_lab(store: DirectoryAdminStore) -> None:
    codes, read = store.unit_registry()
    registry = (sorted({*codes, "LAB"}), read)
    store.write(change("unit", "LAB", lab(1, {}, 0), None, registry=registry))


def test_a_record_is_created_once_and_changed_only_from_the_version_read(store: DirectoryAdminStore) -> None:
    store.write(change("user", "zed", user(1), None))

    stale(store.write, change("user", "zed", user(1, roles=["Admin"]), None))  # exists already
    store.write(change("user", "zed", user(2, roles=["Team Lead"]), 1))
    stale(store.write, change("user", "zed", user(2, roles=["Admin"]), 1))  # read before the change above

    assert store.record("user", "zed") == user(2, roles=["Team Lead"])
    assert store.records("user", ["zed", "nobody"]) == {"zed": user(2, roles=["Team Lead"])}
    assert store.record("user", "nobody") is None


def test_the_audit_is_newest_first_paged_and_keeps_only_what_was_written(store: DirectoryAdminStore) -> None:
    store.write(change("user", "zed", user(1), None))
    store.write(change("user", "zed", user(2), 1))
    stale(store.write, change("user", "zed", user(3), 1))
    store.write(change("user", "zed", user(3), 2))

    first = store.audit("user", "zed", None, 2)
    assert [a["version"] for a in first.items] == [3, 2] and first.next_cursor
    second = store.audit("user", "zed", first.next_cursor, 2)
    assert [a["version"] for a in second.items] == [1] and second.next_cursor is None
    assert store.audit("user", "nobody", None, 2).items == []


def test_a_new_unit_goes_into_the_registry_on_the_version_read(store: DirectoryAdminStore) -> None:
    codes, read = store.unit_registry()

    add_lab(store)
    stale(
        store.write, change("unit", "LAB2", {**lab(1, {}, 0), "code": "LAB2"}, None, registry=(codes, read))
    )

    after, version = store.unit_registry()
    assert "LAB" in after and "LAB2" not in after and version == read + 1
    assert store.record("unit", "LAB2") is None


def test_a_user_change_rewrites_unit_members_only_on_the_counters_read(store: DirectoryAdminStore) -> None:
    add_lab(store)
    joined = UnitMembers("LAB", lab(1, {"Care Agent": ["zed"]}, 1), read_version=1, read_members_version=0)
    store.write(change("user", "zed", user(1), None, units=(joined,)))

    late = UnitMembers("LAB", lab(1, {}, 1), read_version=1, read_members_version=0)  # read before the join
    stale(store.write, change("user", "zed", user(2, active=False), 1, units=(late,)))

    assert store.record("unit", "LAB") == lab(1, {"Care Agent": ["zed"]}, 1)
    assert store.record("user", "zed") == user(1)  # nothing of the refused change was written
