"""The environment as one settings model: what a function cannot work without is named when it is missing."""

from __future__ import annotations

import pytest

from casework import settings as environment
from casework.settings import MissingSetting

CLEAR = (
    "TABLE_NAME",
    "MAIL_FROM",
    "APPROVAL_TOKEN_TTL_HOURS",
    "LAMBDA_TASK_ROOT",
    "POWERTOOLS_TRACE_DISABLED",
)


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CLEAR:
        monkeypatch.delenv(name, raising=False)


def test_each_missing_required_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIL_FROM", "")  # empty counts as missing: it is how a template parameter stays unset
    with pytest.raises(MissingSetting, match=r"Missing environment variables TABLE_NAME, MAIL_FROM"):
        environment.load("TABLE_NAME", "MAIL_FROM")


def test_present_variables_are_read_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "casework-prod")
    monkeypatch.setenv("APPROVAL_TOKEN_TTL_HOURS", "24")
    settings = environment.load("TABLE_NAME")
    assert (settings.table_name, settings.approval_token_ttl_hours) == ("casework-prod", 24)


def test_defaults_apply_to_optional_variables() -> None:
    settings = environment.load()
    assert (settings.approval_token_ttl_hours, settings.import_run_as, settings.table_name) == (
        168,
        "admin",
        "",
    )


def test_a_variable_of_the_wrong_type_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPROVAL_TOKEN_TTL_HOURS", "a week")
    with pytest.raises(MissingSetting, match="APPROVAL_TOKEN_TTL_HOURS"):
        environment.load()


@pytest.mark.parametrize(
    ("task_root", "disabled", "active"),
    [("", "", False), ("/var/task", "", True), ("/var/task", "true", False), ("/var/task", "false", True)],
)
def test_tracing_is_active_on_lambda_only_unless_disabled(
    monkeypatch: pytest.MonkeyPatch, task_root: str, disabled: str, active: bool
) -> None:
    monkeypatch.setenv("LAMBDA_TASK_ROOT", task_root)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", disabled)
    assert environment.load().tracing_active is active


def test_the_table_adapter_names_a_missing_table_instead_of_guessing_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from casework.adapters.dynamo import CaseItem, Item

    monkeypatch.setattr(Item.Meta, "table_name", "")  # as imported without TABLE_NAME
    with pytest.raises(MissingSetting, match="TABLE_NAME"):
        CaseItem.get("CASE#1", "CASE")
