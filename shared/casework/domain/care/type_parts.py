"""The parts of a care module's type (``casework.domain.care.case_types``): which statuses it uses and who may
move between them, its picks from the module's lists, its communications, an activity type's services and a
lead type's conversion; and the checks of the parts that need the module's statuses.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Annotated, Literal, Self

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import Field, StringConstraints, ValidationInfo, field_serializer, field_validator

from casework.domain.care.document import Code, ConfigModel, DurationValue, Flag, Name, NotASetting, Review
from casework.domain.care.lifecycle import LEAD_SOURCE_TYPES, MOVES, OPTIONAL_STATES, STATES, TERMINAL_STATES

_TEMPLATES = SandboxedEnvironment()
SourceType = Literal[LEAD_SOURCE_TYPES]  # type: ignore[valid-type]


class TypeStatus(ConfigModel):
    name: Name
    default: Flag = False  # once checked: the status a case of this type gets on entering ``state``
    state: NotASetting[str] = ""  # the module status's state, filled in by the checks


class TransitionRule(ConfigModel):
    """Who may move a case of a type from one status to another. Without users and business units, anybody
    the module lets work on the case may; otherwise the user must be listed or belong to a listed unit."""

    from_status: Name = Field(alias="from")
    to_status: Name = Field(alias="to")
    users: tuple[Code, ...] = ()
    business_units: tuple[Code, ...] = ()

    def permits(self, username: str, business_units: Collection[str]) -> bool:
        if not self.users and not self.business_units:
            return True
        return username in self.users or any(unit in self.business_units for unit in business_units)


class Choice(ConfigModel):
    """A type's pick from a module list: the allowed codes and the code preselected for the user, if any.

    Once checked, ``allowed`` is spelled out (empty only when the module list is, or for categories of a
    state the type never enters) and a single allowed code is the default. "None listed: all of them" is
    remembered in ``all_allowed`` and dumped as an empty list again."""

    allowed: tuple[Code, ...] = ()
    default: Code | None = None
    all_allowed: NotASetting[bool] = False

    @field_serializer("allowed")
    def _listed(self, allowed: tuple[str, ...]) -> list[str]:
        return [] if self.all_allowed else list(allowed)

    def checked(self, review: Review, where: str, universe: Sequence[str], plural: str) -> Self:
        """Every code known and listed once, the default among the allowed ones."""
        allowed: list[str] = []
        for k, code in enumerate(self.allowed):
            if code not in universe:
                review.problem(f"{where}.allowed[{k}]", f"'{code}' is not one of the {plural}.")
            elif code in allowed:
                review.problem(f"{where}.allowed[{k}]", f"'{code}' is listed twice.")
            else:
                allowed.append(code)
        resolved = tuple(allowed) if self.allowed else tuple(universe)
        default = self.default
        if default is not None and default not in resolved:
            if default not in universe:
                review.problem(f"{where}.default", f"'{default}' is not one of the {plural}.")
            else:
                review.problem(
                    f"{where}.default", f"The default '{default}' is not one of the allowed {plural}."
                )
        if default is None and len(resolved) == 1:
            default = resolved[0]
        return self.model_copy(
            update={"allowed": resolved, "default": default, "all_allowed": not self.allowed}
        )


class SourceTypeChoice(Choice):
    allowed: tuple[SourceType, ...] = ()
    default: SourceType | None = None


class CompetitorChoice(ConfigModel):
    allowed: tuple[Code, ...] = ()
    auto_include: tuple[Code, ...] = ()  # added to every new lead of the type
    all_allowed: NotASetting[bool] = False  # as Choice.all_allowed

    @field_serializer("allowed")
    def _listed(self, allowed: tuple[str, ...]) -> list[str]:
        return [] if self.all_allowed else list(allowed)


NO_CHOICE = Choice()


class Communication(ConfigModel):
    """A message sent when a case of the type enters ``on_state``; subject and body are Jinja2 templates,
    rendered in a sandbox, checked to compile."""

    on_state: str
    to: Literal["contact", "assignee"]
    subject: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=250)]
    body: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=20_000)]
    channels: tuple[Literal["email", "sms"], ...] = Field(("email",), min_length=1, max_length=2)

    @field_validator("channels")
    @classmethod
    def _sms_to_the_contact(cls, channels: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if "sms" in channels and info.data.get("to") != "contact":
            raise ValueError("SMS goes to the contact's phone; users get email.")
        return tuple(dict.fromkeys(channels))


class ServiceSpec(ConfigModel):
    """A one-time service an activity type provides, and how its time spent is logged."""

    product: Code
    classification: Literal["mandatory", "optional"]
    minimum_time: DurationValue
    logging: Literal["fixed", "flexible"] = "flexible"  # fixed: always the minimum time
    auto_applied: Flag = False  # added to a new activity with the minimum time
    resource_required: Flag = False
    resource_confirmation: Flag = False

    @property
    def mandatory(self) -> bool:
        return self.classification == "mandatory"

    @property
    def fixed(self) -> bool:
        return self.logging == "fixed"


class AutoConversion(ConfigModel):
    """Whether a won lead of the type becomes an account automatically, and with which settings."""

    enabled: Flag = False
    account_classification: Name | None = None
    credit_rating: Name | None = None


def checked_type_statuses(
    review: Review, where: str, who: str, entries: Sequence[TypeStatus]
) -> tuple[TypeStatus, ...]:
    listed: list[TypeStatus] = []
    for k, entry in enumerate(entries):
        if entry.name in review.misconfigured_statuses:
            continue
        if entry.name not in review.status_states:
            review.problem(f"{where}.statuses[{k}].name", f"'{entry.name}' is not {review.a_label} status.")
        elif any(s.name == entry.name for s in listed):
            review.problem(f"{where}.statuses[{k}].name", f"'{entry.name}' is listed twice.")
        else:
            listed.append(entry.model_copy(update={"state": review.status_states[entry.name]}))
    defaults = set()
    for state in STATES[review.module]:
        in_state = [s.name for s in listed if s.state == state]
        marked = [s.name for s in listed if s.state == state and s.default]
        if not in_state:
            if state not in OPTIONAL_STATES.get(review.module, ()):
                review.problem(f"{where}.statuses", f"{who} has no status for the '{state}' state.")
        elif len(in_state) == 1:
            defaults.add(in_state[0])
        elif len(marked) == 1:
            defaults.add(marked[0])
        elif not marked:
            review.problem(
                f"{where}.statuses",
                f"{who} has several statuses for the '{state}' state ({', '.join(in_state)}); "
                "mark one of them as the default.",
            )
        else:
            review.problem(
                f"{where}.statuses",
                f"{who} marks {', '.join(marked)} as the default for the '{state}' state; mark only one.",
            )
    return tuple(s.model_copy(update={"default": s.name in defaults}) for s in listed)


def _move_allowed(module: str, from_state: str, to_state: str) -> bool:
    if from_state == to_state:
        return from_state not in TERMINAL_STATES[module]
    return (from_state, to_state) in MOVES[module]


def checked_transition_rules(
    review: Review, where: str, who: str, entries: Sequence[TransitionRule], statuses: tuple[TypeStatus, ...]
) -> tuple[TransitionRule, ...]:
    module = review.module
    state_of = {s.name: s.state for s in statuses}
    if not entries:
        return tuple(
            TransitionRule.model_construct(from_status=a.name, to_status=b.name)
            for a in statuses
            for b in statuses
            if a.name != b.name and _move_allowed(module, a.state, b.state)
        )
    problems_before = len(review.problems)
    names_misconfigured_status = False
    rules: list[TransitionRule] = []
    first_at: dict[tuple[str, str], int] = {}
    for k, entry in enumerate(entries):
        at = f"{where}.transition_rules[{k}]"
        ends = (("from", entry.from_status), ("to", entry.to_status))
        unknown = [(end, name) for end, name in ends if name not in state_of]
        for end, name in unknown:
            if name in review.misconfigured_statuses:
                names_misconfigured_status = True
                continue
            review.problem(
                f"{at}.{end}", f"'{name}' is not one of the statuses of {who[0].lower()}{who[1:]}."
            )
        if unknown:
            continue
        a, b = entry.from_status, entry.to_status
        if a == b:
            review.problem(at, f"A rule must lead to another status; this one goes from '{a}' to itself.")
            continue
        if not _move_allowed(module, state_of[a], state_of[b]):
            review.problem(
                at,
                f"Moving from '{a}' ({state_of[a]}) to '{b}' ({state_of[b]}) is not part of the "
                f"{review.label} life cycle.",
            )
            continue
        if (a, b) in first_at:
            review.problem(
                at,
                f"The move from '{a}' to '{b}' already has a rule at "
                f"{where}.transition_rules[{first_at[(a, b)]}]; list all its users and units there.",
            )
            continue
        first_at[(a, b)] = k
        rules.append(
            entry.model_copy(
                update={
                    "users": review.distinct(f"{at}.users", entry.users),
                    "business_units": review.distinct(f"{at}.business_units", entry.business_units),
                }
            )
        )
    initial = next((s.name for s in statuses if s.state == "pending" and s.default), None)
    if len(review.problems) == problems_before and not names_misconfigured_status and initial is not None:
        check_flow(review, where, initial, statuses, rules)
    return tuple(rules)


def check_flow(
    review: Review, where: str, initial: str, statuses: tuple[TypeStatus, ...], rules: list[TransitionRule]
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
            review.problem(
                f"{where}.transition_rules",
                f"Status '{s.name}' can never be reached: no rules lead there from '{initial}'.",
            )
        if s.state not in TERMINAL_STATES[review.module] and not any(r.from_status == s.name for r in rules):
            review.problem(
                f"{where}.transition_rules",
                f"No rule leads out of status '{s.name}', so {review.a_label} there could never finish.",
            )


def checked_communications(
    review: Review, where: str, entries: Sequence[Communication]
) -> tuple[Communication, ...]:
    states = STATES[review.module]
    for k, entry in enumerate(entries):
        if entry.on_state not in states:
            review.problem(
                f"{where}[{k}].on_state",
                f"'{entry.on_state}' is not {review.a_label} state; use one of {', '.join(states)}.",
            )
        for part, template in (("subject", entry.subject), ("body", entry.body)):
            try:
                _TEMPLATES.from_string(template)
            except TemplateSyntaxError as exc:
                review.problem(f"{where}[{k}].{part}", f"Template error on line {exc.lineno}: {exc.message}")
    return tuple(entries)
