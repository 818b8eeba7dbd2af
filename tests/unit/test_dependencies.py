"""The lock files pin every dependency pyproject.toml names, at a version it allows, and the Lambda layer's
requirements are the runtime lock's pins (make lock writes both)."""

from __future__ import annotations

import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scripts import generate_layer_requirements as layer

PYPROJECT = tomllib.loads((layer.ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RUNTIME = [Requirement(r) for r in PYPROJECT["dependencies"]]
DEV = [Requirement(r) for r in PYPROJECT["optional-dependencies"]["dev"]]


def pinned(lock: str) -> dict[str, list[str]]:
    versions: dict[str, list[str]] = {}
    for line in layer.pins((layer.ROOT / lock).read_text(encoding="utf-8")):
        name, _, version = line.split(";")[0].strip().partition("==")
        versions.setdefault(canonicalize_name(Requirement(name).name), []).append(version)
    return versions


@pytest.mark.parametrize(
    ("lock", "wanted"), [("requirements.lock", RUNTIME), ("requirements-dev.lock", RUNTIME + DEV)]
)
def test_the_lock_pins_every_dependency_at_a_version_pyproject_allows(
    lock: str, wanted: list[Requirement]
) -> None:
    versions = pinned(lock)
    stale = [
        f"{req} (locked: {versions.get(canonicalize_name(req.name))})"
        for req in wanted
        if not any(
            req.specifier.contains(v, prereleases=True) for v in versions.get(canonicalize_name(req.name), [])
        )
    ]
    assert stale == [], f"{lock} is out of date: run `make lock`"


def test_the_dev_lock_holds_the_runtime_locks_versions() -> None:
    """The tests run with the versions the layer ships."""
    dev = pinned("requirements-dev.lock")
    assert {name: v for name, v in pinned("requirements.lock").items() if dev.get(name) != v} == {}


def test_the_layer_requirements_are_the_runtime_lock() -> None:
    assert layer.LAYER.read_text(encoding="utf-8") == layer.layer_text(), "run `make lock`"
    assert "pynamodb==" in layer.LAYER.read_text(encoding="utf-8")
