"""The shipped workflow definitions (JSON), the care module templates (``modules/``) and the care modules'
default configuration (``config/``), seeded into the table and versioned there."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def shipped() -> dict[str, dict[str, Any]]:
    """Every definition shipped with the package, by name."""
    out = {}
    for entry in resources.files(__package__).iterdir():
        if entry.name.endswith(".json"):
            raw = json.loads(entry.read_text())
            out[raw["name"]] = raw
    return out


def _load_dir(name: str) -> dict[str, dict[str, Any]]:
    out = {}
    for entry in resources.files(__package__).joinpath(name).iterdir():
        if entry.name.endswith(".json"):
            out[entry.name.removesuffix(".json")] = json.loads(entry.read_text())
    return out


@cache
def module_templates() -> dict[str, dict[str, Any]]:
    """The care module templates (service_request, activity, lead), by name."""
    return _load_dir("modules")


@cache
def default_configs() -> dict[str, dict[str, Any]]:
    """The care modules' default configuration, by module (raw form, as an admin would PUT it)."""
    return _load_dir("config")
