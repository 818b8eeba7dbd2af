"""Event-based communication: a domain event in, the emails its workflow definition asks for out.

Which event emails whom with which template is data (``notifications`` in the definition). A recipient is an
approver, the case's assignee or creator (users of the directory), or the case's contact (a customer, from
the directory's contacts). A rule names a shipped template, or carries its own ``subject`` and ``body`` (a
business's communications from the type configuration), which the renderer runs in a sandbox.

An approval request also issues the approver's single-use link, and an acceptance request the contact's:
256 random bits, stored only as a SHA-256 hash, bound to person + case + step + round, expiring. The raw
token exists in exactly one place: the email.

Every template sees the same tags (see ``_context``): ``case`` (with ``number`` and ``type_name``),
``contact``, ``assignee``, ``recipient``, ``actor``, ``status``, ``state`` and the rest.

Pure logic: the repository, directory, workflow store, mailer and renderer are injected.

Length (over ~600 lines): one use case, sending what an event calls for, with its three channels (a rule's
emails, an agent's communication, SMS with its email fallback) sharing one claim per message; split, each
part would need the same claim, context and recipient code.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

from casework.domain.answers import answer_view
from casework.domain.errors import Conflict
from casework.domain.model import BusinessUnit, Case, timestamp
from casework.domain.workflow import COMMUNICATION_REQUESTED, Notification, WorkflowDefinition
from casework.services.link_tokens import hash_token
from casework.services.ports import (
    ApprovalToken,
    CaseRepository,
    Clock,
    Directory,
    SmsSender,
    WorkflowStore,
)
from casework.services.sms import mobile_number, short_token, sms_text

logger = logging.getLogger(__name__)

APPROVAL_REQUESTED = "ApprovalRequested"
ACCEPTANCE_REQUESTED = "AcceptanceRequested"
CONTACT = "contact"
UNIT = "unit"  # the members (or the "queue" responsible) of the unit a case waits in without a user
# nobody needs an email about their own action
SELF_SKIPPED = frozenset({"assignee", "creator", CONTACT, UNIT, "approvers"})


class Mailer(Protocol):
    def send(self, to: str, subject: str, text: str, html: str) -> str: ...


class SentLedger(Protocol):
    """Each email of an event, claimed before it is sent: what makes notify idempotent under at-least-once
    delivery (no idempotency record per event). An event that emails several people and fails part-way is
    retried whole; the retry sends only what was not sent."""

    def claim(self, event_id: str, recipient: str) -> bool:
        """True: this delivery sends it (nobody held it, or a claim whose holder died has expired). False:
        it went out already. Raises EmailInProgress while another delivery holds a live claim."""
        ...

    def record(self, event_id: str, recipient: str, message_id: str) -> None:
        """It went out (SES took it): every later delivery finds it sent."""
        ...

    def release(self, event_id: str, recipient: str) -> None:
        """Sending failed: the next delivery may claim it at once."""
        ...

    def sent(self, event_id: str, recipient: str) -> bool:
        """Whether it was recorded as done (what the workflow rules check before each of their actions)."""
        ...


class Renderer(Protocol):
    def render(self, name: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """(subject, text, html) from a shipped template."""
        ...

    def render_inline(self, subject: str, body: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """(subject, text, html) from a business's own templates, sandboxed. Raises ValueError when they
        cannot be rendered (bad syntax, a blocked access): retrying would not help."""
        ...

    def render_message(self, subject: str, text: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """(subject, text, html) of a message a person wrote, taken literally (no template language)."""
        ...


@dataclass(frozen=True)
class Recipient:
    """Who an email goes to: a user (``key`` is the username) or the contact (``key`` is contact:<id>)."""

    key: str
    name: str
    email: str


def contact_key(contact_id: str) -> str:
    """How a contact appears where a username would (a link's person, an actor)."""
    return f"{CONTACT}:{contact_id}"


def _new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def _when(value: datetime) -> str:
    return value.strftime("%d %B %Y, %H:%M UTC").lstrip("0")


@dataclass
class Notifier:
    repo: CaseRepository
    directory: Directory
    workflows: WorkflowStore
    mailer: Mailer
    renderer: Renderer
    clock: Clock
    public_base_url: str
    token_ttl_hours: int = 168
    new_token: Callable[[], str] = field(default=_new_token)
    # Where a person opens a case: the front end's page, e.g. "https://crm.example.com/cases/{id}". Empty: the
    # emails carry no case link (the API's own URL would answer a browser with 401 JSON).
    case_url_template: str = ""
    ledger: SentLedger | None = None  # None: no claim per message (tests that send each event once)
    sms: SmsSender | None = None  # None: rules that ask for SMS send email only
    new_short_token: Callable[[], str] = field(default=short_token)

    def __post_init__(self) -> None:
        self.public_base_url = self.public_base_url.rstrip("/")

    def handle(self, event: Mapping[str, Any]) -> list[str]:
        """Send the emails ``event`` calls for; returns who was emailed (usernames, contact:<id> for the
        contact; empty when none apply)."""
        event_type = event["type"]
        data: Mapping[str, Any] = event.get("data") or {}
        if event_type == COMMUNICATION_REQUESTED:
            return self._communicate(event, data)
        # Most events email nobody: decide from the (cached) definition before reading the case.
        defn = self.definition_of(event)
        rules = self._rules(event, defn)
        if not rules:
            return []
        case = self.repo.get(event["case_id"])
        contact_id = case.contact_id or data.get("contact_id")
        contact = (self.directory.contact(contact_id) if contact_id else None) or {}
        sent: list[str] = []
        for rule in rules:
            for key in self._keys(rule, case, data, contact_id):
                recipient = self._send(rule, key, event, data, case, defn, contact)
                if recipient is not None:
                    sent.append(recipient)
        return sent

    def concerns(self, event: Mapping[str, Any]) -> bool:
        """Could ``event`` email anybody? Decided from the event and the (cached) definition alone, so the
        many events that email nobody cost no read and no write. The event's maker decided the same already
        (its ``notify``, which keeps such events off notify's queue): this is the check for events from a
        publisher before that."""
        return self.definition_of(event).notifies(event["type"], (event.get("data") or {}).get("state"))

    @staticmethod
    def _rules(event: Mapping[str, Any], defn: WorkflowDefinition) -> list[Notification]:
        return defn.notifications_for(event["type"], (event.get("data") or {}).get("state"))

    def _communicate(self, event: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
        """An agent's email to the contact, as recorded on the case; marked sent once SES took it."""
        case = self.repo.get(event["case_id"])
        at, communication_id = str(data.get("at")), str(data.get("communication_id"))
        recorded = self.repo.communication(case.id, communication_id, at)
        where = {"event_id": event.get("id"), "communication_id": communication_id}
        if recorded is None:
            logger.warning("communication not found; not sent", extra=where)
            return []
        if recorded.get("sent_at"):
            logger.info("communication sent already", extra=where)
            return []
        defn = self.definition_of(event)
        contact = (self.directory.contact(case.contact_id) if case.contact_id else None) or {}
        to = recorded["to"]
        recipient = Recipient(contact_key(to["contact_id"]), to["name"], to["email"])
        context = self._context(recipient, event, data, case, defn, contact)
        if recorded.get("templated"):
            try:
                subject, text, html = self.renderer.render_inline(
                    recorded["subject"], recorded["text"], context
                )
            except ValueError as exc:  # the type's template is broken: nothing to retry
                logger.error("communication template failed; not sent", extra={**where, "error": str(exc)})
                return []
        else:
            subject, text, html = self.renderer.render_message(recorded["subject"], recorded["text"], context)
        event_id, sent_as = str(event.get("id")), f"communication:{communication_id}"
        if not self._claim(event_id, sent_as, where):  # two deliveries at once: one claims it, one sends
            return []
        template = recorded.get("template")
        rule = next((n for n in defn.notifications if template and n.template == template), None)
        channels = rule.channels if rule else ("email",)
        if "sms" in channels and self.sms is not None:
            number = mobile_number(contact)
            if number is None:
                self._record_undelivered(case, defn, recipient.name, event_id, "communication")
            else:
                # sent under the claim: an email that fails after it releases the claim, and the retry
                # texts again (SMS and email of one communication are one claim)
                message_id = self._under_claim(
                    event_id, sent_as, lambda: self.sms_send(number, subject, text)
                )
                logger.info("communication texted", extra={**where, "message_id": message_id})
                if "email" not in channels:
                    self._sent(event_id, sent_as, message_id)
                    sent_at = timestamp(self.clock())
                    self.repo.communication_sent(case.id, communication_id, at, sent_at, message_id)
                    return [recipient.key]
        message_id = self._send_claimed(event_id, sent_as, to["email"], subject, text, html)
        self.repo.communication_sent(case.id, communication_id, at, timestamp(self.clock()), message_id)
        logger.info("communication sent", extra={**where, "message_id": message_id})
        return [recipient.key]

    def definition_of(self, event: Mapping[str, Any]) -> WorkflowDefinition:
        configured = (
            {"subtype": event["subtype"], "config_version": event.get("config_version")}
            if event.get("subtype")
            else {}
        )
        return self.workflows.get(event["case_type"], event.get("workflow_version"), **configured)

    # --- one notification ---

    def _keys(
        self, rule: Notification, case: Case, data: Mapping[str, Any], contact_id: str | None
    ) -> list[str | None]:
        """Who a rule emails: usernames, or contact:<id> for the case's contact. Decided from the event where
        it says (an assignee, a unit), so a late delivery emails whom the event meant, not whoever holds the
        case by then."""
        if rule.recipient == CONTACT:
            return [contact_key(contact_id) if contact_id else None]
        if rule.recipient == "approver":
            return [data.get("approver")]
        if rule.recipient == "approvers":  # e.g. a recall tells everybody the approval waited for
            return list(data.get("approvers") or [None])
        if rule.recipient == "assignee":
            return [data.get("assignee", case.assignee)]
        if rule.recipient == UNIT:
            return self._unit_queue(data, case)
        return [case.created_by]

    def _unit_queue(self, data: Mapping[str, Any], case: Case) -> list[str | None]:
        """A case that waits in a business unit without a user is told to the unit: to its "queue"
        responsible when it has one, else to every member. Nobody when the event gave it an assignee."""
        if data.get("assignee"):
            return []
        unit = self.directory.business_unit(data.get("business_unit") or case.business_unit)
        if unit is None:
            return [None]
        if unit.responsibles.get("queue"):
            return [unit.responsibles["queue"]]
        return [*sorted({name for names in unit.members.values() for name in names})]

    def _recipient(
        self, rule: Notification, key: str, contact: Mapping[str, Any], where: dict[str, Any]
    ) -> Recipient | None:
        if rule.recipient == CONTACT:
            if not contact.get("email"):
                logger.warning("contact unknown or without email; not emailed", extra=where)
                return None
            return Recipient(
                key, str(contact.get("name") or key.removeprefix(f"{CONTACT}:")), contact["email"]
            )
        user = self.directory.user(key)
        if user is None or not user.active or not user.email:
            logger.warning("recipient unknown, inactive or without email; not emailed", extra=where)
            return None
        return Recipient(key, user.name, user.email)

    def _send(
        self,
        rule: Notification,
        key: str | None,
        event: Mapping[str, Any],
        data: Mapping[str, Any],
        case: Case,
        defn: WorkflowDefinition,
        contact: Mapping[str, Any],
    ) -> str | None:
        """Send one rule's email to ``key``; the key when it went out, else None (and the reason logged)."""
        where = {"event_id": event.get("id"), "template": rule.template, "recipient": key}
        if not key:
            logger.warning("notification has no recipient", extra=where)
            return None
        if rule.recipient in SELF_SKIPPED and key == event.get("actor"):
            logger.info("recipient caused the event; not emailed", extra=where)
            return None
        if rule.recipient == CONTACT and "sms" in rule.channels and self.sms is not None:
            texted = self._text_contact(rule, key, event, data, case, defn, contact, where)
            if texted and "email" not in rule.channels:
                return key
        recipient = self._recipient(rule, key, contact, where)
        if recipient is None:
            return None
        event_type = event.get("type")
        approval_link = event_type == APPROVAL_REQUESTED and rule.recipient != CONTACT
        acceptance_link = event_type == ACCEPTANCE_REQUESTED and rule.recipient == CONTACT
        if approval_link and not self._still_pending(case, data, key):
            logger.info("approval no longer pending for the recipient; no link sent", extra=where)
            return None
        if acceptance_link and not self._acceptance_pending(case, data):
            logger.info("acceptance no longer pending; no link sent", extra=where)
            return None
        sent_as = f"{rule.template}:{key}"  # one email per event, rule and recipient, however often retried
        event_id = str(event.get("id"))
        if not self._claim(event_id, sent_as, where):
            return None  # sent by an earlier delivery: no second email, no second link
        try:
            context = self._context(recipient, event, data, case, defn, contact)
            if approval_link:
                context.update(self._approval_link(case, data, key))
            elif acceptance_link:
                context.update(self._acceptance_link(case, data, key))
            if rule.subject is not None and rule.body is not None:
                try:
                    subject, text, html = self.renderer.render_inline(rule.subject, rule.body, context)
                except ValueError as exc:  # the business's template is broken or refused: skip this email
                    logger.error(
                        "communication template failed; not emailed", extra={**where, "error": str(exc)}
                    )
                    self._release(event_id, sent_as)
                    return None
            else:
                subject, text, html = self.renderer.render(rule.template, context)
        except Exception:
            self._release(event_id, sent_as)
            raise
        message_id = self._send_claimed(event_id, sent_as, recipient.email, subject, text, html)
        logger.info("email sent", extra={**where, "message_id": message_id})
        return key

    def _text_contact(
        self,
        rule: Notification,
        key: str,
        event: Mapping[str, Any],
        data: Mapping[str, Any],
        case: Case,
        defn: WorkflowDefinition,
        contact: Mapping[str, Any],
        where: dict[str, Any],
    ) -> bool:
        """Text the contact what ``rule`` says (an acceptance request with its short link). False when the
        contact has no valid mobile number: then the history says so and the caller emails instead."""
        event_id, sent_as = str(event.get("id")), f"sms:{rule.template}:{key}"
        name = str(contact.get("name") or key.removeprefix(f"{CONTACT}:"))
        number = mobile_number(contact)
        if number is None:
            logger.info("contact has no valid mobile number; emailed instead", extra=where)
            self._record_undelivered(case, defn, name, event_id, rule.template)
            return False
        if not self._claim(event_id, sent_as, where):
            return True
        context = self._context(
            Recipient(key, name, str(contact.get("email") or "")), event, data, case, defn, contact
        )
        link = ""
        if event.get("type") == ACCEPTANCE_REQUESTED:
            if not self._acceptance_pending(case, data):
                logger.info("acceptance no longer pending; no link texted", extra=where)
                self._sent(event_id, sent_as, "")  # nothing to send, now or on a retry
                return True
            raw, expires_at = self._link(case, data, key, "acceptance", raw=self.new_short_token())
            link = f"{self.public_base_url}/l/{raw}"
            context.update({"acceptance_url": link, "expires_at": expires_at})
        try:
            if rule.subject is not None and rule.body is not None:
                subject, text, _html = self.renderer.render_inline(rule.subject, rule.body, context)
            else:
                subject, _text, _html = self.renderer.render(rule.template, context)
                text = context["answer"]["text"] if link else _text
        except ValueError as exc:
            logger.error("communication template failed; not texted", extra={**where, "error": str(exc)})
            self._sent(event_id, sent_as, "")  # a broken template: nothing to retry
            return True
        message_id = self._under_claim(event_id, sent_as, lambda: self.sms_send(number, subject, text, link))
        self._sent(event_id, sent_as, message_id)
        logger.info("sms sent", extra={**where, "message_id": message_id})
        return True

    def _record_undelivered(
        self, case: Case, defn: WorkflowDefinition, name: str, event_id: str, what: str
    ) -> None:
        """The case's history: no SMS to the contact, who was emailed instead. Once per event and message,
        retried on a concurrent change of the case."""
        marker = f"sms-fallback:{what}"
        if not self._claim(event_id, marker, {"event_id": event_id, "case_id": case.id}):
            return
        from casework.domain import engine  # rarely needed: not at the notify function's start-up

        for attempt in range(3):
            current = self.repo.get(case.id)
            unit = self.directory.business_unit(current.business_unit) or BusinessUnit(current.business_unit)
            change = engine.record_undelivered(
                defn,
                current,
                unit,
                channel="sms",
                recipient=name,
                instead="email",
                reason="No SMS: the contact has no valid mobile number",
                now=self.clock(),
            )
            try:
                self.repo.commit(change)
                break
            except Conflict:
                if attempt == 2:
                    self._release(event_id, marker)
                    raise
        self._sent(event_id, marker, "history")

    def _claim(self, event_id: str, sent_as: str, where: Mapping[str, Any]) -> bool:
        """Whether this delivery sends the email: False when an earlier delivery sent it; EmailInProgress
        (the message is retried) while another delivery holds it."""
        if self.ledger is None or self.ledger.claim(event_id, sent_as):
            return True
        logger.info("emailed already by an earlier delivery; not again", extra=dict(where))
        return False

    def _release(self, event_id: str, sent_as: str) -> None:
        if self.ledger is not None:
            self.ledger.release(event_id, sent_as)

    def _sent(self, event_id: str, sent_as: str, message_id: str) -> None:
        if self.ledger is not None:
            self.ledger.record(event_id, sent_as, message_id)

    def _under_claim(self, event_id: str, sent_as: str, send: Callable[[], str]) -> str:
        """Send under the claim; when sending fails the claim is released (the retry claims it again)."""
        try:
            return send()
        except Exception:
            self._release(event_id, sent_as)
            raise

    def _send_claimed(self, event_id: str, sent_as: str, to: str, subject: str, text: str, html: str) -> str:
        """Email under the claim: recorded as sent once SES took it, released when it failed."""
        message_id = self._under_claim(event_id, sent_as, lambda: self.mailer.send(to, subject, text, html))
        self._sent(event_id, sent_as, message_id)
        return message_id

    def sms_send(self, number: str, subject: str, text: str, link: str = "") -> str:
        return self.sms.send(number, sms_text(subject, text, link)) if self.sms is not None else ""

    @staticmethod
    def _still_pending(case: Case, data: Mapping[str, Any], username: str) -> bool:
        """An approval decided before its email went out (another approver, a re-delivery much later)
        gets no link: the link could only lead to "no longer waiting for your decision"."""
        pending = case.approval
        return (
            pending is not None
            and pending.step == data.get("step")
            and pending.round == data.get("round")
            and pending.is_pending_for(username, data.get("on_behalf_of"))
        )

    @staticmethod
    def _acceptance_pending(case: Case, data: Mapping[str, Any]) -> bool:
        """Like ``_still_pending``: an answer accepted, refused or replaced before its email went out gets no
        link (the link could only lead to "no longer waiting for your acceptance")."""
        pending = case.acceptance
        return (
            pending is not None
            and pending.pending
            and pending.status == case.status
            and pending.step == data.get("step")
            and pending.round == data.get("round")
        )

    def _link(
        self,
        case: Case,
        data: Mapping[str, Any],
        person: str,
        purpose: str,
        on_behalf_of: str | None = None,
        raw: str | None = None,
    ) -> tuple[str, str]:
        """Mint a single-use token (``raw``: a short one for an SMS); (raw token, when it expires). Only its
        hash is stored."""
        now = self.clock()
        expires = now + timedelta(hours=self.token_ttl_hours)
        raw = raw or self.new_token()
        self.repo.save_token(
            ApprovalToken(
                token_hash=hash_token(raw),
                case_id=case.id,
                step=data["step"],
                round=int(data["round"]),
                approver=person,
                expires_at=int(expires.timestamp()),
                purpose=purpose,
                on_behalf_of=on_behalf_of,
            )
        )
        return raw, _when(expires)

    def _approval_link(self, case: Case, data: Mapping[str, Any], approver: str) -> dict[str, Any]:
        on_behalf_of = data.get("on_behalf_of")
        raw, expires_at = self._link(case, data, approver, "approval", on_behalf_of)
        return {
            "approval_url": f"{self.public_base_url}/approvals/{raw}",
            "expires_at": expires_at,
            "on_behalf_of": self._assignee(on_behalf_of),  # a delegate decides for this approver
        }

    def _acceptance_link(self, case: Case, data: Mapping[str, Any], contact: str) -> dict[str, Any]:
        raw, expires_at = self._link(case, data, contact, "acceptance")
        return {"acceptance_url": f"{self.public_base_url}/acceptances/{raw}", "expires_at": expires_at}

    def case_url(self, case_id: str) -> str:
        return (
            self.case_url_template.replace("{id}", quote(case_id, safe="")) if self.case_url_template else ""
        )

    def _name(self, username: str | None) -> str:
        if not username:
            return ""
        user = self.directory.user(username)
        return user.name if user else username

    @staticmethod
    def _rejection_reason(case: Case, defn: WorkflowDefinition, status: str) -> str:
        """The reason kept by the approval step whose rejection led to ``status``, if any."""
        for st in defn.statuses.values():
            spec = st.approval
            if spec and spec.on_reject == status and spec.reason_field and case.fields.get(spec.reason_field):
                return str(case.fields[spec.reason_field])
        return ""

    def _assignee(self, username: str | None) -> dict[str, Any]:
        if not username:
            return {}
        return {"username": username, "name": self._name(username)}

    def _context(
        self,
        recipient: Recipient,
        event: Mapping[str, Any],
        data: Mapping[str, Any],
        case: Case,
        defn: WorkflowDefinition,
        contact: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The tags every template (shipped or a business's own) may use."""
        # The case's read model is pydantic: imported with the first email written rather than at start-up,
        # so the notify and remind functions start without it (the cold-start budget counts start-up).
        from casework.domain.views import case_view

        account = self.directory.account(case.account_id) if case.account_id else None
        unit = self.directory.business_unit(case.business_unit)
        status = data.get("to_status") or data.get("status") or case.status
        step = defn.statuses.get(case.status)
        return {
            "recipient": {"username": recipient.key, "name": recipient.name},
            "case": {
                **case_view(case).model_dump(),
                "number": case.id,
                "type_name": defn.raw.get("type_name"),
            },
            "contact": dict(contact),
            "assignee": self._assignee(case.assignee),
            "state": data.get("state") or case.state,
            "step": data.get("step") or "",
            "answer": asdict(answer_view(defn, case)),
            "case_type": defn.title,
            "case_url": self.case_url(case.id),
            "account_name": (account or {}).get("name") or case.account_id or "",
            "business_unit": case.business_unit,
            "business_unit_name": (unit.name if unit else "") or case.business_unit,
            "actor": {"username": event.get("actor"), "name": self._name(event.get("actor"))},
            "event": {
                "id": event.get("id"),
                "type": event.get("type"),
                "occurred_at": event.get("occurred_at"),
            },
            "data": dict(data),
            "status": status,
            "reason": data.get("reason") or "",
            "step_label": data.get("step_label")
            or (step.approval.label if step and step.approval else data.get("step", "")),
            "rejection_reason": self._rejection_reason(case, defn, status),
            "approval_url": "",
            "on_behalf_of": {},
            "acceptance_url": "",
            "expires_at": "",
        }


def remind(notifier: Notifier, case: Case, person: str, on_behalf_of: str | None) -> str | None:
    """Email ``person`` a reminder of the case's pending approval with a fresh link (the earlier link keeps
    working until used or expired). Returns the username when it went out, None when they cannot be emailed
    (the reason logged). Not an event rule: reminders come from the schedule, not from a change."""
    pending = case.approval
    if pending is None or not pending.is_pending_for(person, on_behalf_of):
        return None
    event = {
        "id": f"{case.id}:reminder",
        "type": "ApprovalReminder",
        "case_type": case.type,
        "workflow_version": case.workflow_version,
        "subtype": case.subtype,
        "config_version": case.config_version,
        "actor": "system",
        "occurred_at": timestamp(notifier.clock()),
    }
    where = {"case_id": case.id, "template": "approval_reminder", "recipient": person}
    user = notifier.directory.user(person)
    if user is None or not user.active or not user.email:
        logger.warning("recipient unknown, inactive or without email; not reminded", extra=where)
        return None
    defn = notifier.definition_of(event)
    spec = defn.statuses[case.status].approval if case.status in defn.statuses else None
    data = {
        "step": pending.step,
        "round": pending.round,
        "step_label": pending.label or (spec.label if spec else pending.step),  # a rule's hold names itself
        "on_behalf_of": on_behalf_of,
    }
    contact = (notifier.directory.contact(case.contact_id) if case.contact_id else None) or {}
    recipient = Recipient(person, user.name, user.email)
    context = notifier._context(recipient, event, data, case, defn, contact)
    context.update(notifier._approval_link(case, data, person))
    context["requested_on"] = _when(datetime.fromisoformat(pending.requested_at))
    subject, text, html = notifier.renderer.render("approval_reminder", context)
    message_id = notifier.mailer.send(user.email, subject, text, html)
    logger.info("reminder sent", extra={**where, "message_id": message_id})
    return person
