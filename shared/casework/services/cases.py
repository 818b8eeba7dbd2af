"""Use cases on cases. Each loads what it needs, asks the engine, and commits one Change atomically.

Request budget (see scripts/count_requests.py): a command is one GetItem for the case plus one
TransactWriteItems; definitions and the directory are cached in the process, so a warm function reads
nothing else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from casework.domain import engine
from casework.domain.errors import (
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    ValidationFailed,
    link_expired,
    link_used,
)
from casework.domain.model import Actor, BusinessUnit, Case, Change, DomainEvent, HistoryEntry, timestamp
from casework.domain.workflow import WorkflowDefinition
from casework.services.ports import (
    CaseQuery,
    CaseRepository,
    Clock,
    ConsumeToken,
    Directory,
    IdFactory,
    LinkRelated,
    Note,
    Page,
    SideWrites,
    WorkflowStore,
)

MAX_PAGE = 100


def hash_token(raw: str) -> str:
    """Links carry >= 256 random bits, so a plain SHA-256 is enough: nothing to brute-force."""
    return hashlib.sha256(raw.encode()).hexdigest()


def history_view(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "version": entry.version,
        "at": entry.at,
        "by": entry.by,
        "action": entry.action,
        "from_status": entry.from_status,
        "to_status": entry.to_status,
        "changes": dict(entry.changes),
        "comment": entry.comment,
        "path": list(entry.path),
    }


def case_view(case: Case) -> dict[str, Any]:
    """The case as every reader sees it; the caller-specific parts are added by CaseService.view."""
    approval = case.approval
    return {
        "id": case.id,
        "type": case.type,
        "workflow_version": case.workflow_version,
        "title": case.title,
        "description": case.description,
        "account_id": case.account_id,
        "business_unit": case.business_unit,
        "gbu": case.business_unit,
        "status": case.status,
        "state": case.state,
        "version": case.version,
        "assignee": case.assignee,
        "created_by": case.created_by,
        "created_at": case.created_at,
        "updated_by": case.updated_by,
        "updated_at": case.updated_at,
        "fields": dict(case.fields),
        "related_counts": dict(case.related_counts),
        "related_products_count": case.related_counts.get("products", 0),
        "key_dates": [
            {
                "status": p.status,
                "entered_at": p.entered_at,
                "entered_by": p.entered_by,
                "left_at": p.left_at,
                "left_by": p.left_by,
            }
            for p in case.key_dates
        ],
        "pending_approval": None
        if approval is None
        else {
            "step": approval.step,
            "round": approval.round,
            "mode": approval.mode.value,
            "requested_at": approval.requested_at,
            "approvers": [{"username": u, "decision": d} for u, d in approval.decisions.items()],
        },
    }


@dataclass
class CaseService:
    repo: CaseRepository
    directory: Directory
    workflows: WorkflowStore
    clock: Clock
    new_id: IdFactory

    # --- people and context ---

    def actor(self, username: str | None) -> Actor:
        if not username:
            raise Forbidden("UNKNOWN_USER", "Your identity carries no username.")
        user = self.directory.user(username)
        if user is None or not user.active:
            raise Forbidden("UNKNOWN_USER", f"{username} is not an active user of casework.")
        return user

    def _unit(self, code: str) -> BusinessUnit:
        unit = self.directory.business_unit(code)
        if unit is None:
            raise ValidationFailed(
                "UNKNOWN_BUSINESS_UNIT", f"Business unit {code!r} does not exist.", {"business_unit": code}
            )
        return unit

    def _load(self, case_id: str) -> tuple[Case, WorkflowDefinition, BusinessUnit]:
        case = self.repo.get(case_id)
        return case, self.workflows.get(case.type, case.workflow_version), self._unit(case.business_unit)

    @staticmethod
    def _check_version(case: Case, expected_version: int | None) -> None:
        if expected_version is not None and expected_version != case.version:
            raise Conflict(
                "STALE_VERSION",
                "The case has changed since you read it; reload and try again.",
                {"expected_version": expected_version, "current_version": case.version},
            )

    def view(
        self,
        case: Case,
        actor: Actor,
        defn: WorkflowDefinition | None = None,
        unit: BusinessUnit | None = None,
    ) -> dict[str, Any]:
        defn = defn or self.workflows.get(case.type, case.workflow_version)
        unit = unit or self._unit(case.business_unit)
        view = case_view(case)
        view["available_transitions"] = engine.available_transitions(defn, case, actor, unit)
        view["editable_fields"] = engine.editable_fields(defn, case, actor)
        view["can_decide_approval"] = bool(case.approval and case.approval.is_pending_for(actor.username))
        return view

    # --- commands ---

    def register(
        self,
        username: str,
        *,
        type: str,
        title: Any,
        description: Any = None,
        account_id: str | None = None,
        business_unit: str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        actor = self.actor(username)
        defn = self.workflows.get(type)
        code = business_unit or actor.default_business_unit
        if not code:
            raise ValidationFailed(
                "MISSING_FIELDS", "Give the business unit (gbu): you have no default.", {"fields": ["gbu"]}
            )
        unit = self._unit(code)
        if account_id is not None and self.directory.account(account_id) is None:
            raise ValidationFailed(
                "UNKNOWN_ACCOUNT", f"Account {account_id!r} does not exist.", {"account_id": account_id}
            )
        change = engine.register(
            defn,
            actor,
            unit,
            case_id=self.new_id(),
            now=self.clock(),
            title=title,
            description=description,
            account_id=account_id,
            fields=fields,
        )
        self.repo.commit(change)
        return self.view(change.case, actor, defn, unit)

    def get(self, username: str, case_id: str) -> dict[str, Any]:
        actor = self.actor(username)
        case, defn, unit = self._load(case_id)
        return self.view(case, actor, defn, unit)

    def _command(
        self,
        username: str,
        case_id: str,
        expected_version: int | None,
        decide: Callable[[WorkflowDefinition, Case, Actor, BusinessUnit, datetime], Change | None],
        side: SideWrites = SideWrites(),
    ) -> dict[str, Any]:
        """The shape of every change: load, check the caller's version, let the engine decide, commit."""
        actor = self.actor(username)
        case, defn, unit = self._load(case_id)
        self._check_version(case, expected_version)
        change = decide(defn, case, actor, unit, self.clock())
        if change is None:  # nothing to change: nothing written
            return self.view(case, actor, defn, unit)
        self.repo.commit(change, side)
        return self.view(change.case, actor, defn, unit)

    def transition(
        self,
        username: str,
        case_id: str,
        *,
        to: str,
        fields: dict[str, Any] | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        return self._command(
            username,
            case_id,
            expected_version,
            lambda defn, case, actor, unit, now: engine.transition(
                defn, case, actor, unit, to=to, fields=fields, now=now
            ),
        )

    def edit(
        self, username: str, case_id: str, *, fields: dict[str, Any], expected_version: int | None = None
    ) -> dict[str, Any]:
        return self._command(
            username,
            case_id,
            expected_version,
            lambda defn, case, actor, unit, now: engine.edit(defn, case, actor, unit, fields=fields, now=now),
        )

    def change_related(
        self,
        username: str,
        case_id: str,
        *,
        kind: str,
        key: str,
        added: bool,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        label = None
        if added:
            lookup = {"products": self.directory.product, "accounts": self.directory.account}.get(kind)
            record = lookup(key) if lookup else None
            if lookup and record is None:
                raise ValidationFailed(
                    "UNKNOWN_REFERENCE", f"{key!r} is not a known {kind[:-1]}.", {"kind": kind, "key": key}
                )
            label = (record or {}).get("name")
        return self._command(
            username,
            case_id,
            expected_version,
            lambda defn, case, actor, unit, now: engine.change_related(
                defn, case, actor, unit, kind=kind, key=key, added=added, now=now
            ),
            SideWrites(links=[LinkRelated(kind, key, added, label)]),
        )

    def reassign(
        self, username: str, case_id: str, *, assignee: str, expected_version: int | None = None
    ) -> dict[str, Any]:
        target = self.directory.user(assignee)
        if target is None:
            raise ValidationFailed("UNKNOWN_USER", f"{assignee!r} is not a user of casework.")
        return self._command(
            username,
            case_id,
            expected_version,
            lambda defn, case, actor, unit, now: engine.reassign(
                defn, case, actor, unit, assignee=target, now=now
            ),
        )

    def decide(
        self,
        username: str,
        case_id: str,
        *,
        decision: str,
        comment: str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        return self._command(
            username,
            case_id,
            expected_version,
            lambda defn, case, actor, unit, now: engine.decide(
                defn, case, actor, unit, decision=decision, comment=comment, now=now
            ),
        )

    # --- approval links ---

    def _token_context(self, raw_token: str) -> tuple[Any, Case, WorkflowDefinition, BusinessUnit, Actor]:
        token = self.repo.token(hash_token(raw_token)) if raw_token else None
        if token is None:
            raise NotFound("TOKEN_UNKNOWN", "This approval link is not valid.")
        if token.used_at:
            raise link_used({"used_at": token.used_at, "decision": token.decision})
        if token.expires_at <= int(self.clock().timestamp()):
            raise link_expired()
        case, defn, unit = self._load(token.case_id)
        pending = case.approval
        if (
            pending is None
            or pending.step != token.step
            or pending.round != token.round
            or not pending.is_pending_for(token.approver)
        ):
            raise Gone(
                "APPROVAL_NOT_PENDING",
                "This approval is no longer waiting for your decision.",
                {"status": case.status},
            )
        approver = self.actor(token.approver)
        return token, case, defn, unit, approver

    def approval_page(self, raw_token: str) -> dict[str, Any]:
        """What the confirm page shows. Changes nothing: mail scanners open links."""
        token, case, defn, _unit, approver = self._token_context(raw_token)
        step = defn.status(case.status).approval
        return {
            "case": case_view(case),
            "step": token.step,
            "step_label": step.label if step else token.step,
            "approver": approver.name,
            "case_title": defn.title,
            "account": self.directory.account(case.account_id) if case.account_id else None,
        }

    def decide_by_token(self, raw_token: str, *, decision: str, comment: str | None) -> dict[str, Any]:
        token, case, defn, unit, approver = self._token_context(raw_token)
        now = self.clock()
        change = engine.decide(
            defn, case, approver, unit, decision=decision, comment=comment, now=now, via="email"
        )
        consume = ConsumeToken(token.token_hash, timestamp(now), int(now.timestamp()), decision)
        self.repo.commit(change, SideWrites(tokens=[consume]))
        return {"case": case_view(change.case), "decision": decision, "approver": approver.name}

    # --- reads ---

    def list_cases(self, username: str, query: CaseQuery) -> Page:
        actor = self.actor(username)
        if query.assignee == "me":
            query = CaseQuery(**{**query.__dict__, "assignee": actor.username})
        if not 1 <= query.limit <= MAX_PAGE:
            raise ValidationFailed("INVALID_LIMIT", f"limit must be between 1 and {MAX_PAGE}.")
        if query.type is not None:
            self.workflows.get(query.type)  # NotFound for an unknown type, rather than an empty list
        return self.repo.list_cases(query)

    # Reads are one Query each. An empty first page may mean an unknown case, and only then do we spend a
    # GetItem to tell "no entries yet" from 404 (a case always has its registration in the history).

    @staticmethod
    def _page_limit(limit: int) -> int:
        if limit < 1:
            raise ValidationFailed("INVALID_LIMIT", f"limit must be between 1 and {MAX_PAGE}.")
        return min(limit, MAX_PAGE)

    def _page_or_404(self, case_id: str, page: Page, cursor: str | None) -> Page:
        if not page.items and cursor is None:
            self.repo.get(case_id)
        return page

    def history(self, username: str, case_id: str, cursor: str | None = None, limit: int = MAX_PAGE) -> Page:
        self.actor(username)
        page = self.repo.history(case_id, cursor, self._page_limit(limit))
        if not page.items and cursor is None:
            raise NotFound("CASE_NOT_FOUND", f"Case {case_id} does not exist.")
        return page

    def related(
        self, username: str, case_id: str, kind: str, cursor: str | None = None, limit: int = MAX_PAGE
    ) -> Page:
        self.actor(username)
        return self._page_or_404(
            case_id, self.repo.related(case_id, kind, cursor, self._page_limit(limit)), cursor
        )

    def add_note(self, username: str, case_id: str, text: Any) -> dict[str, Any]:
        actor = self.actor(username)
        if not isinstance(text, str) or not text.strip():
            raise ValidationFailed("MISSING_FIELDS", "A note needs some text.", {"fields": ["text"]})
        if len(text) > 10_000:
            raise ValidationFailed(
                "INVALID_FIELDS", "A note is at most 10000 characters.", {"fields": ["text"]}
            )
        case = self.repo.get(case_id)
        at = timestamp(self.clock())
        note = Note(id=self.new_id(), case_id=case.id, text=text.strip(), author=actor.username, at=at)
        event = DomainEvent(
            id=f"{case.id}:note:{note.id}",
            type="NoteAdded",
            case_id=case.id,
            case_type=case.type,
            occurred_at=at,
            actor=actor.username,
            data={"note_id": note.id, "status": case.status, "state": case.state},
            workflow_version=case.workflow_version,
        )
        self.repo.add_note(note, event)
        return {"id": note.id, "case_id": case.id, "text": note.text, "author": note.author, "at": note.at}

    def notes(self, username: str, case_id: str, cursor: str | None = None, limit: int = MAX_PAGE) -> Page:
        self.actor(username)
        return self._page_or_404(case_id, self.repo.notes(case_id, cursor, self._page_limit(limit)), cursor)
