"""Entities and value objects: the case, its history entries, the people and business units around it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# re-exported (the `as` form): where most callers have always imported it from
from casework.domain.timestamps import timestamp as timestamp
from casework.domain.workflow_terms import ApprovalMode


@dataclass(frozen=True)
class Actor:
    """A person as the directory knows them. Roles are global; business units scope them."""

    username: str
    display_name: str = ""
    email: str | None = None
    roles: frozenset[str] = frozenset()
    business_units: frozenset[str] = frozenset()
    default_business_unit: str | None = None
    active: bool = True
    phone: str | None = None  # E.164, for SMS alerts

    @property
    def name(self) -> str:
        return self.display_name or self.username


SYSTEM = Actor(username="system", display_name="casework")


@dataclass(frozen=True)
class ApprovalRule:
    """A business unit's rule for one approval step: approve automatically, ask one user, or ask a group."""

    kind: str  # "auto" | "user" | "group"
    users: tuple[str, ...] = ()
    role: str | None = None
    mode: ApprovalMode = ApprovalMode.ANY
    remind_after_hours: int | None = None  # remind approvers once a day after this long; None: the default


@dataclass(frozen=True)
class BusinessUnit:
    code: str
    name: str = ""
    members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # role -> usernames
    responsibles: Mapping[str, str] = field(default_factory=dict)  # duty (e.g. "assessment") -> username
    approval_rules: Mapping[str, ApprovalRule] = field(default_factory=dict)  # step -> rule

    def members_with_role(self, role: str) -> tuple[str, ...]:
        return tuple(self.members.get(role, ()))


@dataclass(frozen=True)
class Phase:
    """A stay in one status: the key dates (entered, left) and who caused them."""

    status: str
    entered_at: str
    entered_by: str
    left_at: str | None = None
    left_by: str | None = None


@dataclass(frozen=True)
class PendingApproval:
    """The approval a case waits for. ``round`` grows each time the case enters an approval status, so a
    link from an earlier round can never decide a later one."""

    step: str
    round: int
    mode: ApprovalMode
    decisions: Mapping[str, str | None]  # approver -> None (pending) | "approve" | "reject"
    requested_at: str
    # Delegation: approver -> the delegate also asked while the approver is away (their decision counts as the
    # approver's, once), and approver -> the delegate who decided for them.
    delegates: Mapping[str, str] = field(default_factory=dict)
    decided_by: Mapping[str, str] = field(default_factory=dict)
    # Who moved the case into the approval status, and the status it came from: a recall goes back there.
    submitted_by: str | None = None
    submitted_from: str | None = None
    # A hold: asked by a workflow rule (step ``rule:<id>``), not by an approval status. While it waits, the
    # case may not leave its status; its decision lifts it and moves nothing. ``label`` names it to people.
    hold: bool = False
    label: str | None = None

    def principal_for(self, username: str, on_behalf_of: str | None = None) -> str | None:
        """Whose pending decision ``username`` may give: their own, else that of an approver who delegated to
        them (``on_behalf_of`` picks one when several did). None when nothing waits for them."""
        if on_behalf_of in (None, username) and self.decisions.get(username, "") is None:
            return username
        for principal, delegate in self.delegates.items():
            pending = self.decisions.get(principal, "") is None
            if delegate == username and pending and on_behalf_of in (None, principal):
                return principal
        return None

    def is_pending_for(self, username: str, on_behalf_of: str | None = None) -> bool:
        return self.principal_for(username, on_behalf_of) is not None

    def waiting_on(self) -> list[tuple[str, str | None]]:
        """Everybody a decision still waits for, as (person, on behalf of): each pending approver, and the
        delegate of each pending approver."""
        out: list[tuple[str, str | None]] = []
        for principal, decision in self.decisions.items():
            if decision is None:
                out.append((principal, None))
                if self.delegates.get(principal):
                    out.append((self.delegates[principal], principal))
        return out


@dataclass(frozen=True)
class PendingAcceptance:
    """A response or resolution waiting for the contact to accept it (e.g. a service request's final
    resolution whose category requires acceptance). ``round`` grows with each new answer, so a link sent
    for an earlier answer can never accept a later one."""

    step: str
    round: int
    status: str  # the status the answer belongs to
    category: str | None
    decision: str | None  # None (pending) | "accept" | "refuse"
    requested_at: str
    decided_at: str | None = None
    comment: str | None = None

    @property
    def pending(self) -> bool:
        return self.decision is None


@dataclass(frozen=True)
class Case:
    id: str
    type: str
    workflow_version: int
    title: str
    description: str | None
    account_id: str | None
    business_unit: str
    status: str
    state: str
    version: int
    assignee: str | None
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    related_counts: Mapping[str, int] = field(default_factory=dict)
    key_dates: tuple[Phase, ...] = ()
    approval: PendingApproval | None = None
    approval_rounds: int = 0
    # Configurable modules (service requests, activities, leads): the business's type and the
    # configuration version the case started with, like workflow_version.
    subtype: str | None = None
    config_version: int | None = None
    contact_id: str | None = None
    parent_id: str | None = None  # e.g. the service request or lead an activity was scheduled from
    parent_type: str | None = None
    # start_date, expected_completion_date, actual_completion_date (timestamps); the rest is derived
    dates: Mapping[str, str | None] = field(default_factory=dict)
    acceptance: PendingAcceptance | None = None
    acceptance_rounds: int = 0
    # Who may see it besides its unit (casework.domain.visibility): the people who have been on it (creator,
    # assignees, approvers asked, assignees of activities scheduled from it) and the units it was routed or
    # reassigned through. They only grow: once on a case, you keep reading it.
    involved: frozenset[str] = frozenset()
    units_seen: frozenset[str] = frozenset()

    def value(self, name: str) -> Any:
        """A field's value, whether it is a core attribute (title, ...) or a definition field."""
        if name in CORE_ATTRIBUTES:
            return getattr(self, name)
        return self.fields.get(name)


CORE_ATTRIBUTES = frozenset({"title", "description", "account_id", "business_unit", "contact_id"})


@dataclass(frozen=True)
class HistoryEntry:
    """One committed change. Written in the same transaction as the case, so history is never missing."""

    version: int
    at: str
    by: str
    action: str
    from_status: str | None = None
    to_status: str | None = None
    changes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # field -> {"from", "to"}
    comment: str | None = None
    path: tuple[str, ...] = ()  # statuses passed through, when automatic steps chained
    on_behalf_of: str | None = None  # ``by`` acted as delegate of this approver


@dataclass(frozen=True)
class DomainEvent:
    """A fact other systems may react to. ``id`` is stable (case, version, index), so a re-delivered stream
    record republishes the same ids and every consumer can drop the duplicate."""

    id: str
    type: str
    case_id: str
    case_type: str
    occurred_at: str
    actor: str
    data: Mapping[str, Any] = field(default_factory=dict)
    # The definition version the case runs: consumers look its rules up by it.
    workflow_version: int | None = None
    schema_version: int = 1
    # Care modules: the type and configuration version, so consumers find the same compiled definition
    subtype: str | None = None
    config_version: int | None = None
    # The case version whose commit raised the event: a subscriber orders a case's events by it (notes and
    # feedback do not change the case, so they carry the version they were added to).
    case_version: int | None = None
    # The request (or handled event) that caused it. The domain only carries it: adapters stamp it on the
    # way to the outbox (casework.correlation), so the domain never reads any context.
    correlation_id: str | None = None
    # Whether notify has anything to send for it (WorkflowDefinition.notifies), decided where the event is
    # made: the bus's notify rule lets only these through. None (not decided): the rule lets it through and
    # notify decides.
    notify: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        configured = {"subtype": self.subtype, "config_version": self.config_version} if self.subtype else {}
        traced = {"correlation_id": self.correlation_id} if self.correlation_id else {}
        decided = {"notify": self.notify} if self.notify is not None else {}
        return {
            "id": self.id,
            "type": self.type,
            "schema_version": self.schema_version,
            "case_id": self.case_id,
            "case_type": self.case_type,
            "case_version": self.case_version,
            "workflow_version": self.workflow_version,
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "data": dict(self.data),
            **configured,
            **traced,
            **decided,
        }


@dataclass(frozen=True)
class Change:
    """What one command did: the case after it, its history entry and the events it raised.

    ``expected_version`` is the version the change was computed from; the repository commits only if the
    stored case still has it (optimistic concurrency). None means the case is new.
    """

    case: Case
    entry: HistoryEntry
    events: tuple[DomainEvent, ...]
    expected_version: int | None
    # Child case types (e.g. "activity") that must have no open case under this one for the commit to hold;
    # the repository checks it atomically, so an activity scheduled meanwhile cannot slip through.
    closed_children: tuple[str, ...] = ()
    deleted: bool = False
    # The case just reached a terminal state (completed or cancelled): its parent has one open child less.
    closed_now: bool = False
