"""What the use cases need from the outside world. Adapters implement these; tests use in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol

from typing_extensions import TypeVar

from casework.domain.error_codes import ErrorCode
from casework.domain.model import Actor, BusinessUnit, Case, Change, DomainEvent
from casework.domain.visibility import ListScope
from casework.domain.workflow import WorkflowDefinition

if TYPE_CHECKING:  # the configuration models cost import time that most functions never need
    from casework.domain.care.config import ModuleConfig
    from casework.domain.delegation import Delegation
    from casework.domain.rules import RuleSet
    from casework.domain.views import CaseRow

Clock = Callable[[], datetime]
IdFactory = Callable[[], str]


# What a page holds: a read model (casework.domain.views), or a stored record's plain body where no caller
# needs more than the JSON (customers, directory audits). Bare ``Page`` is a page of plain bodies.
Row = TypeVar("Row", default=dict[str, Any])


@dataclass(frozen=True)
class Page(Generic[Row]):
    items: list[Row]
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
    # Who asks (casework.domain.visibility): the list returns only what they may see. None: unrestricted
    # (internal callers only; the API always sets it).
    scope: ListScope | None = None


@dataclass(frozen=True)
class LinkRelated:
    """Add (must not exist yet) or remove (must exist) one entry of a case's related list."""

    kind: str
    key: str
    added: bool
    label: str | None = None
    case_id: str | None = None  # another case's list (e.g. the parent's activities); default the changed case
    details: dict[str, Any] = field(default_factory=dict)  # kept on the entry (e.g. serial number)


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
class Communication:
    """An ad-hoc email from an agent to the case's contact (seed 003: Actions > Communicate). ``templated``:
    the subject and text come from one of the type's communication templates and are rendered (sandboxed)
    with the case's tags when sent; otherwise they are sent as written."""

    id: str
    case_id: str
    contact_id: str
    to_name: str
    to_email: str
    subject: str
    text: str
    by: str
    at: str
    template: str | None = None
    templated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case_id": self.case_id,
            "to": {"contact_id": self.contact_id, "name": self.to_name, "email": self.to_email},
            "subject": self.subject,
            "text": self.text,
            "template": self.template,
            "templated": self.templated,
            "by": self.by,
            "at": self.at,
            "sent_at": None,
        }


@dataclass(frozen=True)
class ApprovalToken:
    """An emailed link's record. ``purpose`` "approval": an approver decides an approval step; "acceptance":
    the contact (``approver`` is then ``contact:<id>``) accepts or refuses a response or resolution."""

    token_hash: str
    case_id: str
    step: str
    round: int
    approver: str
    expires_at: int  # epoch seconds; also the table's TTL attribute
    used_at: str | None = None
    decision: str | None = None
    purpose: str = "approval"
    on_behalf_of: str | None = None  # a delegate's link decides for this approver


@dataclass(frozen=True)
class CounterDelta:
    """Add ``delta`` to a per-case counter (open children of a type, references from other cases)."""

    case_id: str
    name: str
    delta: int


@dataclass(frozen=True)
class CounterIsZero:
    """The commit holds only if the case's counter is zero (or was never set): e.g. no open activity."""

    case_id: str
    name: str
    code: str
    message: str


@dataclass(frozen=True)
class RelatedUpdate:
    """Set values on an existing related-list entry (e.g. a product line's return check)."""

    kind: str
    key: str
    values: dict[str, Any]
    case_id: str | None = None  # another case's list; default the changed case


@dataclass(frozen=True)
class Feedback:
    case_id: str
    rating: int
    comment: str | None
    given_by: str
    at: str


@dataclass(frozen=True)
class SideWrites:
    """Writes that must commit together with a case change, or not at all."""

    links: Sequence[LinkRelated] = field(default_factory=tuple)
    tokens: Sequence[ConsumeToken] = field(default_factory=tuple)
    new_cases: Sequence[Change] = field(default_factory=tuple)  # e.g. an activity scheduled with its parent
    counters: Sequence[CounterDelta] = field(default_factory=tuple)
    guards: Sequence[CounterIsZero] = field(default_factory=tuple)
    related_updates: Sequence[RelatedUpdate] = field(default_factory=tuple)


class CaseRepository(Protocol):
    def get(self, case_id: str) -> Case:
        """The case, or NotFound."""
        ...

    def commit(self, change: Change, side: SideWrites = SideWrites()) -> None:
        """Write the case (if still at ``change.expected_version``), its history/outbox entry and the side
        writes in one transaction. Raises Conflict (stale version, duplicate link, used token) or NotFound."""
        ...

    def list_cases(self, query: CaseQuery) -> Page[CaseRow]: ...

    def history(self, case_id: str, cursor: str | None, limit: int) -> Page: ...

    def related(self, case_id: str, kind: str, cursor: str | None, limit: int) -> Page: ...

    def add_note(self, note: Note, event: DomainEvent) -> None: ...

    def notes(self, case_id: str, cursor: str | None, limit: int) -> Page: ...

    def add_communication(self, communication: Communication, event: DomainEvent) -> None:
        """Record it with its CommunicationRequested event (the outbox: notify sends it)."""
        ...

    def communications(self, case_id: str, cursor: str | None, limit: int) -> Page: ...

    def communication(self, case_id: str, communication_id: str, at: str) -> dict[str, Any] | None: ...

    def communication_sent(
        self, case_id: str, communication_id: str, at: str, sent_at: str, message_id: str
    ) -> None:
        """Mark a recorded communication as sent (``at`` is when it was recorded)."""
        ...

    def token(self, token_hash: str) -> ApprovalToken | None: ...

    def save_token(self, token: ApprovalToken) -> None: ...

    def related_entry(self, case_id: str, kind: str, key: str) -> dict[str, Any] | None: ...

    def save_feedback(self, feedback: Feedback, event: DomainEvent) -> None:
        """Once per case: Conflict FEEDBACK_GIVEN when the case has feedback already."""
        ...

    def feedback(self, case_id: str) -> dict[str, Any] | None: ...

    def open_cases(self, case_type: str, business_unit: str, cursor: str | None, limit: int) -> Page[CaseRow]:
        """Open cases of a type in one business unit (an index that holds only open cases, keyed by type and
        unit), oldest expected completion first."""
        ...


class CustomerUpserts(Protocol):
    """The shared customers contract (casework.services.customers.CustomerService) that the ERP's events and
    imports feed: upserts by natural key, optionally guarded by the source's version."""

    def upsert_customer(
        self, actor: Actor, data: dict[str, Any], *, source_version: int | None = None
    ) -> tuple[str, dict[str, Any]]: ...

    def upsert_contact(
        self, actor: Actor, data: dict[str, Any], *, source_version: int | None = None
    ) -> tuple[str, dict[str, Any]]: ...

    def contact_by_identifiers(self, identifiers: dict[str, str]) -> dict[str, Any] | None: ...


def active_user(directory: Directory, username: str | None) -> Actor:
    """The caller, if the directory knows them and they are active; else 403 UNKNOWN_USER."""
    from casework.domain.errors import Forbidden

    if not username:
        raise Forbidden(ErrorCode.UNKNOWN_USER, "Your identity carries no username.")
    user = directory.user(username)
    if user is None or not user.active:
        raise Forbidden(ErrorCode.UNKNOWN_USER, f"{username} is not an active user of casework.")
    return user


class Directory(Protocol):
    """People, business units and reference data (accounts, products)."""

    def user(self, username: str) -> Actor | None: ...

    def business_unit(self, code: str) -> BusinessUnit | None: ...

    def account(self, account_id: str) -> dict[str, Any] | None: ...

    def product(self, code: str) -> dict[str, Any] | None: ...

    def contact(self, contact_id: str, *, fresh: bool = False) -> dict[str, Any] | None:
        """A customer contact: name, email, geographic_area, life_cycle_state, account_id. May be cached for
        a minute unless ``fresh``."""
        ...

    def area_unit(self, area: str) -> str | None:
        """The business unit an automatic collaboration rule gives a geographic area's cases, if any."""
        ...

    def unit_codes(self) -> tuple[str, ...]:
        """Every business unit's code (e.g. for an Admin's company-wide summary)."""
        ...


class DelegationStore(Protocol):
    """Who stands in for whom: one record per user who delegated (``USER#<name>/DELEGATION``), never cached,
    so a change applies to the next approval request."""

    def get(self, username: str) -> Delegation | None: ...

    def many(self, usernames: Sequence[str]) -> dict[str, Delegation]:
        """The delegations of those of ``usernames`` who have one (one BatchGetItem)."""
        ...

    def put(self, delegation: Delegation) -> None: ...

    def delete(self, username: str) -> bool:
        """True when there was one."""
        ...


class ConfigStore(Protocol):
    def get(self, module: str, version: int | None = None) -> tuple[ModuleConfig, int]:
        """A module's configuration (latest when ``version`` is None) and its version, or NotFound."""
        ...

    def put(self, module: str, config: ModuleConfig, expected_version: int | None) -> int:
        """Store a new version; Conflict STALE_VERSION unless ``expected_version`` is the latest."""
        ...


class WorkflowStore(Protocol):
    def get(
        self,
        name: str,
        version: int | None = None,
        *,
        subtype: str | None = None,
        config_version: int | None = None,
    ) -> WorkflowDefinition:
        """A definition by name (latest version when ``version`` is None), or NotFound. For a care module
        (service_request, activity, lead) it is the module template compiled with the configuration version
        (latest when None) for type ``subtype`` (the default type when None)."""
        ...

    def template(self, name: str, version: int | None = None) -> dict[str, Any]:
        """A care module's template (its raw form), latest version when ``version`` is None."""
        ...


# --- customers and contacts (casework.services.customers) ---------------------------------------------------


@dataclass(frozen=True)
class SubItem:
    """An item under a customer's own partition (``SHIPTO#<code>``, ``PRICE#...``, ``ANSWERS#...``), written
    with the record's change. ``body`` None deletes it; ``must_exist`` True/False makes the commit hold only
    if it does/does not exist already (None: either)."""

    sk: str
    body: dict[str, Any] | None
    must_exist: bool | None = None
    code: str = "ENTRY"  # a failed condition is <code>_EXISTS (409) or <code>_NOT_FOUND (404)


@dataclass(frozen=True)
class RecordWrite:
    """One change of a customer or a contact: the record, the uniqueness items of its identifiers and its
    history entry, in one transaction or not at all.

    The record is written only if it is still at ``expected_version`` (None: only if it does not exist), and,
    with ``source_version`` (ERP events), only if the stored one is absent or lower."""

    kind: str  # "customer" | "contact"
    id: str
    record: dict[str, Any] | None  # the new body; None deletes the record (the history stays)
    expected_version: int | None  # 0: a record stored before records had a version (seed, lead conversion)
    history: dict[str, Any]
    source_version: int | None = None
    claim: Sequence[tuple[str, str]] = ()  # (identifier type, value): must be free or this record's
    release: Sequence[tuple[str, str]] = ()  # identifiers this record gives up
    customer_must_exist: str | None = None  # a contact's account_id: UNKNOWN_CUSTOMER otherwise
    sub_items: Sequence[SubItem] = ()


class CustomerStore(Protocol):
    """Customers, contacts and their identifiers, sub-items and history (casework.adapters.customers)."""

    def get(self, kind: str, record_id: str) -> dict[str, Any] | None:
        """A customer or contact as stored now (strongly consistent), or None."""
        ...

    def identifier_owner(self, identifier_type: str, value: str) -> str | None:
        """The id of the record that holds an identifier (one GetItem), or None."""
        ...

    def write(self, change: RecordWrite) -> None:
        """Commit the change. Conflict CONCURRENT_UPDATE when the record's condition fails (version moved on,
        exists already, or an equal or newer source_version is stored), Conflict DUPLICATE_IDENTIFIER when
        another record holds a claimed identifier, ValidationFailed UNKNOWN_CUSTOMER for a missing account,
        Conflict with the sub-item's code (see casework.adapters.customers) for a sub-item condition."""
        ...

    def history(self, kind: str, record_id: str, cursor: str | None, limit: int) -> Page: ...

    def sub_items(self, customer_id: str, prefix: str, cursor: str | None, limit: int) -> Page:
        """Bodies of a customer's sub-items whose sort key starts with ``prefix``, in key order."""
        ...

    def sub_item(self, customer_id: str, sk: str) -> dict[str, Any] | None: ...

    def add_sub_item(self, customer_id: str, sub: SubItem) -> None:
        """A sub-item outside the customer's versioned changes (a comment); Conflict <code>_EXISTS."""
        ...

    def customers_by_name(self, key_prefix: str, cursor: str | None, limit: int) -> Page:
        """Customers whose name key starts with ``key_prefix`` (at least two characters): one Query."""
        ...

    def contacts_of(self, account_id: str, cursor: str | None, limit: int) -> Page:
        """A customer's contacts by name: one Query (Unassigned contacts are in no such list)."""
        ...

    def open_cases_of(
        self, account_id: str, cursor: str | None, limit: int, *, visible_to: ListScope | None = None
    ) -> Page[CaseRow]:
        """Open cases of every type on the customer's account: one Query."""
        ...

    def has_cases(self, account_id: str) -> bool:
        """Whether any case (open or closed) names the account."""
        ...

    def question_set(self, code: str, version: int | None = None) -> tuple[dict[str, Any], int]:
        """A profiling question set (latest when ``version`` is None) and its version, or NotFound."""
        ...

    def put_question_set(self, code: str, body: dict[str, Any], expected_version: int) -> int:
        """Store a new, immutable version; Conflict STALE_VERSION unless ``expected_version`` is the latest
        (0: none yet)."""
        ...


class RuleStore(Protocol):
    """Workflow rule sets (casework.domain.rules), one versioned document per care module."""

    def get(self, module: str, version: int | None = None) -> tuple[RuleSet, int]:
        """A module's rule set (latest when ``version`` is None; an empty set at version 0 if none was
        saved), or NotFound for an unknown version."""
        ...

    def put(self, module: str, rules: RuleSet, expected_version: int | None) -> int:
        """Store a new version; Conflict STALE_VERSION unless ``expected_version`` is the latest."""
        ...


class BookingStore(Protocol):
    """Resources, their bookings and the per-granule claims that keep two bookings off the same time
    (casework.adapters.booking)."""

    def resource(self, resource_id: str) -> tuple[dict[str, Any], int] | None:
        """The resource as written and its version, or None."""
        ...

    def save_resource(self, resource: dict[str, Any], previous: dict[str, Any] | None, version: int) -> None:
        """Write version ``version`` (1: new, Conflict RESOURCE_EXISTS if it is not; else Conflict
        STALE_VERSION unless the stored one is ``version - 1``) with its (unit, service) listings."""
        ...

    def resources_for(self, unit: str, service: str, cursor: str | None, limit: int) -> Page:
        """The resources of ``unit`` that provide ``service``: one Query."""
        ...

    def taken(self, resource_id: str, start: datetime, end: datetime) -> list[datetime]:
        """The granules in [start, end) held by a booking: one Query (paged through)."""
        ...

    def booking(self, booking_id: str) -> dict[str, Any] | None: ...

    def book(self, booking: dict[str, Any], granules: list[datetime], change: Change) -> None:
        """Claim every granule for the booking, write it and the activity's change, in one transaction;
        Conflict SLOT_TAKEN (nothing written) if any granule is held already."""
        ...

    def settle(self, booking: dict[str, Any], release: list[datetime], change: Change) -> None:
        """Write the booking's new status and the activity's change, freeing ``release``, in one transaction
        (Conflict BOOKING_CHANGED if the booking changed meanwhile)."""
        ...


class EmailInProgress(Exception):  # raised by a SentLedger adapter
    """Another delivery of the event holds the claim on this email and has not finished: this delivery
    fails (nothing sent) and comes back later, when the email is sent or the claim has expired."""

    code = "EMAIL_IN_PROGRESS"
    retry_later = True  # expected under duplicate delivery: logged as a warning, without a traceback


class SmsSender(Protocol):
    """Text messages (Amazon SNS behind it)."""

    def send(self, to_e164: str, text: str) -> str:
        """Send a text message; returns the provider's message id."""
        ...


class PlanScheduler(Protocol):
    """One-time schedules for communication plan steps (EventBridge Scheduler behind it)."""

    def schedule(self, name: str, at: datetime, payload: dict[str, Any]) -> None:
        """Run the plan step function with ``payload`` at ``at``; a schedule of that name existing already
        is not an error (a redelivered event schedules the same steps)."""
        ...

    def cancel(self, name: str) -> None:
        """Delete the schedule if it is still there."""
        ...


class OverdueCases(Protocol):
    def overdue(self, case_type: str, business_unit: str, due_before: str) -> list[dict[str, Any]]:
        """The open cases of a type in a unit whose expected completion is before ``due_before`` (a
        timestamp), as their list rows: Queries of the open-cases index by due date, never a Scan."""
        ...


@dataclass(frozen=True)
class FeedbackTally:
    """One feedback as the summary counts it: the aggregate cells it adds to (partition, cell) and the
    comment lists it appears in; ``key`` makes counting it twice impossible."""

    key: str
    rating: int
    cells: Sequence[tuple[str, str]]
    comment_lists: Sequence[str] = ()
    comment: dict[str, Any] | None = None


class FeedbackSummaryStore(Protocol):
    def add(self, tally: FeedbackTally) -> bool:
        """Add the rating to every cell and the comment to every list, once per ``tally.key``, all or
        nothing; False when it was counted already."""
        ...

    def cells(self, partition: str) -> list[dict[str, Any]]:
        """Every cell of an aggregate partition (one Query, paged): {cell, count, total, r1..r5}."""
        ...

    def comments(self, comment_list: str, cursor: str | None, limit: int) -> Page:
        """Newest first, one Query a page, a signed cursor."""
        ...
