"""What the use cases need from the outside world. Adapters implement these; tests use in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from casework.domain.model import Actor, BusinessUnit, Case, Change, DomainEvent
from casework.domain.workflow import WorkflowDefinition

Clock = Callable[[], datetime]
IdFactory = Callable[[], str]


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None = None


@dataclass(frozen=True)
class CaseQuery:
    """A list request. Every combination is served by a Query on one index, never a Scan."""

    type: str | None = None
    status: str | None = None
    assignee: str | None = None
    account_id: str | None = None
    cursor: str | None = None
    limit: int = 25


@dataclass(frozen=True)
class LinkRelated:
    """Add (must not exist yet) or remove (must exist) one entry of a case's related list."""

    kind: str
    key: str
    added: bool
    label: str | None = None


@dataclass(frozen=True)
class ConsumeToken:
    """Mark an approval link used; fails the whole commit if it was used already or has expired."""

    token_hash: str
    used_at: str
    now_epoch: int
    decision: str


@dataclass(frozen=True)
class Note:
    id: str
    case_id: str
    text: str
    author: str
    at: str


@dataclass(frozen=True)
class ApprovalToken:
    token_hash: str
    case_id: str
    step: str
    round: int
    approver: str
    expires_at: int  # epoch seconds; also the table's TTL attribute
    used_at: str | None = None
    decision: str | None = None


@dataclass(frozen=True)
class SideWrites:
    """Writes that must commit together with a case change, or not at all."""

    links: Sequence[LinkRelated] = field(default_factory=tuple)
    tokens: Sequence[ConsumeToken] = field(default_factory=tuple)


class CaseRepository(Protocol):
    def get(self, case_id: str) -> Case:
        """The case, or NotFound."""
        ...

    def commit(self, change: Change, side: SideWrites = SideWrites()) -> None:
        """Write the case (if still at ``change.expected_version``), its history/outbox entry and the side
        writes in one transaction. Raises Conflict (stale version, duplicate link, used token) or NotFound."""
        ...

    def list_cases(self, query: CaseQuery) -> Page: ...

    def history(self, case_id: str, cursor: str | None, limit: int) -> Page: ...

    def related(self, case_id: str, kind: str, cursor: str | None, limit: int) -> Page: ...

    def add_note(self, note: Note, event: DomainEvent) -> None: ...

    def notes(self, case_id: str, cursor: str | None, limit: int) -> Page: ...

    def token(self, token_hash: str) -> ApprovalToken | None: ...

    def save_token(self, token: ApprovalToken) -> None: ...


class Directory(Protocol):
    """People, business units and reference data (accounts, products)."""

    def user(self, username: str) -> Actor | None: ...

    def business_unit(self, code: str) -> BusinessUnit | None: ...

    def account(self, account_id: str) -> dict[str, Any] | None: ...

    def product(self, code: str) -> dict[str, Any] | None: ...


class WorkflowStore(Protocol):
    def get(self, name: str, version: int | None = None) -> WorkflowDefinition:
        """A definition by name (latest version when ``version`` is None), or NotFound."""
        ...
