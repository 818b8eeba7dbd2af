"""A moto account with the resources of template.yaml, for functional modules that invoke single functions
(consumers, link pages) rather than the whole API: the environment a Lambda would get, and a fresh import of
a function's app.py per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest
from moto import mock_aws

from casework.adapters import dynamo
from infra.local.functions import import_file
from infra.local.template import LocalResources, create_resources, load_template

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
BASE_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_SERVICE_NAME": "casework",
}


@contextmanager
def moto_account(monkeypatch: pytest.MonkeyPatch, stage: str, **env: str) -> Iterator[LocalResources]:
    """The template's table, queues and bus in a moto account, the table configured for the adapters."""
    for key, value in {**BASE_ENV, **env}.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "POWERTOOLS_IDEMPOTENCY_DISABLED"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws():
        res = create_resources(load_template(), stage=stage)
        monkeypatch.setenv("TABLE_NAME", res.table_name)
        monkeypatch.setenv("EVENT_BUS_NAME", res.event_bus_name)
        dynamo.configure(res.table_name)
        yield res


def load_function(function: str, monkeypatch: pytest.MonkeyPatch, prefix: str = "fn") -> ModuleType:
    """A fresh import per test, so each sees this test's environment."""
    module = import_file(ROOT / "functions" / function / "app.py", f"{prefix}_{function}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module
