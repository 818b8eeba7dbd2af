"""Use cases on cases. Each loads what it needs, asks the engine, and commits one Change atomically.

Request budget (see scripts/count_requests.py): a command is one GetItem for the case plus one
TransactWriteItems; definitions and the directory are cached in the process, so a warm function reads
nothing else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from casework.domain import durations, engine
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
from casework.domain.visibility import ensure_visible, is_admin, list_scope
from casework.domain.workflow import WorkflowDefinition
from casework.services.ports import (
    CaseQuery,
    CaseRepository,
    Clock,
    Communication,
    ConfigStore,
    ConsumeToken,
    CounterDelta,
    DelegationStore,
    Directory,
    Feedback,
    IdFactory,
    LinkRelated,
    Note,
    Page,
    RelatedUpdate,
    SideWrites,
    WorkflowStore,
    active_user,
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
        **({"on_behalf_of": entry.on_behalf_of} if entry.on_behalf_of else {}),
    }


def dates_view(dates: Mapping[str, Any], created_at: str, now: datetime | None) -> dict[str, Any]:
    """Key dates: the stored ones, and what follows from them at ``now`` (time to completion, overdue).
    ``dates`` may be a case's stored dates or a view's (lists refresh a stored view's at read time)."""

    def instant(name: str) -> datetime | None:
        return datetime.fromisoformat(dates[name]) if dates.get(name) else None

    start = instant("start_date") or datetime.fromisoformat(created_at)
    return durations.key_dates(
        start,
        instant("expected_completion_date"),
        instant("actual_completion_date"),
        now or start,
        closed=instant("closed_at"),
    )


def case_view(case: Case, now: datetime | None = None) -> dict[str, Any]:
    """The case as every reader sees it; the caller-specific parts are added by CaseService.view."""
    approval = case.approval
    acceptance = case.acceptance
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
            "approvers": [
                {
                    "username": u,
                    "decision": d,
                    **({"delegate": approval.delegates[u]} if u in approval.delegates else {}),
                    **({"decided_by": approval.decided_by[u]} if u in approval.decided_by else {}),
                }
                for u, d in approval.decisions.items()
            ],
        },
        "subtype": case.subtype,
        "config_version": case.config_version,
        "contact_id": case.contact_id,
        "parent_id": case.parent_id,
        "parent_type": case.parent_type,
        "dates": dates_view(case.dates, case.created_at, now),
        "acceptance": None
        if acceptance is None
        else {
            "step": acceptance.step,
            "round": acceptance.round,
            "status": acceptance.status,
            "category": acceptance.category,
            "decision": acceptance.decision,
            "requested_at": acceptance.requested_at,
            "decided_at": acceptance.decided_at,
            "comment": acceptance.comment,
        },
    }


def event_beside(
    case: Case, event_type: str, suffix: str, actor: Actor, at: str, data: dict[str, Any]
) -> DomainEvent:
    """An event about a case that does not change it (a note, feedback, a communication): stamped with the
    case's version and where it stands, its id ``<case>:<suffix>`` stable for the thing it reports."""
    return DomainEvent(
        id=f"{case.id}:{suffix}",
        type=event_type,
        case_id=case.id,
        case_type=case.type,
        occurred_at=at,
        actor=actor.username,
        data={**data, "status": case.status, "state": case.state},
        workflow_version=case.workflow_version,
        subtype=case.subtype,
        config_version=case.config_version,
        case_version=case.version,
    )


def _relatable(case: Case, other: Case | None) -> Case:
    """Related cases are of the same kind and contact (a service request's "related work")."""
    if other is None:
        return case
    if other.id == case.id:
        raise ValidationFailed("SELF_REFERENCE", "A case cannot be related to itself.")
    if other.type != case.type or not case.contact_id or other.contact_id != case.contact_id:
        raise ValidationFailed(
            "NOT_SAME_CONTACT",
            "Only cases of the same kind and the same contact can be related.",
            {"contact_id": case.contact_id, "other_contact_id": other.contact_id},
        )
    return case


@dataclass
class CaseService:
    repo: CaseRepository
    directory: Directory
    workflows: WorkflowStore
    clock: Clock
    new_id: IdFactory
    configs: ConfigStore | None = None
    delegations: DelegationStore | None = None

    # --- people and context ---

    def actor(self, username: str | None) -> Actor:
        return active_user(self.directory, username)

    def _unit(self, code: str) -> BusinessUnit:
        unit = self.directory.business_unit(code)
        if unit is None:
            raise ValidationFailed(
                "UNKNOWN_BUSINESS_UNIT", f"Business unit {code!r} does not exist.", {"business_unit": code}
            )
        return unit

    def definition_of(self, case: Case) -> WorkflowDefinition:
        """The definition the case started with (for a care module: its type and configuration version)."""
        return self.workflows.get(
            case.type, case.workflow_version, subtype=case.subtype, config_version=case.config_version
        )

    def _load(self, case_id: str) -> tuple[Case, WorkflowDefinition, BusinessUnit]:
        case = self.repo.get(case_id)
        return case, self.definition_of(case), self._unit(case.business_unit)

    def _load_visible(self, actor: Actor, case_id: str) -> tuple[Case, WorkflowDefinition, BusinessUnit]:
        """The case, if ``actor`` may see it; else the same 404 as an unknown id (ids cannot be probed)."""
        case = self.repo.get(case_id)
        defn = self.definition_of(case)
        ensure_visible(defn, case, actor)
        return case, defn, self._unit(case.business_unit)

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
        defn = defn or self.definition_of(case)
        unit = unit or self._unit(case.business_unit)
        view = case_view(case, self.clock())
        view["type_name"] = defn.raw.get("type_name") or defn.title
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
        subtype: str | None = None,
        contact_id: str | None = None,
        assignee: str | None = None,
        case_id: str | None = None,
        validate_only: bool = False,
    ) -> dict[str, Any]:
        """``case_id``: an id the caller derived (imports: from the row, so a second import of it finds the
        case: Conflict CASE_EXISTS); ``validate_only``: every check, nothing written (an import's dry run)."""
        actor = self.actor(username)
        defn = self.definition_for_new(type, subtype)
        change = self._new_case(
            actor,
            defn,
            title=title,
            description=description,
            account_id=account_id,
            business_unit=business_unit,
            fields=fields,
            contact_id=contact_id,
            assignee=assignee,
            case_id=case_id,
        )
        if not validate_only:
            self.repo.commit(self._delegated(change))
        return self.view(change.case, actor, defn, self._unit(change.case.business_unit))

    def definition_for_new(self, type: str, subtype: str | None) -> WorkflowDefinition:
        defn = self.workflows.get(type, subtype=subtype)
        if subtype is not None and defn.module is None:
            raise ValidationFailed(
                "UNKNOWN_TYPE", f"A {defn.title} has no types; leave 'subtype' out.", {"subtype": subtype}
            )
        return defn

    def _new_case(
        self,
        actor: Actor,
        defn: WorkflowDefinition,
        *,
        title: Any,
        description: Any,
        account_id: str | None,
        business_unit: str | None,
        fields: dict[str, Any] | None,
        contact_id: str | None,
        assignee: str | None,
        parent: Case | None = None,
        case_id: str | None = None,
    ) -> Change:
        """Resolve the references of a new case (contact, account, unit, assignee) and let the engine build
        it. The business unit is the one given, else the one the contact's geographic area is routed to, else
        the assignee's, else the creator's."""
        contact = None
        contact_id = contact_id or (parent.contact_id if parent else None)
        if contact_id is not None:
            contact = self.directory.contact(contact_id)
            if contact is None:
                raise ValidationFailed(
                    "UNKNOWN_CONTACT", f"Contact {contact_id!r} does not exist.", {"contact_id": contact_id}
                )
            account_id = account_id or contact.get("account_id")
        holder = None
        if assignee is not None:
            holder = self.directory.user(assignee)
            if holder is None:
                raise ValidationFailed("UNKNOWN_USER", f"{assignee!r} is not a user of casework.")
        area = (contact or {}).get("geographic_area")
        code = (
            business_unit
            or (parent.business_unit if parent else None)
            or (self.directory.area_unit(area) if area and defn.create_assign == "given" else None)
            or (holder.default_business_unit if holder else None)
            or actor.default_business_unit
        )
        if not code:
            raise ValidationFailed(
                "MISSING_FIELDS", "Give the business unit (gbu): you have no default.", {"fields": ["gbu"]}
            )
        unit = self._unit(code)
        if account_id is not None and self.directory.account(account_id) is None:
            raise ValidationFailed(
                "UNKNOWN_ACCOUNT", f"Account {account_id!r} does not exist.", {"account_id": account_id}
            )
        return engine.register(
            defn,
            actor,
            unit,
            case_id=case_id or self.new_id(),
            now=self.clock(),
            title=title,
            description=description,
            account_id=account_id,
            fields=fields,
            contact_id=contact_id,
            assignee=holder,
            parent=parent,
        )

    def get(self, username: str, case_id: str) -> dict[str, Any]:
        actor = self.actor(username)
        case, defn, unit = self._load_visible(actor, case_id)
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
        case, defn, unit = self._load_visible(actor, case_id)
        self._check_version(case, expected_version)
        change = decide(defn, case, actor, unit, self.clock())
        if change is None:  # nothing to change: nothing written
            return self.view(case, actor, defn, unit)
        change = self._delegated(change)
        self.repo.commit(change, self._involving_parent(change, case, actor, self._with_parent(change, side)))
        if change.deleted:
            return {"id": case.id, "deleted": True, "version": change.case.version}
        return self.view(change.case, actor, defn, self._unit(change.case.business_unit))

    def _involving_parent(self, change: Change, before: Case, actor: Actor, side: SideWrites) -> SideWrites:
        """A child given to a new assignee (reassigned, accepted) makes them one of the people on its parent,
        who reads it from then on: the parent records it in the same transaction (one GetItem more, only
        then)."""
        child = change.case
        if not child.parent_id or not child.assignee or child.assignee == before.assignee:
            return side
        parent, pdefn, punit = self._load(child.parent_id)
        involved = engine.involve(pdefn, parent, actor, punit, people=(child.assignee,), now=self.clock())
        if involved is None:
            return side
        return replace(side, new_cases=[*side.new_cases, involved])

    @staticmethod
    def _with_parent(change: Change, side: SideWrites) -> SideWrites:
        """A child case (an activity scheduled from a service request) keeps its parent's list entry up to
        date, and its parent's count of open children, in the same transaction."""
        case = change.case
        if not case.parent_id:
            return side
        kind = case.type
        counters = list(side.counters)
        links = list(side.links)
        updates = list(side.related_updates)
        if change.closed_now:
            counters.append(CounterDelta(case.parent_id, f"open_{kind}", -1))
        if change.deleted:
            links.append(LinkRelated(kind, case.id, added=False, case_id=case.parent_id))
            counters.append(CounterDelta(case.parent_id, "refs", -1))
        else:
            summary = {"status": case.status, "state": case.state, "assignee": case.assignee}
            updates.append(RelatedUpdate(kind, case.id, summary, case_id=case.parent_id))
        return replace(side, counters=counters, links=links, related_updates=updates)

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
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add or remove an entry of a related list. Products and accounts must exist; a related case must be
        of the same type and contact, and counts as a reference that keeps it from being deleted."""
        label, counters, other = None, [], None
        if kind == "service_requests":
            if added:  # a case the caller cannot see is unknown to them, here too
                other, _odefn, _ounit = self._load_visible(self.actor(username), key)
                label = other.title
            counters.append(CounterDelta(key, "refs", 1 if added else -1))
        elif added:
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
                defn, _relatable(case, other), actor, unit, kind=kind, key=key, added=added, now=now
            ),
            SideWrites(
                links=[LinkRelated(kind, key, added, label, details=details or {})], counters=counters
            ),
        )

    def reassign(
        self,
        username: str,
        case_id: str,
        *,
        assignee: str | None = None,
        business_unit: str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        target = None
        if assignee is not None:
            target = self.directory.user(assignee)
            if target is None:
                raise ValidationFailed("UNKNOWN_USER", f"{assignee!r} is not a user of casework.")
        new_unit = self._unit(business_unit) if business_unit else None
        return self._command(
            username,
            case_id,
            expected_version,
            lambda defn, case, actor, unit, now: engine.reassign(
                defn, case, actor, unit, assignee=target, now=now, new_unit=new_unit
            ),
        )

    def take(self, username: str, case_id: str, *, expected_version: int | None = None) -> dict[str, Any]:
        return self._command(
            username,
            case_id,
            expected_version,
            lambda defn, case, actor, unit, now: engine.take(defn, case, actor, unit, now=now),
        )

    def delete(self, username: str, case_id: str, *, expected_version: int | None = None) -> dict[str, Any]:
        return self._command(
            username,
            case_id,
            expected_version,
            lambda defn, case, actor, unit, now: engine.delete(defn, case, actor, unit, now=now),
        )

    def schedule(
        self,
        username: str,
        parent_id: str,
        kind: str,
        *,
        subtype: str | None,
        title: Any,
        description: Any = None,
        fields: dict[str, Any] | None = None,
        assignee: str | None = None,
        business_unit: str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Schedule a child case (an activity) from a parent (a service request or lead): the child carries
        the parent's contact, account and number; the parent counts it as open until it is closed."""
        actor = self.actor(username)
        parent, pdefn, punit = self._load_visible(actor, parent_id)
        self._check_version(parent, expected_version)
        spec = pdefn.children.get(kind)
        if spec is None:
            raise ValidationFailed(
                "UNKNOWN_CHILD_KIND",
                f"Nothing of kind {kind!r} can be scheduled from a {pdefn.title}.",
                {"kinds": list(pdefn.children)},
            )
        cdefn = self.definition_for_new(spec.case_type, subtype)
        child = self._new_case(
            actor,
            cdefn,
            title=title,
            description=description,
            account_id=None,
            business_unit=business_unit,
            fields=fields,
            contact_id=None,
            assignee=assignee,
            parent=parent,
        )
        now = self.clock()
        change = engine.schedule_child(pdefn, parent, actor, punit, kind=kind, child=child.case, now=now)
        summary = {
            "title": child.case.title,
            "subtype": child.case.subtype,
            "status": child.case.status,
            "state": child.case.state,
            "assignee": child.case.assignee,
        }
        self.repo.commit(
            change,
            SideWrites(
                new_cases=[child],
                links=[LinkRelated(kind, child.case.id, True, child.case.title, details=summary)],
                # the child is open, and refers to its parent (which can no longer be deleted)
                counters=[CounterDelta(parent.id, f"open_{kind}", 1), CounterDelta(parent.id, "refs", 1)],
            ),
        )
        return self.view(child.case, actor, cdefn, self._unit(child.case.business_unit))

    def check_return(
        self,
        username: str,
        case_id: str,
        product: str,
        *,
        coverage_reason: str,
        return_date: str,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Is a product line's return covered? By the coverage reason, within its return period from the
        warehouse issue date. The outcome is kept on the line and in the case's history."""
        from casework.domain.care.warranty import check_return

        actor = self.actor(username)
        case, defn, unit = self._load_visible(actor, case_id)
        self._check_version(case, expected_version)
        if self.configs is None or case.config_version is None:
            raise ValidationFailed("NOT_SUPPORTED", "Returns are checked on service requests only.")
        config, _ = self.configs.get(case.type, case.config_version)
        try:
            reason = config.coverage_reason(coverage_reason)
        except KeyError:
            raise ValidationFailed(
                "UNKNOWN_COVERAGE_REASON",
                f"{coverage_reason!r} is not a return coverage reason.",
                {"reasons": [r.code for r in config.return_coverage_reasons]},
            ) from None
        line = self.repo.related_entry(case_id, "products", product)
        if line is None:
            raise NotFound("NOT_LINKED", f"{product} is not in the products of this case.")
        issued = line.get("warehouse_issue_date")
        if not issued:
            raise ValidationFailed(
                "MISSING_FIELDS",
                "The product line has no warehouse issue date; a return cannot be checked without it.",
                {"fields": ["warehouse_issue_date"]},
            )
        try:
            result = check_return(reason, date.fromisoformat(issued), date.fromisoformat(return_date))
        except ValueError as exc:
            raise ValidationFailed("INVALID_FIELDS", str(exc), {"fields": ["return_date"]}) from None
        result = {**result, "return_date": return_date}
        change = engine.record_check(
            defn,
            case,
            actor,
            unit,
            kind="products",
            key=product,
            check="return",
            result=result,
            now=self.clock(),
        )
        side = SideWrites(related_updates=[RelatedUpdate("products", product, {"return": result})])
        self.repo.commit(change, side)
        return self.view(change.case, actor, defn, unit)

    def give_feedback(
        self, username: str, case_id: str, *, rating: int, comment: str | None
    ) -> dict[str, Any]:
        """The customer's rating (1-5) and comment, once per case, once it is resolved."""
        actor = self.actor(username)
        case, defn, _unit = self._load_visible(actor, case_id)
        if case.state not in defn.feedback_states:
            raise Conflict(
                "FEEDBACK_NOT_OPEN",
                f"Feedback is taken once the {defn.title} is resolved.",
                {"state": case.state, "states": list(defn.feedback_states)},
            )
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise ValidationFailed("INVALID_FIELDS", "rating must be 1 to 5.", {"fields": ["rating"]})
        at = timestamp(self.clock())
        feedback = Feedback(case.id, rating, (comment or "").strip() or None, actor.username, at)
        event = event_beside(
            case,
            "FeedbackGiven",
            "feedback",
            actor,
            at,
            # unit and assignee as they were then: the feedback summary counts them from the event alone
            {
                "rating": rating,
                "comment": feedback.comment,
                "business_unit": case.business_unit,
                "assignee": case.assignee,
            },
        )
        self.repo.save_feedback(feedback, event)
        return {
            "case_id": case.id,
            "rating": rating,
            "comment": feedback.comment,
            "given_by": actor.username,
            "at": at,
        }

    def feedback(self, username: str, case_id: str) -> dict[str, Any]:
        self._load_visible(self.actor(username), case_id)
        given = self.repo.feedback(case_id)
        if given is None:
            raise NotFound("NO_FEEDBACK", "No feedback has been given on this case.")
        return given

    def decide(
        self,
        username: str,
        case_id: str,
        *,
        decision: str,
        comment: str | None = None,
        expected_version: int | None = None,
        on_behalf_of: str | None = None,
    ) -> dict[str, Any]:
        return self._command(
            username,
            case_id,
            expected_version,
            lambda defn, case, actor, unit, now: engine.decide(
                defn,
                case,
                actor,
                unit,
                decision=decision,
                comment=comment,
                now=now,
                on_behalf_of=on_behalf_of,
            ),
        )

    def recall(
        self, username: str, case_id: str, *, comment: str | None = None, expected_version: int | None = None
    ) -> dict[str, Any]:
        """The submitter takes a pending approval back (engine.recall)."""
        return self._command(
            username,
            case_id,
            expected_version,
            lambda defn, case, actor, unit, now: engine.recall(
                defn, case, actor, unit, comment=comment, now=now
            ),
        )

    # --- delegation ---

    def _delegated(self, change: Change) -> Change:
        """Ask the delegates of approvers the change just asked, if they delegated for today. Reads only when
        an approval was requested (one BatchGetItem), so every other command costs what it did."""
        asked = engine.approvers_just_asked(change)
        if not asked or self.delegations is None:
            return change
        today = self.clock().date()
        delegates = {}
        for owner, delegation in self.delegations.many(asked).items():
            delegate = self.directory.user(delegation.delegate)
            if delegation.covers(today) and delegate is not None and delegate.active:
                delegates[owner] = delegation.delegate
        return engine.with_delegates(change, delegates)

    def _delegation_store(self) -> DelegationStore:
        if self.delegations is None:
            raise NotFound("NO_DELEGATION", "Delegation is not available here.")
        return self.delegations

    def delegation(self, username: str) -> dict[str, Any]:
        actor = self.actor(username)
        found = self._delegation_store().get(actor.username)
        if found is None:
            raise NotFound("NO_DELEGATION", "You have not delegated your approvals.")
        return found.to_dict()

    def set_delegation(self, username: str, *, delegate: str, starts: date, until: date) -> dict[str, Any]:
        """Name (or replace) who is asked with you for approvals requested from ``starts`` to ``until``."""
        from casework.domain import delegation

        actor = self.actor(username)
        now = self.clock()
        other = self.directory.user(delegate) if delegate != actor.username else actor
        delegation.check(actor, delegate, other, starts, until, now)
        record = delegation.Delegation(actor.username, delegate, starts, until, timestamp(now))
        self._delegation_store().put(record)
        return record.to_dict()

    def end_delegation(self, username: str) -> dict[str, Any]:
        actor = self.actor(username)
        if not self._delegation_store().delete(actor.username):
            raise NotFound("NO_DELEGATION", "You have not delegated your approvals.")
        return {"owner": actor.username, "deleted": True}

    # --- approval links ---

    def _token_context(self, raw_token: str) -> tuple[Any, Case, WorkflowDefinition, BusinessUnit, Actor]:
        token = self.repo.token(hash_token(raw_token)) if raw_token else None
        if token is None or token.purpose != "approval":  # a contact's acceptance link is not one
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
            or not pending.is_pending_for(token.approver, token.on_behalf_of)
        ):
            raise Gone(
                "APPROVAL_NOT_PENDING",
                "This approval is no longer waiting for your decision.",
                {"status": case.status},
            )
        approver = self.actor(token.approver)
        return token, case, defn, unit, approver

    def _acting_as(self, token: Any, approver: Actor) -> str:
        """ "Dave", or "Dave on behalf of Peter" on a delegate's link."""
        if not token.on_behalf_of:
            return approver.name
        principal = self.directory.user(token.on_behalf_of)
        return f"{approver.name} on behalf of {principal.name if principal else token.on_behalf_of}"

    def approval_page(self, raw_token: str) -> dict[str, Any]:
        """What the confirm page shows. Changes nothing: mail scanners open links."""
        token, case, defn, unit, approver = self._token_context(raw_token)
        step = defn.status(case.status).approval
        creator = self.directory.user(case.created_by)
        return {
            "case": case_view(case),
            "step": token.step,
            "step_label": step.label if step else token.step,
            "approver": self._acting_as(token, approver),
            # names, as the email shows them, not usernames and unit codes
            "requested_by": creator.name if creator else case.created_by,
            "business_unit_name": unit.name or unit.code,
            "case_title": defn.title,
            "account": self.directory.account(case.account_id) if case.account_id else None,
        }

    def decide_by_token(self, raw_token: str, *, decision: str, comment: str | None) -> dict[str, Any]:
        token, case, defn, unit, approver = self._token_context(raw_token)
        now = self.clock()
        change = engine.decide(
            defn,
            case,
            approver,
            unit,
            decision=decision,
            comment=comment,
            now=now,
            via="email",
            on_behalf_of=token.on_behalf_of,
        )
        change = self._delegated(change)
        consume = ConsumeToken(token.token_hash, timestamp(now), int(now.timestamp()), decision)
        self.repo.commit(change, SideWrites(tokens=[consume]))
        return {
            "case": case_view(change.case),
            "decision": decision,
            "approver": self._acting_as(token, approver),
        }

    # --- reads ---

    def list_cases(self, username: str, query: CaseQuery) -> Page:
        actor = self.actor(username)
        if query.assignee == "me":
            query = CaseQuery(**{**query.__dict__, "assignee": actor.username})
        if not 1 <= query.limit <= MAX_PAGE:
            raise ValidationFailed("INVALID_LIMIT", f"limit must be between 1 and {MAX_PAGE}.")
        if query.type is not None:
            self.workflows.get(query.type)  # NotFound for an unknown type, rather than an empty list
        own = query.assignee == actor.username  # one's own assignments are all visible: no rule to resolve
        company_types = frozenset() if own else self._company_types(query.type)
        every_unit = is_admin(actor) or bool(company_types)
        scope = list_scope(actor, company_types, self.directory.unit_codes() if every_unit else ())
        page = self.repo.list_cases(replace(query, scope=scope))
        now = self.clock()
        for item in page.items:  # overdue is a matter of when you look
            item["dates"] = dates_view(item["dates"], item["created_at"], now)
        return page

    def _company_types(self, only: str | None) -> frozenset[str]:
        """The case types whose (latest) definition makes them visible company-wide."""
        from casework.workflows import module_templates, shipped

        names = (only,) if only else (*shipped(), *module_templates())
        return frozenset(n for n in names if self._latest_visibility(n) == "company")

    def _latest_visibility(self, name: str) -> str:
        try:
            return self.workflows.get(name).visibility
        except (NotFound, ValidationFailed):  # a shipped type this installation has not seeded or configured
            return "unit"

    # A case's lists (history, notes, related, communications) are a GetItem of the case (is it there, may
    # the caller see it: else 404) and one Query of its entries. The case item must be read because who may
    # see it is recorded on it; its children share its partition but not a contiguous key range with it.

    @staticmethod
    def _page_limit(limit: int) -> int:
        if limit < 1:
            raise ValidationFailed("INVALID_LIMIT", f"limit must be between 1 and {MAX_PAGE}.")
        return min(limit, MAX_PAGE)

    def _if_visible(self, username: str, case_id: str, page: Page) -> Page:
        """The page, if the caller may see its case (read after the page, so a bad cursor is a 400 first)."""
        self._load_visible(self.actor(username), case_id)
        return page

    def history(self, username: str, case_id: str, cursor: str | None = None, limit: int = MAX_PAGE) -> Page:
        page = self.repo.history(case_id, cursor, self._page_limit(limit))
        return self._if_visible(username, case_id, page)

    def related(
        self, username: str, case_id: str, kind: str, cursor: str | None = None, limit: int = MAX_PAGE
    ) -> Page:
        page = self.repo.related(case_id, kind, cursor, self._page_limit(limit))
        return self._if_visible(username, case_id, page)

    def add_note(self, username: str, case_id: str, text: Any) -> dict[str, Any]:
        actor = self.actor(username)
        if not isinstance(text, str) or not text.strip():
            raise ValidationFailed("MISSING_FIELDS", "A note needs some text.", {"fields": ["text"]})
        if len(text) > 10_000:
            raise ValidationFailed(
                "INVALID_FIELDS", "A note is at most 10000 characters.", {"fields": ["text"]}
            )
        case, defn, _unit = self._load_visible(actor, case_id)
        if defn.is_terminal(case.status) and not defn.notes_when_closed:
            raise Conflict(
                "CASE_CLOSED",
                f"This {defn.title} is closed ({case.status}) and takes no more notes.",
                {"status": case.status, "state": case.state},
            )
        at = timestamp(self.clock())
        note = Note(id=self.new_id(), case_id=case.id, text=text.strip(), author=actor.username, at=at)
        event = event_beside(case, "NoteAdded", f"note:{note.id}", actor, at, {"note_id": note.id})
        self.repo.add_note(note, event)
        return {"id": note.id, "case_id": case.id, "text": note.text, "author": note.author, "at": note.at}

    # --- communicate (seed 003: Actions > Communicate) ---

    def communicate(
        self,
        username: str,
        case_id: str,
        *,
        subject: str | None = None,
        text: str | None = None,
        template: str | None = None,
    ) -> dict[str, Any]:
        """Email the case's contact now (notify sends it from the outbox) and keep it on the case: who, when,
        to whom, what. ``template`` names one of the type's communications (see GET /case-types/{type}); its
        subject and text are the defaults, rendered with the case's tags when sent."""
        actor = self.actor(username)
        case, defn, _unit = self._load_visible(actor, case_id)
        involved = {case.assignee, case.created_by}
        if not (case.business_unit in actor.business_units or actor.username in involved or is_admin(actor)):
            raise Forbidden(
                "NOT_ALLOWED",
                f"Only members of {case.business_unit} and the people on the case write to its contact.",
            )
        chosen = None
        if template is not None:
            chosen = next(
                (
                    n
                    for n in defn.notifications
                    if n.template == template and n.subject is not None and n.body
                ),
                None,
            )
            if chosen is None:
                raise ValidationFailed(
                    "UNKNOWN_TEMPLATE",
                    f"{defn.title} has no communication template {template!r}.",
                    {"templates": [n.template for n in defn.notifications if n.subject is not None]},
                )
        subject = (subject or "").strip() or (chosen.subject if chosen else "") or ""
        text = (text or "").strip() or (chosen.body if chosen else "") or ""
        missing = [name for name, value in (("subject", subject), ("text", text)) if not value]
        if missing:
            raise ValidationFailed(
                "MISSING_FIELDS", f"A communication needs a {' and a '.join(missing)}.", {"fields": missing}
            )
        if not case.contact_id:
            raise ValidationFailed("NO_CONTACT", f"This {defn.title} has no contact to write to.")
        contact = self.directory.contact(case.contact_id, fresh=True) or {}
        if not contact.get("email"):
            raise ValidationFailed(
                "NO_CONTACT_EMAIL",
                f"Contact {case.contact_id} has no email address.",
                {"contact_id": case.contact_id},
            )
        communication = Communication(
            id=self.new_id(),
            case_id=case.id,
            contact_id=case.contact_id,
            to_name=str(contact.get("name") or case.contact_id),
            to_email=contact["email"],
            subject=subject,
            text=text,
            by=actor.username,
            at=timestamp(self.clock()),
            template=template,
            templated=chosen is not None,
        )
        event = event_beside(
            case,
            "CommunicationRequested",
            f"communication:{communication.id}",
            actor,
            communication.at,
            {"communication_id": communication.id, "at": communication.at, "contact_id": case.contact_id},
        )
        self.repo.add_communication(communication, event)
        return communication.to_dict()

    def communications(
        self, username: str, case_id: str, cursor: str | None = None, limit: int = MAX_PAGE
    ) -> Page:
        page = self.repo.communications(case_id, cursor, self._page_limit(limit))
        return self._if_visible(username, case_id, page)

    def notes(self, username: str, case_id: str, cursor: str | None = None, limit: int = MAX_PAGE) -> Page:
        page = self.repo.notes(case_id, cursor, self._page_limit(limit))
        return self._if_visible(username, case_id, page)
