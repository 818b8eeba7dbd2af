"""A customer care module's configuration: statuses, categories, reasons, prioritisation and types.

A business configures each module (service requests, activities, leads) once, as one JSON document that an
admin edits. ``parse_config`` checks that document and returns a normalised, immutable ``ModuleConfig``:
generated type codes filled in, defaults resolved ("the only status of a state is its default", "no type
marked default means the first one"), "empty means all" lists spelled out and the prioritisation matrix
completed. ``ModuleConfig.to_dict()`` is that normalised form, and parsing it again gives it back unchanged.

An invalid document raises ``InvalidConfiguration`` listing every problem found, each with a location such
as ``types[1].statuses`` and a message written for the admin who has to fix it. Problems come in two rounds:
the shape of the document (unknown keys, wrong value types, out-of-range numbers) is checked first and all
of its problems are reported together; the references between sections (a type's status must be a module
status, a category's parent must exist, ...) can only be checked once the shape is right, and then all of
those are reported together.

Three lists stay "empty means all" in the normalised form because what they refer to lives outside this
document and may grow: a type's products, its activity types and the business units that may create it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any, Literal

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StringConstraints, ValidationError

from casework.domain.durations import Duration

MODULES = ("service_request", "activity", "lead")
STATES = {
    "service_request": (
        "pending",
        "responded",
        "temporary_resolved",
        "final_resolved",
        "completed",
        "cancelled",
    ),
    "activity": ("pending", "in_progress", "completed", "cancelled"),
    "lead": ("pending", "in_progress", "won", "lost", "cancelled"),
}
OPTIONAL_STATES = {"service_request": {"temporary_resolved"}}  # every other state needs >= 1 status
TERMINAL_STATES = {
    "service_request": {"completed", "cancelled"},
    "activity": {"completed", "cancelled"},
    "lead": {"won", "lost", "cancelled"},
}
# The life-cycle moves between states. A status change within the same non-terminal state is also allowed.
MOVES = {
    "service_request": {
        ("pending", "responded"),
        ("pending", "cancelled"),
        ("responded", "temporary_resolved"),
        ("responded", "final_resolved"),
        ("temporary_resolved", "final_resolved"),
        ("final_resolved", "completed"),
    },
    "activity": {("pending", "in_progress"), ("pending", "cancelled"), ("in_progress", "completed")},
    "lead": {
        ("pending", "in_progress"),
        ("pending", "cancelled"),
        ("in_progress", "won"),
        ("in_progress", "lost"),
    },
}
# Which category list a type picks from in each state.
CATEGORY_LISTS = {
    "service_request": {
        "pending": "categories",
        "responded": "response_categories",
        "temporary_resolved": "temporary_resolution_categories",
        "final_resolved": "final_resolution_categories",
    },
    "activity": {"pending": "categories"},
    "lead": {"pending": "categories"},
}
SR_CLASSIFICATIONS = (
    "information",
    "advice",
    "standard_change",
    "access_to_it_service",
    "request_for_change",
    "report_an_incident",
)
LEAD_SOURCE_TYPES = (
    "advertisement",
    "notification",
    "communication",
    "recommended_by_contact",
    "recommended_by_employee",
    "recommended_by_partner",
    "website",
    "other",
    "custom_1",
    "custom_2",
    "custom_3",
    "custom_4",
    "custom_5",
)
LEAD_PRIORITY_LEVELS = tuple(range(1, 11))
DEFAULT_LEAD_PRIORITY = 5
RESOLUTION_CATEGORY_LISTS = (
    "response_categories",
    "temporary_resolution_categories",
    "final_resolution_categories",
)
SERVICE_TIME_UNITS = ("minutes", "hours", "days")
GENERATED_CODE_MAX_LENGTH = 20

MODULE_LABELS = {"service_request": "service request", "activity": "activity", "lead": "lead"}
_CATEGORY_LIST_LABELS = {
    "categories": "categories",
    "response_categories": "response categories",
    "temporary_resolution_categories": "temporary resolution categories",
    "final_resolution_categories": "final resolution categories",
}


class InvalidConfiguration(ValueError):
    """A module configuration that cannot be used. ``problems`` lists every problem found, each as
    ``{"location": "types[1].statuses", "message": "..."}``; the location is a path into the document."""

    def __init__(self, module: str, problems: list[dict[str, str]]) -> None:
        self.module = module
        self.problems = problems
        label = MODULE_LABELS.get(module, module)
        listed = "; ".join(f"{p['location'] or '(document)'}: {p['message']}" for p in problems)
        super().__init__(f"The {label} configuration has {len(problems)} problem(s): {listed}")


# --- the normalised configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    name: str
    state: str
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "description": self.description}


@dataclass(frozen=True)
class Category:
    """An entry of a hierarchical category list. ``classification`` is only set on service request
    categories; ``requires_acceptance`` only means something on response and resolution categories."""

    code: str
    name: str
    parent: str | None = None
    classification: str | None = None
    requires_acceptance: bool = False


@dataclass(frozen=True)
class Reason:
    """A cancellation or lost reason."""

    code: str
    name: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name}


@dataclass(frozen=True)
class Competitor:
    code: str
    name: str
    website: str | None = None
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "website": self.website,
            "description": self.description,
        }


@dataclass(frozen=True)
class ImportanceLevel:
    code: str
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "label": self.label}


@dataclass(frozen=True)
class CoverageReason:
    """Why a physical good is returned, whether that is covered (free replacement) and for how long after
    the warehouse issued it."""

    code: str
    name: str
    covered: bool
    return_period: Duration

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "covered": self.covered,
            "return_period": self.return_period.to_dict(),
        }


@dataclass(frozen=True)
class Level:
    """An enabled impact or urgency level. Level 1 is the most severe."""

    level: int
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "label": self.label}


@dataclass(frozen=True)
class PriorityLevel:
    """An enabled priority. Level 1 is the most urgent; ``complete_within`` is how long it may take."""

    level: int
    label: str
    complete_within: Duration | None = None

    def to_dict(self) -> dict[str, Any]:
        within = self.complete_within.to_dict() if self.complete_within else None
        return {"level": self.level, "label": self.label, "complete_within": within}


@dataclass(frozen=True)
class Prioritisation:
    """The service request prioritisation model. ``matrix`` has an entry for every enabled impact x urgency
    combination (the ones the admin left out are filled in, see ``populate_matrix``)."""

    impact_levels: tuple[Level, ...]
    default_impact: int
    urgency_levels: tuple[Level, ...]
    default_urgency: int
    priorities: tuple[PriorityLevel, ...]
    matrix: Mapping[tuple[int, int], int]

    def priority(self, impact: int, urgency: int) -> PriorityLevel:
        """The priority for this impact and urgency; KeyError for levels that are not enabled."""
        wanted = self.matrix[(impact, urgency)]
        return next(p for p in self.priorities if p.level == wanted)

    @property
    def default_priority(self) -> PriorityLevel:
        return self.priority(self.default_impact, self.default_urgency)

    def to_dict(self) -> dict[str, Any]:
        return {
            "impact_levels": [level.to_dict() for level in self.impact_levels],
            "default_impact": self.default_impact,
            "urgency_levels": [level.to_dict() for level in self.urgency_levels],
            "default_urgency": self.default_urgency,
            "priorities": [p.to_dict() for p in self.priorities],
            "matrix": [
                {"impact": impact, "urgency": urgency, "priority": priority}
                for (impact, urgency), priority in sorted(self.matrix.items())
            ],
        }


def populate_matrix(
    impact_levels: Iterable[int],
    urgency_levels: Iterable[int],
    priority_levels: Iterable[int],
    explicit: Mapping[tuple[int, int], int],
) -> dict[tuple[int, int], int]:
    """Every impact x urgency combination's priority: the admin's explicit entries, the rest filled in.

    The fill-in rule: sort each list of enabled levels (index 0 is level 1, the most severe). A request with
    the impact at index i and the urgency at index j gets the enabled priority at index min(i + j, n - 1),
    so the most severe impact and urgency get the most urgent priority, and lowering either one can only
    lower the priority.
    """
    impacts, urgencies, priorities = sorted(impact_levels), sorted(urgency_levels), sorted(priority_levels)
    matrix = {}
    for i, impact in enumerate(impacts):
        for j, urgency in enumerate(urgencies):
            filled_in = priorities[min(i + j, len(priorities) - 1)]
            matrix[(impact, urgency)] = explicit.get((impact, urgency), filled_in)
    return matrix


@dataclass(frozen=True)
class Choice:
    """A type's pick from a module list: the allowed codes, spelled out, and the code preselected for the
    user, if any. Empty only when the module list is, or for categories of a state the type never enters."""

    allowed: tuple[str, ...]
    default: str | None = None
    # "None listed: all of them" is kept as such, so what is read and saved back keeps meaning "all" and a
    # code added to the module list later is allowed too.
    all_allowed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"allowed": [] if self.all_allowed else list(self.allowed), "default": self.default}


@dataclass(frozen=True)
class TypeStatus:
    name: str
    state: str
    default: bool  # the status a case of this type gets on entering ``state``


@dataclass(frozen=True)
class TransitionRule:
    """Who may move a case of a type from one status to another. Without users and business units, anybody
    the module lets work on the case may; otherwise the user must be listed or belong to a listed unit."""

    from_status: str
    to_status: str
    users: tuple[str, ...] = ()
    business_units: tuple[str, ...] = ()

    def permits(self, username: str, business_units: Collection[str]) -> bool:
        if not self.users and not self.business_units:
            return True
        return username in self.users or any(unit in self.business_units for unit in business_units)

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.from_status,
            "to": self.to_status,
            "users": list(self.users),
            "business_units": list(self.business_units),
        }


@dataclass(frozen=True)
class Communication:
    """A message sent when a case of the type enters ``on_state``; subject and body are Jinja2 templates
    (rendered in a sandbox) that have already been checked to compile."""

    on_state: str
    to: str  # "contact" | "assignee"
    subject: str
    body: str
    channels: tuple[str, ...] = ("email",)  # "email" and/or "sms" (a contact without a valid number: email)

    def to_dict(self) -> dict[str, Any]:
        return {
            "on_state": self.on_state,
            "to": self.to,
            "subject": self.subject,
            "body": self.body,
            "channels": list(self.channels),
        }


@dataclass(frozen=True)
class ServiceSpec:
    """A one-time service an activity type provides, and how its time spent is logged."""

    product: str
    classification: str  # "mandatory" | "optional"
    minimum_time: Duration
    logging: str  # "fixed": always the minimum time | "flexible": the user logs it
    auto_applied: bool  # added to a new activity with the minimum time
    resource_required: bool = False  # the activity cannot start without a resource booked for it
    resource_confirmation: bool = False  # a booking waits for the resource's owner to confirm it

    @property
    def mandatory(self) -> bool:
        return self.classification == "mandatory"

    @property
    def fixed(self) -> bool:
        return self.logging == "fixed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "classification": self.classification,
            "minimum_time": self.minimum_time.to_dict(),
            "logging": self.logging,
            "auto_applied": self.auto_applied,
            "resource_required": self.resource_required,
            "resource_confirmation": self.resource_confirmation,
        }


@dataclass(frozen=True)
class AutoConversion:
    """Whether a won lead of the type becomes an account automatically, and with which settings."""

    enabled: bool = False
    account_classification: str | None = None
    credit_rating: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "account_classification": self.account_classification,
            "credit_rating": self.credit_rating,
        }


@dataclass(frozen=True)
class CompetitorChoice:
    allowed: tuple[str, ...]
    auto_include: tuple[str, ...] = ()  # added to every new lead of the type
    all_allowed: bool = False  # as Choice.all_allowed

    def to_dict(self) -> dict[str, Any]:
        allowed = [] if self.all_allowed else list(self.allowed)
        return {"allowed": allowed, "auto_include": list(self.auto_include)}


_NO_CHOICE = Choice(())


@dataclass(frozen=True)
class TypeConfig:
    """One type of a module, resolved: every list spelled out except ``products``, ``activity_types`` and
    ``create_business_units``, where empty still means "all" (see ``allows_product`` and friends).

    Fields that belong to another module keep their neutral defaults and are left out of ``to_dict``.
    """

    module: str
    name: str
    code: str
    default: bool
    description: str | None
    complete_within: Duration | None
    statuses: tuple[TypeStatus, ...]
    transition_rules: tuple[TransitionRule, ...]
    categories: Mapping[str, Choice]  # every state in CATEGORY_LISTS[module] -> the type's pick
    products: tuple[str, ...]
    cancellation_reasons: Choice
    create_business_units: tuple[str, ...]
    communications: tuple[Communication, ...]
    recalculate_on_responding: bool = False  # service requests
    activity_types: tuple[str, ...] = ()  # service requests and leads
    services: tuple[ServiceSpec, ...] = ()  # activities
    auto_conversion: AutoConversion = AutoConversion()  # leads, and the rest below too
    priority_level: int = DEFAULT_LEAD_PRIORITY
    importance: str | None = None
    source_types: Choice = _NO_CHOICE
    lost_reasons: Choice = _NO_CHOICE
    competitors: CompetitorChoice = CompetitorChoice(())

    # statuses and moves

    def status_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.statuses)

    def state_of(self, status: str) -> str:
        """The life-cycle state of one of the type's statuses; KeyError for any other status."""
        for s in self.statuses:
            if s.name == status:
                return s.state
        raise KeyError(status)

    def statuses_in(self, state: str) -> tuple[str, ...]:
        return tuple(s.name for s in self.statuses if s.state == state)

    def default_status(self, state: str) -> str | None:
        """The status a case gets on entering ``state``; None when the type has no status there."""
        return next((s.name for s in self.statuses if s.state == state and s.default), None)

    @property
    def initial_status(self) -> str:
        initial = self.default_status("pending")
        assert initial is not None, "parse_config guarantees a pending status"
        return initial

    def rules_from(self, status: str) -> tuple[TransitionRule, ...]:
        return tuple(r for r in self.transition_rules if r.from_status == status)

    def may_move(
        self, from_status: str, to_status: str, username: str, business_units: Collection[str]
    ) -> bool:
        """Whether this user, member of these business units, may move a case between the two statuses."""
        return any(
            r.permits(username, business_units)
            for r in self.transition_rules
            if r.from_status == from_status and r.to_status == to_status
        )

    # picks from module lists

    def allowed_categories(self, state: str) -> tuple[str, ...]:
        """Category codes a case may have in ``state``; empty for states without a category list."""
        return self.categories.get(state, _NO_CHOICE).allowed

    def default_category(self, state: str) -> str | None:
        return self.categories.get(state, _NO_CHOICE).default

    def allowed_cancellation_reasons(self) -> tuple[str, ...]:
        return self.cancellation_reasons.allowed

    def default_cancellation_reason(self) -> str | None:
        return self.cancellation_reasons.default

    def allows_product(self, product: str) -> bool:
        return not self.products or product in self.products

    def allows_activity_type(self, activity_type: str) -> bool:
        return not self.activity_types or activity_type in self.activity_types

    def may_create(self, business_units: Collection[str]) -> bool:
        """Whether a member of these business units may create a case of this type."""
        return not self.create_business_units or any(u in self.create_business_units for u in business_units)

    def communications_on(self, state: str) -> tuple[Communication, ...]:
        return tuple(c for c in self.communications if c.on_state == state)

    # activities

    def service(self, product: str) -> ServiceSpec:
        """The type's service for ``product``; KeyError when the type does not provide it."""
        for s in self.services:
            if s.product == product:
                return s
        raise KeyError(product)

    # leads

    def allowed_source_types(self) -> tuple[str, ...]:
        return self.source_types.allowed

    def default_source_type(self) -> str | None:
        return self.source_types.default

    def allowed_lost_reasons(self) -> tuple[str, ...]:
        return self.lost_reasons.allowed

    def default_lost_reason(self) -> str | None:
        return self.lost_reasons.default

    def allowed_competitors(self) -> tuple[str, ...]:
        return self.competitors.allowed

    def auto_included_competitors(self) -> tuple[str, ...]:
        return self.competitors.auto_include

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "code": self.code,
            "default": self.default,
            "description": self.description,
            "complete_within": self.complete_within.to_dict() if self.complete_within else None,
        }
        if self.module == "service_request":
            out["recalculate_on_responding"] = self.recalculate_on_responding
        out["statuses"] = [{"name": s.name, "default": s.default} for s in self.statuses]
        out["transition_rules"] = [r.to_dict() for r in self.transition_rules]
        out["categories"] = {state: choice.to_dict() for state, choice in self.categories.items()}
        out["products"] = list(self.products)
        out["cancellation_reasons"] = self.cancellation_reasons.to_dict()
        out["create_business_units"] = list(self.create_business_units)
        out["communications"] = [c.to_dict() for c in self.communications]
        if self.module in ("service_request", "lead"):
            out["activity_types"] = list(self.activity_types)
        if self.module == "activity":
            out["services"] = [s.to_dict() for s in self.services]
        if self.module == "lead":
            out["auto_conversion"] = self.auto_conversion.to_dict()
            out["priority_level"] = self.priority_level
            out["importance"] = self.importance
            out["source_types"] = self.source_types.to_dict()
            out["lost_reasons"] = self.lost_reasons.to_dict()
            out["competitors"] = self.competitors.to_dict()
        return out


_EMPTY: Mapping[Any, Any] = MappingProxyType({})


@dataclass(frozen=True)
class ModuleConfig:
    """A module's whole configuration, valid and normalised. Build it with ``parse_config``.

    Module-specific parts are empty for the other modules: ``prioritisation`` and
    ``return_coverage_reasons`` belong to service requests; lost reasons, competitors, labels and importance
    levels to leads.
    """

    module: str
    status_definitions: tuple[Status, ...]
    category_lists: Mapping[str, tuple[Category, ...]]  # list name (see CATEGORY_LISTS) -> categories
    cancellation_reasons: tuple[Reason, ...]
    types: tuple[TypeConfig, ...]
    prioritisation: Prioritisation | None = None
    return_coverage_reasons: tuple[CoverageReason, ...] = ()
    lost_reasons: tuple[Reason, ...] = ()
    competitors: tuple[Competitor, ...] = ()
    source_type_labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # every source type
    priority_labels: Mapping[int, str] = field(default_factory=lambda: _EMPTY)  # levels 1..10
    importance_levels: tuple[ImportanceLevel, ...] = ()

    @property
    def statuses(self) -> Mapping[str, str]:
        """Status name -> life-cycle state."""
        return MappingProxyType({s.name: s.state for s in self.status_definitions})

    def state_of(self, status: str) -> str:
        return self.statuses[status]

    def is_terminal(self, status: str) -> bool:
        return self.statuses[status] in TERMINAL_STATES[self.module]

    def type(self, code: str) -> TypeConfig:
        """The type with this code; KeyError when there is none."""
        for t in self.types:
            if t.code == code:
                return t
        raise KeyError(code)

    @property
    def default_type(self) -> TypeConfig:
        return next(t for t in self.types if t.default)

    def categories(self, list_name: str) -> tuple[Category, ...]:
        return self.category_lists[list_name]

    def category(self, list_name: str, code: str) -> Category:
        """A category of one of the lists; KeyError for an unknown list or code."""
        for c in self.category_lists[list_name]:
            if c.code == code:
                return c
        raise KeyError(code)

    def category_path(self, list_name: str, code: str) -> tuple[Category, ...]:
        """The category and its ancestors, top-level first (e.g. for "Hardware > Modem")."""
        path = [self.category(list_name, code)]
        while path[0].parent is not None:
            path.insert(0, self.category(list_name, path[0].parent))
        return tuple(path)

    def requires_acceptance(self, list_name: str, code: str) -> bool:
        """Whether a response or resolution in this category must be accepted by the contact."""
        return self.category(list_name, code).requires_acceptance

    def priority(self, impact: int, urgency: int) -> PriorityLevel:
        if self.prioritisation is None:
            raise ValueError(f"The {MODULE_LABELS[self.module]} module has no prioritisation model.")
        return self.prioritisation.priority(impact, urgency)

    def coverage_reason(self, code: str) -> CoverageReason:
        for reason in self.return_coverage_reasons:
            if reason.code == code:
                return reason
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"statuses": [s.to_dict() for s in self.status_definitions]}
        for list_name, entries in self.category_lists.items():
            out[list_name] = [self._category_dict(list_name, c) for c in entries]
        out["cancellation_reasons"] = [r.to_dict() for r in self.cancellation_reasons]
        if self.module == "service_request":
            assert self.prioritisation is not None
            out["prioritisation"] = self.prioritisation.to_dict()
            out["return_coverage_reasons"] = [r.to_dict() for r in self.return_coverage_reasons]
        if self.module == "lead":
            out["lost_reasons"] = [r.to_dict() for r in self.lost_reasons]
            out["competitors"] = [c.to_dict() for c in self.competitors]
            out["source_type_labels"] = dict(self.source_type_labels)
            out["priority_labels"] = {str(level): label for level, label in self.priority_labels.items()}
            out["importance_levels"] = [i.to_dict() for i in self.importance_levels]
        out["types"] = [t.to_dict() for t in self.types]
        return out

    def _category_dict(self, list_name: str, category: Category) -> dict[str, Any]:
        out: dict[str, Any] = {"code": category.code, "name": category.name, "parent": category.parent}
        if list_name == "categories" and self.module == "service_request":
            out["classification"] = category.classification
        if list_name in RESOLUTION_CATEGORY_LISTS:
            out["requires_acceptance"] = category.requires_acceptance
        return out


def source_type_label(source_type: str) -> str:
    """The label a lead source type has until the business gives it one: "Recommended by contact"."""
    return source_type.replace("_", " ").capitalize()


def generate_code(name: str, taken: Collection[str]) -> str:
    """An alternative code for a type left without one: the name's letters and digits upper-cased, words
    joined with "_", at most 20 characters, with "_2", "_3", ... added when ``taken`` already has it
    (compared case-insensitively). Accents are dropped ("Café" -> "CAFE"); a name without any letter or
    digit becomes "TYPE"."""
    taken_folded = {code.casefold() for code in taken}
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = re.findall(r"[A-Z0-9]+", ascii_name.upper())
    base = "_".join(words)[:GENERATED_CODE_MAX_LENGTH].rstrip("_") or "TYPE"
    candidate, n = base, 2
    while candidate.casefold() in taken_folded:
        suffix = f"_{n}"
        candidate = base[: GENERATED_CODE_MAX_LENGTH - len(suffix)].rstrip("_") + suffix
        n += 1
    return candidate


# --- the document's shape (pydantic) ------------------------------------------------------------------------

_Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
_Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
_BlankableCode = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
_Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
_Subject = Annotated[str, StringConstraints(min_length=1, max_length=250)]
_Body = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
_Level = Annotated[int, Field(ge=1, le=10)]
_Duration = Annotated[Duration, PlainValidator(Duration.from_dict)]
_PriorityKey = Literal["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]


class _Shape(BaseModel):
    # strict: a "5" where a number belongs is a mistake in a hand-edited document, not something to guess at
    model_config = ConfigDict(extra="forbid", strict=True)


class _StatusShape(_Shape):
    name: _Name
    state: str  # checked against the module's states with the cross-checks, for a clearer message
    description: _Text | None = None


class _CategoryShape(_Shape):
    code: _Code
    name: _Name
    parent: _Code | None = None


class _ClassifiedCategoryShape(_CategoryShape):
    classification: Literal[SR_CLASSIFICATIONS]


class _ResolutionCategoryShape(_CategoryShape):
    requires_acceptance: bool = False


class _ReasonShape(_Shape):
    code: _Code
    name: _Name


class _CompetitorShape(_ReasonShape):
    website: _Text | None = None
    description: _Text | None = None


class _ImportanceShape(_Shape):
    code: _Code
    label: _Name


class _CoverageReasonShape(_ReasonShape):
    covered: bool
    return_period: _Duration


class _LevelShape(_Shape):
    level: _Level
    label: _Name


class _PriorityShape(_LevelShape):
    complete_within: _Duration | None = None


class _MatrixEntryShape(_Shape):
    impact: _Level
    urgency: _Level
    priority: _Level


class _PrioritisationShape(_Shape):
    impact_levels: list[_LevelShape] = Field(min_length=1)
    default_impact: _Level
    urgency_levels: list[_LevelShape] = Field(min_length=1)
    default_urgency: _Level
    priorities: list[_PriorityShape] = Field(min_length=1)
    matrix: list[_MatrixEntryShape] = []


class _TypeStatusShape(_Shape):
    name: _Name
    default: bool = False


class _TransitionRuleShape(_Shape):
    from_status: _Name = Field(alias="from")
    to: _Name
    users: list[_Code] = []
    business_units: list[_Code] = []


class _ChoiceShape(_Shape):
    allowed: list[_Code] = []
    default: _Code | None = None


class _CommunicationShape(_Shape):
    on_state: str
    to: Literal["contact", "assignee"]
    subject: _Subject
    body: _Body
    channels: list[Literal["email", "sms"]] = Field(default=["email"], min_length=1, max_length=2)


class _ServiceShape(_Shape):
    product: _Code
    classification: Literal["mandatory", "optional"]
    minimum_time: _Duration
    logging: Literal["fixed", "flexible"] = "flexible"
    auto_applied: bool = False
    resource_required: bool = False
    resource_confirmation: bool = False


class _AutoConversionShape(_Shape):
    enabled: bool = False
    account_classification: _Name | None = None
    credit_rating: _Name | None = None


class _SourceTypesShape(_Shape):
    allowed: list[Literal[LEAD_SOURCE_TYPES]] = []
    default: Literal[LEAD_SOURCE_TYPES] | None = None


class _CompetitorChoiceShape(_Shape):
    allowed: list[_Code] = []
    auto_include: list[_Code] = []


class _TypeShape(_Shape):
    name: _Name
    code: _BlankableCode | None = None
    default: bool = False
    description: _Text | None = None
    complete_within: _Duration | None = None
    statuses: list[_TypeStatusShape] = []
    transition_rules: list[_TransitionRuleShape] = []
    categories: dict[str, _ChoiceShape] = {}
    products: list[_Code] = []
    cancellation_reasons: _ChoiceShape = Field(default_factory=_ChoiceShape)
    create_business_units: list[_Code] = []
    communications: list[_CommunicationShape] = []


class _ServiceRequestTypeShape(_TypeShape):
    recalculate_on_responding: bool = False
    activity_types: list[_Code] = []


class _ActivityTypeShape(_TypeShape):
    services: list[_ServiceShape] = []


class _LeadTypeShape(_TypeShape):
    activity_types: list[_Code] = []
    auto_conversion: _AutoConversionShape = Field(default_factory=_AutoConversionShape)
    priority_level: _Level = DEFAULT_LEAD_PRIORITY
    importance: _Code | None = None
    source_types: _SourceTypesShape = Field(default_factory=_SourceTypesShape)
    lost_reasons: _ChoiceShape = Field(default_factory=_ChoiceShape)
    competitors: _CompetitorChoiceShape = Field(default_factory=_CompetitorChoiceShape)


class _ServiceRequestShape(_Shape):
    statuses: list[_StatusShape] = []
    categories: list[_ClassifiedCategoryShape] = []
    response_categories: list[_ResolutionCategoryShape] = []
    temporary_resolution_categories: list[_ResolutionCategoryShape] = []
    final_resolution_categories: list[_ResolutionCategoryShape] = []
    cancellation_reasons: list[_ReasonShape] = []
    prioritisation: _PrioritisationShape
    return_coverage_reasons: list[_CoverageReasonShape] = []
    types: list[_ServiceRequestTypeShape] = Field(min_length=1)


class _ActivityShape(_Shape):
    statuses: list[_StatusShape] = []
    categories: list[_CategoryShape] = []
    cancellation_reasons: list[_ReasonShape] = []
    types: list[_ActivityTypeShape] = Field(min_length=1)


class _LeadShape(_Shape):
    statuses: list[_StatusShape] = []
    categories: list[_CategoryShape] = []
    cancellation_reasons: list[_ReasonShape] = []
    lost_reasons: list[_ReasonShape] = []
    competitors: list[_CompetitorShape] = []
    source_type_labels: dict[Literal[LEAD_SOURCE_TYPES], _Name] = {}
    priority_labels: dict[_PriorityKey, _Name] = {}
    importance_levels: list[_ImportanceShape] = []
    types: list[_LeadTypeShape] = Field(min_length=1)


_SHAPES: dict[str, type[_Shape]] = {
    "service_request": _ServiceRequestShape,
    "activity": _ActivityShape,
    "lead": _LeadShape,
}


def _location(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for "the key itself was wrong"; the key is already in loc
            continue
        out += f"[{part}]" if isinstance(part, int) else f"{'.' if out else ''}{part}"
    return out


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _shape_message(error: Mapping[str, Any], module: str) -> str:
    kind, loc, ctx = error["type"], error["loc"], error.get("ctx", {})
    key = next((str(p) for p in reversed(loc) if isinstance(p, str) and p != "[key]"), "value")
    match kind:
        case "missing":
            return f"'{key}' is required."
        case "extra_forbidden":
            label = _with_article(MODULE_LABELS[module])
            if len(loc) == 1:
                return f"'{key}' is not a setting of {label} configuration."
            if len(loc) == 3 and loc[0] == "types":
                return f"'{key}' is not a setting of {label} type."
            return f"'{key}' is not a setting here."
        case "string_too_short":
            return "Must not be blank."
        case "string_too_long":
            return f"Must be at most {ctx['max_length']} characters long."
        case "too_short":
            return (
                f"Needs at least {ctx['min_length']} entry."
                if key != "types"
                else "Define at least one type."
            )
        case "literal_error":
            return f"{_shown(error['input'])} is not allowed here; use {ctx['expected']}."
        case "int_type" | "int_parsing" | "int_from_float":
            return "Must be a whole number."
        case "bool_type" | "bool_parsing":
            return "Must be true or false."
        case "string_type":
            return "Must be text."
        case "list_type":
            return "Must be a list."
        case "dict_type" | "model_type" | "model_attributes_type":
            return "Must be an object."
        case "greater_than_equal":
            return f"Must be at least {ctx['ge']}."
        case "less_than_equal":
            return f"Must be at most {ctx['le']}."
        case "value_error":
            return str(ctx["error"])
    return f"{error['msg']}."


# --- the cross-checks and normalisation -------------------------------------------------------------------

_TEMPLATES = SandboxedEnvironment()


def parse_config(
    module: str, raw: Mapping[str, Any], *, activity_type_codes: Collection[str] | None = None
) -> ModuleConfig:
    """Validate and normalise a module's configuration document; raise ``InvalidConfiguration`` listing
    every problem when it cannot be used.

    ``activity_type_codes`` are the codes of the activity types configured now; when given, every activity
    type a service request or lead type allows must be one of them.
    """
    if module not in MODULES:
        raise InvalidConfiguration(
            module,
            [{"location": "", "message": f"There is no module '{module}'; use one of {', '.join(MODULES)}."}],
        )
    if not isinstance(raw, Mapping):
        raise InvalidConfiguration(
            module, [{"location": "", "message": "The configuration must be an object."}]
        )
    try:
        shape = _SHAPES[module].model_validate(dict(raw))
    except ValidationError as exc:
        problems = [
            {"location": _location(error["loc"]), "message": _shape_message(error, module)}
            for error in exc.errors()
        ]
        raise InvalidConfiguration(module, problems) from None
    return _Normaliser(module, activity_type_codes).module_config(shape)


class _Normaliser:
    """Runs every cross-check over a well-shaped document, collecting problems while it builds the
    normalised configuration; the configuration is only returned when no problem was found."""

    def __init__(self, module: str, activity_type_codes: Collection[str] | None) -> None:
        self.module = module
        self.label = MODULE_LABELS[module]
        self.a_label = _with_article(self.label)
        self.activity_type_codes = None if activity_type_codes is None else set(activity_type_codes)
        self.problems: list[dict[str, str]] = []
        self.status_states: dict[str, str] = {}
        # Statuses defined with a wrong state: already reported once, so types naming them stay quiet.
        self.misconfigured_statuses: set[str] = set()
        self.category_lists: dict[str, tuple[Category, ...]] = {}
        self.cancellation_codes: tuple[str, ...] = ()
        self.lost_reason_codes: tuple[str, ...] = ()
        self.competitor_codes: tuple[str, ...] = ()
        self.importance_codes: tuple[str, ...] = ()

    def problem(self, location: str, message: str) -> None:
        self.problems.append({"location": location, "message": message})

    def module_config(self, shape: Any) -> ModuleConfig:
        statuses = self.statuses(shape.statuses)
        self.status_states = {s.name: s.state for s in statuses}
        for list_name in dict.fromkeys(CATEGORY_LISTS[self.module].values()):
            self.category_lists[list_name] = self.categories(list_name, getattr(shape, list_name))
        cancellation = self.reasons("cancellation_reasons", shape.cancellation_reasons)
        self.cancellation_codes = tuple(r.code for r in cancellation)
        extras: dict[str, Any] = {}
        if self.module == "service_request":
            extras["prioritisation"] = self.prioritisation(shape.prioritisation)
            extras["return_coverage_reasons"] = tuple(
                CoverageReason(r.code, r.name, r.covered, r.return_period)
                for r in self.unique_codes("return_coverage_reasons", shape.return_coverage_reasons)
            )
        if self.module == "lead":
            lost = self.reasons("lost_reasons", shape.lost_reasons)
            competitors = tuple(
                Competitor(c.code, c.name, c.website or None, c.description or None)
                for c in self.unique_codes("competitors", shape.competitors)
            )
            importance = tuple(
                ImportanceLevel(i.code, i.label)
                for i in self.unique_codes("importance_levels", shape.importance_levels)
            )
            self.lost_reason_codes = tuple(r.code for r in lost)
            self.competitor_codes = tuple(c.code for c in competitors)
            self.importance_codes = tuple(i.code for i in importance)
            extras.update(
                lost_reasons=lost,
                competitors=competitors,
                importance_levels=importance,
                source_type_labels=MappingProxyType(
                    {
                        key: shape.source_type_labels.get(key, source_type_label(key))
                        for key in LEAD_SOURCE_TYPES
                    }
                ),
                priority_labels=MappingProxyType(
                    {
                        level: shape.priority_labels.get(str(level), str(level))
                        for level in LEAD_PRIORITY_LEVELS
                    }
                ),
            )
        types = self.types(shape.types)
        if self.problems:
            raise InvalidConfiguration(self.module, self.problems)
        return ModuleConfig(
            module=self.module,
            status_definitions=statuses,
            category_lists=MappingProxyType(dict(self.category_lists)),
            cancellation_reasons=cancellation,
            types=types,
            **extras,
        )

    # module lists

    def statuses(self, entries: Sequence[_StatusShape]) -> tuple[Status, ...]:
        states = STATES[self.module]
        kept: list[Status] = []
        seen: dict[str, int] = {}
        for i, entry in enumerate(entries):
            where = f"statuses[{i}]"
            usable = True
            if entry.state not in states:
                self.problem(
                    f"{where}.state",
                    f"'{entry.state}' is not {self.a_label} state; use one of {', '.join(states)}.",
                )
                self.misconfigured_statuses.add(entry.name)
                usable = False
            folded = entry.name.casefold()
            if folded in seen:
                self.problem(
                    f"{where}.name", f"Status '{entry.name}' is already defined at statuses[{seen[folded]}]."
                )
                usable = False
            else:
                seen[folded] = i
            if usable:
                kept.append(Status(entry.name, entry.state, entry.description or None))
        for state in states:
            if state not in OPTIONAL_STATES.get(self.module, ()) and not any(s.state == state for s in kept):
                self.problem("statuses", f"No status has the '{state}' state; every {self.label} needs one.")
        return tuple(kept)

    def unique_codes(self, location: str, entries: Sequence[Any]) -> list[Any]:
        """The entries whose code was not used by an earlier entry (codes compare case-insensitively)."""
        kept = []
        seen: dict[str, int] = {}
        for i, entry in enumerate(entries):
            folded = entry.code.casefold()
            if folded in seen:
                self.problem(
                    f"{location}[{i}].code",
                    f"Code '{entry.code}' is already used by {location}[{seen[folded]}].",
                )
            else:
                seen[folded] = i
                kept.append(entry)
        return kept

    def reasons(self, location: str, entries: Sequence[_ReasonShape]) -> tuple[Reason, ...]:
        return tuple(Reason(r.code, r.name) for r in self.unique_codes(location, entries))

    def categories(self, list_name: str, entries: Sequence[Any]) -> tuple[Category, ...]:
        kept = self.unique_codes(list_name, entries)
        by_code = {c.code: c for c in kept}
        index = {id(c): i for i, c in enumerate(entries)}
        what = _CATEGORY_LIST_LABELS[list_name]
        for c in kept:
            if c.parent is None:
                continue
            where = f"{list_name}[{index[id(c)]}].parent"
            if c.parent == c.code:
                self.problem(where, f"Category '{c.code}' cannot be its own parent.")
            elif c.parent not in by_code:
                self.problem(where, f"Parent '{c.parent}' is not one of the {what}.")
        reported: set[frozenset[str]] = set()
        for c in kept:
            path: list[str] = []
            code: str | None = c.code
            while code is not None and code in by_code and code not in path:
                path.append(code)
                code = by_code[code].parent
            if code is None or code not in path:
                continue
            loop = path[path.index(code) :]
            if len(loop) > 1 and frozenset(loop) not in reported:
                reported.add(frozenset(loop))
                first = min(loop, key=lambda member: index[id(by_code[member])])
                start = loop.index(first)
                ordered = [*loop[start:], *loop[:start], first]
                self.problem(
                    f"{list_name}[{index[id(by_code[first])]}].parent",
                    f"The {what} {' -> '.join(repr(x) for x in ordered)} are each other's parents; "
                    "one of them must be at the top or under another category.",
                )
        return tuple(
            Category(
                code=c.code,
                name=c.name,
                parent=c.parent,
                classification=getattr(c, "classification", None),
                requires_acceptance=getattr(c, "requires_acceptance", False),
            )
            for c in kept
        )

    def levels(self, location: str, entries: Sequence[Any], what: str) -> list[Any]:
        kept, seen = [], {}
        for i, entry in enumerate(entries):
            if entry.level in seen:
                self.problem(
                    f"{location}[{i}].level",
                    f"{what} level {entry.level} is already defined at {location}[{seen[entry.level]}].",
                )
            else:
                seen[entry.level] = i
                kept.append(entry)
        return sorted(kept, key=lambda entry: entry.level)

    def prioritisation(self, shape: _PrioritisationShape) -> Prioritisation:
        where = "prioritisation"
        impacts = tuple(
            Level(e.level, e.label)
            for e in self.levels(f"{where}.impact_levels", shape.impact_levels, "Impact")
        )
        urgencies = tuple(
            Level(e.level, e.label)
            for e in self.levels(f"{where}.urgency_levels", shape.urgency_levels, "Urgency")
        )
        priorities = tuple(
            PriorityLevel(e.level, e.label, e.complete_within)
            for e in self.levels(f"{where}.priorities", shape.priorities, "Priority")
        )
        enabled = {
            "impact": [x.level for x in impacts],
            "urgency": [x.level for x in urgencies],
            "priority": [x.level for x in priorities],
        }
        for axis, chosen in (("impact", shape.default_impact), ("urgency", shape.default_urgency)):
            if chosen not in enabled[axis]:
                self.problem(
                    f"{where}.default_{axis}",
                    f"The default {axis} {chosen} is not one of the {axis} levels "
                    f"({_levels_text(enabled[axis])}).",
                )
        explicit: dict[tuple[int, int], int] = {}
        first_at: dict[tuple[int, int], int] = {}
        for k, entry in enumerate(shape.matrix):
            usable = True
            for axis in ("impact", "urgency", "priority"):
                value = getattr(entry, axis)
                if value not in enabled[axis]:
                    self.problem(
                        f"{where}.matrix[{k}].{axis}",
                        f"{axis.capitalize()} {value} is not one of the {axis} levels "
                        f"({_levels_text(enabled[axis])}).",
                    )
                    usable = False
            combination = (entry.impact, entry.urgency)
            if combination in first_at:
                self.problem(
                    f"{where}.matrix[{k}]",
                    f"Impact {entry.impact} with urgency {entry.urgency} already has a priority at "
                    f"{where}.matrix[{first_at[combination]}].",
                )
                usable = False
            else:
                first_at[combination] = k
            if usable:
                explicit[combination] = entry.priority
        matrix = populate_matrix(enabled["impact"], enabled["urgency"], enabled["priority"], explicit)
        return Prioritisation(
            impact_levels=impacts,
            default_impact=shape.default_impact,
            urgency_levels=urgencies,
            default_urgency=shape.default_urgency,
            priorities=priorities,
            matrix=MappingProxyType(matrix),
        )

    # types

    def types(self, entries: Sequence[Any]) -> tuple[TypeConfig, ...]:
        seen_names: dict[str, int] = {}
        for i, entry in enumerate(entries):
            folded = entry.name.casefold()
            if folded in seen_names:
                self.problem(
                    f"types[{i}].name",
                    f"Type '{entry.name}' is already defined at types[{seen_names[folded]}].",
                )
            else:
                seen_names[folded] = i
        seen_codes: dict[str, int] = {}
        for i, entry in enumerate(entries):
            if entry.code:
                folded = entry.code.casefold()
                if folded in seen_codes:
                    other = entries[seen_codes[folded]].name
                    self.problem(
                        f"types[{i}].code", f"Code '{entry.code}' is already used by type '{other}'."
                    )
                else:
                    seen_codes[folded] = i
        # Explicit codes are placed first so that a generated code never takes one an admin chose.
        taken = [e.code for e in entries if e.code]
        codes = []
        for entry in entries:
            code = entry.code or generate_code(entry.name, taken)
            taken.append(code)
            codes.append(code)
        marked = [i for i, entry in enumerate(entries) if entry.default]
        for i in marked[1:]:
            self.problem(
                f"types[{i}].default",
                f"Only one type can be the default, and '{entries[marked[0]].name}' already is.",
            )
        default_index = marked[0] if marked else 0
        return tuple(self.type(i, entry, codes[i], i == default_index) for i, entry in enumerate(entries))

    def type(self, i: int, entry: Any, code: str, is_default: bool) -> TypeConfig:
        where = f"types[{i}]"
        who = f"Type '{entry.name}'"
        statuses = self.type_statuses(where, who, entry.statuses)
        rules = self.transition_rules(where, who, entry.transition_rules, statuses)
        lists = CATEGORY_LISTS[self.module]
        for state in entry.categories:
            if state not in lists:
                self.problem(
                    f"{where}.categories.{state}",
                    f"Categories are chosen only for the {', '.join(repr(s) for s in lists)} state(s), "
                    f"not for '{state}'.",
                )
        categories = {}
        for state, list_name in lists.items():
            pick = entry.categories.get(state, _ChoiceShape())
            if any(s.state == state for s in statuses):
                universe = tuple(c.code for c in self.category_lists[list_name])
                categories[state] = self.choice(
                    f"{where}.categories.{state}", pick, universe, _CATEGORY_LIST_LABELS[list_name]
                )
                continue
            # A type that never enters the state (e.g. no temporary resolution) has no categories for it.
            if pick.allowed or pick.default is not None:
                self.problem(
                    f"{where}.categories.{state}",
                    f"{who} has no status for the '{state}' state, so it cannot choose categories for it.",
                )
            categories[state] = _NO_CHOICE
        specifics: dict[str, Any] = {}
        if self.module in ("service_request", "lead"):
            specifics["activity_types"] = self.activity_types(f"{where}.activity_types", entry.activity_types)
        if self.module == "service_request":
            specifics["recalculate_on_responding"] = entry.recalculate_on_responding
        if self.module == "activity":
            specifics["services"] = self.services(f"{where}.services", entry.services)
        if self.module == "lead":
            specifics.update(self.lead_type(where, who, entry))
        return TypeConfig(
            module=self.module,
            name=entry.name,
            code=code,
            default=is_default,
            description=entry.description or None,
            complete_within=entry.complete_within,
            statuses=statuses,
            transition_rules=rules,
            categories=MappingProxyType(categories),
            products=self.distinct(f"{where}.products", entry.products),
            cancellation_reasons=self.choice(
                f"{where}.cancellation_reasons",
                entry.cancellation_reasons,
                self.cancellation_codes,
                "cancellation reasons",
            ),
            create_business_units=self.distinct(
                f"{where}.create_business_units", entry.create_business_units
            ),
            communications=self.communications(f"{where}.communications", entry.communications),
            **specifics,
        )

    def type_statuses(
        self, where: str, who: str, entries: Sequence[_TypeStatusShape]
    ) -> tuple[TypeStatus, ...]:
        listed: list[tuple[str, str, bool]] = []
        for k, entry in enumerate(entries):
            if entry.name in self.misconfigured_statuses:
                continue
            if entry.name not in self.status_states:
                self.problem(f"{where}.statuses[{k}].name", f"'{entry.name}' is not {self.a_label} status.")
            elif any(name == entry.name for name, _, _ in listed):
                self.problem(f"{where}.statuses[{k}].name", f"'{entry.name}' is listed twice.")
            else:
                listed.append((entry.name, self.status_states[entry.name], entry.default))
        defaults = set()
        for state in STATES[self.module]:
            in_state = [name for name, s, _ in listed if s == state]
            marked = [name for name, s, default in listed if s == state and default]
            if not in_state:
                if state not in OPTIONAL_STATES.get(self.module, ()):
                    self.problem(f"{where}.statuses", f"{who} has no status for the '{state}' state.")
            elif len(in_state) == 1:
                defaults.add(in_state[0])
            elif len(marked) == 1:
                defaults.add(marked[0])
            elif not marked:
                self.problem(
                    f"{where}.statuses",
                    f"{who} has several statuses for the '{state}' state ({', '.join(in_state)}); "
                    "mark one of them as the default.",
                )
            else:
                self.problem(
                    f"{where}.statuses",
                    f"{who} marks {', '.join(marked)} as the default for the '{state}' state; mark only one.",
                )
        return tuple(TypeStatus(name, state, name in defaults) for name, state, _ in listed)

    def move_allowed(self, from_state: str, to_state: str) -> bool:
        if from_state == to_state:
            return from_state not in TERMINAL_STATES[self.module]
        return (from_state, to_state) in MOVES[self.module]

    def transition_rules(
        self, where: str, who: str, entries: Sequence[_TransitionRuleShape], statuses: tuple[TypeStatus, ...]
    ) -> tuple[TransitionRule, ...]:
        state_of = {s.name: s.state for s in statuses}
        if not entries:
            return tuple(
                TransitionRule(a.name, b.name)
                for a in statuses
                for b in statuses
                if a.name != b.name and self.move_allowed(a.state, b.state)
            )
        problems_before = len(self.problems)
        names_misconfigured_status = False
        rules: list[TransitionRule] = []
        first_at: dict[tuple[str, str], int] = {}
        for k, entry in enumerate(entries):
            at = f"{where}.transition_rules[{k}]"
            ends = (("from", entry.from_status), ("to", entry.to))
            unknown = [(end, name) for end, name in ends if name not in state_of]
            for end, name in unknown:
                if name in self.misconfigured_statuses:
                    names_misconfigured_status = True
                    continue
                self.problem(
                    f"{at}.{end}", f"'{name}' is not one of the statuses of {who[0].lower()}{who[1:]}."
                )
            if unknown:
                continue
            a, b = entry.from_status, entry.to
            if a == b:
                self.problem(at, f"A rule must lead to another status; this one goes from '{a}' to itself.")
                continue
            if not self.move_allowed(state_of[a], state_of[b]):
                self.problem(
                    at,
                    f"Moving from '{a}' ({state_of[a]}) to '{b}' ({state_of[b]}) is not part of the "
                    f"{self.label} life cycle.",
                )
                continue
            if (a, b) in first_at:
                self.problem(
                    at,
                    f"The move from '{a}' to '{b}' already has a rule at "
                    f"{where}.transition_rules[{first_at[(a, b)]}]; list all its users and units there.",
                )
                continue
            first_at[(a, b)] = k
            rules.append(
                TransitionRule(
                    a,
                    b,
                    self.distinct(f"{at}.users", entry.users),
                    self.distinct(f"{at}.business_units", entry.business_units),
                )
            )
        initial = next((s.name for s in statuses if s.state == "pending" and s.default), None)
        if len(self.problems) == problems_before and not names_misconfigured_status and initial is not None:
            self.check_flow(where, initial, statuses, rules)
        return tuple(rules)

    def check_flow(
        self, where: str, initial: str, statuses: tuple[TypeStatus, ...], rules: list[TransitionRule]
    ) -> None:
        """Explicit rules must let a case reach every status of its type and leave every open one, or cases
        would be stuck (and the type could not be compiled into a workflow)."""
        reached, frontier = {initial}, [initial]
        while frontier:
            current = frontier.pop()
            for rule in rules:
                if rule.from_status == current and rule.to_status not in reached:
                    reached.add(rule.to_status)
                    frontier.append(rule.to_status)
        for s in statuses:
            if s.name not in reached:
                self.problem(
                    f"{where}.transition_rules",
                    f"Status '{s.name}' can never be reached: no rules lead there from '{initial}'.",
                )
            if s.state not in TERMINAL_STATES[self.module] and not any(
                r.from_status == s.name for r in rules
            ):
                self.problem(
                    f"{where}.transition_rules",
                    f"No rule leads out of status '{s.name}', so {self.a_label} there could never finish.",
                )

    def choice(self, where: str, shape: _ChoiceShape, universe: Sequence[str], plural: str) -> Choice:
        """A pick from a module list: every code known and listed once, "none listed" meaning all of them,
        the default among the allowed ones and, when only one is allowed, that one."""
        allowed = []
        for k, code in enumerate(shape.allowed):
            if code not in universe:
                self.problem(f"{where}.allowed[{k}]", f"'{code}' is not one of the {plural}.")
            elif code in allowed:
                self.problem(f"{where}.allowed[{k}]", f"'{code}' is listed twice.")
            else:
                allowed.append(code)
        resolved = tuple(allowed) if shape.allowed else tuple(universe)
        default = shape.default
        if default is not None and default not in resolved:
            if default not in universe:
                self.problem(f"{where}.default", f"'{default}' is not one of the {plural}.")
            else:
                self.problem(
                    f"{where}.default", f"The default '{default}' is not one of the allowed {plural}."
                )
        if default is None and len(resolved) == 1:
            default = resolved[0]
        return Choice(resolved, default, all_allowed=not shape.allowed)

    def distinct(self, where: str, values: Sequence[str]) -> tuple[str, ...]:
        kept: list[str] = []
        for k, value in enumerate(values):
            if value in kept:
                self.problem(f"{where}[{k}]", f"'{value}' is listed twice.")
            else:
                kept.append(value)
        return tuple(kept)

    def activity_types(self, where: str, codes: Sequence[str]) -> tuple[str, ...]:
        kept = self.distinct(where, codes)
        if self.activity_type_codes is not None:
            for k, code in enumerate(codes):
                if code not in self.activity_type_codes:
                    known = ", ".join(sorted(self.activity_type_codes)) or "none are configured"
                    self.problem(f"{where}[{k}]", f"'{code}' is not an activity type ({known}).")
        return kept

    def communications(self, where: str, entries: Sequence[_CommunicationShape]) -> tuple[Communication, ...]:
        states = STATES[self.module]
        for k, entry in enumerate(entries):
            if entry.on_state not in states:
                self.problem(
                    f"{where}[{k}].on_state",
                    f"'{entry.on_state}' is not {self.a_label} state; use one of {', '.join(states)}.",
                )
            if "sms" in entry.channels and entry.to != "contact":
                self.problem(f"{where}[{k}].channels", "SMS goes to the contact's phone; users get email.")
            for part in ("subject", "body"):
                try:
                    _TEMPLATES.from_string(getattr(entry, part))
                except TemplateSyntaxError as exc:
                    self.problem(
                        f"{where}[{k}].{part}", f"Template error on line {exc.lineno}: {exc.message}"
                    )
        return tuple(
            Communication(e.on_state, e.to, e.subject, e.body, tuple(dict.fromkeys(e.channels)))
            for e in entries
        )

    def services(self, where: str, entries: Sequence[_ServiceShape]) -> tuple[ServiceSpec, ...]:
        kept: list[ServiceSpec] = []
        for k, entry in enumerate(entries):
            if entry.minimum_time.unit not in SERVICE_TIME_UNITS:
                self.problem(
                    f"{where}[{k}].minimum_time",
                    f"Minimum time spent is given in minutes, hours or days, not {entry.minimum_time.unit}.",
                )
            if any(s.product == entry.product for s in kept):
                self.problem(f"{where}[{k}].product", f"Service '{entry.product}' is listed twice.")
                continue
            kept.append(
                ServiceSpec(
                    entry.product,
                    entry.classification,
                    entry.minimum_time,
                    entry.logging,
                    entry.auto_applied,
                    entry.resource_required,
                    entry.resource_confirmation,
                )
            )
        return tuple(kept)

    def lead_type(self, where: str, who: str, entry: _LeadTypeShape) -> dict[str, Any]:
        conversion = entry.auto_conversion
        if conversion.enabled:
            for key, what in (
                ("account_classification", "an account classification"),
                ("credit_rating", "a credit rating"),
            ):
                if getattr(conversion, key) is None:
                    self.problem(
                        f"{where}.auto_conversion.{key}",
                        f"{who} converts won leads into accounts automatically, so it needs {what}.",
                    )
        if entry.importance is not None and entry.importance not in self.importance_codes:
            self.problem(f"{where}.importance", f"'{entry.importance}' is not one of the importance levels.")
        source_types = self.choice(
            f"{where}.source_types",
            _ChoiceShape(allowed=list(entry.source_types.allowed), default=entry.source_types.default),
            LEAD_SOURCE_TYPES,
            "source types",
        )
        if source_types.default is None:
            self.problem(f"{where}.source_types.default", f"{who} needs a default source type.")
        competitors_allowed = []
        for k, code in enumerate(entry.competitors.allowed):
            if code not in self.competitor_codes:
                self.problem(f"{where}.competitors.allowed[{k}]", f"'{code}' is not one of the competitors.")
            elif code in competitors_allowed:
                self.problem(f"{where}.competitors.allowed[{k}]", f"'{code}' is listed twice.")
            else:
                competitors_allowed.append(code)
        resolved = tuple(competitors_allowed) if entry.competitors.allowed else self.competitor_codes
        for k, code in enumerate(entry.competitors.auto_include):
            if code not in resolved:
                self.problem(
                    f"{where}.competitors.auto_include[{k}]",
                    f"'{code}' cannot be included automatically: it is not one of the allowed competitors.",
                )
        return {
            "auto_conversion": AutoConversion(
                conversion.enabled, conversion.account_classification, conversion.credit_rating
            ),
            "priority_level": entry.priority_level,
            "importance": entry.importance,
            "source_types": source_types,
            "lost_reasons": self.choice(
                f"{where}.lost_reasons", entry.lost_reasons, self.lost_reason_codes, "lost reasons"
            ),
            "competitors": CompetitorChoice(
                resolved,
                self.distinct(f"{where}.competitors.auto_include", entry.competitors.auto_include),
                all_allowed=not entry.competitors.allowed,
            ),
        }


def _with_article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _levels_text(levels: Sequence[int]) -> str:
    return ", ".join(map(str, levels)) or "none enabled"
