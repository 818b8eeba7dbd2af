"""The error codes are one list (ErrorCode): every code the code raises is in it, with the status it is raised
with, and the README's table is that list."""

from __future__ import annotations

import json

import pytest

from casework.domain import errors
from casework.domain.error_codes import ErrorCode
from casework.http.api import STATUS_FOR, error_response
from casework.services.customers import ENTRIES
from casework.services.directory_admin import NOT_FOUND_CODES
from scripts import check_error_codes as checker
from scripts import generate_error_codes as readme


def test_every_code_written_in_the_code_is_an_error_code_with_its_status() -> None:
    assert checker.problems() == []
    # the scan found the call sites (a scan that reads nothing would pass the line above)
    assert len(checker.code_uses()) > 40


def test_the_check_refuses_a_code_that_is_not_listed_and_a_status_that_is_not_the_codes() -> None:
    assert "not an ErrorCode" in (checker.CodeUse("x.py", 1, "NO_SUCH_CODE", 422).problem() or "")
    assert "raised as 409" in (checker.CodeUse("x.py", 1, "CASE_NOT_FOUND", 409).problem() or "")
    assert checker.CodeUse("x.py", 1, "UNKNOWN_CONTACT", 404).problem() is None  # its second status


def test_the_checks_status_of_each_error_class_is_the_one_the_api_answers_with() -> None:
    for name, status in checker.STATUS_OF_CLASS.items():
        cls = getattr(errors, name, None)
        if cls is not None:
            assert STATUS_FOR[cls.kind] == status, name


def test_codes_made_from_parts_are_members() -> None:
    """Customer entries fail as <code>_EXISTS / <code>_NOT_FOUND (adapters/customers.py)."""
    for kind in ENTRIES.values():
        assert f"{kind.code}_EXISTS" in ErrorCode.__members__
        if kind.code not in ("COMMENT", "ANSWERS"):  # never removed one by one
            assert f"{kind.code}_NOT_FOUND" in ErrorCode.__members__
    assert all(isinstance(code, ErrorCode) for code in NOT_FOUND_CODES.values())


def test_a_member_is_its_string_so_the_body_is_unchanged() -> None:
    error = errors.NotFound(ErrorCode.CASE_NOT_FOUND, "Case C-1 does not exist.")
    assert json.loads(json.dumps(error.to_dict()))["code"] == "CASE_NOT_FOUND"
    assert error.code == "CASE_NOT_FOUND"
    response = error_response(404, ErrorCode.CASE_NOT_FOUND, "gone")
    assert json.loads(response.body)["error"]["code"] == "CASE_NOT_FOUND"
    assert ErrorCode("RETRY_LATER") is ErrorCode.RETRY_LATER


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_has_a_status_and_a_meaning(code: ErrorCode) -> None:
    assert code.value == code.name
    assert all(400 <= status <= 599 for status in code.statuses)
    assert code.meaning and "\n" not in code.meaning


def test_the_readme_lists_every_code_with_its_status() -> None:
    text = readme.README.read_text(encoding="utf-8")
    assert readme.with_table(text) == text, "README.md's error codes are out of date: run `make docs`"
    assert "| `TOKEN_USED` | 410 | an email link used already |" in text
    assert text.count("| `") >= len(ErrorCode)
