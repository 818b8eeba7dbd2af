"""The shipped workflow definitions (JSON), seeded into the table and versioned there."""

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
