"""Event-based communication: a domain event in, the emails its workflow definition asks for out.

Which event emails whom with which template is data (``notifications`` in the definition). An approval
request also issues the approver's single-use link: 256 random bits, stored only as a SHA-256 hash, bound
to person + case + step + round, expiring. The raw token exists in exactly one place: the email.

Pure logic: the repository, directory, workflow store, mailer and renderer are injected.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from casework.domain.model import Actor, Case
from casework.domain.workflow import Notification, WorkflowDefinition
from casework.services.cases import case_view, hash_token
from casework.services.ports import ApprovalToken, CaseRepository, Clock, Directory, WorkflowStore

logger = logging.getLogger(__name__)

APPROVAL_REQUESTED = "ApprovalRequested"
SELF_SKIPPED = frozenset({"assignee", "creator"})  # nobody needs an email about their own action


class Mailer(Protocol):
    def send(self, to: str, subject: str, text: str, html: str) -> str: ...


class Renderer(Protocol):
    def render(self, name: str, context: dict[str, Any]) -> tuple[str, str, str]: ...


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

    def __post_init__(self) -> None:
        self.public_base_url = self.public_base_url.rstrip("/")

    def handle(self, event: Mapping[str, Any]) -> list[str]:
        """Send the emails ``event`` calls for; returns the usernames emailed (empty when none apply)."""
        event_type = event["type"]
        data: Mapping[str, Any] = event.get("data") or {}
        # Most events email nobody: decide from the (cached) definition before reading the case.
        defn = self.workflows.get(event["case_type"], event.get("workflow_version"))
        rules = [
            n
            for n in defn.notifications
            if n.event == event_type and (not n.states or data.get("state") in n.states)
        ]
        if not rules:
            return []
        case = self.repo.get(event["case_id"])
        sent: list[str] = []
        for rule in rules:
            username = self._recipient(rule, case, data)
            if self._send(rule, username, event, data, case, defn):
                sent.append(username)  # type: ignore[arg-type]
        return sent

    # --- one notification ---

    @staticmethod
    def _recipient(rule: Notification, case: Case, data: Mapping[str, Any]) -> str | None:
        if rule.recipient == "approver":
            return data.get("approver")
        if rule.recipient == "assignee":
            return data.get("assignee")
        return case.created_by

    def _send(
        self,
        rule: Notification,
        username: str | None,
        event: Mapping[str, Any],
        data: Mapping[str, Any],
        case: Case,
        defn: WorkflowDefinition,
    ) -> bool:
        where = {"event_id": event.get("id"), "template": rule.template, "recipient": username}
        if not username:
            logger.warning("notification has no recipient", extra=where)
            return False
        if rule.recipient in SELF_SKIPPED and username == event.get("actor"):
            logger.info("recipient caused the event; not emailed", extra=where)
            return False
        user = self.directory.user(username)
        if user is None or not user.active or not user.email:
            logger.warning("recipient unknown, inactive or without email; not emailed", extra=where)
            return False
        context = self._context(rule, user, event, data, case, defn)
        if event.get("type") == APPROVAL_REQUESTED:
            if not self._still_pending(case, data, username):
                logger.info("approval no longer pending for the recipient; no link sent", extra=where)
                return False
            context.update(self._approval_link(case, data, username))
        subject, text, html = self.renderer.render(rule.template, context)
        message_id = self.mailer.send(user.email, subject, text, html)
        logger.info("email sent", extra={**where, "message_id": message_id})
        return True

    @staticmethod
    def _still_pending(case: Case, data: Mapping[str, Any], username: str) -> bool:
        """An approval decided before its email went out (another approver, a re-delivery much later)
        gets no link: the link could only lead to "no longer waiting for your decision"."""
        pending = case.approval
        return (
            pending is not None
            and pending.step == data.get("step")
            and pending.round == data.get("round")
            and pending.is_pending_for(username)
        )

    def _approval_link(self, case: Case, data: Mapping[str, Any], approver: str) -> dict[str, Any]:
        now = self.clock()
        expires = now + timedelta(hours=self.token_ttl_hours)
        raw = self.new_token()
        self.repo.save_token(
            ApprovalToken(
                token_hash=hash_token(raw),
                case_id=case.id,
                step=data["step"],
                round=int(data["round"]),
                approver=approver,
                expires_at=int(expires.timestamp()),
            )
        )
        return {"approval_url": f"{self.public_base_url}/approvals/{raw}", "expires_at": _when(expires)}

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

    def _context(
        self,
        rule: Notification,
        recipient: Actor,
        event: Mapping[str, Any],
        data: Mapping[str, Any],
        case: Case,
        defn: WorkflowDefinition,
    ) -> dict[str, Any]:
        account = self.directory.account(case.account_id) if case.account_id else None
        unit = self.directory.business_unit(case.business_unit)
        status = data.get("to_status") or data.get("status") or case.status
        step = defn.statuses.get(case.status)
        return {
            "recipient": {"username": recipient.username, "name": recipient.name},
            "case": case_view(case),
            "case_type": defn.title,
            "case_url": f"{self.public_base_url}/cases/{case.id}",
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
            "expires_at": "",
        }
