"""The contact's acceptance links, as Lambda runs them: the notify function mints the link (SQS event with an
EventBridge envelope -> SES), and the approve function serves /acceptances/{token} from real-shaped API
Gateway HTTP API (payload 2.0) events, against moto resources built from template.yaml.

The case comes from a small hand-written definition (a Responded status whose NEEDS_OK response the contact
must accept), published like any definition and run by the engine through the DynamoDB adapters.
"""

from __future__ import annotations

import base64
import email
import email.policy
import itertools
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from casework.adapters import dynamo
from casework.adapters.definitions import DynamoWorkflowStore
from casework.adapters.directory import DynamoDirectory, put_directory_record
from casework.domain import engine
from casework.domain.model import Case, Change
from casework.http.wiring import case_service
from casework.services.link_tokens import hash_token
from casework.services.ports import ApprovalToken
from infra.local.functions import LambdaContext
from infra.local.template import LocalResources
from infra.seed import seed, verify_sender
from tests.fakes import care_request_definition
from tests.functional.moto_account import load_function, moto_account
from tests.functional.shapes import for_event
from tests.functional.test_api_handlers import Reply, http_event

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
MAIL_FROM = "casework@casework.example"
BASE_URL = "http://127.0.0.1:3000"
LINK = re.compile(r"http://127\.0\.0\.1:3000/acceptances/([A-Za-z0-9_-]+)")
ALICE = {
    "id": "CON-2001",
    "name": "Alice Brown",
    "email": "alice@customer.example",
    "geographic_area": "North",
    "life_cycle_state": "Prospect",
}

DEFINITION = care_request_definition(name="acceptance_test")


# --- fixtures -----------------------------------------------------------------------------------------------


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalResources]:
    env = {
        "MAIL_FROM": MAIL_FROM,
        "PUBLIC_BASE_URL": BASE_URL + "/",
        "APPROVAL_TOKEN_TTL_HOURS": "168",
        "LOG_LEVEL": "WARNING",
        "USERNAME_CLAIM": "username",
    }
    with moto_account(monkeypatch, "acc", **env) as res:
        seed()
        verify_sender(MAIL_FROM)
        DynamoWorkflowStore.publish(DEFINITION)
        put_directory_record(f"CONTACT#{ALICE['id']}", "CONTACT", ALICE)
        case_service.cache_clear()  # the functions' services, built fresh against this table
        yield res
    case_service.cache_clear()


def _load(function: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load_function(function, monkeypatch, "fn_acceptance")


@pytest.fixture
def approve_fn(stack: LocalResources, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return _load("approve", monkeypatch)


@pytest.fixture
def notify_fn(stack: LocalResources, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return _load("notify", monkeypatch)


class Cases:
    """Builds cases of the test definition through the engine and the DynamoDB adapters."""

    def __init__(self) -> None:
        self.repo = dynamo.DynamoCaseRepository()
        self.directory = DynamoDirectory(ttl_seconds=0)
        self.defn = DynamoWorkflowStore().get("acceptance_test")
        self.ids = itertools.count(1)

    def _commit(self, change: Change) -> list[dict[str, Any]]:
        self.repo.commit(change)
        return [e.to_dict() for e in change.events]

    def responded(self, category: str = "NEEDS_OK") -> tuple[str, list[dict[str, Any]]]:
        """A case whose response waits for Alice's acceptance; the events of the response."""
        unit = self.directory.business_unit("CARE")
        case_id = f"AT-{next(self.ids):05d}"
        self._commit(
            engine.register(
                self.defn,
                self.directory.user("tina"),
                unit,
                case_id=case_id,
                now=datetime.now(UTC),
                title="Router drops <Wi-Fi>",
                contact_id=ALICE["id"],
                assignee=self.directory.user("carol"),
            )
        )
        events = self._commit(
            engine.transition(
                self.defn,
                self.repo.get(case_id),
                self.directory.user("carol"),
                unit,
                to="Responded",
                fields={"response_category": category, "response": "Firmware 2.1 fixes it."},
                now=datetime.now(UTC),
            )
        )
        return case_id, events

    def new_answer(self, case_id: str) -> list[dict[str, Any]]:
        return self._commit(
            engine.edit(
                self.defn,
                self.repo.get(case_id),
                self.directory.user("tina"),
                self.directory.business_unit("CARE"),
                fields={"response": "Firmware 2.2 fixes it."},
                now=datetime.now(UTC),
            )
        )

    def get(self, case_id: str) -> Case:
        return self.repo.get(case_id)

    def history(self, case_id: str) -> list[dict[str, Any]]:
        return self.repo.history(case_id, None, 100).items


@pytest.fixture
def cases(stack: LocalResources) -> Cases:
    return Cases()


# --- events and replies -------------------------------------------------------------------------------------


def call(fn: ModuleType, method: str, path: str, token: str, form: str | None = None) -> Reply:
    # a browser's form POST reaches Lambda base64-encoded, as bytes do here
    event = http_event(
        f"{method} {path}",
        {"token": token},
        raw_body=form.encode() if form is not None else None,
        content_type="application/x-www-form-urlencoded",
    )
    result = fn.handler(event, LambdaContext("casework-test"))
    body = result["body"] or ""
    text = base64.b64decode(body).decode() if result["isBase64Encoded"] else body
    return Reply(result["statusCode"], {k.lower(): v for k, v in (result.get("headers") or {}).items()}, text)


def page(fn: ModuleType, token: str) -> Reply:
    return call(fn, "GET", "/acceptances/{token}", token)


def decide(fn: ModuleType, token: str, form: str) -> Reply:
    return call(fn, "POST", "/acceptances/{token}", token, form)


def assert_page(reply: Reply, status: int, code: str | None = None) -> None:
    assert reply.status == status, reply.text
    assert reply.headers["content-type"].startswith("text/html")
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in reply.headers["content-security-policy"]
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.text.lstrip().lower().startswith("<!doctype html")
    if code:
        assert code in reply.text


def sqs_event(event: dict[str, Any]) -> dict[str, Any]:
    return {"Records": [for_event(event)]}


def sent() -> list[email.message.EmailMessage]:
    messages = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    return [email.message_from_string(m.raw_data, policy=email.policy.default) for m in messages]


def token(case_id: str, *, purpose: str = "acceptance", valid_for: int = 3600, round: int = 1) -> str:
    """A link as the notifier mints it (tests that are not about the email skip sending one)."""
    raw = base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode().rstrip("=")
    dynamo.DynamoCaseRepository().save_token(
        ApprovalToken(
            token_hash=hash_token(raw),
            case_id=case_id,
            step="response",
            round=round,
            approver=f"contact:{ALICE['id']}",
            expires_at=int(time.time()) + valid_for,
            purpose=purpose,
        )
    )
    return raw


# --- tests --------------------------------------------------------------------------------------------------


def test_the_emailed_link_shows_a_page_then_accepts_once(
    cases: Cases, notify_fn: ModuleType, approve_fn: ModuleType
) -> None:
    case_id, events = cases.responded()
    (requested,) = [e for e in events if e["type"] == "AcceptanceRequested"]

    assert notify_fn.handler(sqs_event(requested), LambdaContext("casework-test")) == {
        "batchItemFailures": []
    }

    (message,) = sent()
    assert message["To"] == ALICE["email"]
    assert message["Subject"] == f"Please review our response: Router drops <Wi-Fi> ({case_id})"
    text = message.get_body(("plain",)).get_content()
    (raw,) = set(LINK.findall(text))
    assert "NEEDS_OK" in text and "Firmware 2.1 fixes it." in text
    stored = dynamo.DynamoCaseRepository().token(hash_token(raw))
    assert stored is not None and (stored.purpose, stored.approver) == ("acceptance", "contact:CON-2001")

    before, history = cases.get(case_id), cases.history(case_id)
    for _ in range(2):  # a mail scanner, then Alice
        shown = page(approve_fn, raw)
        assert_page(shown, 200)
        assert "Router drops &lt;Wi-Fi&gt;" in shown.text and "<Wi-Fi>" not in shown.text
        assert case_id in shown.text and "Firmware 2.1 fixes it." in shown.text and "NEEDS_OK" in shown.text
        assert 'value="accept"' in shown.text and 'value="refuse"' in shown.text
    assert cases.get(case_id) == before and cases.history(case_id) == history

    accepted = decide(approve_fn, raw, "decision=accept&comment=Works+now")
    assert_page(accepted, 200)
    assert "accepted" in accepted.text
    case = cases.get(case_id)
    assert case.acceptance is not None
    assert (case.acceptance.decision, case.acceptance.comment) == ("accept", "Works now")
    assert case.version == before.version + 1 and case.status == "Responded"
    last = cases.history(case_id)[-1]
    assert (last["by"], last["action"], last["comment"]) == (
        "contact:CON-2001",
        "acceptance_decided",
        "Works now",
    )

    assert_page(decide(approve_fn, raw, "decision=accept"), 410, "TOKEN_USED")
    assert_page(page(approve_fn, raw), 410, "TOKEN_USED")
    assert cases.get(case_id).version == case.version


def test_refusing_records_refuse(cases: Cases, approve_fn: ModuleType) -> None:
    case_id, _ = cases.responded()
    raw = token(case_id)

    bad = decide(approve_fn, raw, "decision=maybe&comment=Hmm")
    assert_page(bad, 422)
    assert 'role="alert"' in bad.text and "Hmm" in bad.text  # the form again, the comment kept

    refused = decide(approve_fn, raw, "decision=refuse&comment=Still+drops+every+hour.")
    assert_page(refused, 200)
    assert "refused" in refused.text
    case = cases.get(case_id)
    assert (case.acceptance.decision, case.acceptance.comment) == ("refuse", "Still drops every hour.")


def test_tokens_of_the_other_purpose_are_unknown(cases: Cases, approve_fn: ModuleType) -> None:
    case_id, _ = cases.responded()
    approval = token(case_id, purpose="approval")
    acceptance = token(case_id)
    before = cases.get(case_id)

    assert_page(page(approve_fn, approval), 404, "TOKEN_UNKNOWN")
    assert_page(decide(approve_fn, approval, "decision=accept"), 404, "TOKEN_UNKNOWN")
    assert_page(call(approve_fn, "GET", "/approvals/{token}", acceptance), 404, "TOKEN_UNKNOWN")
    assert_page(
        call(approve_fn, "POST", "/approvals/{token}", acceptance, "decision=approve"), 404, "TOKEN_UNKNOWN"
    )
    assert cases.get(case_id) == before

    assert_page(page(approve_fn, acceptance), 200)  # still good where it belongs


def test_unknown_expired_and_no_longer_pending_links(cases: Cases, approve_fn: ModuleType) -> None:
    case_id, _ = cases.responded()
    expired = token(case_id, valid_for=-5)
    first_round = token(case_id)

    assert_page(page(approve_fn, "x" * 43), 404, "TOKEN_UNKNOWN")
    assert_page(page(approve_fn, expired), 410, "TOKEN_EXPIRED")
    assert_page(decide(approve_fn, expired, "decision=accept"), 410, "TOKEN_EXPIRED")

    events = cases.new_answer(case_id)  # a new answer asks again (round 2): the round-1 link is done
    assert [e["data"]["round"] for e in events if e["type"] == "AcceptanceRequested"] == [2]
    assert_page(page(approve_fn, first_round), 410, "ACCEPTANCE_NOT_PENDING")
    assert_page(decide(approve_fn, first_round, "decision=accept"), 410, "ACCEPTANCE_NOT_PENDING")
    assert cases.get(case_id).acceptance.pending

    assert_page(decide(approve_fn, token(case_id, round=2), "decision=accept"), 200)
    assert cases.get(case_id).acceptance.decision == "accept"
