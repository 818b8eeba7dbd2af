"""Workflow rules (seed 002/003 "Automating processes of customer care entities"), as data.

An Admin keeps one versioned rule set per care module (service_request, activity, lead). A rule says when
(a trigger: the case was created, entered a status or a life-cycle state, a field changed, an approval was
decided, or it is overdue by N hours: found by an hourly sweep of the open-cases index), for which cases
(conditions: types, priorities, categories, business units, field values) and what to do, in order
(actions: schedule an activity from the case, assign it to a user or unit, set field values, alert users by
email or SMS with a text using ``#tags``). Communication plans (``Plan``) live in the same rule set.

Rules run from the domain events (casework.services.rules). Two checks keep them cheap and finite:
- ``triggered`` decides from the event alone (its type, data and subtype) whether a rule may apply, so a rule
  that does not fire costs no read; only then is the case read for the other conditions (``holds``).
- Every event a rule's actions cause carries ``caused_by`` (the rule and the depth); a rule does not fire on
  events it caused itself unless it says ``retrigger``, and nothing fires beyond ``MAX_DEPTH``.

``parse_rule_set`` checks a document and raises ``InvalidRules`` listing every problem (``location``,
``message``), like the module configuration: the shape first, then the references (statuses, states,
fields, activity types, users and tags) against what the module offers (``RuleContext``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from casework.domain.tags import unknown_tags

MAX_DEPTH = 3  # a chain of rule-caused events stops here, whatever the rules say
OVERDUE = "CaseOverdue"  # not published: what the overdue sweep hands the rules, one per case and rule
MAX_RULES = 100

RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Trigger(_Strict):
    on: Literal[
        "case_created", "entered_status", "entered_state", "field_changed", "approval_decided", "overdue"
    ]
    status: Name | None = None  # entered_status
    state: Name | None = None  # entered_state
    field: Name | None = None  # field_changed
    decision: Literal["approve", "reject"] | None = None  # approval_decided: only this outcome
    hours: int | None = Field(default=None, ge=0, le=8760)  # overdue: this long past the expected completion


class Conditions(_Strict):
    """Every list given must contain the case's value ("empty means any"); ``fields`` must all be equal."""

    types: tuple[Name, ...] = ()
    priorities: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    business_units: tuple[Name, ...] = ()
    fields: dict[str, Any] = Field(default_factory=dict)


class ScheduleActivity(_Strict):
    do: Literal["schedule_activity"]
    activity_type: Name
    title: Text  # may use #tags
    assignee: Name | None = None
    business_unit: Name | None = None
    due_in_days: int | None = Field(default=None, ge=0, le=365)  # the activity's planned date


class Assign(_Strict):
    do: Literal["assign"]
    user: Name | None = None
    business_unit: Name | None = None


class SetFields(_Strict):
    """Set field values (seed: "urgency and impact ... assigned automatically through a workflow rule"), as
    an edit of the case: only fields its current status lets anybody edit."""

    do: Literal["set_fields"]
    fields: dict[str, Any] = Field(min_length=1, max_length=20)


class Alert(_Strict):
    do: Literal["alert"]
    channel: Literal["email", "sms"]
    users: tuple[Name, ...] = Field(min_length=1, max_length=20)
    subject: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    text: Text


class RequireApproval(_Strict):
    """Hold the case in its status until ``users`` and/or the members of ``group`` (a role in the case's
    business unit) approve: any one of them, or all (seed: "set up activities to require approval from a
    specific user before they are further processed"). The approvers are asked as for an approval status;
    ``label`` names the approval to them (default: the rule's name) and ``comment`` goes into the history."""

    do: Literal["require_approval"]
    users: tuple[Name, ...] = Field(default=(), max_length=20)
    group: Name | None = None
    mode: Literal["any", "all"] = "any"
    label: Name | None = None
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None


Action = Annotated[ScheduleActivity | Assign | SetFields | Alert | RequireApproval, Field(discriminator="do")]


class Rule(_Strict):
    id: RuleId
    name: Name
    enabled: bool = True
    trigger: Trigger
    conditions: Conditions = Conditions()
    actions: tuple[Action, ...] = Field(min_length=1, max_length=10)
    # Fire on events this rule's own actions caused too (bounded by MAX_DEPTH); off by default.
    retrigger: bool = False


class PlanStep(_Strict):
    """One communication of a plan, to the case's contact, ``after_days`` after the plan started."""

    after_days: float = Field(gt=0, le=365)
    subject: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    text: Text
    # e.g. "remind the contact 2 days after Responded without acceptance": skipped once they accepted
    unless_accepted: bool = False


class Plan(_Strict):
    """A communication plan: started when a case of ``types`` enters ``status`` (or any status of
    ``state``), each step sent when due while the case is still in that stay; leaving it stops the plan."""

    id: RuleId
    name: Name
    enabled: bool = True
    types: tuple[Name, ...] = ()
    status: Name | None = None
    state: Name | None = None
    steps: tuple[PlanStep, ...] = Field(min_length=1, max_length=10)


class RuleSet(_Strict):
    rules: tuple[Rule, ...] = Field(default=(), max_length=MAX_RULES)
    plans: tuple[Plan, ...] = Field(default=(), max_length=MAX_RULES)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=False)


EMPTY = RuleSet()


class InvalidRules(ValueError):
    """A rule set that cannot be used; ``problems`` lists every problem as ``{"location", "message"}``."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p['location']}: {p['message']}" for p in problems))


@dataclass(frozen=True)
class RuleContext:
    """What a module's rules may refer to (from its configuration, template and the directory)."""

    module: str
    types: Collection[str] = ()
    statuses: Collection[str] = ()
    states: Collection[str] = ()
    fields: Collection[str] = ()
    activity_types: Collection[str] = ()
    can_schedule_activities: bool = False
    is_user: Any = field(default=lambda username: True)  # Callable[[str], bool]
    is_unit: Any = field(default=lambda code: True)  # Callable[[str], bool]
    roles: Collection[str] = ()  # the roles business units give their members (empty: not checked)


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in (
            "schedule_activity",
            "assign",
            "set_fields",
            "alert",
            "require_approval",
        ):  # the union's branch: not a path
            out += f".{part}" if out else str(part)
    return out


def parse_rule_set(raw: Any, context: RuleContext) -> RuleSet:
    """The rule set in ``raw``, or InvalidRules with every problem found."""
    try:
        rule_set = RuleSet.model_validate(raw)
    except ValidationError as exc:
        problems = [{"location": _location(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise InvalidRules(problems) from None
    problems = [
        p for i, rule in enumerate(rule_set.rules) for p in _rule_problems(f"rules[{i}]", rule, context)
    ]
    problems += [
        p for i, plan in enumerate(rule_set.plans) for p in _plan_problems(f"plans[{i}]", plan, context)
    ]
    for kind, ids in (("rules", [r.id for r in rule_set.rules]), ("plans", [p.id for p in rule_set.plans])):
        seen: set[str] = set()
        for i, item_id in enumerate(ids):
            if item_id in seen:
                problems.append(
                    {"location": f"{kind}[{i}].id", "message": f"The id {item_id!r} is used twice."}
                )
            seen.add(item_id)
    if problems:
        raise InvalidRules(problems)
    return rule_set


_NEEDS = {"entered_status": "status", "entered_state": "state", "field_changed": "field"}


def _rule_problems(at: str, rule: Rule, ctx: RuleContext) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []

    def problem(where: str, message: str) -> None:
        problems.append({"location": f"{at}.{where}", "message": message})

    trigger = rule.trigger
    needed = _NEEDS.get(trigger.on)
    for name in ("status", "state", "field"):
        if name == needed and getattr(trigger, name) is None:
            problem(f"trigger.{name}", f"The trigger {trigger.on} names the {name}.")
        elif name != needed and getattr(trigger, name) is not None:
            problem(f"trigger.{name}", f"The trigger {trigger.on} takes no {name}.")
    if trigger.decision is not None and trigger.on != "approval_decided":
        problem("trigger.decision", "Only an approval_decided trigger takes a decision.")
    if (trigger.hours is None) != (trigger.on != "overdue"):
        problem(
            "trigger.hours", "An overdue trigger, and only it, names the hours past the expected completion."
        )
    _unknown(problem, "trigger.status", [trigger.status] if trigger.status else [], ctx.statuses, "statuses")
    _unknown(
        problem, "trigger.state", [trigger.state] if trigger.state else [], ctx.states, "life-cycle state"
    )
    _unknown(problem, "trigger.field", [trigger.field] if trigger.field else [], ctx.fields, "fields")
    conditions = rule.conditions
    _unknown(problem, "conditions.types", conditions.types, ctx.types, "types")
    _unknown(problem, "conditions.fields", list(conditions.fields), ctx.fields, "fields")
    for unit in conditions.business_units:
        if not ctx.is_unit(unit):
            problem("conditions.business_units", f"There is no business unit {unit!r}.")
    for i, action in enumerate(rule.actions):
        where = f"actions[{i}]"
        if isinstance(action, ScheduleActivity):
            if not ctx.can_schedule_activities:
                problem(where, f"Activities cannot be scheduled from a {ctx.module}.")
            else:
                _unknown(
                    problem,
                    f"{where}.activity_type",
                    [action.activity_type],
                    ctx.activity_types,
                    "activity types",
                )
            _tags(problem, f"{where}.title", action.title)
        elif isinstance(action, Assign) and action.user is None and action.business_unit is None:
            problem(where, "An assign action names a user, a business unit, or both.")
        elif isinstance(action, SetFields):
            _unknown(problem, f"{where}.fields", list(action.fields), ctx.fields, "fields")
        elif isinstance(action, Alert):
            for user in action.users:
                if not ctx.is_user(user):
                    problem(f"{where}.users", f"{user!r} is not a user of casework.")
            if action.channel == "email" and not action.subject:
                problem(f"{where}.subject", "An email alert needs a subject.")
            _tags(problem, f"{where}.subject", action.subject)
            _tags(problem, f"{where}.text", action.text)
        elif isinstance(action, RequireApproval):
            _approval_problems(problem, where, action, ctx)
        if isinstance(action, ScheduleActivity | Assign):
            holder = action.assignee if isinstance(action, ScheduleActivity) else action.user
            if holder and not ctx.is_user(holder):
                problem(where, f"{holder!r} is not a user of casework.")
            if action.business_unit and not ctx.is_unit(action.business_unit):
                problem(f"{where}.business_unit", f"There is no business unit {action.business_unit!r}.")
    return problems


def _approval_problems(problem: Any, where: str, action: RequireApproval, ctx: RuleContext) -> None:
    if not action.users and action.group is None:
        problem(where, "A require_approval action names the approving users, a group (a role), or both.")
    for user in action.users:
        if not ctx.is_user(user):
            problem(f"{where}.users", f"{user!r} is not a user of casework.")
    if action.group is not None and ctx.roles and action.group not in ctx.roles:
        known = ", ".join(sorted(ctx.roles))
        problem(f"{where}.group", f"No business unit has members with the role {action.group!r} ({known}).")


def hold_step(rule: Rule) -> str:
    """The approval step a rule's hold is known by (in the case, its links and its reminders)."""
    return f"rule:{rule.id}"


def _plan_problems(at: str, plan: Plan, ctx: RuleContext) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []

    def problem(where: str, message: str) -> None:
        problems.append({"location": f"{at}.{where}" if where else at, "message": message})

    if (plan.status is None) == (plan.state is None):
        problem("", "A plan starts on a status or on a life-cycle state (one of the two).")
    _unknown(problem, "status", [plan.status] if plan.status else [], ctx.statuses, "statuses")
    _unknown(problem, "state", [plan.state] if plan.state else [], ctx.states, "life-cycle states")
    _unknown(problem, "types", plan.types, ctx.types, "types")
    for i, step in enumerate(plan.steps):
        _tags(problem, f"steps[{i}].subject", step.subject)
        _tags(problem, f"steps[{i}].text", step.text)
    return problems


def _unknown(problem: Any, where: str, names: Collection[str], known: Collection[str], what: str) -> None:
    if not known:
        return
    for name in names:
        if name not in known:
            listed = ", ".join(sorted(known))
            problem(where, f"{name!r} is not one of this module's {what} (known: {listed}).")


def _tags(problem: Any, where: str, text: str) -> None:
    unknown = unknown_tags(text)
    if unknown:
        problem(where, f"Unknown tag(s) {', '.join(unknown)}: see the tags of GET /case-types/{{type}}.")


# --- firing -----------------------------------------------------------------------------------------------


def cause_of(event: Mapping[str, Any]) -> tuple[str | None, int]:
    """(the rule whose action caused ``event``, the depth of that chain); (None, 0) for a person's doing."""
    caused = (event.get("data") or {}).get("caused_by") or {}
    return caused.get("rule"), int(caused.get("depth") or 0)


def triggered(rule: Rule, event: Mapping[str, Any]) -> bool:
    """Whether ``rule`` may apply to ``event``, from the event alone: enabled, the trigger, the type
    condition, and the loop guards. The case's own values are checked afterwards by ``holds``."""
    if not rule.enabled:
        return False
    cause, depth = cause_of(event)
    if depth >= MAX_DEPTH or (cause == rule.id and not rule.retrigger):
        return False
    if rule.conditions.types and event.get("subtype") not in rule.conditions.types:
        return False
    data = event.get("data") or {}
    kind, trigger = event.get("type"), rule.trigger
    if trigger.on == "case_created":
        return kind == "CaseRegistered"
    if trigger.on == "entered_status":
        return kind == "CaseTransitioned" and data.get("to_status") == trigger.status
    if trigger.on == "entered_state":
        return kind == "CaseTransitioned" and data.get("state") == trigger.state
    if trigger.on == "field_changed":
        return kind == "CaseUpdated" and trigger.field in (data.get("fields") or ())
    if trigger.on == "overdue":  # the sweep (``overdue_event``) finds these, never an event off the bus
        return kind == OVERDUE and data.get("rule") == rule.id
    # approval_decided: once the step has an outcome (not each approver of an "all" step)
    outcome = data.get("outcome")
    return kind == "ApprovalDecided" and outcome is not None and trigger.decision in (None, outcome)


def needs_case(rule: Rule) -> bool:
    """Whether ``holds`` needs the case's values (else the event decided everything)."""
    c = rule.conditions
    return bool(c.priorities or c.categories or c.business_units or c.fields)


def holds(rule: Rule, case: Mapping[str, Any]) -> bool:
    """The conditions on the case's values (a case view: ``fields``, ``business_unit``)."""
    c, values = rule.conditions, case.get("fields") or {}
    if c.priorities and str(values.get("priority")) not in c.priorities:
        return False
    if c.categories and values.get("category") not in c.categories:
        return False
    if c.business_units and case.get("business_unit") not in c.business_units:
        return False
    return all(values.get(name) == value for name, value in c.fields.items())


def overdue_event(rule: Rule, case: Mapping[str, Any], at: str) -> dict[str, Any] | None:
    """The event the overdue sweep evaluates ``rule`` with for an open case (a case view), or None when the
    case is not late enough. Its id names the case, the rule and the expected completion date: once per
    (case, rule) for a date, again if the date moves and the case is late again."""
    due = (case.get("dates") or {}).get("expected_completion_date")
    hours = rule.trigger.hours
    if rule.trigger.on != "overdue" or hours is None or not due:
        return None
    late = (datetime.fromisoformat(at) - datetime.fromisoformat(due)).total_seconds() / 3600
    if late < hours:
        return None
    return {
        "id": f"{case['id']}:overdue:{rule.id}:{due}",
        "type": OVERDUE,
        "case_id": case["id"],
        "case_type": case["type"],
        "subtype": case.get("subtype"),
        "workflow_version": case.get("workflow_version"),
        "config_version": case.get("config_version"),
        "occurred_at": at,
        "actor": "system",
        "data": {"status": case["status"], "state": case["state"], "rule": rule.id, "hours_late": int(late)},
    }


# --- communication plans ----------------------------------------------------------------------------------


def plans_started(rule_set: RuleSet, event: Mapping[str, Any]) -> list[Plan]:
    """The plans ``event`` starts, from the event alone: a case of their types entered their status or
    state."""
    if event.get("type") != "CaseTransitioned":
        return []
    data = event.get("data") or {}
    return [
        plan
        for plan in rule_set.plans
        if plan.enabled
        and (not plan.types or event.get("subtype") in plan.types)
        and (data.get("to_status") == plan.status if plan.status else data.get("state") == plan.state)
    ]


def plan_step_due(plan: Plan, step: int, case: Mapping[str, Any], entered_at: str) -> str | None:
    """Why the step must not be sent now (a reason code), or None to send it. The plan runs for one stay:
    the case must still be in the stay that started it (its latest phase entered then), in the plan's
    status or state."""
    phases = case.get("key_dates") or []
    current = phases[-1] if phases else {}
    if current.get("entered_at") != entered_at or current.get("left_at"):
        return "LEFT_THE_STATE"
    if (plan.status and case.get("status") != plan.status) or (
        plan.state and case.get("state") != plan.state
    ):
        return "LEFT_THE_STATE"
    acceptance = case.get("acceptance") or {}
    if plan.steps[step].unless_accepted and acceptance.get("decision") == "accept":
        return "ACCEPTED"
    return None
