"""Workflow definitions: a case type's statuses, transitions, approvals and fields, as data.

A definition is one frozen pydantic model (its parts are in ``casework.domain.workflow_parts``), parsed once
from its JSON form (in the table or in ``casework/workflows``); ``schemas/workflow-definition.schema.json``
is generated from the same models. Every rule the engine applies comes from here, so shipping a new process
means shipping a new definition, not new code. Definitions are versioned: a case keeps the version it
started with.

``parse_definition`` refuses anything the engine could not run (unknown statuses, unreachable targets,
approval steps without an outcome, ...) with ``InvalidDefinition``, so a bad definition fails at load time
rather than halfway through somebody's case. Pydantic checks each part's shape; the references between
parts are checked once the shape is right (``WorkflowDefinition.checked``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import (
    BeforeValidator,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_serializer,
    model_validator,
)

from casework.domain.errors import InvalidDefinition
from casework.domain.workflow_parts import (
    ANY_OPEN,
    NAME_PATTERN,
    AcceptanceSpec,
    ApprovalSpec,
    AssignSpec,
    AutoRule,
    CareOrigin,
    ChildKind,
    CreateRules,
    Derivation,
    EditRule,
    FieldSpec,
    KeyDateRules,
    Notification,
    Part,
    Permit,
    Permits,
    Section,
    SnakeName,
    Status,
    Strings,
    Transition,
    readable,
)
from casework.domain.workflow_terms import ApprovalMode, FieldType, Relation

__all__ = [
    "ANY_OPEN",
    "AcceptanceSpec",
    "ApprovalMode",
    "ApprovalSpec",
    "AssignSpec",
    "AutoRule",
    "ChildKind",
    "Derivation",
    "EditRule",
    "FieldSpec",
    "FieldType",
    "KeyDateRules",
    "Notification",
    "Permit",
    "Relation",
    "Status",
    "Transition",
    "WorkflowDefinition",
    "parse_definition",
    "refusal",
]

CORE_FIELDS = ("title", "description", "account_id", "business_unit", "contact_id")
VisibilityScope = Literal["unit", "company"]
VISIBILITY_SCOPES = get_args(VisibilityScope)
# An agent's email to the contact (Actions > Communicate): notify sends it whatever the definition says
COMMUNICATION_REQUESTED = "CommunicationRequested"
_NAME = re.compile(NAME_PATTERN)


def _visibility_scope(raw: Any) -> Any:
    """``"visibility": {"scope": "unit" | "company"}``; absent means "unit"."""
    if raw is None:
        return "unit"
    if (
        not isinstance(raw, Mapping)
        or set(raw) - {"scope"}
        or raw.get("scope", "unit") not in VISIBILITY_SCOPES
    ):
        raise ValueError(f'visibility must be {{"scope": one of {list(VISIBILITY_SCOPES)}}}')
    return str(raw.get("scope", "unit"))


VisibilityDocument = dict[Literal["scope"], VisibilityScope]


class WorkflowDefinition(Part):
    name: SnakeName
    version: Annotated[int, Field(strict=True, ge=1)]
    title: str = ""  # left out: the name
    id_prefix: str = ""  # left out: the name, upper-cased
    states: Strings
    terminal_states: frozenset[str] = Field(min_length=1)
    status_list: tuple[Status, ...] = Field(alias="statuses")  # read them through ``statuses``
    initial_status: str
    transitions: tuple[Transition, ...]
    fields: dict[str, FieldSpec] = {}
    create: CreateRules = CreateRules()
    related: dict[str, str] = {}  # kind -> label, e.g. {"products": "Customer Request Products"}
    related_editable_in: frozenset[str] = frozenset()
    related_allowed: Permits = ()
    reassign_allowed: Permits = ()
    notifications: tuple[Notification, ...] = ()
    # Configurable modules: the type and configuration version this definition was compiled from
    module: str | None = None
    subtype: str | None = None
    type_name: str | None = None
    config_version: int | None = None
    care: CareOrigin | None = None
    derivations: dict[str, Derivation] = Field(default={}, alias="derived")  # read them through ``derived``
    key_dates: KeyDateRules | None = None
    children: dict[str, ChildKind] = {}
    related_keys: dict[str, Strings] = {}  # kind -> allowed keys
    delete_allowed: Permits = ()
    delete_blocked_by: Strings = ()  # related lists whose entries refer back to the case
    feedback_states: Strings = ()  # states in which the customer's feedback is taken
    reassign_unit: bool = False  # may the assignment move the case to another business unit
    sections: tuple[Section, ...] = ()  # groups of fields, for forms
    # Who sees a case of this type (casework.domain.visibility): "unit" (its unit, the people on it, the
    # units it passed through, Admins) or "company" (every user).
    visibility: Annotated[
        str, BeforeValidator(_visibility_scope, json_schema_input_type=VisibilityDocument)
    ] = "unit"
    notes_when_closed: Annotated[bool, Field(strict=True)] = False  # may a closed case still take notes

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_names(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
            return data
        data = {"title": data["name"], "id_prefix": data["name"].upper(), **data}
        children = data.get("children")
        if isinstance(children, Mapping):
            data["children"] = {
                kind: {"label": readable(kind), **child} if isinstance(child, Mapping) else child
                for kind, child in children.items()
            }
        return data

    @field_serializer("terminal_states", "related_editable_in")
    def _sorted(self, names: frozenset[str]) -> list[str]:
        return sorted(names)

    @field_serializer("visibility")
    def _visibility_document(self, scope: str) -> dict[str, str]:
        return {"scope": scope}

    # reading

    @cached_property
    def statuses(self) -> Mapping[str, Status]:
        return {s.name: s for s in self.status_list}

    @cached_property
    def raw(self) -> Mapping[str, Any]:
        """The definition's JSON form (what is stored, with everything left out filled in)."""
        return self.model_dump(mode="json")

    def status(self, name: str) -> Status:
        return self.statuses[name]

    def is_terminal(self, status: str) -> bool:
        return self.statuses[status].state in self.terminal_states

    def transitions_from(self, status: str) -> list[Transition]:
        return [t for t in self.transitions if status in t.sources]

    def notifications_for(self, event_type: str, state: str | None) -> list[Notification]:
        """The notifications an event of ``event_type`` calls for, the case being in ``state`` then."""
        return [
            n for n in self.notifications if n.event == event_type and (not n.states or state in n.states)
        ]

    def notifies(self, event_type: str, state: str | None) -> bool:
        """Whether notify has anything to send for such an event: an agent's message to the contact, or a
        notification of this definition. The one rule both sides apply: the event's maker marks the event
        (``DomainEvent.notify``, which the notify rule on the bus filters on) and notify checks it again."""
        return event_type == COMMUNICATION_REQUESTED or bool(self.notifications_for(event_type, state))

    @property
    def derived(self) -> tuple[Derivation, ...]:
        return tuple(self.derivations.values())

    # the checks between parts

    @model_validator(mode="wrap")
    @classmethod
    def _cross_checked(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        return handler(data).checked()

    def checked(self) -> Self:
        """The definition with every reference between its parts checked (``InvalidDefinition`` at the first
        that does not hold) and what is resolved from them filled in: field and derivation names, the
        statuses each transition leaves from."""
        states, terminal = set(self.states), self.terminal_states
        if not terminal <= states:
            raise InvalidDefinition("terminal_states must be a non-empty subset of states")
        for fname in self.fields:
            if not _NAME.match(fname):
                raise InvalidDefinition(f"field name {fname!r} must be snake_case")
        clash = set(self.fields) & set(CORE_FIELDS)
        if clash:
            raise InvalidDefinition(f"fields {sorted(clash)} are core case attributes")
        self._check_statuses()
        statuses = self.statuses
        initial = self.initial_status
        if initial not in statuses:
            raise InvalidDefinition(f"initial status {initial!r} is not declared")
        if statuses[initial].state in terminal:
            raise InvalidDefinition("the initial status cannot be terminal")
        transitions = self._resolved_transitions()
        self._check_ways_out(transitions)
        self._check_rest()
        return self.model_copy(
            update={
                "fields": {
                    name: spec.model_copy(update={"name": name, "label": spec.label or readable(name)})
                    for name, spec in self.fields.items()
                },
                "transitions": transitions,
                "derivations": {
                    name: d.model_copy(update={"field": name}) for name, d in self.derivations.items()
                },
            }
        )

    def _known_fields(self, names: Iterable[str], where: str) -> None:
        missing = [n for n in names if n not in self.fields and n not in CORE_FIELDS]
        if missing:
            raise InvalidDefinition(f"{where}: unknown fields {missing}")

    def _check_statuses(self) -> None:
        seen: set[str] = set()
        for st in self.status_list:
            sname = st.name
            if sname in seen:
                raise InvalidDefinition(f"status {sname!r} is declared twice")
            seen.add(sname)
            if st.state not in self.states:
                raise InvalidDefinition(f"status {sname!r}: unknown state {st.state!r}")
            if st.approval:
                if st.approval.reason_field:
                    self._known_fields([st.approval.reason_field], f"status {sname!r} approval")
                if st.state in self.terminal_states:
                    raise InvalidDefinition(
                        f"status {sname!r}: a terminal status cannot wait for an approval"
                    )
            for edit in st.edits:
                self._known_fields(edit.fields, f"status {sname!r} edits")
            for rule in st.auto:
                self._known_fields(rule.filled, f"status {sname!r} auto")
            if st.acceptance:
                acceptance = st.acceptance
                self._known_fields(
                    [acceptance.category_field, *acceptance.watch], f"status {sname!r} acceptance"
                )

    def _resolved_transitions(self) -> tuple[Transition, ...]:
        statuses = self.statuses
        open_statuses = tuple(s.name for s in self.status_list if s.state not in self.terminal_states)
        resolved = []
        seen: set[str] = set()
        for t in self.transitions:
            if t.name in seen:
                raise InvalidDefinition(f"transition {t.name!r} is declared twice")
            seen.add(t.name)
            sources = open_statuses if t.sources == ANY_OPEN else tuple(t.sources)
            for s in (*sources, t.to):
                if s not in statuses:
                    raise InvalidDefinition(f"transition {t.name!r}: unknown status {s!r}")
            for s in sources:
                if statuses[s].state in self.terminal_states:
                    raise InvalidDefinition(f"transition {t.name!r}: cannot leave terminal status {s!r}")
            self._known_fields(t.sets, f"transition {t.name!r} sets")
            self._known_fields(t.accepts, f"transition {t.name!r} accepts")
            self._known_fields(t.requires, f"transition {t.name!r} requires")
            unknown_related = set(t.requires_related) - set(self.related)
            if unknown_related:
                raise InvalidDefinition(
                    f"transition {t.name!r}: unknown related lists {sorted(unknown_related)}"
                )
            unknown_children = set(t.requires_closed_children) - set(self.children)
            if unknown_children:
                raise InvalidDefinition(
                    f"transition {t.name!r}: unknown child kinds {sorted(unknown_children)}"
                )
            resolved.append(t.model_copy(update={"sources": tuple(s for s in sources if s != t.to)}))
        return tuple(resolved)

    def _check_ways_out(self, transitions: tuple[Transition, ...]) -> None:
        statuses = self.statuses
        for st in self.status_list:
            for rule in st.auto:
                if rule.to not in statuses:
                    raise InvalidDefinition(
                        f"status {st.name!r}: automatic move to unknown status {rule.to!r}"
                    )
            if st.approval:
                for target in (st.approval.on_approve, st.approval.on_reject):
                    if target not in statuses:
                        raise InvalidDefinition(
                            f"status {st.name!r}: approval leads to unknown status {target!r}"
                        )
            if (
                st.state not in self.terminal_states
                and not st.approval
                and not st.auto
                and not any(st.name in t.sources for t in transitions)
            ):
                raise InvalidDefinition(f"open status {st.name!r} has no way out")

    def _check_rest(self) -> None:
        for fname, derivation in self.derivations.items():
            self._known_fields([fname], "derived")
            self._known_fields(derivation.sources, f"derived {fname!r}")
        if self.key_dates is not None:
            unknown_states = set(self.key_dates.restart_on) - set(self.states)
            unknown_states |= set(self.key_dates.completed_on) - set(self.states) - set(self.statuses)
            if unknown_states:
                raise InvalidDefinition(f"key_dates: unknown states {sorted(unknown_states)}")
        self._known_fields(self.create.defaults, "create defaults")
        self._known_fields(self.create.requires, "create requires")
        self._known_fields(self.create.accepts, "create accepts")
        for section in self.sections:
            self._known_fields(section.fields, f"section {section.label!r}")


def parse_definition(raw: Mapping[str, Any]) -> WorkflowDefinition:
    """Build a definition from its JSON form, refusing anything the engine could not run."""
    if not isinstance(raw, Mapping):
        raise InvalidDefinition("a definition must be an object")
    try:
        return WorkflowDefinition.model_validate(raw)
    except ValidationError as exc:
        raise refusal(raw, exc) from None


def refusal(raw: Mapping[str, Any], exc: ValidationError) -> InvalidDefinition:
    """The problems pydantic found in a definition (or module template), each where it is; a cross-check's
    own message as it is."""
    problems = []
    for error in exc.errors():
        reason = error.get("ctx", {}).get("error")
        if isinstance(reason, InvalidDefinition):
            problems.append(str(reason))
            continue
        where = ".".join(str(part) for part in error["loc"])
        message = str(reason) if reason is not None else error["msg"]
        problems.append(f"{where}: {message}" if where else message)
    return InvalidDefinition(f"definition {raw.get('name', '?')!r} is malformed: " + "; ".join(problems))
