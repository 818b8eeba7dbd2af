"""The parts of a workflow definition (``casework.domain.workflow``): fields, permits, statuses and what
happens in them, transitions, notifications, key dates.

Each part is one frozen pydantic model: it is what a definition file says (its JSON Schema is generated from
these models) and what the engine reads. Where a file may leave something out, a ``before`` validator fills
it in from what is there (a label from a name), so the model always holds the complete value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from casework.domain.workflow_terms import ApprovalMode, FieldType, Relation

ANY_OPEN = "*"  # in a transition's "from": every status whose state is not terminal
MAX_MAGNITUDE = 10**38  # DynamoDB keeps 38 significant digits; beyond that a value would fail at the table
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
SnakeName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
AssignRule = Literal["keep", "creator", "responsible", "user", "nobody"]
Recipient = Literal["approver", "approvers", "assignee", "creator", "contact", "unit"]
Strings = tuple[str, ...]


def _keys_as_text(value: Any) -> Any:
    """A table keyed by field values: a definition written as Python rather than JSON may key it by the
    values themselves (numbers, booleans); looked up as text, so stored as text."""
    if isinstance(value, Mapping):
        return {str(key): entry for key, entry in value.items()}
    return value


Value = TypeVar("Value")
TextKeys = Annotated[dict[str, Value], BeforeValidator(_keys_as_text)]


class Part(BaseModel):
    """Every part of a definition: immutable, no unknown keys (a typo is refused, not ignored)."""

    # defer_build: a function that imports the definitions' types but never parses one (most consumers at
    # import time) does not pay for building every validator during its cold start.
    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True, defer_build=True)


def readable(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _labelled(data: Any, source: str, label: Any = None) -> Any:
    """``data`` with its label filled in from another key when the file leaves it out."""
    if isinstance(data, Mapping) and "label" not in data and isinstance(data.get(source), str):
        return {**data, "label": label if label is not None else readable(data[source])}
    return data


def _within_storable_range(value: int | float) -> int | float:
    if abs(value) >= MAX_MAGNITUDE:
        raise ValueError("is too large")
    return value


class FieldSpec(Part):
    # The key the field has in the definition's "fields"; filled in from there.
    name: SkipJsonSchema[str] = Field(default="", exclude=True)
    type: FieldType = FieldType.STRING
    label: str = ""  # left out: the name, readable
    max_length: int | None = None
    choices: tuple[Any, ...] = ()
    section: str | None = None
    choice_labels: dict[str, str] = {}  # choice (as text) -> what users read

    @model_validator(mode="before")
    @classmethod
    def _choice_labels_as_text(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("choice_labels"), Mapping):
            return {**data, "choice_labels": {str(k): str(v) for k, v in data["choice_labels"].items()}}
        return data

    @model_validator(mode="after")
    def _choices_given(self) -> FieldSpec:
        if self.type is FieldType.CHOICE and not self.choices:
            raise ValueError("a choice field needs choices")
        return self

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


class Permit(Part):
    """One way to be allowed. Every key given must hold; a rule is a list of permits, any of which allows.

    ``role`` is scoped to the case's business unit unless ``any_unit`` is set: John approves the CSRs of
    his own GBU, not everybody's.
    """

    role: str | None = None
    user: str | None = None
    relation: Relation | None = None
    business_unit: str | None = None
    any_unit: bool = False

    @model_validator(mode="before")
    @classmethod
    def _not_empty(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not data:
            raise ValueError("a permit needs role/user/relation/business_unit")
        return data


Permits = tuple[Permit, ...]


def _assign_rule(value: Any) -> Any:
    """``"keep"`` or ``{"user": "peter"}`` (one rule, its value) as the model's ``to`` and ``value``."""
    if isinstance(value, str):
        return {"to": value}
    if isinstance(value, Mapping) and set(value) != {"to"} and set(value) != {"to", "value"}:
        if len(value) != 1:
            raise ValueError("assign takes one rule")
        ((kind, rule_value),) = value.items()
        return {"to": kind, "value": rule_value}
    return value


AssignRuleDocument = AssignRule | dict[AssignRule, str | None]


class AssignSpec(Part):
    """Who a case is assigned to when it enters a status. ``keep`` leaves the assignee alone."""

    to: AssignRule = "keep"
    value: str | None = None


class Approvers(Part):
    role: str | None = None


class ApprovalSpec(Part):
    """An approval step that a status waits for. The business unit's rule for ``step`` may override who
    approves and how (auto, one user, a group with any/all); ``approvers`` is the fallback."""

    step: str
    label: str = ""  # left out: the step, readable
    approvers: Approvers = Approvers()
    mode: ApprovalMode = ApprovalMode.ANY
    on_approve: str
    on_reject: str
    reason_field: str | None = None  # where a rejection comment is kept

    @model_validator(mode="before")
    @classmethod
    def _label(cls, data: Any) -> Any:
        return _labelled(data, "step")

    @property
    def approvers_role(self) -> str | None:
        return self.approvers.role


class AutoCondition(Part):
    filled: Strings = ()
    creator_role: Strings = ()


class AutoRule(Part):
    """A status the case moves to by itself once a condition holds: every field in ``filled`` has a value
    (a Customer Request is Resolved when Resolution and Resolution Date are filled), or the creator holds one
    of ``creator_roles`` (checked when the case is created: a Sales Rep's Customer Request is Approved)."""

    to: str
    label: str = ""  # left out: "automatically <to>"
    when: AutoCondition

    @model_validator(mode="before")
    @classmethod
    def _label(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("to"), str):
            return _labelled(data, "to", f"automatically {data['to']}")
        return data

    @model_validator(mode="after")
    def _has_condition(self) -> AutoRule:
        if not (self.when.filled or self.when.creator_role):
            raise ValueError("an automatic move needs a condition")
        return self

    @property
    def filled(self) -> Strings:
        return self.when.filled

    @property
    def creator_roles(self) -> Strings:
        return self.when.creator_role


class AcceptanceSpec(Part):
    """The answer given in a status (a response, a resolution) must be accepted by the contact when its
    category says so, before the case may leave the status. Changing a ``watch`` field while in the status
    is a new answer, so it asks again (that is how a refused resolution gets another)."""

    step: str
    label: str = ""  # left out: the step, readable
    category_field: str
    categories: frozenset[str] = frozenset()
    watch: Strings = ()  # left out: the category field

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        data = _labelled(data, "step")
        if isinstance(data, Mapping) and "watch" not in data and "category_field" in data:
            return {**data, "watch": (data["category_field"],)}
        return data

    @field_serializer("categories")
    def _sorted(self, categories: frozenset[str]) -> list[str]:
        return sorted(categories)


class EditRule(Part):
    fields: Strings
    allowed: Permits


class Status(Part):
    name: str
    state: str
    assign: Annotated[
        AssignSpec, BeforeValidator(_assign_rule, json_schema_input_type=AssignRuleDocument)
    ] = AssignSpec()
    approval: ApprovalSpec | None = None
    edits: tuple[EditRule, ...] = ()
    auto: tuple[AutoRule, ...] = ()
    acceptance: AcceptanceSpec | None = None

    @field_serializer("assign")
    def _assign_document(self, assign: AssignSpec) -> Any:
        return assign.to if assign.value is None else {assign.to: assign.value}


class Transition(Part):
    name: str
    label: str = ""  # left out: the name, readable
    # Once the definition is checked: the status names it leaves from, "*" expanded, the target left out.
    sources: tuple[str, ...] | Literal["*"] = Field(alias="from")
    to: str
    allowed: Permits
    accepts: Strings = ()  # fields the caller may set with the transition
    requires: Strings = ()  # fields that must hold a value afterwards
    requires_related: dict[str, int] = {}  # e.g. {"products": 1}
    sets: dict[str, Any] = {}  # automatic values: "$now", "$actor", literal
    needs_assignee: bool = False  # a case only assigned to a unit must be accepted by a user first
    requires_closed_children: Strings = ()  # child kinds that must all be completed or cancelled

    @model_validator(mode="before")
    @classmethod
    def _label(cls, data: Any) -> Any:
        return _labelled(data, "name")

    @model_validator(mode="after")
    def _somebody_allowed(self) -> Transition:
        if not self.allowed:
            raise ValueError(f"transition {self.name!r}: nobody is allowed to make it")
        return self


class Notification(Part):
    """Event-based communication: which event emails whom, with which template."""

    event: str
    # "approver" | "approvers" (everybody an approval waited for, as the event lists them) | "assignee" |
    # "creator" | "contact" | "unit" (a case waiting in it)
    recipient: Recipient = Field(alias="to")
    template: str = "communication"  # a shipped template's name, or a label for inline ones
    states: Strings = ()  # for CaseTransitioned: only when the new state is one of these
    subject: str | None = None  # inline Jinja2 templates (a business's own communications)
    body: str | None = None
    channels: tuple[Literal["email", "sms"], ...] = ("email",)

    @model_validator(mode="after")
    def _inline_complete(self) -> Notification:
        if (self.subject is None) != (self.body is None):
            raise ValueError(f"notification {self.template!r}: an inline template needs subject and body")
        return self


class Derivation(Part):
    """A field computed from others through a table, e.g. priority from impact x urgency."""

    field: SkipJsonSchema[str] = Field(default="", exclude=True)  # its key in the definition's "derived"
    sources: Strings = Field(alias="from")
    table: TextKeys[Any]  # "impact:urgency" -> value

    def value(self, values: Iterable[Any]) -> Any:
        return self.table.get(":".join(str(v) for v in values))


def _duration_document(value: Any) -> Any:
    from casework.domain.durations import Duration  # durations needs model, which needs workflow

    if value is not None:
        Duration.from_dict(value)  # ValueError saying what is wrong
    return value


DurationDocument = Annotated[dict[str, Any], BeforeValidator(_duration_document)]


class KeyDateRules(Part):
    """Expected completion = start + the type's "to be completed within". A field such as the priority may
    bring it forward (its own time limit, when shorter) but never push it back: the type says how long this
    kind of case takes, and an urgent one must be done sooner, while a "Normal" priority of 5 days does not
    give a two-day question five. Entering a ``restart_on`` state recalculates it from then; entering a
    ``completed_on`` state (or status, where several statuses share a state) records the actual completion.
    """

    complete_within: DurationDocument | None = None
    by_field: str | None = None
    durations: TextKeys[DurationDocument] = {}
    restart_on: Strings = ()
    completed_on: Strings = ()

    def durations_for(self, case_fields: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
        """Every time limit that applies now (the type's, the field value's); the earliest end wins."""
        chosen = None
        if self.by_field and case_fields.get(self.by_field) is not None:
            chosen = self.durations.get(str(case_fields[self.by_field]))
        return tuple(d for d in (self.complete_within, chosen) if d)

    def completes(self, status: str, state: str) -> bool:
        return state in self.completed_on or status in self.completed_on


class ChildKind(Part):
    """Cases of another type scheduled from this one (an activity from a service request); the parent may
    not complete while any of them is open."""

    case_type: str
    label: str = ""  # left out: the kind, readable
    allowed_subtypes: Strings = ()  # empty: every type of the child module


class Section(Part):
    """A group of fields on a form."""

    name: str
    label: str = ""  # left out: the name, readable
    fields: Strings

    @model_validator(mode="before")
    @classmethod
    def _label(cls, data: Any) -> Any:
        return _labelled(data, "name")


class CreateRules(Part):
    allowed: Permits = ()
    requires: Strings = ("title",)
    accepts: Strings = ()
    assign: Literal["creator", "given"] = "creator"  # "given": to the unit and/or user given, else unassigned
    defaults: dict[str, Any] = {}


class CareOrigin(Part):
    """A compiled care type's origin: its type code and the module configuration it was compiled from."""

    type: str
    config: dict[str, Any]
