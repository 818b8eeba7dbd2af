"""The types of a care module: which statuses a type uses, who may move between them, what it picks from the
module's lists, what it communicates, and what belongs to one module only (an activity's services, a lead's
conversion). The parts of a type are in ``casework.domain.care.type_parts``.

Each model is both what an admin writes and what the engine reads. The second round of validation
(``checked``) resolves what the document may leave out: a type's code (generated from its name), which type
is the default, each state's default status, the transition rules (none listed: every move the life cycle
allows) and each pick's allowed codes ("none listed" means all; the dump keeps it as such, so codes added to
a module list later are allowed too). Three lists stay "empty means all" even at run time because what they
refer to lives outside the configuration and may grow: products, activity types and creating units.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from typing import Annotated, Any, ClassVar, Self

from pydantic import BeforeValidator, StringConstraints

from casework.domain.care.document import (
    Code,
    ConfigModel,
    DurationValue,
    Flag,
    LevelNumber,
    Name,
    NotASetting,
    OptionalText,
    Review,
)
from casework.domain.care.lifecycle import (
    CATEGORY_LIST_LABELS,
    CATEGORY_LISTS,
    DEFAULT_LEAD_PRIORITY,
    GENERATED_CODE_MAX_LENGTH,
    LEAD_SOURCE_TYPES,
    SERVICE_TIME_UNITS,
)
from casework.domain.care.type_parts import (
    NO_CHOICE,
    AutoConversion,
    Choice,
    Communication,
    CompetitorChoice,
    ServiceSpec,
    SourceTypeChoice,
    TransitionRule,
    TypeStatus,
    checked_communications,
    checked_transition_rules,
    checked_type_statuses,
)


def _none_as_blank(value: Any) -> Any:
    return "" if value is None else value


class TypeConfig(ConfigModel):
    """One type of a module. The fields of the other modules keep their neutral defaults here and are no
    settings of this module's types (see ``NotASetting``)."""

    module: ClassVar[str] = ""

    name: Name
    # Blank or left out: generated from the name by the checks (see ``generate_code``).
    code: Annotated[
        str,
        BeforeValidator(_none_as_blank, json_schema_input_type=str | None),
        StringConstraints(strict=True, strip_whitespace=True, max_length=40),
    ] = ""
    default: Flag = False
    description: OptionalText = None
    complete_within: DurationValue | None = None
    recalculate_on_responding: NotASetting[bool] = False
    statuses: tuple[TypeStatus, ...] = ()
    transition_rules: tuple[TransitionRule, ...] = ()
    categories: dict[str, Choice] = {}  # once checked: every state of CATEGORY_LISTS[module] -> the pick
    products: tuple[Code, ...] = ()
    cancellation_reasons: Choice = NO_CHOICE
    create_business_units: tuple[Code, ...] = ()
    communications: tuple[Communication, ...] = ()
    activity_types: NotASetting[tuple[str, ...]] = ()
    services: NotASetting[tuple[ServiceSpec, ...]] = ()
    auto_conversion: NotASetting[AutoConversion] = AutoConversion()
    priority_level: NotASetting[int] = DEFAULT_LEAD_PRIORITY
    importance: NotASetting[str | None] = None
    source_types: NotASetting[Choice] = NO_CHOICE
    lost_reasons: NotASetting[Choice] = NO_CHOICE
    competitors: NotASetting[CompetitorChoice] = CompetitorChoice()

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
        return self.categories.get(state, NO_CHOICE).allowed

    def default_category(self, state: str) -> str | None:
        return self.categories.get(state, NO_CHOICE).default

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

    # the checks

    def checked(self, review: Review, i: int, code: str, is_default: bool) -> Self:
        where = f"types[{i}]"
        who = f"Type '{self.name}'"
        statuses = checked_type_statuses(review, where, who, self.statuses)
        lists = CATEGORY_LISTS[self.module]
        for state in self.categories:
            if state not in lists:
                review.problem(
                    f"{where}.categories.{state}",
                    f"Categories are chosen only for the {', '.join(repr(s) for s in lists)} state(s), "
                    f"not for '{state}'.",
                )
        categories = {}
        for state, list_name in lists.items():
            pick = self.categories.get(state, NO_CHOICE)
            if any(s.state == state for s in statuses):
                categories[state] = pick.checked(
                    review,
                    f"{where}.categories.{state}",
                    review.codes(list_name),
                    CATEGORY_LIST_LABELS[list_name],
                )
                continue
            # A type that never enters the state (e.g. no temporary resolution) has no categories for it.
            if pick.allowed or pick.default is not None:
                review.problem(
                    f"{where}.categories.{state}",
                    f"{who} has no status for the '{state}' state, so it cannot choose categories for it.",
                )
            categories[state] = NO_CHOICE
        update: dict[str, Any] = {
            "code": code,
            "default": is_default,
            "statuses": statuses,
            "transition_rules": checked_transition_rules(review, where, who, self.transition_rules, statuses),
            "categories": categories,
            "products": review.distinct(f"{where}.products", self.products),
            "cancellation_reasons": self.cancellation_reasons.checked(
                review,
                f"{where}.cancellation_reasons",
                review.codes("cancellation_reasons"),
                "cancellation reasons",
            ),
            "create_business_units": review.distinct(
                f"{where}.create_business_units", self.create_business_units
            ),
            "communications": checked_communications(review, f"{where}.communications", self.communications),
        }
        update.update(self.checked_specifics(review, where, who))
        return self.model_copy(update=update)

    def checked_specifics(self, review: Review, where: str, who: str) -> dict[str, Any]:
        """What one module's types add to the checks: the fields to replace with their checked form."""
        return {}

    def checked_activity_types(self, review: Review, where: str) -> tuple[str, ...]:
        kept = review.distinct(where, self.activity_types)
        if review.activity_type_codes is not None:
            for k, code in enumerate(self.activity_types):
                if code not in review.activity_type_codes:
                    known = ", ".join(sorted(review.activity_type_codes)) or "none are configured"
                    review.problem(f"{where}[{k}]", f"'{code}' is not an activity type ({known}).")
        return kept


class ServiceRequestType(TypeConfig):
    module: ClassVar[str] = "service_request"

    recalculate_on_responding: Flag = False
    activity_types: tuple[Code, ...] = ()

    def checked_specifics(self, review: Review, where: str, who: str) -> dict[str, Any]:
        return {"activity_types": self.checked_activity_types(review, f"{where}.activity_types")}


class ActivityType(TypeConfig):
    module: ClassVar[str] = "activity"

    services: tuple[ServiceSpec, ...] = ()

    def checked_specifics(self, review: Review, where: str, who: str) -> dict[str, Any]:
        kept: list[ServiceSpec] = []
        for k, entry in enumerate(self.services):
            if entry.minimum_time.unit not in SERVICE_TIME_UNITS:
                review.problem(
                    f"{where}.services[{k}].minimum_time",
                    f"Minimum time spent is given in minutes, hours or days, not {entry.minimum_time.unit}.",
                )
            if any(s.product == entry.product for s in kept):
                review.problem(
                    f"{where}.services[{k}].product", f"Service '{entry.product}' is listed twice."
                )
                continue
            kept.append(entry)
        return {"services": tuple(kept)}


class LeadType(TypeConfig):
    module: ClassVar[str] = "lead"

    activity_types: tuple[Code, ...] = ()
    auto_conversion: AutoConversion = AutoConversion()
    priority_level: LevelNumber = DEFAULT_LEAD_PRIORITY
    importance: Code | None = None
    source_types: SourceTypeChoice = SourceTypeChoice()
    lost_reasons: Choice = NO_CHOICE
    competitors: CompetitorChoice = CompetitorChoice()

    def checked_specifics(self, review: Review, where: str, who: str) -> dict[str, Any]:
        conversion = self.auto_conversion
        if conversion.enabled:
            for key, value, what in (
                ("account_classification", conversion.account_classification, "an account classification"),
                ("credit_rating", conversion.credit_rating, "a credit rating"),
            ):
                if value is None:
                    review.problem(
                        f"{where}.auto_conversion.{key}",
                        f"{who} converts won leads into accounts automatically, so it needs {what}.",
                    )
        if self.importance is not None and self.importance not in review.codes("importance_levels"):
            review.problem(f"{where}.importance", f"'{self.importance}' is not one of the importance levels.")
        source_types = self.source_types.checked(
            review, f"{where}.source_types", LEAD_SOURCE_TYPES, "source types"
        )
        if source_types.default is None:
            review.problem(f"{where}.source_types.default", f"{who} needs a default source type.")
        known_competitors = review.codes("competitors")
        allowed: list[str] = []
        for k, code in enumerate(self.competitors.allowed):
            if code not in known_competitors:
                review.problem(
                    f"{where}.competitors.allowed[{k}]", f"'{code}' is not one of the competitors."
                )
            elif code in allowed:
                review.problem(f"{where}.competitors.allowed[{k}]", f"'{code}' is listed twice.")
            else:
                allowed.append(code)
        resolved = tuple(allowed) if self.competitors.allowed else known_competitors
        for k, code in enumerate(self.competitors.auto_include):
            if code not in resolved:
                review.problem(
                    f"{where}.competitors.auto_include[{k}]",
                    f"'{code}' cannot be included automatically: it is not one of the allowed competitors.",
                )
        return {
            "activity_types": self.checked_activity_types(review, f"{where}.activity_types"),
            "source_types": source_types,
            "lost_reasons": self.lost_reasons.checked(
                review, f"{where}.lost_reasons", review.codes("lost_reasons"), "lost reasons"
            ),
            "competitors": CompetitorChoice.model_construct(
                allowed=resolved,
                auto_include=review.distinct(
                    f"{where}.competitors.auto_include", self.competitors.auto_include
                ),
                all_allowed=not self.competitors.allowed,
            ),
        }


def checked_types(review: Review, entries: Sequence[TypeConfig]) -> tuple[TypeConfig, ...]:
    """The module's types with names and codes unique, codes generated and exactly one default."""
    for i, first in review.repeated(e.name for e in entries).items():
        review.problem(f"types[{i}].name", f"Type '{entries[i].name}' is already defined at types[{first}].")
    for i, first in review.repeated(e.code for e in entries).items():
        review.problem(
            f"types[{i}].code", f"Code '{entries[i].code}' is already used by type '{entries[first].name}'."
        )
    # Explicit codes are placed first so that a generated code never takes one an admin chose.
    taken = [e.code for e in entries if e.code]
    codes = []
    for entry in entries:
        code = entry.code or generate_code(entry.name, taken)
        taken.append(code)
        codes.append(code)
    marked = [i for i, entry in enumerate(entries) if entry.default]
    for i in marked[1:]:
        review.problem(
            f"types[{i}].default",
            f"Only one type can be the default, and '{entries[marked[0]].name}' already is.",
        )
    default_index = marked[0] if marked else 0
    return tuple(entry.checked(review, i, codes[i], i == default_index) for i, entry in enumerate(entries))


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
