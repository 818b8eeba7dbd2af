"""Approvals that survive holidays, through the functions as Lambda runs them (issue 8): delegation routes,
a delegate's email link deciding on behalf, recall (403/409/410), and the daily reminder.

One moto account for the module (test_api_handlers' fixtures: the seeded table restored per test). Emails are
what the notify and remind functions hand to (moto's) SES.
"""

from __future__ import annotations

import email
import email.policy
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from casework.adapters.directory import put_directory_record
from infra.local.functions import LambdaContext, import_file
from infra.seed import verify_sender
from tests.functional.shapes import for_event, stored_events
from tests.functional.test_api_handlers import ENV, REGION, ROOT, Api, partition, refused

LINK = re.compile(r"/approvals/([A-Za-z0-9_-]{43,})")
TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
def consumers(aws: Any) -> Iterator[dict[str, ModuleType]]:
    """The notify and remind functions, imported once for the module, with SES ready to send."""
    verify_sender(ENV["MAIL_FROM"])
    loaded = {}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in ENV.items():
            mp.setenv(key, value)
        for function in ("notify", "remind"):
            module = import_file(ROOT / "functions" / function / "app.py", f"approvals_test_fn_{function}")
            mp.setitem(sys.modules, module.__name__, module)
            loaded[function] = module
        yield loaded


@pytest.fixture
def mail(stack: Any, consumers: dict[str, ModuleType]) -> Mail:
    consumers["remind"].reminders.cache_clear()  # a fresh directory cache per test, like case_service
    consumers["notify"].notifier.cache_clear()
    return Mail(consumers)


class Mail:
    """Delivers a case's outbox events to notify, runs the reminder, reads what SES sent since."""

    def __init__(self, consumers: dict[str, ModuleType]) -> None:
        self.consumers = consumers
        self.mark = len(self._all())
        self.delivered: set[str] = set()

    @staticmethod
    def _all() -> list[email.message.EmailMessage]:
        messages = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
        return [email.message_from_string(m.raw_data, policy=email.policy.default) for m in messages]

    def new(self) -> list[dict[str, str]]:
        messages = self._all()[self.mark :]
        self.mark += len(messages)
        return [
            {"to": m["To"], "subject": m["Subject"], "text": m.get_body(("plain",)).get_content()}
            for m in messages
        ]

    def events(self, table: str, case_id: str) -> list[dict[str, Any]]:
        items = partition(table, case_id)
        return [e for item in items if item["sk"].startswith("HIST#") for e in stored_events(item)]

    def deliver(self, table: str, case_id: str) -> list[dict[str, str]]:
        fresh = [e for e in self.events(table, case_id) if e["id"] not in self.delivered]
        self.delivered |= {e["id"] for e in fresh}
        result = self.consumers["notify"].handler(
            {"Records": [for_event(e) for e in fresh]}, LambdaContext("casework-test")
        )
        assert result == {"batchItemFailures": []}
        return self.new()

    def remind(self, hours_later: float = 0) -> dict[str, int]:
        reminders = self.consumers["remind"].reminders()
        later = datetime.now(UTC) + timedelta(hours=hours_later)
        return replace(reminders, clock=lambda: later).run()


def link_in(message: dict[str, str]) -> str:
    (token,) = set(LINK.findall(message["text"]))
    return token


def delegate(api: Api, user: str, to: str, starts: date = TODAY, until: date | None = None) -> Any:
    body = {
        "delegate": to,
        "from": starts.isoformat(),
        "until": (until or TODAY + timedelta(days=7)).isoformat(),
    }
    return api("PUT /users/me/delegation", user=user, body=body)


def page(api: Api, token: str) -> Any:
    return api("GET /approvals/{token}", {"token": token})


def decide_by_link(api: Api, token: str, decision: str = "approve") -> Any:
    return api(
        "POST /approvals/{token}",
        {"token": token},
        raw_body=f"decision={decision}&comment=",
        content_type="application/x-www-form-urlencoded",
    )


# --- delegation: the routes ---------------------------------------------------------------------------------


def test_a_delegation_is_set_read_and_ended_by_its_owner(api: Api) -> None:
    reply = delegate(api, "john", "susan")
    assert reply.status == 200, reply.text
    assert reply.json | {"set_at": None} == {
        "owner": "john",
        "delegate": "susan",
        "from": TODAY.isoformat(),
        "until": (TODAY + timedelta(days=7)).isoformat(),
        "set_at": None,
    }
    assert api("GET /users/me/delegation", user="john").json["delegate"] == "susan"
    assert api("GET /users/me/delegation", user="susan").error["code"] == "NO_DELEGATION"  # only one's own
    assert api("DELETE /users/me/delegation", user="john").status == 200
    missing = api("GET /users/me/delegation", user="john")
    assert (missing.status, missing.error["code"]) == (404, "NO_DELEGATION")
    assert api("DELETE /users/me/delegation", user="john").status == 404


def _deactivate(username: str) -> None:
    import json
    from pathlib import Path

    demo = json.loads((Path(ROOT) / "infra" / "seed" / "demo.json").read_text())
    (record,) = [u for u in demo["users"] if u["username"] == username]
    put_directory_record(f"USER#{username}", "PROFILE", {**record, "active": False})


@pytest.mark.parametrize(
    ("to", "starts", "until", "codes"),
    [
        ("john", TODAY, TODAY, ["SELF_DELEGATION"]),
        ("mallory", TODAY, TODAY, ["UNKNOWN_DELEGATE"]),
        ("fred", TODAY, TODAY, ["INACTIVE_DELEGATE"]),
        ("susan", TODAY, TODAY - timedelta(days=1), ["PERIOD_REVERSED"]),
        ("susan", TODAY - timedelta(days=9), TODAY - timedelta(days=2), ["PERIOD_OVER"]),
        ("susan", TODAY, TODAY + timedelta(days=400), ["PERIOD_TOO_LONG"]),
        ("john", TODAY, TODAY - timedelta(days=1), ["SELF_DELEGATION", "PERIOD_REVERSED"]),  # every problem
    ],
)
def test_a_bad_delegation_is_422_with_every_problem_and_nothing_stored(
    api: Api, to: str, starts: date, until: date, codes: list[str]
) -> None:
    _deactivate("fred")
    reply = delegate(api, "john", to, starts, until)
    assert (reply.status, reply.error["code"]) == (422, "INVALID_DELEGATION")
    assert [p["code"] for p in reply.error["details"]["problems"]] == codes
    assert api("GET /users/me/delegation", user="john").status == 404


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"delegate": "susan", "until": "2030-01-01"}, "body.from"),
        ({"delegate": "susan", "from": "tomorrow", "until": "2030-01-01"}, "body.from"),
        ({"delegate": "", "from": "2030-01-01", "until": "2030-01-01"}, "body.delegate"),
        (
            {"delegate": "susan", "from": "2030-01-01", "until": "2030-01-02", "on_behalf_of": "peter"},
            "body.on_behalf_of",
        ),
    ],
)
def test_a_malformed_delegation_is_422(api: Api, body: dict[str, Any], location: str) -> None:
    reply = api("PUT /users/me/delegation", user="john", body=body)
    error = refused(reply, 422, "INVALID_REQUEST")
    assert [e["location"] for e in error["details"]["errors"]] == [location]
    assert api("GET /users/me/delegation", user="john").error["code"] == "NO_DELEGATION"  # nothing stored


# --- delegation: asked, and deciding on behalf ------------------------------------------------------------


def test_the_delegate_is_emailed_and_decides_by_link_on_behalf_of_the_approver(
    api: Api, mail: Mail, stack: Any
) -> None:
    assert delegate(api, "john", "susan").status == 200
    case = api.submitted()
    emails = {m["to"]: m for m in mail.deliver(stack.table_name, case["id"])}
    assert set(emails) == {"john@casework.example", "susan@casework.example"}
    assert "delegate of John Supply" in emails["susan@casework.example"]["text"]
    assert "delegate of" not in emails["john@casework.example"]["text"]
    susans, johns = link_in(emails["susan@casework.example"]), link_in(emails["john@casework.example"])

    shown = page(api, susans)
    assert shown.status == 200 and "Susan Service on behalf of John Supply" in shown.text
    decided = decide_by_link(api, susans)
    assert decided.status == 200, decided.text

    assert api.get(case["id"])["status"] == "Under Assessment"
    entry = next(h for h in api.history(case["id"]) if h["action"] == "approval_decided")
    assert (entry["by"], entry["on_behalf_of"]) == ("susan", "john")
    (event,) = [e for e in mail.events(stack.table_name, case["id"]) if e["type"] == "ApprovalDecided"]
    assert (event["data"]["approver"], event["data"]["on_behalf_of"], event["data"]["via"]) == (
        "susan",
        "john",
        "email",
    )
    assert page(api, johns).status == 410  # decided for john: his link is spent


def test_the_delegate_decides_in_the_api_and_a_stranger_still_cannot(api: Api) -> None:
    """Dave works in another unit (CARE): asked as John's delegate, he sees the SP case and decides it."""
    assert api("GET /cases/{case_id}", {"case_id": api.submitted()["id"]}, user="dave").status == 404
    assert delegate(api, "john", "dave").status == 200
    case = api.submitted()
    seen = api.get(case["id"], user="dave")
    assert seen["can_decide_approval"] is True
    assert seen["pending_approval"]["approvers"] == [
        {"username": "john", "decision": None, "delegate": "dave"}
    ]
    stranger = api(
        "POST /cases/{case_id}/approvals", {"case_id": case["id"]}, user="frank", body={"decision": "approve"}
    )
    assert (stranger.status, stranger.error["code"]) == (403, "NOT_AN_APPROVER")
    reply = api(
        "POST /cases/{case_id}/approvals", {"case_id": case["id"]}, user="dave", body={"decision": "approve"}
    )
    assert reply.status == 200 and reply.json["status"] == "Under Assessment"
    again = api(
        "POST /cases/{case_id}/approvals", {"case_id": case["id"]}, user="john", body={"decision": "approve"}
    )
    assert again.status == 409


def test_a_delegation_outside_its_period_or_ended_asks_nobody_else(api: Api, mail: Mail, stack: Any) -> None:
    assert delegate(api, "john", "susan", TODAY + timedelta(days=3), TODAY + timedelta(days=9)).status == 200
    first = api.submitted()
    assert [m["to"] for m in mail.deliver(stack.table_name, first["id"])] == ["john@casework.example"]
    assert delegate(api, "john", "susan").status == 200
    assert api("DELETE /users/me/delegation", user="john").status == 200
    second = api.submitted()
    assert [m["to"] for m in mail.deliver(stack.table_name, second["id"])] == ["john@casework.example"]


# --- recall -------------------------------------------------------------------------------------------------


def recall(api: Api, case_id: str, user: str = "mary", **body: Any) -> Any:
    return api("POST /cases/{case_id}/recall", {"case_id": case_id}, user=user, body=body)


def test_recall_returns_the_case_spends_the_links_and_tells_the_approvers(
    api: Api, mail: Mail, stack: Any
) -> None:
    assert delegate(api, "john", "susan").status == 200
    case = api.submitted()
    links = [link_in(m) for m in mail.deliver(stack.table_name, case["id"])]
    assert len(links) == 2

    reply = recall(api, case["id"], comment="Wrong product, resubmitting")
    assert reply.status == 200, reply.text
    assert reply.json["status"] == "Registration" and reply.json["can_decide_approval"] is False
    for token in links:
        assert page(api, token).status == 410
        gone = decide_by_link(api, token)
        assert gone.status == 410 and api.get(case["id"])["status"] == "Registration"
    told = mail.deliver(stack.table_name, case["id"])
    assert sorted(m["to"] for m in told) == ["john@casework.example", "susan@casework.example"]
    assert all(m["subject"].startswith("Approval recalled") and "Wrong product" in m["text"] for m in told)
    entry = api.history(case["id"])[-1]
    assert (entry["action"], entry["by"], entry["to_status"]) == ("approval_recalled", "mary", "Registration")

    resubmitted = api.transition(case["id"], "Pending Pre-Approval")
    assert resubmitted.status == 200
    assert all(page(api, token).status == 410 for token in links)  # a new round: old links stay spent


def test_recall_by_somebody_else_is_403_and_changes_nothing(api: Api) -> None:
    case = api.submitted()
    reply = recall(api, case["id"], user="john")  # the approver is not the submitter
    assert (reply.status, reply.error["code"]) == (403, "NOT_SUBMITTER")
    after = api.get(case["id"])
    assert (after["status"], after["version"]) == ("Pending Pre-Approval", case["version"])


def test_recall_with_nothing_pending_is_409(api: Api) -> None:
    case = api.register()
    reply = recall(api, case["id"])
    assert (reply.status, reply.error["code"]) == (409, "NOT_PENDING")


@pytest.mark.parametrize(
    ("case_id", "body", "status", "code"),
    [
        ("does-not-exist", {}, 404, "CASE_NOT_FOUND"),
        (None, {"comment": 5}, 422, "INVALID_REQUEST"),
        (None, {"why": "x"}, 422, "INVALID_REQUEST"),
        (None, {"expected_version": 1}, 409, "STALE_VERSION"),
    ],
)
def test_recall_bad_input(
    api: Api, case_id: str | None, body: dict[str, Any], status: int, code: str
) -> None:
    submitted = api.submitted()
    reply = recall(api, case_id or submitted["id"], **body)
    refused(reply, status, code)
    after = api.get(submitted["id"])
    assert (after["status"], after["version"]) == ("Pending Pre-Approval", submitted["version"])  # untouched


# --- reminders ----------------------------------------------------------------------------------------------


def test_reminders_once_a_day_per_person_with_a_fresh_link(api: Api, mail: Mail, stack: Any) -> None:
    assert delegate(api, "john", "susan").status == 200
    case = api.submitted()
    first = {m["to"]: link_in(m) for m in mail.deliver(stack.table_name, case["id"])}

    assert mail.remind(hours_later=1)["sent"] == 0  # the unit's rule: not before 48 hours
    assert mail.new() == []

    assert mail.remind(hours_later=49)["sent"] == 2
    reminded = {m["to"]: m for m in mail.new()}
    assert set(reminded) == {"john@casework.example", "susan@casework.example"}
    assert all(m["subject"].startswith("Reminder: approval waiting") for m in reminded.values())
    fresh = {to: link_in(m) for to, m in reminded.items()}
    assert fresh["john@casework.example"] != first["john@casework.example"]

    again = mail.remind(hours_later=49.5)  # the same day: nobody twice
    assert (again["sent"], again["already_sent"]) == (0, 2) and mail.new() == []

    assert page(api, first["john@casework.example"]).status == 200  # the old link still works ...
    assert page(api, fresh["john@casework.example"]).status == 200  # ... and so does the new one
    assert decide_by_link(api, fresh["susan@casework.example"]).status == 200
    assert (
        page(api, first["john@casework.example"]).status == 410
    )  # decided: every link of the round is spent

    assert mail.remind(hours_later=73)["sent"] == 0 and mail.new() == []  # nothing pending: nobody reminded


def test_a_failed_reminder_is_retried_and_only_it_is_sent_again(
    api: Api, mail: Mail, stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from casework.services.reminders import RemindersIncomplete

    assert delegate(api, "john", "susan").status == 200
    api.submitted()
    mailer = mail.consumers["remind"].reminders().notifier.mailer
    send = mailer.send

    def flaky(to: str, *args: Any) -> str:
        if to.startswith("susan"):
            raise ConnectionError("SES unavailable")
        return send(to, *args)

    monkeypatch.setattr(mailer, "send", flaky)
    with pytest.raises(RemindersIncomplete):
        mail.remind(hours_later=49)
    assert [m["to"] for m in mail.new()] == ["john@casework.example"]

    monkeypatch.setattr(mailer, "send", send)
    retried = mail.remind(hours_later=49)
    assert (retried["sent"], retried["already_sent"]) == (1, 1)
    assert [m["to"] for m in mail.new()] == ["susan@casework.example"]
