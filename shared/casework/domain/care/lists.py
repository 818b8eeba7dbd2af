"""A care module's own lists: statuses, categories, reasons, competitors and the prioritisation model.

Each model is both what an admin writes in the configuration document and what the engine reads. The
checks that need more than one entry (codes used twice, a category's parent, the prioritisation matrix)
run in the second round of validation (see ``casework.domain.care.document``) and return the list as the
rest of the configuration sees it: duplicates dropped, levels sorted, the matrix filled in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, Protocol, TypeVar

from casework.domain.care.document import (
    Code,
    ConfigModel,
    DurationValue,
    Flag,
    LevelNumber,
    Name,
    NonEmpty,
    OptionalText,
    Review,
)
from casework.domain.care.lifecycle import (
    CATEGORY_LIST_LABELS,
    OPTIONAL_STATES,
    SR_CLASSIFICATIONS,
    STATES,
)


class Status(ConfigModel):
    name: Name
    state: str  # checked against the module's states with the cross-checks, for a clearer message
    description: OptionalText = None


class Category(ConfigModel):
    """An entry of a hierarchical category list."""

    code: Code
    name: Name
    parent: Code | None = None


class ClassifiedCategory(Category):
    """A service request category, classified the ITIL way."""

    classification: Literal[SR_CLASSIFICATIONS]  # type: ignore[valid-type]


class ResolutionCategory(Category):
    """A response or resolution category; with ``requires_acceptance`` the contact must accept the answer."""

    requires_acceptance: Flag = False


class Reason(ConfigModel):
    """A cancellation or lost reason."""

    code: Code
    name: Name


class Competitor(Reason):
    website: OptionalText = None
    description: OptionalText = None


class ImportanceLevel(ConfigModel):
    code: Code
    label: Name


class CoverageReason(Reason):
    """Why a physical good is returned, whether that is covered (free replacement) and for how long after
    the warehouse issued it."""

    covered: Flag
    return_period: DurationValue


class SeverityLevel(ConfigModel):
    """An enabled impact or urgency level. Level 1 is the most severe."""

    level: LevelNumber
    label: Name


class PriorityLevel(SeverityLevel):
    """An enabled priority. Level 1 is the most urgent; ``complete_within`` is how long it may take."""

    complete_within: DurationValue | None = None


class MatrixEntry(ConfigModel):
    impact: LevelNumber
    urgency: LevelNumber
    priority: LevelNumber


class Prioritisation(ConfigModel):
    """The service request prioritisation model. Once checked, ``matrix`` has an entry for every enabled
    impact x urgency combination (the ones the admin left out are filled in, see ``populate_matrix``)."""

    impact_levels: NonEmpty[tuple[SeverityLevel, ...]]
    default_impact: LevelNumber
    urgency_levels: NonEmpty[tuple[SeverityLevel, ...]]
    default_urgency: LevelNumber
    priorities: NonEmpty[tuple[PriorityLevel, ...]]
    matrix: tuple[MatrixEntry, ...] = ()

    def priority(self, impact: int, urgency: int) -> PriorityLevel:
        """The priority for this impact and urgency; KeyError for levels that are not enabled."""
        wanted = next((e.priority for e in self.matrix if (e.impact, e.urgency) == (impact, urgency)), None)
        if wanted is None:
            raise KeyError((impact, urgency))
        return next(p for p in self.priorities if p.level == wanted)

    @property
    def default_priority(self) -> PriorityLevel:
        return self.priority(self.default_impact, self.default_urgency)

    def checked(self, review: Review) -> Prioritisation:
        where = "prioritisation"
        impacts = _distinct_levels(review, f"{where}.impact_levels", self.impact_levels, "Impact")
        urgencies = _distinct_levels(review, f"{where}.urgency_levels", self.urgency_levels, "Urgency")
        priorities = _distinct_levels(review, f"{where}.priorities", self.priorities, "Priority")
        enabled = {
            "impact": [x.level for x in impacts],
            "urgency": [x.level for x in urgencies],
            "priority": [x.level for x in priorities],
        }
        for axis, chosen in (("impact", self.default_impact), ("urgency", self.default_urgency)):
            if chosen not in enabled[axis]:
                review.problem(
                    f"{where}.default_{axis}",
                    f"The default {axis} {chosen} is not one of the {axis} levels "
                    f"({_levels_text(enabled[axis])}).",
                )
        explicit: dict[tuple[int, int], int] = {}
        first_at: dict[tuple[int, int], int] = {}
        for k, entry in enumerate(self.matrix):
            usable = True
            for axis, value in (
                ("impact", entry.impact),
                ("urgency", entry.urgency),
                ("priority", entry.priority),
            ):
                if value not in enabled[axis]:
                    review.problem(
                        f"{where}.matrix[{k}].{axis}",
                        f"{axis.capitalize()} {value} is not one of the {axis} levels "
                        f"({_levels_text(enabled[axis])}).",
                    )
                    usable = False
            combination = (entry.impact, entry.urgency)
            if combination in first_at:
                review.problem(
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
        return self.model_copy(
            update={
                "impact_levels": impacts,
                "urgency_levels": urgencies,
                "priorities": priorities,
                "matrix": tuple(
                    MatrixEntry(impact=i, urgency=u, priority=p) for (i, u), p in sorted(matrix.items())
                ),
            }
        )


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


_Level = TypeVar("_Level", bound=SeverityLevel)


def _distinct_levels(
    review: Review, location: str, entries: Sequence[_Level], what: str
) -> tuple[_Level, ...]:
    kept: list[_Level] = []
    seen: dict[int, int] = {}
    for i, entry in enumerate(entries):
        if entry.level in seen:
            review.problem(
                f"{location}[{i}].level",
                f"{what} level {entry.level} is already defined at {location}[{seen[entry.level]}].",
            )
        else:
            seen[entry.level] = i
            kept.append(entry)
    return tuple(sorted(kept, key=lambda entry: entry.level))


def _levels_text(levels: Sequence[int]) -> str:
    return ", ".join(map(str, levels)) or "none enabled"


# --- checks over a whole list ----------------------------------------------------------------------------


def checked_statuses(review: Review, entries: Sequence[Status]) -> tuple[Status, ...]:
    """The module's statuses that can be used; remembers each one's state for the types' checks."""
    states = STATES[review.module]
    kept: list[Status] = []
    repeats = review.repeated(e.name for e in entries)
    for i, entry in enumerate(entries):
        where = f"statuses[{i}]"
        usable = True
        if entry.state not in states:
            review.problem(
                f"{where}.state",
                f"'{entry.state}' is not {review.a_label} state; use one of {', '.join(states)}.",
            )
            review.misconfigured_statuses.add(entry.name)
            usable = False
        if i in repeats:
            review.problem(
                f"{where}.name", f"Status '{entry.name}' is already defined at statuses[{repeats[i]}]."
            )
            usable = False
        if usable:
            kept.append(entry)
    for state in states:
        if state not in OPTIONAL_STATES.get(review.module, ()) and not any(s.state == state for s in kept):
            review.problem("statuses", f"No status has the '{state}' state; every {review.label} needs one.")
    review.status_states = {s.name: s.state for s in kept}
    return tuple(kept)


class _Coded(Protocol):
    @property
    def code(self) -> str: ...


_Entry = TypeVar("_Entry", bound=_Coded)


def unique_codes(review: Review, location: str, entries: Sequence[_Entry]) -> tuple[_Entry, ...]:
    """The entries whose code was not used by an earlier entry (codes compare case-insensitively); the
    codes kept become the list's codes for the types' checks."""
    repeats = review.repeated(e.code for e in entries)
    for i, first in repeats.items():
        review.problem(
            f"{location}[{i}].code", f"Code '{entries[i].code}' is already used by {location}[{first}]."
        )
    kept = tuple(entry for i, entry in enumerate(entries) if i not in repeats)
    review.list_codes[location] = tuple(e.code for e in kept)
    return kept


_Category = TypeVar("_Category", bound=Category)


def checked_categories(review: Review, list_name: str, entries: Sequence[_Category]) -> tuple[_Category, ...]:
    """A category list with every parent known and no category its own ancestor."""
    kept = unique_codes(review, list_name, entries)
    by_code = {c.code: c for c in kept}
    index = {id(c): i for i, c in enumerate(entries)}
    what = CATEGORY_LIST_LABELS[list_name]
    for c in kept:
        if c.parent is None:
            continue
        where = f"{list_name}[{index[id(c)]}].parent"
        if c.parent == c.code:
            review.problem(where, f"Category '{c.code}' cannot be its own parent.")
        elif c.parent not in by_code:
            review.problem(where, f"Parent '{c.parent}' is not one of the {what}.")
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
            review.problem(
                f"{list_name}[{index[id(by_code[first])]}].parent",
                f"The {what} {' -> '.join(repr(x) for x in ordered)} are each other's parents; "
                "one of them must be at the top or under another category.",
            )
    return kept
