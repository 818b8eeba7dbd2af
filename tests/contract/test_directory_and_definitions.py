"""The read-mostly ports, fake and adapter on the same seed (infra/seed/demo.json and the shipped
workflows): casework.services.ports.Directory, WorkflowStore, ConfigStore and DelegationStore.

The directory and the definitions are compared answer for answer: the fake built from demo.json must say
what the table seeded from it says, including "nobody" for what is not there."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from casework.adapters.approvals import DynamoDelegations
from casework.adapters.definitions import DynamoConfigStore, DynamoWorkflowStore
from casework.adapters.directory import DynamoDirectory
from casework.domain.delegation import Delegation
from casework.domain.errors import Conflict, DomainError, NotFound, ValidationFailed
from casework.services.ports import ConfigStore, DelegationStore, Directory, WorkflowStore
from casework.workflows import module_templates, shipped
from tests.contract.conftest import IMPLEMENTATIONS, implementation
from tests.fakes import InMemoryConfigs, InMemoryDelegations, InMemoryDirectory, InMemoryWorkflows, demo_data

DEMO = demo_data()


@pytest.fixture
def both_directories(request: pytest.FixtureRequest) -> tuple[Directory, Directory]:
    request.getfixturevalue("table")
    return InMemoryDirectory(), DynamoDirectory()


# Every lookup of the port, on what the seed holds and on what it does not.
LOOKUPS: list[tuple[str, str]] = [
    *[("user", u["username"]) for u in DEMO["users"]],
    ("user", "nobody"),
    *[("business_unit", b["code"]) for b in DEMO["business_units"]],
    ("business_unit", "XX"),
    *[("product", p["code"]) for p in DEMO["products"]],
    ("product", "P-404"),
    *[("area_unit", r["geographic_area"]) for r in DEMO["collaboration_rules"]],
    ("area_unit", "Atlantis"),
]
RECORD_LOOKUPS: list[tuple[str, str]] = [
    *[("account", a["id"]) for a in DEMO["accounts"]],
    ("account", "ACC-404"),
    *[("contact", c["id"]) for c in DEMO["contacts"]],
    ("contact", "CON-404"),
]


@pytest.mark.parametrize(("method", "key"), LOOKUPS, ids=[f"{m}:{k}" for m, k in LOOKUPS])
def test_the_fake_directory_answers_as_the_table_does(
    both_directories: tuple[Directory, Directory], method: str, key: str
) -> None:
    fake, dynamo = both_directories
    assert getattr(fake, method)(key) == getattr(dynamo, method)(key)


def _as_stored(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """A customer or contact without what storing it adds (its version, created/updated stamps)."""
    if record is None:
        return None
    return {k: v for k, v in record.items() if k not in {"version", "created_at", "updated_at"}}


@pytest.mark.parametrize(("method", "key"), RECORD_LOOKUPS, ids=[f"{m}:{k}" for m, k in RECORD_LOOKUPS])
def test_the_fake_directory_has_the_same_accounts_and_contacts(
    both_directories: tuple[Directory, Directory], method: str, key: str
) -> None:
    fake, dynamo = both_directories
    assert _as_stored(getattr(fake, method)(key)) == _as_stored(getattr(dynamo, method)(key))
    if method == "contact":
        assert _as_stored(fake.contact(key, fresh=True)) == _as_stored(dynamo.contact(key, fresh=True))


def test_the_fake_directory_knows_the_same_units(both_directories: tuple[Directory, Directory]) -> None:
    fake, dynamo = both_directories
    assert sorted(fake.unit_codes()) == sorted(dynamo.unit_codes()) == ["CARE", "FIELD", "SP"]


# --- workflow definitions and care configurations -----------------------------------------------------------


@pytest.fixture
def both_workflows(request: pytest.FixtureRequest) -> tuple[WorkflowStore, WorkflowStore]:
    request.getfixturevalue("table")
    return InMemoryWorkflows(), DynamoWorkflowStore()


DEFINITIONS = sorted((name, raw["version"]) for name, raw in shipped().items())


@pytest.mark.parametrize(("name", "version"), DEFINITIONS, ids=[f"{n}-v{v}" for n, v in DEFINITIONS])
def test_definitions_are_the_same_by_version_and_latest(
    both_workflows: tuple[WorkflowStore, WorkflowStore], name: str, version: int
) -> None:
    fake, dynamo = both_workflows
    assert fake.get(name, version) == dynamo.get(name, version)
    assert fake.get(name) == dynamo.get(name)
    assert fake.get(name).name == name


@pytest.mark.parametrize("module", sorted(module_templates()))
def test_care_modules_compile_the_same_for_the_default_and_each_type(
    both_workflows: tuple[WorkflowStore, WorkflowStore], module: str
) -> None:
    fake, dynamo = both_workflows
    assert fake.template(module) == dynamo.template(module)
    assert fake.get(module) == dynamo.get(module)
    config, _ = dynamo.configs.get(module)  # type: ignore[attr-defined]
    for care_type in config.types:
        assert fake.get(module, subtype=care_type.code) == dynamo.get(module, subtype=care_type.code)


def _refusal(call: Any, *args: Any, **kwargs: Any) -> DomainError:
    with pytest.raises(DomainError) as refused:
        call(*args, **kwargs)
    return refused.value


def test_unknown_case_types_and_care_types_are_refused_alike(
    both_workflows: tuple[WorkflowStore, WorkflowStore],
) -> None:
    for store in both_workflows:
        unknown = _refusal(store.get, "nope")
        old = _refusal(store.get, "csr", 99)
        care = _refusal(store.get, "service_request", subtype="NO_SUCH_TYPE")
        assert isinstance(unknown, NotFound) and unknown.code == "UNKNOWN_CASE_TYPE"
        assert isinstance(old, NotFound) and old.code == "UNKNOWN_CASE_TYPE"
        assert isinstance(care, ValidationFailed) and care.code == "UNKNOWN_TYPE"


@pytest.fixture(params=IMPLEMENTATIONS)
def configs(request: pytest.FixtureRequest) -> ConfigStore:
    return implementation(request, InMemoryConfigs, DynamoConfigStore)


def test_configurations_start_at_version_one_with_the_shipped_defaults(configs: ConfigStore) -> None:
    for module in ("activity", "service_request", "lead"):
        config, version = configs.get(module)
        assert version == 1
        assert configs.get(module, 1) == (config, 1)
        assert config.types, module


def test_a_configuration_version_is_stored_once_and_stale_writers_are_refused(configs: ConfigStore) -> None:
    first, _ = configs.get("activity")

    assert configs.put("activity", first, expected_version=1) == 2
    stale = _refusal(configs.put, "activity", first, expected_version=1)

    assert isinstance(stale, Conflict) and stale.code == "STALE_VERSION"
    assert configs.get("activity")[1] == 2
    assert configs.get("activity", 1)[0].model_dump(mode="json") == first.model_dump(mode="json")


def test_unknown_configurations_are_not_found(configs: ConfigStore) -> None:
    for module, version in (("nope", None), ("activity", 7), ("activity", 0)):
        error = _refusal(configs.get, module, version)
        assert isinstance(error, NotFound) and error.code == "UNKNOWN_CONFIGURATION"


# --- delegations --------------------------------------------------------------------------------------------


@pytest.fixture(params=IMPLEMENTATIONS)
def delegations(request: pytest.FixtureRequest) -> DelegationStore:
    return implementation(request, InMemoryDelegations, DynamoDelegations)


def delegation(owner: str, delegate: str = "admin") -> Delegation:
    return Delegation(owner, delegate, date(2025, 3, 1), date(2025, 3, 14), "2025-02-28T10:00:00Z")


def test_a_delegation_is_stored_read_replaced_and_removed(delegations: DelegationStore) -> None:
    delegations.put(delegation("peter"))
    delegations.put(delegation("john"))
    delegations.put(delegation("peter", delegate="frank"))  # one record per owner: the new one replaces it

    assert delegations.get("peter") == delegation("peter", delegate="frank")
    assert delegations.many(["peter", "john", "mary"]) == {
        "peter": delegation("peter", delegate="frank"),
        "john": delegation("john"),
    }
    assert delegations.many([]) == {}
    assert delegations.delete("peter") is True
    assert delegations.delete("peter") is False
    assert delegations.get("peter") is None
