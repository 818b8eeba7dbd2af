"""Workflow definitions: a case type's statuses, transitions, approvals and fields, as data.

A definition is parsed once from a plain dict (JSON in the table or in ``casework/workflows``) and is
immutable. Every rule the engine applies comes from here, so shipping a new process means shipping a new
definition, not new code. Definitions are versioned: a case keeps the version it started with.

``parse_definition`` refuses anything the engine could not run (unknown statuses, unreachable targets,
approval steps without an outcome, ...) with ``InvalidDefinition``, so a bad definition fails at load time
rather than halfway through somebody's case.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from casework.domain.errors import InvalidDefinition

ANY_OPEN = "*"  # in a transition's "from": every status whose state is not terminal


class FieldType(StrEnum):
    STRING = "string"
    TEXT = "text"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    CHOICE = "choice"
    LIST = "list"  # a list of records (e.g. an activity's services); the module's rules check the content


class Relation(StrEnum):
    CREATOR = "creator"
    ASSIGNEE = "assignee"


class ApprovalMode(StrEnum):
    ANY = "any"  # the first decision decides
    ALL = "all"  # every approver must approve; one rejection rejects


MAX_MAGNITUDE = 10**38  # DynamoDB keeps 38 significant digits; beyond that a value would fail at the table


def _within_storable_range(value: int | float) -> int | float:
    if abs(value) >= MAX_MAGNITUDE:
        raise ValueError("is too large")
    return value


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    label: str
    max_length: int | None = None
    choices: tuple[Any, ...] = ()
    section: str | None = None
    choice_labels: Mapping[str, str] = field(default_factory=dict)  # choice (as text) -> what users read

    def choice_label(self, value: Any) -> str:
        return self.choice_labels.get(str(value), "" if value is None else str(value))

    def coerce(self, value: Any) -> Any:
        """The stored form of ``value``; raises ValueError with a message a user can act on."""
        if value is None:
            return None
        match self.type:
            case FieldType.STRING | FieldType.TEXT:
                if not isinstance(value, str):
                    raise ValueError("must be a string")
                value = value.strip()
                limit = self.max_length or (255 if self.type is FieldType.STRING else 10_000)
                if len(value) > limit:
                    raise ValueError(f"must be at most {limit} characters")
                return value or None
            case FieldType.INTEGER:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError("must be a whole number")
                return _within_storable_range(value)
            case FieldType.NUMBER:
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise ValueError("must be a number")
                return _within_storable_range(value)
            case FieldType.BOOLEAN:
                if not isinstance(value, bool):
                    raise ValueError("must be true or false")
                return value
            case FieldType.DATE:
                if not isinstance(value, str):
                    raise ValueError("must be a date (YYYY-MM-DD)")
                try:
                    return date.fromisoformat(value).isoformat()
                except ValueError:
                    raise ValueError("must be a date (YYYY-MM-DD)") from None
            case FieldType.CHOICE:
                if isinstance(value, bool) or value not in self.choices:
                    raise ValueError(f"must be one of: {', '.join(map(str, self.choices))}")
                return value
            case FieldType.LIST:
                if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                    raise ValueError("must be a list of objects")
                if len(value) > (self.max_length or 100):
                    raise ValueError(f"must have at most {self.max_length or 100} entries")
                return value
        raise AssertionError(self.type)  # pragma: no cover - exhaustive match


@dataclass(frozen=True)
class Permit:
    """One way to be allowed. Every key given must hold; a rule is a list of permits, any of which allows.

    ``role`` is scoped to the case's business unit unless ``any_unit`` is set: John approves the CSRs of
    his own GBU, not everybody's.
    """

    role: str | None = None
    user: str | None = None
    relation: Relation | None = None
    business_unit: str | None = None
    any_unit: bool = False


@dataclass(frozen=True)
class AssignSpec:
    """Who a case is assigned to when it enters a status. ``keep`` leaves the assignee alone."""

    to: str  # "keep" | "creator" | "responsible" | "user"
    value: str | None = None


@dataclass(frozen=True)
class ApprovalSpec:
    """An approval step that a status waits for. The business unit's rule for ``step`` may override who
    approves and how (auto, one user, a group with any/all); ``approvers`` is the fallback."""

    step: str
    label: str
    approvers_role: str | None
    mode: ApprovalMode
    on_approve: str
    on_reject: str
    reason_field: str | None  # where a rejection comment is kept


@dataclass(frozen=True)
class AutoRule:
    """A status the case moves to by itself once a condition holds: every field in ``filled`` has a value
    (a Customer Request is Resolved when Resolution and Resolution Date are filled), or the creator holds one
    of ``creator_roles`` (checked when the case is created: a Sales Rep's Customer Request is Approved)."""

    to: str
    label: str
    filled: tuple[str, ...] = ()
    creator_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class AcceptanceSpec:
    """The answer given in a status (a response, a resolution) must be accepted by the contact when its
    category says so, before the case may leave the status. Changing a ``watch`` field while in the status
    is a new answer, so it asks again (that is how a refused resolution gets another)."""

    step: str
    label: str
    category_field: str
    categories: frozenset[str]
    watch: tuple[str, ...]


@dataclass(frozen=True)
class Derivation:
    """A field computed from others through a table, e.g. priority from impact x urgency."""

    field: str
    sources: tuple[str, ...]
    table: Mapping[str, Any]  # "impact:urgency" -> value

    def value(self, values: Iterable[Any]) -> Any:
        return self.table.get(":".join(str(v) for v in values))


@dataclass(frozen=True)
class KeyDateRules:
    """Expected completion = start + the type's "to be completed within". A field such as the priority may
    bring it forward (its own time limit, when shorter) but never push it back: the type says how long this
    kind of case takes, and an urgent one must be done sooner, while a "Normal" priority of 5 days does not
    give a two-day question five. Entering a ``restart_on`` state recalculates it from then; entering a
    ``completed_on`` state (or status, where several statuses share a state) records the actual completion.
    """

    complete_within: Mapping[str, Any] | None = None
    by_field: str | None = None
    durations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    restart_on: tuple[str, ...] = ()
    completed_on: tuple[str, ...] = ()

    def durations_for(self, case_fields: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
        """Every time limit that applies now (the type's, the field value's); the earliest end wins."""
        chosen = None
        if self.by_field and case_fields.get(self.by_field) is not None:
            chosen = self.durations.get(str(case_fields[self.by_field]))
        return tuple(d for d in (self.complete_within, chosen) if d)

    def completes(self, status: str, state: str) -> bool:
        return state in self.completed_on or status in self.completed_on


@dataclass(frozen=True)
class ChildKind:
    """Cases of another type scheduled from this one (an activity from a service request); the parent may
    not complete while any of them is open."""

    case_type: str
    label: str
    allowed_subtypes: tuple[str, ...] = ()  # empty: every type of the child module


@dataclass(frozen=True)
class EditRule:
    fields: tuple[str, ...]
    allowed: tuple[Permit, ...]


@dataclass(frozen=True)
class Status:
    name: str
    state: str
    assign: AssignSpec = AssignSpec("keep")
    approval: ApprovalSpec | None = None
    edits: tuple[EditRule, ...] = ()
    auto: tuple[AutoRule, ...] = ()
    acceptance: AcceptanceSpec | None = None


@dataclass(frozen=True)
class Transition:
    name: str
    label: str
    sources: tuple[str, ...]  # resolved status names (ANY_OPEN expanded)
    to: str
    allowed: tuple[Permit, ...]
    accepts: tuple[str, ...] = ()  # fields the caller may set with the transition
    requires: tuple[str, ...] = ()  # fields that must hold a value afterwards
    requires_related: Mapping[str, int] = field(default_factory=dict)  # e.g. {"products": 1}
    sets: Mapping[str, Any] = field(default_factory=dict)  # automatic values: "$now", "$actor", literal
    needs_assignee: bool = False  # a case only assigned to a unit must be accepted by a user first
    requires_closed_children: tuple[str, ...] = ()  # child kinds that must all be completed or cancelled


@dataclass(frozen=True)
class Notification:
    """Event-based communication: which event emails whom, with which template."""

    event: str
    # "approver" | "approvers" (everybody an approval waited for, as the event lists them) | "assignee" |
    # "creator" | "contact" | "unit" (a case waiting in it)
    recipient: str
    template: str  # a shipped template's name, or a label for inline ones
    states: tuple[str, ...] = ()  # for CaseTransitioned: only when the new state is one of these
    subject: str | None = None  # inline Jinja2 templates (a business's own communications)
    body: str | None = None
    channels: tuple[str, ...] = ("email",)  # "email" and/or "sms" (SMS only to the contact)


@dataclass(frozen=True)
class WorkflowDefinition:
    name: str
    version: int
    title: str
    id_prefix: str
    states: tuple[str, ...]
    terminal_states: frozenset[str]
    statuses: Mapping[str, Status]
    initial_status: str
    transitions: tuple[Transition, ...]
    fields: Mapping[str, FieldSpec]
    create_allowed: tuple[Permit, ...]
    create_requires: tuple[str, ...]
    create_accepts: tuple[str, ...]
    related: Mapping[str, str]  # kind -> label, e.g. {"products": "Customer Request Products"}
    related_editable_in: frozenset[str]
    related_allowed: tuple[Permit, ...]
    reassign_allowed: tuple[Permit, ...]
    notifications: tuple[Notification, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)
    # Configurable modules: the type and configuration version this definition was compiled from
    module: str | None = None
    subtype: str | None = None
    config_version: int | None = None
    create_assign: str = "creator"  # "creator" | "given" (to the unit and/or user given, else unassigned)
    create_defaults: Mapping[str, Any] = field(default_factory=dict)
    derived: tuple[Derivation, ...] = ()
    key_date_rules: KeyDateRules | None = None
    children: Mapping[str, ChildKind] = field(default_factory=dict)
    related_keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # kind -> allowed keys
    delete_allowed: tuple[Permit, ...] = ()
    delete_blocked_by: tuple[str, ...] = ()  # related lists whose entries refer back to the case
    feedback_states: tuple[str, ...] = ()  # states in which the customer's feedback is taken
    reassign_unit: bool = False  # may the assignment move the case to another business unit
    sections: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (name, label, fields) for forms
    # Who sees a case of this type (casework.domain.visibility): "unit" (its unit, the people on it, the
    # units it passed through, Admins) or "company" (every user).
    visibility: str = "unit"
    notes_when_closed: bool = False  # may a closed (terminal) case still take notes

    def status(self, name: str) -> Status:
        return self.statuses[name]

    def is_terminal(self, status: str) -> bool:
        return self.statuses[status].state in self.terminal_states

    def transitions_from(self, status: str) -> list[Transition]:
        return [t for t in self.transitions if status in t.sources]


# --- parsing -----------------------------------------------------------------------------------------------

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
CORE_FIELDS = ("title", "description", "account_id", "business_unit", "contact_id")


def _permits(raw: Iterable[Mapping[str, Any]] | None, where: str) -> tuple[Permit, ...]:
    permits = []
    for entry in raw or ():
        unknown = set(entry) - {"role", "user", "relation", "business_unit", "any_unit"}
        if unknown or not entry:
            raise InvalidDefinition(
                f"{where}: a permit needs role/user/relation/business_unit, got {dict(entry)}"
            )
        relation = entry.get("relation")
        try:
            permits.append(
                Permit(
                    role=entry.get("role"),
                    user=entry.get("user"),
                    relation=Relation(relation) if relation else None,
                    business_unit=entry.get("business_unit"),
                    any_unit=bool(entry.get("any_unit", False)),
                )
            )
        except ValueError as exc:
            raise InvalidDefinition(f"{where}: {exc}") from None
    return tuple(permits)


def _field_spec(name: str, raw: Mapping[str, Any]) -> FieldSpec:
    if not _NAME.match(name):
        raise InvalidDefinition(f"field name {name!r} must be snake_case")
    try:
        ftype = FieldType(raw.get("type", "string"))
    except ValueError:
        raise InvalidDefinition(f"field {name!r}: unknown type {raw.get('type')!r}") from None
    choices = tuple(raw.get("choices", ()))
    if ftype is FieldType.CHOICE and not choices:
        raise InvalidDefinition(f"field {name!r}: a choice field needs choices")
    return FieldSpec(
        name=name,
        type=ftype,
        label=raw.get("label", name.replace("_", " ").capitalize()),
        max_length=raw.get("max_length"),
        choices=choices,
        section=raw.get("section"),
        choice_labels={str(k): str(v) for k, v in raw.get("choice_labels", {}).items()},
    )


def parse_definition(raw: Mapping[str, Any]) -> WorkflowDefinition:
    """Build a definition from its JSON form, refusing anything the engine could not run."""
    try:
        return _parse(raw)
    except InvalidDefinition:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidDefinition(f"definition {raw.get('name', '?')!r} is malformed: {exc!r}") from None


def _parse(raw: Mapping[str, Any]) -> WorkflowDefinition:
    name = raw["name"]
    if not _NAME.match(name):
        raise InvalidDefinition(f"workflow name {name!r} must be snake_case")
    version = raw["version"]
    if not isinstance(version, int) or version < 1:
        raise InvalidDefinition("version must be a positive integer")
    states = tuple(raw["states"])
    terminal = frozenset(raw["terminal_states"])
    if not terminal or not terminal <= set(states):
        raise InvalidDefinition("terminal_states must be a non-empty subset of states")

    fields = {fname: _field_spec(fname, spec) for fname, spec in raw.get("fields", {}).items()}
    clash = set(fields) & set(CORE_FIELDS)
    if clash:
        raise InvalidDefinition(f"fields {sorted(clash)} are core case attributes")

    def known_fields(names: Iterable[str], where: str) -> tuple[str, ...]:
        names = tuple(names)
        missing = [n for n in names if n not in fields and n not in CORE_FIELDS]
        if missing:
            raise InvalidDefinition(f"{where}: unknown fields {missing}")
        return names

    statuses: dict[str, Status] = {}
    for entry in raw["statuses"]:
        sname, state = entry["name"], entry["state"]
        if sname in statuses:
            raise InvalidDefinition(f"status {sname!r} is declared twice")
        if state not in states:
            raise InvalidDefinition(f"status {sname!r}: unknown state {state!r}")
        assign_raw = entry.get("assign", "keep")
        if isinstance(assign_raw, str):
            assign = AssignSpec(assign_raw)
        else:
            (kind, value), *rest = assign_raw.items()
            if rest:
                raise InvalidDefinition(f"status {sname!r}: assign takes one rule")
            assign = AssignSpec(kind, value)
        if assign.to not in {"keep", "creator", "responsible", "user", "nobody"}:
            raise InvalidDefinition(f"status {sname!r}: unknown assign rule {assign.to!r}")
        approval = None
        if "approval" in entry:
            a = entry["approval"]
            approval = ApprovalSpec(
                step=a["step"],
                label=a.get("label", a["step"].replace("_", " ").capitalize()),
                approvers_role=a.get("approvers", {}).get("role"),
                mode=ApprovalMode(a.get("mode", "any")),
                on_approve=a["on_approve"],
                on_reject=a["on_reject"],
                reason_field=a.get("reason_field"),
            )
            if approval.reason_field:
                known_fields([approval.reason_field], f"status {sname!r} approval")
            if state in terminal:
                raise InvalidDefinition(f"status {sname!r}: a terminal status cannot wait for an approval")
        edits = tuple(
            EditRule(
                fields=known_fields(rule["fields"], f"status {sname!r} edits"),
                allowed=_permits(rule["allowed"], f"status {sname!r} edits"),
            )
            for rule in entry.get("edits", ())
        )
        auto = tuple(
            AutoRule(
                to=rule["to"],
                label=rule.get("label", f"automatically {rule['to']}"),
                filled=known_fields(rule.get("when", {}).get("filled", ()), f"status {sname!r} auto"),
                creator_roles=tuple(rule.get("when", {}).get("creator_role", ())),
            )
            for rule in entry.get("auto", ())
        )
        for rule in auto:
            if not (rule.filled or rule.creator_roles):
                raise InvalidDefinition(f"status {sname!r}: an automatic move needs a condition")
        acceptance = None
        if "acceptance" in entry:
            a = entry["acceptance"]
            acceptance = AcceptanceSpec(
                step=a["step"],
                label=a.get("label", a["step"].replace("_", " ").capitalize()),
                category_field=known_fields([a["category_field"]], f"status {sname!r} acceptance")[0],
                categories=frozenset(a.get("categories", ())),
                watch=known_fields(a.get("watch", (a["category_field"],)), f"status {sname!r} acceptance"),
            )
        statuses[sname] = Status(sname, state, assign, approval, edits, auto, acceptance)

    initial = raw["initial_status"]
    if initial not in statuses:
        raise InvalidDefinition(f"initial status {initial!r} is not declared")
    if statuses[initial].state in terminal:
        raise InvalidDefinition("the initial status cannot be terminal")

    open_statuses = tuple(s for s, st in statuses.items() if st.state not in terminal)
    transitions = []
    seen = set()
    for entry in raw["transitions"]:
        tname = entry["name"]
        if tname in seen:
            raise InvalidDefinition(f"transition {tname!r} is declared twice")
        seen.add(tname)
        sources_raw = entry["from"]
        sources = open_statuses if sources_raw == ANY_OPEN else tuple(sources_raw)
        for s in (*sources, entry["to"]):
            if s not in statuses:
                raise InvalidDefinition(f"transition {tname!r}: unknown status {s!r}")
        for s in sources:
            if statuses[s].state in terminal:
                raise InvalidDefinition(f"transition {tname!r}: cannot leave terminal status {s!r}")
        sources = tuple(s for s in sources if s != entry["to"])
        allowed = _permits(entry["allowed"], f"transition {tname!r}")
        if not allowed:
            raise InvalidDefinition(f"transition {tname!r}: nobody is allowed to make it")
        sets = dict(entry.get("sets", {}))
        known_fields(sets, f"transition {tname!r} sets")
        transitions.append(
            Transition(
                name=tname,
                label=entry.get("label", tname.replace("_", " ").capitalize()),
                sources=sources,
                to=entry["to"],
                allowed=allowed,
                accepts=known_fields(entry.get("accepts", ()), f"transition {tname!r} accepts"),
                requires=known_fields(entry.get("requires", ()), f"transition {tname!r} requires"),
                requires_related=dict(entry.get("requires_related", {})),
                sets=sets,
                needs_assignee=bool(entry.get("needs_assignee", False)),
                requires_closed_children=tuple(entry.get("requires_closed_children", ())),
            )
        )

    related = dict(raw.get("related", {}))
    for t in transitions:
        unknown_related = set(t.requires_related) - set(related)
        if unknown_related:
            raise InvalidDefinition(f"transition {t.name!r}: unknown related lists {sorted(unknown_related)}")

    children = {
        kind: ChildKind(
            case_type=c["case_type"],
            label=c.get("label", kind.replace("_", " ").capitalize()),
            allowed_subtypes=tuple(c.get("allowed_subtypes", ())),
        )
        for kind, c in raw.get("children", {}).items()
    }
    for t in transitions:
        unknown_children = set(t.requires_closed_children) - set(children)
        if unknown_children:
            raise InvalidDefinition(f"transition {t.name!r}: unknown child kinds {sorted(unknown_children)}")

    for st in statuses.values():
        for rule in st.auto:
            if rule.to not in statuses:
                raise InvalidDefinition(f"status {st.name!r}: automatic move to unknown status {rule.to!r}")
        if st.approval:
            for target in (st.approval.on_approve, st.approval.on_reject):
                if target not in statuses:
                    raise InvalidDefinition(
                        f"status {st.name!r}: approval leads to unknown status {target!r}"
                    )
        if (
            st.state not in terminal
            and not st.approval
            and not st.auto
            and not any(st.name in t.sources for t in transitions)
        ):
            raise InvalidDefinition(f"open status {st.name!r} has no way out")

    create = raw.get("create", {})
    notifications = tuple(
        Notification(
            event=n["event"],
            recipient=n["to"],
            template=n.get("template", "communication"),
            states=tuple(n.get("states", ())),
            subject=n.get("subject"),
            body=n.get("body"),
            channels=tuple(n.get("channels", ("email",))),
        )
        for n in raw.get("notifications", ())
    )
    for n in notifications:
        if n.recipient not in {"approver", "approvers", "assignee", "creator", "contact", "unit"}:
            raise InvalidDefinition(f"notification {n.template!r}: unknown recipient {n.recipient!r}")
        if (n.subject is None) != (n.body is None):
            raise InvalidDefinition(f"notification {n.template!r}: an inline template needs subject and body")
        if not n.channels or not set(n.channels) <= {"email", "sms"}:
            raise InvalidDefinition(f"notification {n.template!r}: channels are email and/or sms")

    derived = tuple(
        Derivation(
            field=known_fields([fname], "derived")[0],
            sources=known_fields(d["from"], f"derived {fname!r}"),
            table={str(k): v for k, v in d["table"].items()},
        )
        for fname, d in raw.get("derived", {}).items()
    )
    key_date_rules = None
    if "key_dates" in raw:
        from casework.domain.durations import Duration  # durations needs model, which needs this module

        k = raw["key_dates"]
        for duration in (k.get("complete_within"), *k.get("durations", {}).values()):
            if duration is not None:
                try:
                    Duration.from_dict(duration)
                except (ValueError, TypeError, KeyError) as exc:
                    raise InvalidDefinition(f"key_dates: {exc}") from None
        key_date_rules = KeyDateRules(
            complete_within=k.get("complete_within"),
            by_field=k.get("by_field"),
            durations={str(v): d for v, d in k.get("durations", {}).items()},
            restart_on=tuple(k.get("restart_on", ())),
            completed_on=tuple(k.get("completed_on", ())),
        )
        unknown_states = set(key_date_rules.restart_on) - set(states)
        unknown_states |= set(key_date_rules.completed_on) - set(states) - set(statuses)
        if unknown_states:
            raise InvalidDefinition(f"key_dates: unknown states {sorted(unknown_states)}")
    create_assign = create.get("assign", "creator")
    if create_assign not in ("creator", "given"):
        raise InvalidDefinition(f"create: unknown assign rule {create_assign!r}")
    create_defaults = dict(create.get("defaults", {}))
    known_fields(create_defaults, "create defaults")
    sections = tuple(
        (sec["name"], sec.get("label", sec["name"].replace("_", " ").capitalize()), tuple(sec["fields"]))
        for sec in raw.get("sections", ())
    )
    for _, label, names in sections:
        known_fields(names, f"section {label!r}")

    return WorkflowDefinition(
        name=name,
        version=version,
        title=raw.get("title", name),
        id_prefix=raw.get("id_prefix", name.upper()),
        states=states,
        terminal_states=terminal,
        statuses=statuses,
        initial_status=initial,
        transitions=tuple(transitions),
        fields=fields,
        create_allowed=_permits(create.get("allowed"), "create"),
        create_requires=known_fields(create.get("requires", ("title",)), "create requires"),
        create_accepts=known_fields(create.get("accepts", ()), "create accepts"),
        related=related,
        related_editable_in=frozenset(raw.get("related_editable_in", ())),
        related_allowed=_permits(raw.get("related_allowed"), "related_allowed"),
        reassign_allowed=_permits(raw.get("reassign_allowed"), "reassign_allowed"),
        notifications=notifications,
        raw=dict(raw),
        module=raw.get("module"),
        subtype=raw.get("subtype"),
        config_version=raw.get("config_version"),
        create_assign=create_assign,
        create_defaults=create_defaults,
        derived=derived,
        key_date_rules=key_date_rules,
        children=children,
        related_keys={kind: tuple(keys) for kind, keys in raw.get("related_keys", {}).items()},
        delete_allowed=_permits(raw.get("delete_allowed"), "delete_allowed"),
        delete_blocked_by=tuple(raw.get("delete_blocked_by", ())),
        feedback_states=tuple(raw.get("feedback_states", ())),
        reassign_unit=bool(raw.get("reassign_unit", False)),
        sections=sections,
        visibility=_visibility_scope(raw.get("visibility")),
        notes_when_closed=_flag(raw.get("notes_when_closed", False), "notes_when_closed"),
    )


VISIBILITY_SCOPES = ("unit", "company")


def _visibility_scope(raw: Any) -> str:
    """``"visibility": {"scope": "unit" | "company"}``; absent means "unit"."""
    if raw is None:
        return "unit"
    if (
        not isinstance(raw, Mapping)
        or set(raw) - {"scope"}
        or raw.get("scope", "unit") not in VISIBILITY_SCOPES
    ):
        raise InvalidDefinition(f'visibility must be {{"scope": one of {list(VISIBILITY_SCOPES)}}}')
    return str(raw.get("scope", "unit"))


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidDefinition(f"{name} must be true or false")
    return value
