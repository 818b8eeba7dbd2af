"""The transition engine: one set of rules for every case type, driven by its WorkflowDefinition.

Every command is a pure function ``(definition, case, actor, business unit, input, now) -> Change`` or a
DomainError. Nothing here reads a clock, makes an id or touches storage; the services do that, and commit
the Change atomically.

Length (over ~600 lines): the engine is one state machine (transitions, approvals and holds, acceptance,
auto-moves, key dates, assignment on entry) whose rules call each other on one draft; its parts share
private helpers that would become public API if split. Definitions (workflow.py) and care rules
(care/rules.py) are already outside.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from casework.domain import durations
from casework.domain.error_codes import ErrorCode
from casework.domain.errors import Conflict, Forbidden, ValidationFailed
from casework.domain.model import (
    SYSTEM,
    Actor,
    ApprovalRule,
    BusinessUnit,
    Case,
    Change,
    DomainEvent,
    HistoryEntry,
    PendingAcceptance,
    PendingApproval,
    Phase,
    timestamp,
)
from casework.domain.visibility import with_involvement
from casework.domain.workflow import (
    CORE_FIELDS,
    AcceptanceSpec,
    ApprovalMode,
    ApprovalSpec,
    AutoRule,
    Permit,
    Relation,
    Status,
    Transition,
    WorkflowDefinition,
)

APPROVE, REJECT = "approve", "reject"
ACCEPT, REFUSE = "accept", "refuse"
IMMUTABLE_FIELDS = frozenset({"account_id", "business_unit", "contact_id", "type", "subtype"})


def _module_rules(defn: WorkflowDefinition) -> Any:
    """The few rules that belong to one module's code (activity services, lead conversion), or None."""
    if defn.module is None:
        return None
    from casework.domain.care.rules import rules_for

    return rules_for(defn.module)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- permissions -------------------------------------------------------------------------------------------


def permitted(permits: Iterable[Permit], actor: Actor, unit: str, case: Case | None = None) -> bool:
    """True when any permit lets ``actor`` act on a case of business unit ``unit``."""
    for p in permits:
        if p.user and p.user != actor.username:
            continue
        if p.role and (p.role not in actor.roles or (not p.any_unit and unit not in actor.business_units)):
            continue
        if p.business_unit and p.business_unit not in actor.business_units:
            continue
        if p.relation is Relation.CREATOR and (case is None or case.created_by != actor.username):
            continue
        if p.relation is Relation.ASSIGNEE and (case is None or case.assignee != actor.username):
            continue
        return True
    return False


# --- field values ------------------------------------------------------------------------------------------


def _coerce_fields(defn: WorkflowDefinition, values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise values against the definition; every bad field is reported at once."""
    out, errors = {}, {}
    for name, value in values.items():
        if name in ("title", "description"):
            limit = 255 if name == "title" else 10_000
            if value is not None and not isinstance(value, str):
                errors[name] = "must be a string"
            elif value is not None and len(value.strip()) > limit:
                errors[name] = f"must be at most {limit} characters"
            else:
                out[name] = value.strip() or None if isinstance(value, str) else None
            continue
        spec = defn.fields.get(name)
        if spec is None:
            errors[name] = "is not a field of this case type"
            continue
        try:
            out[name] = spec.coerce(value)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise ValidationFailed(ErrorCode.INVALID_FIELDS, "Some fields are not valid.", {"fields": errors})
    return out


def _only_accepted(fields: Mapping[str, Any] | None, accepted: tuple[str, ...], when: str) -> dict[str, Any]:
    fields = dict(fields or {})
    not_accepted = sorted(set(fields) - set(accepted))
    if not_accepted:
        raise ValidationFailed(
            ErrorCode.FIELDS_NOT_ACCEPTED,
            f"These fields cannot be set {when}.",
            {"fields": not_accepted, "accepted": list(accepted)},
        )
    return fields


def _missing(case: Case, required: Iterable[str]) -> list[str]:
    return [name for name in required if case.value(name) in (None, "", [])]


def _resolve_set(value: Any, actor: Actor, now: datetime) -> Any:
    if value == "$now":
        return timestamp(now)
    if value == "$today":
        return now.date().isoformat()
    if value == "$actor":
        return actor.username
    return value


# --- the draft a command builds ----------------------------------------------------------------------------


@dataclass
class _Draft:
    """Mutable while one command runs; frozen into a Change at the end."""

    defn: WorkflowDefinition
    before: Case
    case: Case
    actor: Actor
    unit: BusinessUnit
    now: datetime
    action: str
    events: list[tuple[str, dict[str, Any]]]
    changes: dict[str, dict[str, Any]]
    path: list[str]
    comment: str | None = None
    closed_children: tuple[str, ...] = ()
    deleted: bool = False
    on_behalf_of: str | None = None  # the approver a delegate acted for

    @property
    def at(self) -> str:
        return timestamp(self.now)

    def set_values(self, values: Mapping[str, Any]) -> None:
        core = {k: v for k, v in values.items() if k in CORE_FIELDS}
        custom = {k: v for k, v in values.items() if k not in CORE_FIELDS}
        for name, value in values.items():
            old = self.case.value(name)
            if old != value:
                self.changes[name] = {"from": old, "to": value}
        fields = {**self.case.fields, **custom}
        fields = {k: v for k, v in fields.items() if v is not None}
        self.case = replace(self.case, fields=fields, **core)

    def emit(self, event_type: str, **data: Any) -> None:
        self.events.append((event_type, data))

    def assign(self, username: str | None, reason: str, *, announce_unchanged: bool = False) -> None:
        """Set the assignee. A status's assignment rule is a new piece of work even for the same person (Frank
        assesses, then implements), so entry rules announce it; a no-op reassignment does not."""
        previous = self.case.assignee
        if username == previous and not (announce_unchanged and username):
            return
        if username != previous:
            self.changes["assignee"] = {"from": previous, "to": username}
            self.case = replace(self.case, assignee=username)
        if username:
            self.emit(
                "CaseAssigned",
                assignee=username,
                previous_assignee=previous,
                reason=reason,
                status=self.case.status,
            )

    def enter(self, status: str, by: Actor) -> None:
        """Move to ``status`` and run what the status does on entry: assignment, approval requests.

        Automatic approvals chain (an auto-approved step enters its next status at once); the path is
        bounded by the number of statuses, so a definition cannot loop forever.
        """
        if len(self.path) > len(self.defn.statuses):
            raise Conflict(
                ErrorCode.WORKFLOW_LOOP, "The workflow's automatic steps loop.", {"path": self.path}
            )
        _ensure_not_held(self.case)
        previous = self.case.status
        target = self.defn.status(status)
        rules = _module_rules(self.defn)
        if rules is not None:
            rules.entering(self, target)
        phases = list(self.case.key_dates)
        if phases and phases[-1].left_at is None:
            phases[-1] = replace(phases[-1], left_at=self.at, left_by=by.username)
        phases.append(Phase(status=status, entered_at=self.at, entered_by=by.username))
        self.case = replace(
            self.case, status=status, state=target.state, key_dates=tuple(phases), approval=None
        )
        self.path.append(status)
        self.changes["status"] = {"from": self.changes.get("status", {}).get("from", previous), "to": status}
        self.emit(
            "CaseTransitioned", from_status=previous, to_status=status, state=target.state, by=by.username
        )
        self._date_on_entry(target)
        self.case = replace(self.case, acceptance=None)
        if target.acceptance:
            self.ask_acceptance(target.acceptance)

        self._assign_on_entry(target.assign.to, target.assign.value)
        if target.approval:
            self._request_approval(target.approval, previous, by)
        if rules is not None:
            rules.entered(self, target)

    # --- key dates, derived values, acceptance, automatic moves ---

    def _set_dates(self, **values: str | None) -> None:
        dates = dict(self.case.dates)
        for name, value in values.items():
            if dates.get(name) != value:
                if name == "expected_completion_date":
                    self.changes[name] = {"from": dates.get(name), "to": value}
                dates[name] = value
        self.case = replace(self.case, dates=dates)

    def schedule(self, restart: bool = False) -> None:
        """Expected completion = when the clock started + the "to be completed within" that applies now."""
        rules = self.defn.key_dates
        if rules is None:
            return
        if restart:
            self._set_dates(clock_from=self.at)
        start = _instant(self.case.dates.get("clock_from") or self.case.dates.get("start_date") or self.at)
        ends = [
            durations.add(start, durations.Duration.from_dict(d))
            for d in rules.durations_for(self.case.fields)
        ]
        self._set_dates(expected_completion_date=timestamp(min(ends)) if ends else None)

    def _date_on_entry(self, target: Status) -> None:
        rules = self.defn.key_dates
        if rules is not None and target.state in rules.restart_on:
            self.schedule(restart=True)
        if rules is not None and rules.completes(target.name, target.state):
            self._set_dates(actual_completion_date=self.at)
        if target.state in self.defn.terminal_states:
            self._set_dates(closed_at=self.at)

    def derive(self) -> None:
        """Recompute derived fields (priority from impact x urgency) and the expected completion date."""
        for rule in self.defn.derived:
            sources = [self.case.value(name) for name in rule.sources]
            value = None if None in sources else rule.value(sources)
            if value is not None and self.case.value(rule.field) != value:
                self.set_values({rule.field: value})
        self.schedule()

    def ask_acceptance(self, spec: AcceptanceSpec) -> None:
        """A new answer in a status that may need the contact's acceptance: ask when its category says so."""
        category = self.case.value(spec.category_field)
        if category not in spec.categories:
            self.case = replace(self.case, acceptance=None)
            return
        rounds = self.case.acceptance_rounds + 1
        self.case = replace(
            self.case,
            acceptance_rounds=rounds,
            acceptance=PendingAcceptance(
                step=spec.step,
                round=rounds,
                status=self.case.status,
                category=category,
                decision=None,
                requested_at=self.at,
            ),
        )
        self.emit(
            "AcceptanceRequested",
            step=spec.step,
            step_label=spec.label,
            round=rounds,
            category=category,
            contact_id=self.case.contact_id,
        )

    def _holds(self, rule: AutoRule, creator_roles: frozenset[str] | None) -> bool:
        if rule.creator_roles and not (creator_roles and creator_roles & set(rule.creator_roles)):
            return False
        return not _missing(self.case, rule.filled)

    def settle(self, creator_roles: frozenset[str] | None = None) -> None:
        """Take the automatic moves whose conditions hold, one after another (``enter`` bounds the chain).
        ``creator_roles`` is only given while the case is being created."""
        while not self.defn.is_terminal(self.case.status) and not _held(self.case):
            status = self.defn.status(self.case.status)
            rule = next((r for r in status.auto if self._holds(r, creator_roles)), None)
            if rule is None:
                return
            self.comment = self.comment or rule.label
            self.enter(rule.to, SYSTEM)

    def _assign_on_entry(self, rule: str, value: str | None) -> None:
        if rule == "keep":
            return
        if rule == "nobody":
            self.assign(None, reason=f"entered {self.case.status}")
            return
        username: str | None
        if rule == "creator":
            username = self.case.created_by
        elif rule == "user":
            username = value
        else:  # responsible: the business unit names who handles this duty
            username = self.unit.responsibles.get(value or "")
            if not username:
                raise Conflict(
                    ErrorCode.NO_RESPONSIBLE,
                    f"Business unit {self.unit.code} names nobody responsible for {value}.",
                    {"business_unit": self.unit.code, "duty": value},
                )
        self.assign(username, reason=f"entered {self.case.status}", announce_unchanged=True)

    def _request_approval(self, spec: ApprovalSpec, previous: str, by: Actor) -> None:
        rule = self.unit.approval_rules.get(spec.step) or ApprovalRule(
            kind="group", role=spec.approvers_role, mode=spec.mode
        )
        rounds = self.case.approval_rounds + 1
        self.case = replace(self.case, approval_rounds=rounds)
        if rule.kind == "auto":
            self.emit(
                "ApprovalDecided",
                step=spec.step,
                round=rounds,
                approver=SYSTEM.username,
                decision=APPROVE,
                outcome=APPROVE,
                comment="approved automatically by business unit rule",
            )
            self.enter(spec.on_approve, SYSTEM)
            return
        approvers = list(rule.users)
        if rule.role:
            approvers += [u for u in self.unit.members_with_role(rule.role) if u not in approvers]
        if rule.kind == "user":
            approvers = approvers[:1]
        if not approvers:
            raise Conflict(
                ErrorCode.NO_APPROVER,
                f"Business unit {self.unit.code} has nobody to approve {spec.label}.",
                {"business_unit": self.unit.code, "step": spec.step},
            )
        mode = rule.mode if rule.kind == "group" else ApprovalMode.ANY
        self.case = replace(
            self.case,
            approval=PendingApproval(
                step=spec.step,
                round=rounds,
                mode=mode,
                decisions=dict.fromkeys(approvers),
                requested_at=self.at,
                submitted_by=(self.actor if by is SYSTEM else by).username,
                submitted_from=previous,
            ),
        )
        for approver in approvers:
            self.emit(
                "ApprovalRequested",
                step=spec.step,
                step_label=spec.label,
                round=rounds,
                approver=approver,
                mode=mode.value,
            )

    def finish(self) -> Change:
        version = self.before.version + 1 if self.action != "registered" else 1
        case = with_involvement(
            replace(self.case, version=version, updated_at=self.at, updated_by=self.actor.username)
        )
        entry = HistoryEntry(
            version=version,
            at=self.at,
            by=self.actor.username,
            action=self.action,
            from_status=self.before.status if self.action != "registered" else None,
            to_status=case.status,
            changes=self.changes,
            comment=self.comment,
            path=tuple(self.path),
            on_behalf_of=self.on_behalf_of,
        )
        closed_now = not self.defn.is_terminal(self.before.status) and (
            self.deleted or self.defn.is_terminal(case.status)
        )
        events = tuple(
            DomainEvent(
                id=f"{case.id}:{version}:{index}",
                type=event_type,
                case_id=case.id,
                case_type=case.type,
                occurred_at=self.at,
                actor=self.actor.username,
                data={"status": case.status, "state": case.state, **data},
                workflow_version=case.workflow_version,
                subtype=case.subtype,
                config_version=case.config_version,
                case_version=version,
                notify=self.defn.notifies(event_type, data.get("state", case.state)),
            )
            for index, (event_type, data) in enumerate(self.events)
        )
        return Change(
            case,
            entry,
            events,
            None if self.action == "registered" else self.before.version,
            closed_children=self.closed_children,
            deleted=self.deleted,
            closed_now=closed_now and self.action != "registered",
        )


def _draft(
    defn: WorkflowDefinition, case: Case, actor: Actor, unit: BusinessUnit, now: datetime, action: str
) -> _Draft:
    return _Draft(defn, case, case, actor, unit, now, action, [], {}, [])


def _ensure_open(defn: WorkflowDefinition, case: Case) -> None:
    if defn.is_terminal(case.status):
        raise Conflict(
            ErrorCode.CASE_CLOSED,
            f"The case is {case.status}; it can no longer change.",
            {"status": case.status},
        )


def _held(case: Case) -> bool:
    return case.approval is not None and case.approval.hold


def _ensure_not_held(case: Case) -> None:
    """A rule's hold (``hold_for_approval``) keeps the case in its status until the approval is decided."""
    pending = case.approval
    if pending is not None and pending.hold:
        raise Conflict(
            ErrorCode.HELD_FOR_APPROVAL,
            f"The case waits for {pending.label or pending.step} before it moves on.",
            {
                "step": pending.step,
                "round": pending.round,
                "waiting_on": [person for person, _ in pending.waiting_on()],
            },
        )


def approval_label(defn: WorkflowDefinition, case: Case) -> str:
    """How people are told which approval the case waits for: a hold's label, else its status's step."""
    pending = case.approval
    if pending is not None and pending.label:
        return pending.label
    status = defn.statuses.get(case.status)
    if status is not None and status.approval is not None:
        return status.approval.label
    return pending.step if pending is not None else ""


# --- commands ----------------------------------------------------------------------------------------------


def register(
    defn: WorkflowDefinition,
    actor: Actor,
    unit: BusinessUnit,
    *,
    case_id: str,
    now: datetime,
    title: Any,
    description: Any = None,
    account_id: str | None = None,
    fields: Mapping[str, Any] | None = None,
    contact_id: str | None = None,
    assignee: Actor | None = None,
    parent: Case | None = None,
) -> Change:
    """A new case. ``assignee`` is for definitions that assign on creation to whom the creator says
    (``create.assign: given``); ``parent`` for a case scheduled from another (it inherits the contact and
    account)."""
    if not permitted(defn.create.allowed, actor, unit.code):
        raise Forbidden(
            ErrorCode.NOT_ALLOWED, f"You may not create a {defn.title} in business unit {unit.code}."
        )
    fields = _only_accepted(fields, defn.create.accepts, "when the case is created")
    values = _coerce_fields(
        defn, {**defn.create.defaults, "title": title, "description": description, **fields}
    )
    if defn.create.assign == "creator":
        holder: str | None = actor.username
    else:
        if assignee is not None and (unit.code not in assignee.business_units or not assignee.active):
            raise ValidationFailed(
                ErrorCode.ASSIGNEE_NOT_IN_UNIT,
                f"{assignee.username} is not an active member of business unit {unit.code}.",
                {"assignee": assignee.username, "business_unit": unit.code},
            )
        holder = assignee.username if assignee else None
    if parent is not None:
        contact_id = contact_id or parent.contact_id
        account_id = account_id or parent.account_id
    at = timestamp(now)
    blank = Case(
        id=case_id,
        type=defn.name,
        workflow_version=defn.version,
        subtype=defn.subtype,
        config_version=defn.config_version,
        contact_id=contact_id,
        parent_id=parent.id if parent else None,
        parent_type=parent.type if parent else None,
        dates={"start_date": at},
        title="",
        description=None,
        account_id=account_id,
        business_unit=unit.code,
        status=defn.initial_status,
        state=defn.status(defn.initial_status).state,
        version=0,
        assignee=None,
        created_by=actor.username,
        created_at=at,
        updated_by=actor.username,
        updated_at=at,
        related_counts=dict.fromkeys([*defn.related, *defn.children], 0),
    )
    draft = _draft(defn, blank, actor, unit, now, "registered")
    draft.set_values(values)
    missing = _missing(draft.case, defn.create.requires)
    if missing:
        raise ValidationFailed(
            ErrorCode.MISSING_FIELDS, f"Required: {', '.join(missing)}.", {"fields": missing}
        )
    draft.case = replace(draft.case, assignee=holder)
    links = {"contact_id": contact_id, "parent_id": blank.parent_id}
    draft.emit(
        "CaseRegistered",
        title=draft.case.title,
        account_id=account_id,
        business_unit=unit.code,
        assignee=holder,
        **{name: value for name, value in links.items() if value},
    )
    # The creator holding their own new case needs no telling; anybody else it is given to does.
    if holder and holder != actor.username:
        draft.emit("CaseAssigned", assignee=holder, previous_assignee=None, reason="assigned on creation")
    draft.case = replace(draft.case, key_dates=(Phase(defn.initial_status, at, actor.username),))
    draft.path.append(defn.initial_status)
    rules = _module_rules(defn)
    if rules is not None:
        rules.on_register(draft)
    draft.derive()
    initial = defn.status(defn.initial_status)
    if initial.acceptance:
        draft.ask_acceptance(initial.acceptance)
    draft.settle(creator_roles=actor.roles)
    return draft.finish()


def _candidates(defn: WorkflowDefinition, case: Case, to: str) -> list[Transition]:
    return [t for t in defn.transitions_from(case.status) if t.to == to]


def available_transitions(
    defn: WorkflowDefinition, case: Case, actor: Actor, unit: BusinessUnit
) -> list[dict[str, Any]]:
    """What this person may do next, with what each move still needs (so a UI can show it)."""
    if defn.is_terminal(case.status):
        return []
    out = []
    for t in defn.transitions_from(case.status):
        if not permitted(t.allowed, actor, case.business_unit, case):
            continue
        out.append(
            {
                "name": t.name,
                "label": t.label,
                "to": t.to,
                "to_state": defn.status(t.to).state,
                "accepts": list(t.accepts),
                "requires": list(t.requires),
                "missing": _missing(case, t.requires),
                "requires_related": dict(t.requires_related),
            }
        )
    return out


def transition(
    defn: WorkflowDefinition,
    case: Case,
    actor: Actor,
    unit: BusinessUnit,
    *,
    to: str,
    fields: Mapping[str, Any] | None = None,
    now: datetime,
) -> Change:
    if to not in defn.statuses:
        raise ValidationFailed(
            ErrorCode.UNKNOWN_STATUS,
            f"{to!r} is not a status of {defn.title}.",
            {"statuses": list(defn.statuses)},
        )
    _ensure_open(defn, case)
    candidates = _candidates(defn, case, to)
    if not candidates:
        current = defn.status(case.status)
        if current.approval and to in (current.approval.on_approve, current.approval.on_reject):
            raise Conflict(
                ErrorCode.AWAITING_APPROVAL,
                f"{case.status} ends with the approvers' decision, not by hand.",
                {"from": case.status, "to": to, "step": current.approval.step},
            )
        raise Conflict(
            ErrorCode.ILLEGAL_TRANSITION,
            f"A case cannot go from {case.status} to {to}.",
            {
                "from": case.status,
                "to": to,
                "allowed": sorted({t.to for t in defn.transitions_from(case.status)}),
            },
        )
    chosen = next((t for t in candidates if permitted(t.allowed, actor, case.business_unit, case)), None)
    if chosen is None:
        raise Forbidden(
            ErrorCode.NOT_ALLOWED,
            f"You may not move this case from {case.status} to {to}.",
            {"from": case.status, "to": to},
        )
    _ensure_not_held(case)
    if chosen.needs_assignee and not case.assignee:
        raise Conflict(
            ErrorCode.NOT_ACCEPTED,
            f"This {defn.title} is waiting for a user of {case.business_unit} to accept it; "
            f"it cannot progress before somebody does (or it is assigned to a user).",
            {"business_unit": case.business_unit},
        )
    if defn.status(to).state != case.state:
        _ensure_answer_accepted(defn, case)
    fields = _only_accepted(fields, chosen.accepts, f"with {chosen.label}")
    draft = _draft(defn, case, actor, unit, now, "transitioned")
    draft.closed_children = tuple(defn.children[k].case_type for k in chosen.requires_closed_children)
    draft.set_values(_coerce_fields(defn, fields))
    draft.set_values({k: _resolve_set(v, actor, now) for k, v in chosen.sets.items()})
    missing = _missing(draft.case, chosen.requires)
    if missing:
        labels = [defn.fields[m].label if m in defn.fields else m for m in missing]
        raise ValidationFailed(
            ErrorCode.MISSING_FIELDS,
            f"Required before {chosen.label}: {', '.join(labels)}.",
            {"fields": missing},
        )
    short = {kind: n for kind, n in chosen.requires_related.items() if case.related_counts.get(kind, 0) < n}
    if short:
        kind, n = next(iter(short.items()))
        raise ValidationFailed(
            ErrorCode.RELATED_REQUIRED,
            f"{chosen.label} needs at least {n} {defn.related.get(kind, kind)}.",
            {"related": short},
        )
    draft.enter(to, actor)
    draft.derive()
    draft.settle()
    return draft.finish()


def _ensure_answer_accepted(defn: WorkflowDefinition, case: Case) -> None:
    """A response or resolution the contact must accept holds the case in its status until they do."""
    pending = case.acceptance
    if pending is None or pending.status != case.status or pending.decision == ACCEPT:
        return
    spec = defn.status(case.status).acceptance
    label = spec.label if spec else pending.step
    details = {"step": pending.step, "round": pending.round, "category": pending.category}
    if pending.decision is None:
        raise Conflict(
            ErrorCode.AWAITING_ACCEPTANCE, f"The contact has not accepted the {label.lower()} yet.", details
        )
    raise Conflict(
        ErrorCode.ANSWER_REFUSED,
        f"The contact refused the {label.lower()}; give another one before the case moves on.",
        details,
    )


def editable_fields(defn: WorkflowDefinition, case: Case, actor: Actor) -> list[str]:
    if defn.is_terminal(case.status):
        return []
    names: list[str] = []
    for rule in defn.status(case.status).edits:
        if permitted(rule.allowed, actor, case.business_unit, case):
            names += [f for f in rule.fields if f not in names]
    return names


def edit(
    defn: WorkflowDefinition,
    case: Case,
    actor: Actor,
    unit: BusinessUnit,
    *,
    fields: Mapping[str, Any],
    now: datetime,
) -> Change | None:
    """Change field values the current status lets this person edit. None when nothing would change."""
    _ensure_open(defn, case)
    if not fields:
        raise ValidationFailed(ErrorCode.NO_FIELDS, "Give at least one field to change.")
    immutable = sorted(set(fields) & IMMUTABLE_FIELDS)
    if immutable:
        raise ValidationFailed(
            ErrorCode.IMMUTABLE_FIELDS,
            "Contact, account, type and business unit cannot change after creation.",
            {"fields": immutable},
        )
    values = _coerce_fields(defn, fields)
    in_status = {f for rule in defn.status(case.status).edits for f in rule.fields}
    locked = sorted(set(values) - in_status)
    if locked:
        raise Conflict(
            ErrorCode.FIELDS_LOCKED,
            f"These fields cannot be edited while the case is {case.status}.",
            {"fields": locked, "status": case.status},
        )
    mine = set(editable_fields(defn, case, actor))
    refused = sorted(set(values) - mine)
    if refused:
        raise Forbidden(ErrorCode.NOT_ALLOWED, "You may not edit these fields.", {"fields": refused})
    draft = _draft(defn, case, actor, unit, now, "edited")
    draft.set_values(values)
    cleared = [name for name in _missing(draft.case, defn.create.requires) if name in values]
    if cleared:
        raise ValidationFailed(
            ErrorCode.MISSING_FIELDS, f"Required: {', '.join(cleared)}.", {"fields": cleared}
        )
    if not draft.changes:
        return None
    draft.emit("CaseUpdated", fields=sorted(draft.changes))
    draft.derive()
    spec = defn.status(case.status).acceptance
    if spec and set(draft.changes) & set(spec.watch):
        draft.ask_acceptance(spec)  # a managed response/resolution is a new answer: ask again
    draft.settle()
    return draft.finish()


def decide(
    defn: WorkflowDefinition,
    case: Case,
    approver: Actor,
    unit: BusinessUnit,
    *,
    decision: str,
    comment: str | None,
    now: datetime,
    via: str = "api",
    on_behalf_of: str | None = None,
) -> Change:
    """Record ``approver``'s decision on the pending step; move the case when the step's mode says so.

    A delegate decides for the approver who delegated to them (``on_behalf_of`` names which, when several
    did): the decision counts as that approver's, once, and records who gave it."""
    if decision not in (APPROVE, REJECT):
        raise ValidationFailed(ErrorCode.INVALID_DECISION, "decision must be 'approve' or 'reject'.")
    _ensure_open(defn, case)
    status = defn.status(case.status)
    pending = case.approval
    if pending is None or (status.approval is None and not pending.hold):
        raise Conflict(
            ErrorCode.NO_PENDING_APPROVAL,
            f"The case is {case.status}; no approval is pending.",
            {"status": case.status},
        )
    principal = pending.principal_for(approver.username, on_behalf_of)
    if principal is None:
        asked = approver.username in pending.decisions or approver.username in pending.delegates.values()
        if not asked or (on_behalf_of and on_behalf_of not in pending.decisions):
            raise Forbidden(
                ErrorCode.NOT_AN_APPROVER, f"You are not an approver of {approval_label(defn, case)}."
            )
        decided = pending.decisions.get(on_behalf_of or approver.username) or next(
            (pending.decisions[p] for p, d in pending.delegates.items() if d == approver.username), None
        )
        raise Conflict(
            ErrorCode.ALREADY_DECIDED,
            "This approval has already been decided for you.",
            {"decision": decided},
        )
    delegated = principal != approver.username
    comment = (comment or "").strip() or None
    spec = None if pending.hold else status.approval
    if decision == REJECT and spec is not None and spec.reason_field and not comment:
        raise ValidationFailed(
            ErrorCode.COMMENT_REQUIRED,
            "Say why you reject: the comment is kept as the reason.",
            {"fields": ["comment"]},
        )
    decisions = {**pending.decisions, principal: decision}
    outcome: str | None
    if decision == REJECT or pending.mode is ApprovalMode.ANY:
        outcome = decision
    else:
        outcome = APPROVE if all(d == APPROVE for d in decisions.values()) else None

    draft = _draft(defn, case, approver, unit, now, "approval_decided")
    draft.comment = comment
    decided_by = {**pending.decided_by, principal: approver.username} if delegated else pending.decided_by
    draft.case = replace(case, approval=replace(pending, decisions=decisions, decided_by=decided_by))
    draft.on_behalf_of = principal if delegated else None
    draft.emit(
        "ApprovalDecided",
        step=pending.step,
        round=pending.round,
        approver=approver.username,
        decision=decision,
        outcome=outcome,
        comment=comment,
        via=via,
        **({"on_behalf_of": principal} if delegated else {}),
    )
    if spec is None:  # a hold: decided, it is lifted and the case stays where it is
        if outcome is not None:
            draft.case = replace(draft.case, approval=None)
            draft.changes["approval"] = {"from": pending.step, "to": None}
            draft.settle()  # automatic moves that waited for the hold
    elif outcome == APPROVE:
        draft.enter(spec.on_approve, approver)
    elif outcome == REJECT:
        if spec.reason_field:
            draft.set_values({spec.reason_field: comment})
        draft.enter(spec.on_reject, approver)
    return draft.finish()


def hold_for_approval(
    defn: WorkflowDefinition,
    case: Case,
    actor: Actor,
    unit: BusinessUnit,
    *,
    step: str,
    label: str,
    users: Iterable[str] = (),
    role: str | None = None,
    mode: ApprovalMode = ApprovalMode.ANY,
    comment: str | None = None,
    now: datetime,
) -> Change:
    """Hold the case in its status until ``users`` and/or the members of ``role`` in its business unit
    decide (any one of them, or all): a new approval round like an approval status's (the same requests,
    links, reminders and delegation), asked by ``actor`` (a workflow rule), that gates every move out of
    the status instead of choosing the next one. A case that waits for an approval already is refused:
    the hold it would add is either that one (a repeated request) or would compete with it."""
    _ensure_open(defn, case)
    pending = case.approval
    if pending is not None:
        raise Conflict(
            ErrorCode.APPROVAL_ALREADY_PENDING,
            f"The case already waits for {approval_label(defn, case)}.",
            {"step": pending.step, "round": pending.round},
        )
    approvers = list(dict.fromkeys(users))
    if role:
        approvers += [u for u in unit.members_with_role(role) if u not in approvers]
    if not approvers:
        raise Conflict(
            ErrorCode.NO_APPROVER,
            f"Business unit {unit.code} has nobody to approve {label}.",
            {"business_unit": unit.code, "step": step, "role": role},
        )
    draft = _draft(defn, case, actor, unit, now, "approval_requested")
    draft.comment = (comment or "").strip() or None
    rounds = case.approval_rounds + 1
    draft.case = replace(
        case,
        approval_rounds=rounds,
        approval=PendingApproval(
            step=step,
            round=rounds,
            mode=mode,
            decisions=dict.fromkeys(approvers),
            requested_at=draft.at,
            submitted_by=actor.username,
            submitted_from=case.status,
            hold=True,
            label=label,
        ),
    )
    draft.changes["approval"] = {"from": None, "to": step}
    for approver in approvers:
        draft.emit(
            "ApprovalRequested", step=step, step_label=label, round=rounds, approver=approver, mode=mode.value
        )
    return draft.finish()


def approvers_just_asked(change: Change) -> list[str]:
    """The approvers a change asked in a new round (their delegations are what the service looks up)."""
    pending = change.case.approval
    if pending is None:
        return []
    return [
        str(e.data["approver"])
        for e in change.events
        if e.type == "ApprovalRequested" and e.data.get("round") == pending.round
    ]


def with_delegates(change: Change, delegates: Mapping[str, str]) -> Change:
    """Ask the delegates of the approvers a change just asked, too (``delegates``: approver -> the delegate
    of their current delegation, as the directory holds it). Each delegate gets an ApprovalRequested of their
    own, right after their approver's, saying on whose behalf. A delegate who is an approver of the step
    already is not asked twice (they decide for themselves)."""
    pending = change.case.approval
    if pending is None:
        return change
    chosen = {
        approver: delegates[approver]
        for approver in approvers_just_asked(change)
        if delegates.get(approver) and delegates[approver] not in (approver, *pending.decisions)
    }
    if not chosen:
        return change
    events: list[DomainEvent] = []
    for event in change.events:
        events.append(event)
        approver = event.data.get("approver")
        if (
            event.type == "ApprovalRequested"
            and approver in chosen
            and event.data.get("round") == pending.round
        ):
            events.append(
                replace(event, data={**event.data, "approver": chosen[approver], "on_behalf_of": approver})
            )
    version = change.case.version
    events = [replace(e, id=f"{e.case_id}:{version}:{index}") for index, e in enumerate(events)]
    case = replace(change.case, approval=replace(pending, delegates={**pending.delegates, **chosen}))
    case = with_involvement(case, *chosen.values())  # a delegate sees the case they are asked to decide
    return replace(change, case=case, events=tuple(events))


def recall(
    defn: WorkflowDefinition,
    case: Case,
    actor: Actor,
    unit: BusinessUnit,
    *,
    comment: str | None = None,
    now: datetime,
) -> Change:
    """The submitter (whoever moved the case into the approval status) or the case's creator takes a pending
    approval back: the round closes (its links answer "no longer waiting"), the case returns to the status
    it was submitted from, and every approver and delegate still asked is told (ApprovalRecalled)."""
    pending = case.approval
    if pending is None or defn.is_terminal(case.status) or defn.status(case.status).approval is None:
        raise Conflict(
            ErrorCode.NOT_PENDING,
            f"The case is {case.status}; no approval is pending.",
            {"status": case.status},
        )
    if actor.username not in {pending.submitted_by, case.created_by}:
        raise Forbidden(
            ErrorCode.NOT_SUBMITTER,
            "Only who submitted the case for approval, or its creator, may recall the approval.",
            {"submitted_by": pending.submitted_by, "created_by": case.created_by},
        )
    back_to = pending.submitted_from
    if back_to is None or back_to not in defn.statuses:  # submitted before casework recorded it
        earlier = [p.status for p in case.key_dates[:-1]]
        back_to = earlier[-1] if earlier else None
    if back_to is None:
        raise Conflict(
            ErrorCode.NOT_PENDING, "The status before submission is not known.", {"status": case.status}
        )
    told = sorted({person for person, _ in pending.waiting_on()})
    draft = _draft(defn, case, actor, unit, now, "approval_recalled")
    draft.comment = (comment or "").strip() or None
    draft.emit(
        "ApprovalRecalled",
        step=pending.step,
        round=pending.round,
        approvers=told,
        returned_to=back_to,
        comment=draft.comment,
    )
    draft.enter(back_to, actor)
    return draft.finish()


DEFAULT_REMIND_AFTER_HOURS = 48


def reminders_due(
    case: Case, unit: BusinessUnit, *, now: datetime, default_hours: int = DEFAULT_REMIND_AFTER_HOURS
) -> list[tuple[str, str | None]]:
    """Who to remind of the case's pending approval at ``now``: everybody it still waits for (approvers and
    their delegates, as (person, on behalf of)), once the approval has waited longer than the unit's
    ``remind_after_hours`` for the step (else ``default_hours``); nobody before. 0 turns reminders off."""
    pending = case.approval
    if pending is None:
        return []
    rule = unit.approval_rules.get(pending.step)
    hours = rule.remind_after_hours if rule and rule.remind_after_hours is not None else default_hours
    if hours <= 0 or (now - _instant(pending.requested_at)).total_seconds() < hours * 3600:
        return []
    return pending.waiting_on()


def change_related(
    defn: WorkflowDefinition,
    case: Case,
    actor: Actor,
    unit: BusinessUnit,
    *,
    kind: str,
    key: str,
    added: bool,
    now: datetime,
) -> Change:
    """Add or remove an entry of a related list. The repository makes the link itself exist exactly once."""
    if kind not in defn.related:
        raise ValidationFailed(ErrorCode.UNKNOWN_RELATED, f"{defn.title} has no related list {kind!r}.")
    _ensure_open(defn, case)
    if case.status not in defn.related_editable_in:
        raise Conflict(
            ErrorCode.RELATED_LOCKED,
            f"{defn.related[kind]} cannot change while the case is {case.status}.",
            {"status": case.status},
        )
    if not permitted(defn.related_allowed, actor, case.business_unit, case):
        raise Forbidden(ErrorCode.NOT_ALLOWED, f"You may not change {defn.related[kind]} of this case.")
    allowed_keys = defn.related_keys.get(kind)
    if added and allowed_keys and key not in allowed_keys:
        raise ValidationFailed(
            ErrorCode.NOT_ALLOWED_FOR_TYPE,
            f"{key} cannot be added to the {defn.related[kind]} of this type.",
            {"kind": kind, "key": key, "allowed": list(allowed_keys)},
        )
    count = case.related_counts.get(kind, 0) + (1 if added else -1)
    draft = _draft(defn, case, actor, unit, now, "related_added" if added else "related_removed")
    draft.case = replace(case, related_counts={**case.related_counts, kind: max(count, 0)})
    draft.changes[kind] = {"from": None if added else key, "to": key if added else None}
    draft.emit("RelatedItemAdded" if added else "RelatedItemRemoved", kind=kind, key=key, count=max(count, 0))
    return draft.finish()


def reassign(
    defn: WorkflowDefinition,
    case: Case,
    actor: Actor,
    unit: BusinessUnit,
    *,
    assignee: Actor | None,
    now: datetime,
    new_unit: BusinessUnit | None = None,
) -> Change:
    """Assign to a user, or (where the definition allows) to another business unit and/or a user of it. A
    case given to a unit without a user waits for one of its members to accept it."""
    _ensure_open(defn, case)
    if not permitted(defn.reassign_allowed, actor, case.business_unit, case):
        raise Forbidden(ErrorCode.NOT_ALLOWED, "You may not reassign this case.")
    target_unit = new_unit or unit
    if target_unit.code != case.business_unit and not defn.reassign_unit:
        raise ValidationFailed(
            ErrorCode.UNIT_FIXED, f"A {defn.title} stays in its business unit {case.business_unit}."
        )
    if assignee is not None and (target_unit.code not in assignee.business_units or not assignee.active):
        raise ValidationFailed(
            ErrorCode.ASSIGNEE_NOT_IN_UNIT,
            f"{assignee.username} is not an active member of business unit {target_unit.code}.",
        )
    username = assignee.username if assignee else None
    if target_unit.code == case.business_unit and username == case.assignee:
        raise Conflict(
            ErrorCode.ALREADY_ASSIGNED, f"The case is already assigned to {username or case.business_unit}."
        )
    if username is None and target_unit.code == case.business_unit:
        raise ValidationFailed(
            ErrorCode.MISSING_FIELDS, "Give the assignee or another business unit.", {"fields": ["assignee"]}
        )
    draft = _draft(defn, case, actor, target_unit, now, "reassigned")
    if target_unit.code != case.business_unit:
        draft.changes["business_unit"] = {"from": case.business_unit, "to": target_unit.code}
        draft.case = replace(draft.case, business_unit=target_unit.code)
        draft.emit(
            "CaseMovedToUnit",
            business_unit=target_unit.code,
            previous_business_unit=case.business_unit,
            assignee=username,
        )
    draft.assign(username, reason=f"reassigned by {actor.username}")
    return draft.finish()


def take(defn: WorkflowDefinition, case: Case, actor: Actor, unit: BusinessUnit, *, now: datetime) -> Change:
    """A member of the case's business unit accepts a case waiting in the unit, and so becomes its user."""
    _ensure_open(defn, case)
    if case.business_unit not in actor.business_units:
        raise Forbidden(
            ErrorCode.NOT_A_UNIT_MEMBER, f"Only members of {case.business_unit} can accept this {defn.title}."
        )
    if case.assignee == actor.username:
        raise Conflict(ErrorCode.ALREADY_ASSIGNED, f"The case is already assigned to {actor.username}.")
    if case.assignee:
        raise Conflict(
            ErrorCode.ALREADY_ACCEPTED,
            f"{case.assignee} has this case already; ask for it to be reassigned.",
            {"assignee": case.assignee},
        )
    draft = _draft(defn, case, actor, unit, now, "accepted")
    draft.assign(actor.username, reason=f"accepted by {actor.username}")
    return draft.finish()


def decide_acceptance(
    defn: WorkflowDefinition,
    case: Case,
    contact: Actor,
    unit: BusinessUnit,
    *,
    decision: str,
    comment: str | None,
    round: int | None,
    now: datetime,
    via: str = "email",
) -> Change:
    """The contact accepts or refuses the answer waiting for them. A refusal keeps the case where it is;
    the next answer (a managed response or resolution) asks again."""
    if decision not in (ACCEPT, REFUSE):
        raise ValidationFailed(ErrorCode.INVALID_DECISION, "decision must be 'accept' or 'refuse'.")
    _ensure_open(defn, case)
    pending = case.acceptance
    if (
        pending is None
        or not pending.pending
        or pending.status != case.status
        or (round is not None and pending.round != round)
    ):
        raise Conflict(
            ErrorCode.NO_PENDING_ACCEPTANCE,
            "Nothing on this case is waiting for the contact's acceptance.",
            {"status": case.status},
        )
    comment = (comment or "").strip() or None
    draft = _draft(defn, case, contact, unit, now, "acceptance_decided")
    draft.comment = comment
    draft.case = replace(
        case, acceptance=replace(pending, decision=decision, decided_at=draft.at, comment=comment)
    )
    draft.changes["acceptance"] = {"from": None, "to": decision}
    draft.emit(
        "AcceptanceDecided",
        step=pending.step,
        round=pending.round,
        category=pending.category,
        decision=decision,
        comment=comment,
        contact_id=case.contact_id,
        via=via,
    )
    return draft.finish()


def involve(
    defn: WorkflowDefinition,
    case: Case,
    actor: Actor,
    unit: BusinessUnit,
    *,
    people: tuple[str, ...],
    now: datetime,
) -> Change | None:
    """Record that ``people`` are on the case now (an activity scheduled from it was given to them), so they
    read it from now on. None when they are already. No event: nothing a subscriber acts on has changed."""
    newcomers = sorted(set(people) - case.involved)
    if not newcomers:
        return None
    draft = _draft(defn, case, actor, unit, now, "involved")
    draft.case = with_involvement(case, *newcomers)
    draft.changes["involved"] = {"from": None, "to": newcomers}
    return draft.finish()


def schedule_child(
    defn: WorkflowDefinition,
    parent: Case,
    actor: Actor,
    unit: BusinessUnit,
    *,
    kind: str,
    child: Case,
    now: datetime,
) -> Change:
    """Record on the parent that ``child`` was scheduled from it (the child is registered alongside)."""
    spec = defn.children.get(kind)
    if spec is None:
        raise ValidationFailed(
            ErrorCode.UNKNOWN_CHILD_KIND, f"Nothing of kind {kind!r} can be scheduled from a {defn.title}."
        )
    _ensure_open(defn, parent)
    if parent.assignee != actor.username and not permitted(
        defn.related_allowed, actor, parent.business_unit, parent
    ):
        raise Forbidden(
            ErrorCode.NOT_ALLOWED, f"You may not schedule {spec.label.lower()} from this {defn.title}."
        )
    if spec.allowed_subtypes and child.subtype not in spec.allowed_subtypes:
        raise ValidationFailed(
            ErrorCode.TYPE_NOT_ALLOWED,
            f"A {defn.title} of this type cannot schedule {child.subtype}.",
            {"allowed": list(spec.allowed_subtypes), "type": child.subtype},
        )
    draft = _draft(defn, parent, actor, unit, now, "child_scheduled")
    count = parent.related_counts.get(kind, 0) + 1
    # the activity's assignee now reads the parent too (the parent is written in the same transaction)
    draft.case = with_involvement(
        replace(parent, related_counts={**parent.related_counts, kind: count}), child.assignee
    )
    draft.changes[kind] = {"from": None, "to": child.id}
    draft.emit(
        "ChildScheduled", kind=kind, child_id=child.id, child_type=child.type, child_subtype=child.subtype
    )
    return draft.finish()


def delete(
    defn: WorkflowDefinition, case: Case, actor: Actor, unit: BusinessUnit, *, now: datetime
) -> Change:
    """Delete a case nothing refers to (no scheduled children, no related cases of the same kind)."""
    if not permitted(defn.delete_allowed, actor, case.business_unit, case):
        raise Forbidden(ErrorCode.NOT_ALLOWED, f"You may not delete this {defn.title}.")
    # Cases that refer to this one (its scheduled children, related cases elsewhere) are counted by the
    # repository, which refuses the delete atomically; these are the references this case holds itself.
    referenced = {kind: n for kind, n in case.related_counts.items() if n and kind in defn.delete_blocked_by}
    if referenced:
        raise Conflict(
            ErrorCode.REFERENCED,
            f"Other records refer to this {defn.title}; cancel it instead, or remove them first.",
            {"related": referenced},
        )
    draft = _draft(defn, case, actor, unit, now, "deleted")
    draft.deleted = True
    draft.emit("CaseDeleted", parent_id=case.parent_id)
    return draft.finish()


def record_check(
    defn: WorkflowDefinition,
    case: Case,
    actor: Actor,
    unit: BusinessUnit,
    *,
    kind: str,
    key: str,
    check: str,
    result: Mapping[str, Any],
    now: datetime,
) -> Change:
    """Record the outcome of a check on an entry of a related list (a product line's return coverage), in
    the case's history, by those who may change the list."""
    if kind not in defn.related:
        raise ValidationFailed(ErrorCode.UNKNOWN_RELATED, f"{defn.title} has no related list {kind!r}.")
    _ensure_open(defn, case)
    if not permitted(defn.related_allowed, actor, case.business_unit, case):
        raise Forbidden(ErrorCode.NOT_ALLOWED, f"You may not work on the {defn.related[kind]} of this case.")
    draft = _draft(defn, case, actor, unit, now, f"{check}_checked")
    draft.changes[f"{kind}.{key}.{check}"] = {"from": None, "to": dict(result)}
    draft.emit("RelatedItemChecked", kind=kind, key=key, check=check, result=dict(result))
    return draft.finish()


def record_booking(
    defn: WorkflowDefinition,
    case: Case,
    actor: Actor,
    unit: BusinessUnit,
    *,
    booking: Mapping[str, Any],
    event_type: str,
    now: datetime,
) -> Change:
    """Keep a resource booking's state on the activity (field ``resource_bookings``): requested, confirmed,
    declined or cancelled, in its history, in the transaction that claims or frees the resource's time."""
    if booking["status"] in ("requested", "confirmed"):
        _ensure_open(defn, case)
    draft = _draft(defn, case, actor, unit, now, f"resource_{booking['status']}")
    kept = [b for b in case.fields.get("resource_bookings") or () if b.get("id") != booking["id"]]
    draft.set_values({"resource_bookings": [*kept, dict(booking)]})
    draft.emit(event_type, booking=dict(booking))
    return draft.finish()


def record_undelivered(
    defn: WorkflowDefinition,
    case: Case,
    unit: BusinessUnit,
    *,
    channel: str,
    recipient: str,
    instead: str,
    reason: str,
    now: datetime,
) -> Change:
    """A message could not go by ``channel`` (an SMS to a contact without a valid mobile number) and went by
    ``instead``: the case's history says so, as done by the system."""
    draft = _draft(defn, case, SYSTEM, unit, now, f"{channel}_not_sent")
    draft.changes["delivery"] = {"from": channel, "to": instead}
    draft.comment = f"{reason} ({recipient}); sent by {instead} instead."
    return draft.finish()
