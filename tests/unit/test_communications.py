"""Communications to contacts and assignees (inline templates, sandboxed), and the contact's acceptance links:
the Notifier and AcceptanceLinks against the in-memory fakes, with the real email renderer."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from casework.adapters.mailer import EmailRenderer
from casework.domain import engine
from casework.domain.errors import Gone, NotFound, ValidationFailed
from casework.services.acceptance import AcceptanceLinks
from casework.services.cases import CaseService
from casework.services.link_tokens import hash_token
from casework.services.notify import Notifier
from casework.services.ports import ApprovalToken
from tests.fakes import (
    FixedClock,
    InMemoryDirectory,
    InMemoryRepository,
    InMemoryWorkflows,
    SequentialIds,
    care_request_definition,
    demo_data,
)

BASE_URL = "https://casework.example"
ACCEPTANCE_LINK = re.compile(r"https://casework\.example/acceptances/([A-Za-z0-9_-]+)")
UPDATE_SUBJECT = "Update on {{ case.number }}: {{ case.title }}"
UPDATE_BODY = """Dear {{ contact.name }},

{{ assignee.name }} answered your {{ case.type_name }} request ({{ status }}, {{ state }}):
{{ case.fields.response }}
{{ contact.nickname }}{{ no.such.tag }}<b>Care team</b>"""


@dataclass
class Outbox:
    """The mailer: keeps what would have gone out."""

    sent: list[dict[str, str]] = field(default_factory=list)

    def send(self, to: str, subject: str, text: str, html: str) -> str:
        self.sent.append({"to": to, "subject": subject, "text": text, "html": html})
        return f"msg-{len(self.sent)}"


@dataclass
class World:
    repo: InMemoryRepository
    directory: InMemoryDirectory
    workflows: InMemoryWorkflows
    clock: FixedClock
    mail: Outbox
    notifier: Notifier
    links: AcceptanceLinks
    tokens: list[str]

    def case(self, case_id: str = "CR-1"):
        return self.repo.get(case_id)

    def defn(self):
        return self.workflows.get("care_request")

    def actor(self, username: str):
        return self.directory.user(username)

    def register(self, case_id: str = "CR-1", contact_id: str | None = "CON-2001") -> str:
        unit = self.directory.business_unit("CARE")
        change = engine.register(
            self.defn(),
            self.actor("tina"),
            unit,
            case_id=case_id,
            now=self.clock(),
            title="Router drops <Wi-Fi>",
            contact_id=contact_id,
            assignee=self.actor("carol"),
        )
        self.repo.commit(change)
        return case_id

    def respond(self, case_id: str = "CR-1", by: str = "carol", category: str = "NEEDS_OK") -> None:
        self.clock.advance(60)
        change = engine.transition(
            self.defn(),
            self.case(case_id),
            self.actor(by),
            self.directory.business_unit("CARE"),
            to="Responded",
            fields={"response_category": category, "response": "Firmware 2.1 fixes it.\nRestart after."},
            now=self.clock(),
        )
        self.repo.commit(change)

    def edit_answer(self, case_id: str = "CR-1") -> None:
        self.clock.advance(60)
        change = engine.edit(
            self.defn(),
            self.case(case_id),
            self.actor("tina"),
            self.directory.business_unit("CARE"),
            fields={"response": "Firmware 2.2 fixes it."},
            now=self.clock(),
        )
        self.repo.commit(change)

    def events(self, event_type: str) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.repo.outbox if e.type == event_type]


def world(
    notifications: list[dict[str, Any]] | None = None, directory: dict[str, Any] | None = None
) -> World:
    repo = InMemoryRepository()
    people = InMemoryDirectory(directory)
    workflows = InMemoryWorkflows([care_request_definition(notifications)])
    clock = FixedClock()
    mail = Outbox()
    tokens: list[str] = []

    def new_token() -> str:
        tokens.append(f"raw-acceptance-token-{len(tokens) + 1:04d}-with-enough-bits")
        return tokens[-1]

    notifier = Notifier(
        repo=repo,
        directory=people,
        workflows=workflows,
        mailer=mail,
        renderer=EmailRenderer(),
        clock=clock,
        public_base_url=BASE_URL + "/",
        new_token=new_token,
    )
    links = AcceptanceLinks(
        repo=repo, directory=people, workflows=workflows, clock=clock, new_id=SequentialIds()
    )
    return World(repo, people, workflows, clock, mail, notifier, links, tokens)


def inline(to: str, subject: str = UPDATE_SUBJECT, body: str = UPDATE_BODY, **extra: Any) -> dict[str, Any]:
    return {
        "event": "CaseTransitioned",
        "to": to,
        "states": ["responded"],
        "template": f"technical_issue:responded:{to}",
        "subject": subject,
        "body": body,
        **extra,
    }


# --- communications with tags -------------------------------------------------------------------------------


def test_inline_template_to_the_contact_renders_the_tags() -> None:
    w = world([inline("contact")])
    w.register()
    w.respond(category="INFO")
    (event,) = w.events("CaseTransitioned")

    assert w.notifier.handle(event) == ["contact:CON-2001"]

    (mail,) = w.mail.sent
    assert mail["to"] == "alice@customer.example"
    assert mail["subject"] == "Update on CR-1: Router drops <Wi-Fi>"
    assert mail["text"] == (
        "Dear Alice Brown,\n\n"
        "Carol Care answered your Technical issue request (Responded, responded):\n"
        "Firmware 2.1 fixes it.\nRestart after.\n"
        "<b>Care team</b>"
    )
    html = mail["html"]
    assert "Dear Alice Brown,<br>\n<br>\nCarol Care answered" in html
    assert "&lt;b&gt;Care team&lt;/b&gt;" in html and "<b>Care team</b>" not in html
    assert "<title>Update on CR-1: Router drops &lt;Wi-Fi&gt;</title>" in html


def test_inline_template_to_the_assignee_on_a_transition_but_not_for_their_own() -> None:
    body = (
        "{{ assignee.name }} ({{ assignee.username }}): {{ contact.name }} of {{ contact.geographic_area }}"
    )
    w = world([inline("assignee", subject="{{ case.number }} is {{ status }}", body=body)])
    w.register()
    w.register("CR-2")
    w.respond("CR-1", by="carol")  # the assignee responded: nobody to tell
    w.respond("CR-2", by="tina")  # the team lead responded on carol's case: carol hears of it
    own, other = w.events("CaseTransitioned")

    assert w.notifier.handle(own) == []
    assert w.notifier.handle(other) == ["carol"]

    (mail,) = w.mail.sent
    assert mail["to"] == "carol@casework.example"
    assert mail["subject"] == "CR-2 is Responded"
    assert mail["text"] == "Carol Care (carol): Alice Brown of North"


def test_the_sandbox_refuses_python_internals_and_skips_only_that_email(
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = world(
        [
            inline("contact", body="{{ ''.__class__.__mro__[1].__subclasses__() }}"),
            inline("contact", body="{{ case.__class__ }}"),
            inline("contact", body="{{ contact.update({'email': 'evil@x.example'}) }}"),
            inline("contact", body="{% if %}broken"),
            inline("contact", body="{{ 'x' * 100000000 }}"),
            inline("assignee", body="Still sent to {{ assignee.name }}."),
        ]
    )
    w.register()
    w.respond(by="tina", category="INFO")
    (event,) = w.events("CaseTransitioned")

    with caplog.at_level(logging.ERROR, logger="casework.services.notify"):
        assert w.notifier.handle(event) == ["carol"]  # no exception: the message is not retried forever

    assert [m["text"] for m in w.mail.sent] == ["Still sent to Carol Care."]
    failures = [r for r in caplog.records if r.getMessage() == "communication template failed; not emailed"]
    assert len(failures) == 5
    assert "SecurityError" in failures[0].error and "__class__" in failures[0].error
    assert "TemplateSyntaxError" in failures[3].error


def test_a_contact_without_email_or_unknown_is_skipped() -> None:
    data = demo_data()
    for contact in data["contacts"]:
        if contact["id"] == "CON-2001":  # the email is derived from the contact's addresses: none, none
            contact.pop("email")
            contact["emails"] = []
    w = world([inline("contact"), inline("assignee", body="ok")], directory=data)
    w.register("CR-1", contact_id="CON-2001")
    w.register("CR-2", contact_id="CON-9999")
    w.register("CR-3", contact_id=None)
    for case_id in ("CR-1", "CR-2", "CR-3"):
        w.respond(case_id, by="tina", category="INFO")

    assert [w.notifier.handle(e) for e in w.events("CaseTransitioned")] == [["carol"]] * 3
    assert {m["to"] for m in w.mail.sent} == {"carol@casework.example"}


def test_shipped_templates_see_the_contact_and_assignee_too() -> None:
    w = world([{"event": "AcceptanceRequested", "to": "contact", "template": "acceptance_requested"}])
    w.register(contact_id="CON-2002")
    w.respond()
    (event,) = w.events("AcceptanceRequested")

    assert w.notifier.handle(event) == ["contact:CON-2002"]
    (mail,) = w.mail.sent
    assert mail["to"] == "bob@customer.example"
    assert "Hello Bob Green," in mail["text"] and "Handled by:     Carol Care" in mail["text"]


# --- acceptance links ---------------------------------------------------------------------------------------


def test_acceptance_requested_mints_a_contact_link_and_shows_the_answer() -> None:
    w = world()
    w.register()
    w.respond()
    (event,) = w.events("AcceptanceRequested")
    assert event["data"]["contact_id"] == "CON-2001" and event["data"]["round"] == 1

    assert w.notifier.handle(event) == ["contact:CON-2001"]

    (mail,) = w.mail.sent
    assert mail["to"] == "alice@customer.example"
    assert mail["subject"] == "Please review our response: Router drops <Wi-Fi> (CR-1)"
    (raw,) = w.tokens
    for part in (mail["text"], mail["html"]):
        assert set(ACCEPTANCE_LINK.findall(part)) == {raw}
        assert "NEEDS_OK" in part and "Firmware 2.1 fixes it." in part and "CR-1" in part
        assert "3 March 2025" not in part and "10 March 2025, 09:01 UTC" in part  # 168 hours after sending
    assert "Router drops <Wi-Fi>" in mail["text"] and "Router drops &lt;Wi-Fi&gt;" in mail["html"]
    assert "Response Category: NEEDS_OK" in mail["text"]

    token = w.repo.token(hash_token(raw))
    assert token is not None and raw not in repr(w.repo.tokens)
    assert (token.case_id, token.step, token.round, token.approver, token.purpose) == (
        "CR-1",
        "response",
        1,
        "contact:CON-2001",
        "acceptance",
    )
    assert token.expires_at == int((w.clock() + timedelta(hours=168)).timestamp())


def test_no_acceptance_link_once_the_answer_is_decided_or_replaced() -> None:
    w = world()
    w.register()
    w.respond()
    (first,) = w.events("AcceptanceRequested")
    w.edit_answer()  # a new answer: round 2 asks again
    second = w.events("AcceptanceRequested")[-1]
    assert second["data"]["round"] == 2

    assert w.notifier.handle(first) == []  # round 1 is no longer pending
    assert w.repo.tokens == {} and w.mail.sent == []

    assert w.notifier.handle(second) == ["contact:CON-2001"]
    w.links.decide(w.tokens[-1], "accept", None)
    assert w.notifier.handle(second) == []  # re-delivered after the contact accepted: no new link
    assert len(w.repo.tokens) == 1 and len(w.mail.sent) == 1


def test_no_acceptance_link_to_somebody_else() -> None:
    """Only the contact's rule mints a link; the assignee told about the request gets none."""
    w = world([{"event": "AcceptanceRequested", "to": "assignee", "template": "acceptance_requested"}])
    w.register()
    w.respond(by="tina")
    (event,) = w.events("AcceptanceRequested")

    assert w.notifier.handle(event) == ["carol"]
    assert w.repo.tokens == {} and "/acceptances/" not in w.mail.sent[0]["text"]


def _mailed_link(w: World) -> str:
    w.register()
    w.respond()
    (event,) = w.events("AcceptanceRequested")
    assert w.notifier.handle(event) == ["contact:CON-2001"]
    return w.tokens[-1]


def test_acceptance_page_changes_nothing_and_decide_accepts_once() -> None:
    w = world()
    raw = _mailed_link(w)
    before = (w.case(), len(w.repo.outbox), dict(w.repo.tokens))

    page = w.links.page(raw)
    assert page.number == "CR-1" and page.contact == "Alice Brown"
    assert page.answer.category == "NEEDS_OK"
    assert page.answer.text == "Firmware 2.1 fixes it.\nRestart after."
    assert (w.case(), len(w.repo.outbox), dict(w.repo.tokens)) == before

    result = w.links.decide(raw, "accept", "  Works now, thanks.  ")
    assert result.decision == "accept" and result.case.status == "Responded"
    case = w.case()
    assert case.acceptance.decision == "accept" and case.acceptance.comment == "Works now, thanks."
    last = w.repo.history_of("CR-1")[-1]
    assert last.by == "contact:CON-2001" and last.action == "acceptance_decided"
    decided = w.events("AcceptanceDecided")[-1]
    assert decided["data"]["via"] == "email" and decided["actor"] == "contact:CON-2001"
    assert w.repo.token(hash_token(raw)).used_at is not None

    with pytest.raises(Gone) as used:
        w.links.decide(raw, "refuse", None)
    assert used.value.code == "TOKEN_USED"
    with pytest.raises(Gone):
        w.links.page(raw)


def test_refusal_is_recorded_and_a_bad_decision_leaves_the_link_usable() -> None:
    w = world()
    raw = _mailed_link(w)

    with pytest.raises(ValidationFailed) as bad:
        w.links.decide(raw, "maybe", None)
    assert bad.value.code == "INVALID_DECISION"
    assert w.repo.token(hash_token(raw)).used_at is None

    w.links.decide(raw, "refuse", "Still drops.")
    assert w.case().acceptance.decision == "refuse"


def test_expired_unknown_and_replaced_acceptance_links() -> None:
    w = world()
    raw = _mailed_link(w)

    with pytest.raises(NotFound) as unknown:
        w.links.page("no-such-token")
    assert unknown.value.code == "TOKEN_UNKNOWN"

    w.edit_answer()  # a new answer: the first link no longer decides anything
    with pytest.raises(Gone) as replaced:
        w.links.page(raw)
    assert replaced.value.code == "ACCEPTANCE_NOT_PENDING"

    w.notifier.handle(w.events("AcceptanceRequested")[-1])
    w.clock.advance(168 * 3600)
    with pytest.raises(Gone) as expired:
        w.links.decide(w.tokens[-1], "accept", None)
    assert expired.value.code == "TOKEN_EXPIRED"


def test_tokens_of_the_other_purpose_are_unknown() -> None:
    w = world()
    raw = _mailed_link(w)
    approval = "raw-approval-token-of-enough-bits-0001"
    w.repo.save_token(
        ApprovalToken(
            token_hash=hash_token(approval),
            case_id="CR-1",
            step="response",
            round=1,
            approver="contact:CON-2001",
            expires_at=int(w.clock().timestamp()) + 3600,
        )
    )
    cases = CaseService(
        repo=w.repo, directory=w.directory, workflows=w.workflows, clock=w.clock, new_id=lambda: "x"
    )

    with pytest.raises(NotFound) as approval_here:
        w.links.page(approval)
    assert approval_here.value.code == "TOKEN_UNKNOWN"
    for attempt in (
        lambda: cases.approval_page(raw),
        lambda: cases.decide_by_token(raw, decision="approve", comment=None),
    ):
        with pytest.raises(NotFound) as acceptance_there:
            attempt()
        assert acceptance_there.value.code == "TOKEN_UNKNOWN"
    assert w.case().acceptance.pending
