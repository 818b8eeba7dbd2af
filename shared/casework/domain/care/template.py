"""A care module's template (``casework/workflows/modules/*.json``): the module's life cycle as data, which
``casework.domain.care.compile`` joins with a business's configuration into one workflow definition per type.

The template names states, not statuses (the configuration names those): its ``actions`` are the moves
between states, ``state_edits`` who edits what in each state, ``acceptance`` which states ask the contact,
and fields take their choices and defaults from the configuration (``choices_from``, ``defaults``). The rest
(``create``, ``notifications``, permits, ...) is copied into every compiled definition as it is.

``ModuleTemplate`` describes that file (``schemas/module-template.schema.json`` is generated from it);
``check_template`` refuses a template that does not match it before anything is compiled from it. Compile
reads the checked template as its JSON mapping, since most of it is copied into definitions as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from casework.domain.workflow import refusal
from casework.domain.workflow_parts import (
    ChildKind,
    CreateRules,
    EditRule,
    Notification,
    Part,
    Permits,
    SnakeName,
    Strings,
)
from casework.domain.workflow_terms import FieldType

# What a field's choices and default come from in the configuration (the keys compile looks them up by).
ChoiceSource = Literal[
    "impact_levels",
    "urgency_levels",
    "priorities",
    "cancellation_reasons",
    "source_types",
    "lead_priorities",
    "importance_levels",
    "lost_reasons",
    "competitors",
]
DefaultSource = Literal[
    "default_impact",
    "default_urgency",
    "default_source_type",
    "type_priority_level",
    "type_importance",
    "auto_included_competitor",
]


class StateCategories(Part):
    """The categories a type allows (or preselects) in this state."""

    state: str


class TemplateField(Part):
    type: FieldType = FieldType.STRING
    label: str = ""
    max_length: int | None = None
    section: str | None = None
    choices_from: StateCategories | ChoiceSource | None = None  # none configured: a free text field


class Action(Part):
    """A move between states; compiled into a transition between each pair of the type's statuses in them."""

    name: str
    label: str = ""
    from_states: Strings = Field(default=(), alias="from")
    to: str | None = None
    same_state: bool = False  # instead of from/to: between two statuses of one (non-terminal) state
    allowed: Permits
    accepts: Strings = ()
    requires: Strings = ()
    requires_related: dict[str, int] = {}
    sets: dict[str, object] = {}
    needs_assignee: bool = False
    requires_closed_children: Strings = ()


class AcceptanceRule(Part):
    step: str
    label: str = ""
    category_field: str
    category_list: Literal[
        "response_categories", "temporary_resolution_categories", "final_resolution_categories"
    ] = Field(alias="list")
    watch: Strings = ()


class TemplateDerivation(Part):
    sources: Strings = Field(alias="from")
    table: Literal["prioritisation"]


class TemplateKeyDates(Part):
    by_field: str | None = None
    completed_on: Strings = ()
    recalculate_on: Strings = ()  # states that restart the clock when the type says so


class ModuleTemplate(Part):
    kind: Literal["module"]
    name: SnakeName
    version: Annotated[int, Field(strict=True, ge=1)]
    title: str
    id_prefix: str
    states: Strings
    terminal_states: Strings
    fields: dict[str, TemplateField] = {}
    create: CreateRules = CreateRules()
    defaults: dict[str, StateCategories | DefaultSource] = {}
    derived: dict[str, TemplateDerivation] = {}
    state_edits: dict[str, tuple[EditRule, ...]] = {}
    acceptance: dict[str, AcceptanceRule] = {}
    actions: tuple[Action, ...]
    related: dict[str, str] = {}
    related_editable_in_states: Strings = ()
    related_allowed: Permits = ()
    children: dict[str, ChildKind] = {}
    delete_allowed: Permits = ()
    delete_blocked_by: Strings = ()
    feedback_states: Strings = ()
    reassign_allowed: Permits = ()
    reassign_unit: bool = False
    key_dates: TemplateKeyDates = TemplateKeyDates()
    notifications: tuple[Notification, ...] = ()


def check_template(raw: Mapping[str, Any]) -> ModuleTemplate:
    """The template read into its model; ``InvalidDefinition`` naming what does not match it."""
    try:
        return ModuleTemplate.model_validate(raw)
    except ValidationError as exc:
        raise refusal(raw, exc) from None
