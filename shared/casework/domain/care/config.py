"""A customer care module's configuration: statuses, categories, reasons, prioritisation and types.

A business configures each module (service requests, activities, leads) once, as one JSON document that an
admin edits. ``parse_config`` checks that document and returns its ``ModuleConfig``: one pydantic model per
concept, the same models that describe the document (``schemas/module-configuration.schema.json`` is
generated from them) and that the engine reads. Checking also resolves what the document may leave out
(generated type codes, default statuses and types, "empty means all" picks, the prioritisation matrix), so
``model_dump(mode="json")`` is the normalised form, and parsing it again gives it back unchanged.

An invalid document raises ``InvalidConfiguration`` listing every problem found, each with a location such
as ``types[1].statuses`` and a message written for the admin who has to fix it. Problems come in two rounds
(see ``casework.domain.care.document``): the document's shape first, all of its problems together; then the
references between sections, all of those together.

The parts live beside this module: ``lifecycle`` (states and moves), ``lists`` (the module's lists),
``case_types`` (its types).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from casework.domain.care.case_types import (
    ActivityType,
    LeadType,
    ServiceRequestType,
    TypeConfig,
    checked_types,
    generate_code,
)
from casework.domain.care.document import (
    ConfigModel,
    ConfigurationProblems,
    InvalidConfiguration,
    Name,
    NonEmpty,
    NotASetting,
    Review,
    shape_problems,
)
from casework.domain.care.lifecycle import (
    CATEGORY_LISTS,
    LEAD_PRIORITY_LEVELS,
    LEAD_SOURCE_TYPES,
    MODULE_LABELS,
    MODULES,
    MOVES,
    OPTIONAL_STATES,
    SR_CLASSIFICATIONS,
    STATES,
    TERMINAL_STATES,
)
from casework.domain.care.lists import (
    Category,
    ClassifiedCategory,
    Competitor,
    CoverageReason,
    ImportanceLevel,
    Prioritisation,
    PriorityLevel,
    Reason,
    ResolutionCategory,
    Status,
    checked_categories,
    checked_statuses,
    unique_codes,
)
from casework.domain.care.type_parts import SourceType

__all__ = [
    "CATEGORY_LISTS",
    "LEAD_PRIORITY_LEVELS",
    "LEAD_SOURCE_TYPES",
    "MODULES",
    "MOVES",
    "OPTIONAL_STATES",
    "SR_CLASSIFICATIONS",
    "STATES",
    "TERMINAL_STATES",
    "ActivityConfig",
    "CoverageReason",
    "InvalidConfiguration",
    "LeadConfig",
    "ModuleConfig",
    "ServiceRequestConfig",
    "TypeConfig",
    "generate_code",
    "parse_config",
    "source_type_label",
]

# The document's key "categories" is the list of a module's own categories; the model keeps it as
# ``main_categories`` because ``categories(list_name)`` reads any of the lists.
_CATEGORY_FIELDS = {"categories": "main_categories"}
_PRIORITY_KEYS = tuple(str(level) for level in LEAD_PRIORITY_LEVELS)


def _priority_key(key: Any) -> int:
    """A priority label's key, written as a JSON key ("1" .. "10"), read as the level it names."""
    if key not in _PRIORITY_KEYS:
        expected = ", ".join(map(repr, _PRIORITY_KEYS[:-1])) + f" or {_PRIORITY_KEYS[-1]!r}"
        raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})
    return int(key)


_PriorityKey = Annotated[int, PlainValidator(_priority_key, json_schema_input_type=Literal[_PRIORITY_KEYS])]


def source_type_label(source_type: str) -> str:
    """The label a lead source type has until the business gives it one: "Recommended by contact"."""
    return source_type.replace("_", " ").capitalize()


class ModuleConfig(ConfigModel):
    """A module's whole configuration. Build it with ``parse_config``.

    The parts of the other modules keep their neutral defaults and are no settings here: ``prioritisation``
    and ``return_coverage_reasons`` belong to service requests; lost reasons, competitors, labels and
    importance levels to leads.
    """

    module: ClassVar[str] = ""

    status_definitions: tuple[Status, ...] = Field(default=(), alias="statuses")
    main_categories: tuple[Category, ...] = Field(default=(), alias="categories")
    response_categories: NotASetting[tuple[ResolutionCategory, ...]] = ()
    temporary_resolution_categories: NotASetting[tuple[ResolutionCategory, ...]] = ()
    final_resolution_categories: NotASetting[tuple[ResolutionCategory, ...]] = ()
    cancellation_reasons: tuple[Reason, ...] = ()
    prioritisation: NotASetting[Prioritisation | None] = None
    return_coverage_reasons: NotASetting[tuple[CoverageReason, ...]] = ()
    lost_reasons: NotASetting[tuple[Reason, ...]] = ()
    competitors: NotASetting[tuple[Competitor, ...]] = ()
    source_type_labels: NotASetting[dict[str, str]] = {}  # once checked: every source type
    priority_labels: NotASetting[dict[int, str]] = {}  # once checked: levels 1..10
    importance_levels: NotASetting[tuple[ImportanceLevel, ...]] = ()
    types: NonEmpty[tuple[TypeConfig, ...]]

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
        """One of the category lists (see CATEGORY_LISTS); KeyError for a list the module does not keep."""
        if list_name not in CATEGORY_LISTS[self.module].values():
            raise KeyError(list_name)
        entries: tuple[Category, ...] = getattr(self, _CATEGORY_FIELDS.get(list_name, list_name))
        return entries

    def category(self, list_name: str, code: str) -> Category:
        """A category of one of the lists; KeyError for an unknown list or code."""
        for c in self.categories(list_name):
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
        category = self.category(list_name, code)
        return isinstance(category, ResolutionCategory) and category.requires_acceptance

    def priority(self, impact: int, urgency: int) -> PriorityLevel:
        if self.prioritisation is None:
            raise ValueError(f"The {MODULE_LABELS[self.module]} module has no prioritisation model.")
        return self.prioritisation.priority(impact, urgency)

    def coverage_reason(self, code: str) -> CoverageReason:
        for reason in self.return_coverage_reasons:
            if reason.code == code:
                return reason
        raise KeyError(code)

    # the checks

    @model_validator(mode="wrap")
    @classmethod
    def _cross_checked(
        cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo
    ) -> Self:
        document = handler(data)  # the shape: pydantic's errors, all at once
        codes = (info.context or {}).get("activity_type_codes")
        return document.checked(Review(cls.module, codes))

    def checked(self, review: Review) -> Self:
        """The configuration with every reference checked and everything left out resolved; raises
        ``ConfigurationProblems`` listing every problem."""
        update: dict[str, Any] = {"status_definitions": checked_statuses(review, self.status_definitions)}
        for list_name in dict.fromkeys(CATEGORY_LISTS[self.module].values()):
            attr = _CATEGORY_FIELDS.get(list_name, list_name)
            update[attr] = checked_categories(review, list_name, getattr(self, attr))
        update["cancellation_reasons"] = unique_codes(
            review, "cancellation_reasons", self.cancellation_reasons
        )
        update.update(self.checked_specifics(review))
        update["types"] = checked_types(review, self.types)
        review.raise_if_any()
        return self.model_copy(update=update)

    def checked_specifics(self, review: Review) -> dict[str, Any]:
        """What one module adds to the checks: the fields to replace with their checked form."""
        return {}


class ServiceRequestConfig(ModuleConfig):
    module: ClassVar[str] = "service_request"

    main_categories: tuple[ClassifiedCategory, ...] = Field(default=(), alias="categories")
    response_categories: tuple[ResolutionCategory, ...] = ()
    temporary_resolution_categories: tuple[ResolutionCategory, ...] = ()
    final_resolution_categories: tuple[ResolutionCategory, ...] = ()
    prioritisation: Prioritisation
    return_coverage_reasons: tuple[CoverageReason, ...] = ()
    types: NonEmpty[tuple[ServiceRequestType, ...]]

    def checked_specifics(self, review: Review) -> dict[str, Any]:
        return {
            "prioritisation": self.prioritisation.checked(review),
            "return_coverage_reasons": unique_codes(
                review, "return_coverage_reasons", self.return_coverage_reasons
            ),
        }


class ActivityConfig(ModuleConfig):
    module: ClassVar[str] = "activity"

    types: NonEmpty[tuple[ActivityType, ...]]


class LeadConfig(ModuleConfig):
    module: ClassVar[str] = "lead"

    lost_reasons: tuple[Reason, ...] = ()
    competitors: tuple[Competitor, ...] = ()
    source_type_labels: dict[SourceType, Name] = {}
    priority_labels: dict[_PriorityKey, Name] = {}
    importance_levels: tuple[ImportanceLevel, ...] = ()
    types: NonEmpty[tuple[LeadType, ...]]

    def checked_specifics(self, review: Review) -> dict[str, Any]:
        return {
            "lost_reasons": unique_codes(review, "lost_reasons", self.lost_reasons),
            "competitors": unique_codes(review, "competitors", self.competitors),
            "importance_levels": unique_codes(review, "importance_levels", self.importance_levels),
            "source_type_labels": {
                key: self.source_type_labels.get(key, source_type_label(key)) for key in LEAD_SOURCE_TYPES
            },
            "priority_labels": {
                level: self.priority_labels.get(level, str(level)) for level in LEAD_PRIORITY_LEVELS
            },
        }


CONFIG_MODELS: dict[str, type[ModuleConfig]] = {
    "service_request": ServiceRequestConfig,
    "activity": ActivityConfig,
    "lead": LeadConfig,
}


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
        return CONFIG_MODELS[module].model_validate(
            dict(raw), context={"activity_type_codes": activity_type_codes}
        )
    except ValidationError as exc:
        raise InvalidConfiguration(module, shape_problems(exc.errors(), module)) from None
    except ConfigurationProblems as exc:
        raise InvalidConfiguration(module, exc.problems) from None
