"""Commands on cases: register, schedule a child, and every change of a case (move, edit, assign, accept,
delete, related lists, approval decisions). Each loads what it needs, asks the engine, and commits one Change
atomically (see case_context for the request budget)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from casework.domain import engine
from casework.domain.errors import ValidationFailed
from casework.domain.model import Actor, BusinessUnit, Case, Change
from casework.domain.views import CaseView, DeletedCase
from casework.domain.workflow import WorkflowDefinition
from casework.domain.workflow_terms import ApprovalMode
from casework.services.case_context import CaseContext
from casework.services.ports import CounterDelta, LinkRelated, RelatedUpdate, SideWrites

Decision = Callable[[WorkflowDefinition, Case, Actor, BusinessUnit, datetime], Change | None]


def _by_engine(command: Callable[..., Change | None], **options: Any) -> Decision:
    """The engine's ``command`` with the caller's ``options``, run on what the commit loaded (definition,
    case, acting user, the case's unit) at the time it commits: the shape every plain change of a case has."""

    def decide(
        defn: WorkflowDefinition, case: Case, actor: Actor, unit: BusinessUnit, now: datetime
    ) -> Change | None:
        return command(defn, case, actor, unit, now=now, **options)

    return decide


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


class CaseCommands(CaseContext):
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
    ) -> CaseView:
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
            or (self.directory.area_unit(area) if area and defn.create.assign == "given" else None)
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

    def _command(
        self,
        username: str,
        case_id: str,
        expected_version: int | None,
        decide: Decision,
        side: SideWrites = SideWrites(),
    ) -> CaseView:
        """A change of the case, answered with the caller's view of it afterwards."""
        case, actor, defn, _deleted = self._commit_decision(username, case_id, expected_version, decide, side)
        return self.view(case, actor, defn)

    def _commit_decision(
        self,
        username: str,
        case_id: str,
        expected_version: int | None,
        decide: Decision,
        side: SideWrites = SideWrites(),
    ) -> tuple[Case, Actor, WorkflowDefinition, bool]:
        """The shape of every change: load, check the caller's version, let the engine decide, commit. Gives
        the case as it now is (unchanged if the engine found nothing to change) and whether it was deleted."""
        actor = self.actor(username)
        case, defn, unit = self._load_visible(actor, case_id)
        self._check_version(case, expected_version)
        change = decide(defn, case, actor, unit, self.clock())
        if change is None:  # nothing to change: nothing written
            return case, actor, defn, False
        change = self._delegated(change)
        self.repo.commit(change, self._involving_parent(change, case, actor, self._with_parent(change, side)))
        return change.case, actor, defn, change.deleted

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
    ) -> CaseView:
        return self._command(
            username, case_id, expected_version, _by_engine(engine.transition, to=to, fields=fields)
        )

    def edit(
        self, username: str, case_id: str, *, fields: dict[str, Any], expected_version: int | None = None
    ) -> CaseView:
        return self._command(username, case_id, expected_version, _by_engine(engine.edit, fields=fields))

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
    ) -> CaseView:
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
    ) -> CaseView:
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
            _by_engine(engine.reassign, assignee=target, new_unit=new_unit),
        )

    def take(self, username: str, case_id: str, *, expected_version: int | None = None) -> CaseView:
        return self._command(username, case_id, expected_version, _by_engine(engine.take))

    def delete(self, username: str, case_id: str, *, expected_version: int | None = None) -> DeletedCase:
        case, _actor, _defn, deleted = self._commit_decision(
            username, case_id, expected_version, _by_engine(engine.delete)
        )
        return DeletedCase(id=case.id, deleted=deleted, version=case.version)

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
    ) -> CaseView:
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

    def decide(
        self,
        username: str,
        case_id: str,
        *,
        decision: str,
        comment: str | None = None,
        expected_version: int | None = None,
        on_behalf_of: str | None = None,
    ) -> CaseView:
        return self._command(
            username,
            case_id,
            expected_version,
            _by_engine(engine.decide, decision=decision, comment=comment, on_behalf_of=on_behalf_of),
        )

    def hold_for_approval(
        self,
        username: str,
        case_id: str,
        *,
        step: str,
        label: str,
        users: Sequence[str] = (),
        role: str | None = None,
        mode: str = "any",
        comment: str | None = None,
    ) -> CaseView:
        """A workflow rule holds the case in its status until the approvers decide (engine.hold_for_approval);
        their delegates are asked too, as for an approval status."""
        return self._command(
            username,
            case_id,
            None,
            _by_engine(
                engine.hold_for_approval,
                step=step,
                label=label,
                users=users,
                role=role,
                mode=ApprovalMode(mode),
                comment=comment,
            ),
        )

    def recall(
        self, username: str, case_id: str, *, comment: str | None = None, expected_version: int | None = None
    ) -> CaseView:
        """The submitter takes a pending approval back (engine.recall)."""
        return self._command(username, case_id, expected_version, _by_engine(engine.recall, comment=comment))
