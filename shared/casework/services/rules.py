"""Workflow rules: the Admin's rule sets (read, replace, versioned) and running them on domain events.

Which version applies: the rule set current when the event is evaluated (the latest, cached per container
for a minute like the configuration), not one a case keeps: rules are the business's automation of today,
and a rule switched off must stop acting on cases that are already open.

``RuleRunner.handle`` is called once per domain event (the rules consumer's idempotency, per record). It
costs nothing beyond the cached rule set for an event no rule is triggered by (``triggered`` reads only the
event); a triggered rule reads the case (one GetItem) to check its conditions and fill the ``#tags``, then
acts in order through the ordinary use cases, as the actor ``rule:<id>`` (so the case's history says the
rule did it) with the Admin's rights (an Admin wrote it). Every event those actions raise carries
``data.caused_by`` = {rule, depth}: the loop guards of casework.domain.rules read it.

A redelivered event whose first handling failed part-way runs its rules again; each action is safe to
repeat: a scheduled activity has an id derived from (event, rule, action), so the second one is refused as
existing; an assignment already made is "already assigned"; alerts go through the sent ledger under
(event, rule, action) per recipient.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from casework.domain import rules as domain
from casework.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from casework.domain.model import Actor, Change, DomainEvent, timestamp
from casework.domain.rules import (
    Alert,
    Assign,
    Plan,
    RequireApproval,
    Rule,
    RuleContext,
    RuleSet,
    ScheduleActivity,
    SetFields,
)
from casework.domain.tags import render
from casework.domain.workflow import WorkflowDefinition
from casework.services.cases import CaseService
from casework.services.notify import Mailer, SentLedger
from casework.services.ports import Note, OverdueCases, PlanScheduler, RuleStore, SideWrites, SmsSender

logger = logging.getLogger(__name__)

ADMIN = "Admin"
MODULES = ("service_request", "activity", "lead")
# Conflicts that mean a repeated action was done by an earlier delivery of the same event (or, for a hold,
# that the case waits for an approval already: the hold it asks for is that one, or would compete with it).
ALREADY_DONE = frozenset({"CASE_EXISTS", "ALREADY_ASSIGNED", "APPROVAL_ALREADY_PENDING"})
# Refusals that mean the case has moved on (closed, deleted) and the rule has nothing left to do.
NOTHING_TO_DO = frozenset({"CASE_CLOSED", "CASE_NOT_FOUND"})
OVERDUE_MARK = "#overdue"  # the sent ledger's entry: this (case, rule, due date) was handled
NOTE_MARK = "#note"  # the sent ledger's entry for the note that records an alert
HOLD_MARK = "#hold"  # the sent ledger's entry: this (event, rule, action) opened its approval round


def _unknown_module(module: str) -> NotFound:
    return NotFound("UNKNOWN_MODULE", f"There is no module {module!r}.", {"modules": list(MODULES)})


@dataclass
class RuleAdmin:
    """GET/PUT /rules/{module}: anybody may read the rules (they explain what happens to cases); an Admin
    replaces them with a new version, naming the version read."""

    cases: CaseService
    rules: RuleStore

    def get(self, username: str, module: str, version: int | None = None) -> dict[str, Any]:
        self.cases.actor(username)
        if module not in MODULES:
            raise _unknown_module(module)
        rule_set, version = self.rules.get(module, version)
        return {"module": module, "version": version, **rule_set.to_dict()}

    def put(
        self,
        username: str,
        module: str,
        rules: Any,
        expected_version: int | None,
        plans: Any = (),
    ) -> dict[str, Any]:
        actor = self.cases.actor(username)
        if ADMIN not in actor.roles:
            raise Forbidden("NOT_ALLOWED", "Only Admin may change the workflow rules.")
        if module not in MODULES:
            raise _unknown_module(module)
        try:
            rule_set = domain.parse_rule_set({"rules": rules, "plans": plans}, self.context(module))
        except domain.InvalidRules as exc:
            raise ValidationFailed(
                "INVALID_RULES", "The rules are not valid.", {"problems": exc.problems}
            ) from None
        version = self.rules.put(module, rule_set, expected_version)
        return {"module": module, "version": version, **rule_set.to_dict()}

    def context(self, module: str) -> RuleContext:
        """What the module's rules may refer to: its latest configuration, its template, the directory."""
        directory = self.cases.directory
        workflows = self.cases.workflows
        defn = workflows.get(module)
        types: list[str] = []
        activity_types: list[str] = []
        if self.cases.configs is not None:
            config, _ = self.cases.configs.get(module)
            types = [t.code for t in config.types]
            activities, _ = self.cases.configs.get("activity")
            activity_types = [t.code for t in activities.types]
        statuses = {s.name for t in types for s in workflows.get(module, subtype=t).statuses.values()}
        return RuleContext(
            module=module,
            types=types,
            statuses=statuses or set(defn.statuses),
            states=set(defn.states),
            fields=set(defn.fields),
            activity_types=activity_types,
            can_schedule_activities="activity" in defn.children,
            is_user=lambda name: directory.user(name) is not None,
            is_unit=lambda code: directory.business_unit(code) is not None,
            roles=self._roles(),
        )

    def _roles(self) -> set[str]:
        """The roles some business unit gives its members: what a hold's ``group`` may name."""
        directory = self.cases.directory
        units = (directory.business_unit(code) for code in directory.unit_codes())
        return {role for unit in units if unit is not None for role in unit.members}


@dataclass(frozen=True)
class Triggered:
    """What an event sets off, decided from the event and the cached rule set alone (no read)."""

    rules: list[Rule]
    plans: list[Plan]  # started by it
    stopping: bool  # it leaves a status some plan may be running in: its schedules are cancelled
    version: int

    def __bool__(self) -> bool:
        return bool(self.rules or self.plans or self.stopping)


def triggered_by(rules: RuleStore, event: Mapping[str, Any]) -> Triggered:
    module = str(event.get("case_type"))
    if module not in MODULES:
        return Triggered([], [], False, 0)
    rule_set, version = rules.get(module)
    left = event.get("type") == "CaseTransitioned" and any(p.enabled for p in rule_set.plans)
    return Triggered(
        [r for r in rule_set.rules if domain.triggered(r, event)],
        domain.plans_started(rule_set, event),
        left,
        version,
    )


def plan_schedule_name(case_id: str, plan_id: str, entered_at: str, step: int) -> str:
    """A step's schedule name (EventBridge Scheduler: at most 64 characters), the same however often the
    event that started the plan is delivered."""
    digest = hashlib.sha256(f"{case_id}#{plan_id}#{entered_at}#{step}".encode()).hexdigest()[:48]
    return f"cw-plan-{digest}"


def rule_actor(rule: Rule | Plan, defn: WorkflowDefinition | None = None, unit: str | None = None) -> Actor:
    """Who a rule acts as: itself by name (``rule:<id>`` in the history). An Admin wrote it, so it acts with
    an Admin's rights plus every role the case's definition gives rights to, within the case's unit (a
    status's edits are the assignee's and the Team Lead's: a rule setting the urgency needs those)."""
    roles = {ADMIN}
    if defn is not None:
        edits = [p for s in defn.statuses.values() for e in s.edits for p in e.allowed]
        roles |= {p.role for p in (*defn.reassign_allowed, *defn.related_allowed, *edits) if p.role}
    kind = "plan" if isinstance(rule, Plan) else "rule"
    return Actor(
        username=f"{kind}:{rule.id}",
        display_name=f"{kind.title()} {rule.name}",
        roles=frozenset(roles),
        business_units=frozenset({unit} if unit else ()),
    )


def _stamped(event: DomainEvent, cause: Mapping[str, Any]) -> DomainEvent:
    return replace(event, data={**event.data, "caused_by": dict(cause)})


class _CausedRepository:
    """The case repository, stamping ``caused_by`` on every event a rule's action commits."""

    def __init__(self, repo: Any, cause: Mapping[str, Any]) -> None:
        self._repo, self._cause = repo, cause

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    def _change(self, change: Change) -> Change:
        return replace(change, events=tuple(_stamped(e, self._cause) for e in change.events))

    def commit(self, change: Change, side: SideWrites = SideWrites()) -> None:
        side = replace(side, new_cases=[self._change(c) for c in side.new_cases])
        self._repo.commit(self._change(change), side)

    def add_note(self, note: Note, event: DomainEvent) -> None:
        self._repo.add_note(note, _stamped(event, self._cause))


@dataclass
class _RuleActing(CaseService):
    """The case service with one more actor: the rule (which no directory knows)."""

    rule: Actor | None = None

    def actor(self, username: str | None) -> Actor:
        if self.rule is not None and username == self.rule.username:
            return self.rule
        return super().actor(username)


@dataclass
class RuleRunner:
    cases: CaseService
    rules: RuleStore
    mailer: Mailer
    sms: SmsSender
    ledger: SentLedger
    plans: PlanScheduler | None = None
    overdue: OverdueCases | None = None

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Run the rules ``event`` triggers, start the plans it starts and stop those it ends; says which
        rules fired (and which were triggered but did not hold) and which plan steps were scheduled."""
        found = triggered_by(self.rules, event)
        fired: list[str] = []
        skipped: list[str] = []
        view: dict[str, Any] | None = None
        cancelled = self._stop_plans(event) if found.stopping else 0
        scheduled = self._start_plans(found.plans, event)
        for rule in found.rules:
            if view is None:
                view = self._view(event["case_id"], rule)
            if view is None or not domain.holds(rule, view):
                skipped.append(rule.id)
                continue
            view = self._run(rule, event, view)
            fired.append(rule.id)
        outcome: dict[str, Any] = {"rules_version": found.version, "fired": fired, "skipped": skipped}
        if scheduled or cancelled:
            outcome |= {"plan_steps_scheduled": scheduled, "plan_steps_cancelled": cancelled}
        return outcome

    def _acting(
        self, rule: Rule | Plan, cause: Mapping[str, Any], key: str, actor: Actor | None = None
    ) -> CaseService:
        base = self.cases
        ids = iter(range(1_000))
        return _RuleActing(
            repo=_CausedRepository(base.repo, cause),
            directory=base.directory,
            workflows=base.workflows,
            clock=base.clock,
            # ids derived from (event, rule, action): a repeated action finds what the first one made
            new_id=lambda: hashlib.sha256(f"{key}#{next(ids)}".encode()).hexdigest()[:32],
            configs=base.configs,
            delegations=base.delegations,
            rule=actor or rule_actor(rule),
        )

    def _view(self, case_id: str, rule: Rule | Plan) -> dict[str, Any] | None:
        """The case as tags and conditions read it (with its contact's and assignee's names); None when it
        is gone (deleted since the event)."""
        service = self._acting(rule, {}, "")
        try:
            view = service.get(rule_actor(rule).username, case_id).model_dump(mode="json")
        except NotFound:
            return None
        directory = self.cases.directory
        contact = directory.contact(view["contact_id"]) if view.get("contact_id") else None
        holder = directory.user(view["assignee"]) if view.get("assignee") else None
        return {
            **view,
            "contact_name": (contact or {}).get("name"),
            "assignee_name": holder.name if holder else None,
        }

    def _run(self, rule: Rule, event: Mapping[str, Any], view: dict[str, Any]) -> dict[str, Any]:
        _, depth = domain.cause_of(event)
        cause = {"rule": rule.id, "depth": depth + 1, "event_id": event["id"]}
        defn = self.cases.workflows.get(
            view["type"],
            view["workflow_version"],
            subtype=view.get("subtype"),
            config_version=view.get("config_version"),
        )
        actor = rule_actor(rule, defn, view["business_unit"])
        me = actor.username
        for index, action in enumerate(rule.actions):
            key = f"{event['id']}#{rule.id}#{index}"
            service = self._acting(rule, cause, key, actor)
            try:
                if isinstance(action, ScheduleActivity):
                    service.schedule(
                        me,
                        view["id"],
                        "activity",
                        subtype=action.activity_type,
                        title=render(action.title, view),
                        assignee=action.assignee,
                        business_unit=action.business_unit,
                        fields=self._planned(action),
                    )
                elif isinstance(action, Assign):
                    view = {
                        **view,
                        **service.reassign(
                            me, view["id"], assignee=action.user, business_unit=action.business_unit
                        ).model_dump(mode="json"),
                    }
                elif isinstance(action, SetFields):
                    changed = service.edit(me, view["id"], fields=dict(action.fields))
                    view = {**view, **changed.model_dump(mode="json")}
                elif isinstance(action, Alert):
                    self._alert(service, rule, action, view, key)
                elif isinstance(action, RequireApproval):
                    self._hold(service, rule, action, view, key)
            except (Conflict, NotFound) as exc:
                if exc.code not in ALREADY_DONE | NOTHING_TO_DO:
                    raise
                logger.info("rule action skipped", extra={"rule": rule.id, "action": index, "code": exc.code})
        return view

    def _planned(self, action: ScheduleActivity) -> dict[str, Any] | None:
        if action.due_in_days is None:
            return None
        return {"planned_date": (self.cases.clock() + timedelta(days=action.due_in_days)).date().isoformat()}

    def _alert(self, service: CaseService, rule: Rule, action: Alert, view: dict[str, Any], key: str) -> None:
        """Send to each user once per (event, rule, action); a user with no address for the channel is
        skipped and named in the note the case keeps of the alert."""
        text = render(action.text, view)
        subject = render(action.subject, view)
        sent, unreachable = [], []
        for username in action.users:
            user = self.cases.directory.user(username)
            address = None if user is None else (user.email if action.channel == "email" else user.phone)
            if user is None or not address:
                unreachable.append(username)
                continue
            if not self.ledger.sent(key, username):
                if action.channel == "email":
                    html = f"<p>{render(action.text, view, for_html=True)}</p>"
                    message_id = self.mailer.send(address, subject, text, html)
                else:
                    message_id = self.sms.send(address, text)
                self.ledger.record(key, username, message_id)
            sent.append(username)
        note = f"Alerted {', '.join(sent) or 'nobody'} by {action.channel}"
        note += f" ({subject})." if subject else "."
        if unreachable:
            note += f" No {'email' if action.channel == 'email' else 'phone'} for: {', '.join(unreachable)}."
        self._note(service, rule, view, note, key)

    def _hold(
        self, service: CaseService, rule: Rule, action: RequireApproval, view: dict[str, Any], key: str
    ) -> None:
        """Open the rule's approval round, once per (event, rule, action): a redelivery finds the ledger's
        mark, even after the approvers decided (or, if the first delivery stopped before writing the mark,
        the round pending: APPROVAL_ALREADY_PENDING). Users the directory no longer knows, or who left, are
        not asked."""
        if self.ledger.sent(key, HOLD_MARK):
            return
        directory = self.cases.directory
        users = [u for u in action.users if (user := directory.user(u)) is not None and user.active]
        changed = service.hold_for_approval(
            rule_actor(rule).username,
            view["id"],
            step=domain.hold_step(rule),
            label=action.label or rule.name,
            users=users,
            role=action.group,
            mode=action.mode,
            comment=action.comment,
        )
        self.ledger.record(key, HOLD_MARK, f"{changed.id}:{changed.version}")

    def _note(self, service: CaseService, rule: Rule, view: dict[str, Any], text: str, key: str) -> None:
        """The case keeps each alert as a note by the rule, once (the ledger remembers it was written)."""
        if self.ledger.sent(key, NOTE_MARK):
            return
        note = service.add_note(rule_actor(rule).username, view["id"], text)
        self.ledger.record(key, NOTE_MARK, note.id)

    # --- overdue cases ---

    def sweep_overdue(self) -> dict[str, Any]:
        """Run the ``overdue`` rules on the open cases late enough for them, once per (case, rule) and
        expected completion date: for each module with such rules, per business unit, the open-cases index up
        to the latest due date any of them fires for. Modules without an overdue rule cost one cached read."""
        if self.overdue is None:
            return {"fired": 0}
        now = self.cases.clock()
        at = timestamp(now)
        fired = checked = 0
        for module in MODULES:
            rule_set, _ = self.rules.get(module)
            rules = [r for r in rule_set.rules if r.enabled and r.trigger.on == "overdue"]
            if not rules:
                continue
            least = min(r.trigger.hours or 0 for r in rules)
            before = timestamp(now - timedelta(hours=least))
            for unit in self.cases.directory.unit_codes():
                for case in self.overdue.overdue(module, unit, before):
                    checked += 1
                    fired += self._overdue_case(rules, case, at)
        return {"checked": checked, "fired": fired}

    def _overdue_case(self, rules: list[Rule], case: dict[str, Any], at: str) -> int:
        fired = 0
        for rule in rules:
            event = domain.overdue_event(rule, case, at)
            if event is None or self.ledger.sent(event["id"], OVERDUE_MARK):
                continue
            types = rule.conditions.types
            if types and case.get("subtype") not in types:
                continue
            # the sweep's row has no field values: the conditions read the case itself
            view = self._view(case["id"], rule)
            if view is not None and not domain.holds(rule, view):
                continue  # checked again next time: its values may change while it stays late
            if view is not None:
                self._run(rule, event, view)
                fired += 1
            self.ledger.record(event["id"], OVERDUE_MARK, at)
        return fired

    # --- communication plans ---

    def _start_plans(self, plans: list[Plan], event: Mapping[str, Any]) -> int:
        """One one-time schedule per step; the stay's start is the event's time (the phase's entered_at)."""
        if not plans or self.plans is None:
            return 0
        entered_at = str(event["occurred_at"])
        start = datetime.fromisoformat(entered_at)
        count = 0
        for plan in plans:
            for index, step in enumerate(plan.steps):
                name = plan_schedule_name(event["case_id"], plan.id, entered_at, index)
                payload = {
                    "module": event["case_type"],
                    "case_id": event["case_id"],
                    "plan": plan.id,
                    "step": index,
                    "entered_at": entered_at,
                    "schedule": name,
                }
                self.plans.schedule(name, start + timedelta(days=step.after_days), payload)
                count += 1
        return count

    def _stop_plans(self, event: Mapping[str, Any]) -> int:
        """Cancel the steps still scheduled for the stay the case just left, where a plan could have started
        it (one read of the case, only then). The steps check the case when they fire anyway: this only
        spares them the trip."""
        if self.plans is None:
            return 0
        data = event.get("data") or {}
        left_status = str(data.get("from_status"))
        defn = self.cases.workflows.get(
            str(event["case_type"]),
            event.get("workflow_version"),
            subtype=event.get("subtype"),
            config_version=event.get("config_version"),
        )
        if left_status not in defn.statuses:
            return 0
        left_state = defn.status(left_status).state
        rule_set, _ = self.rules.get(str(event["case_type"]))
        ran = [
            p
            for p in rule_set.plans
            if (not p.types or event.get("subtype") in p.types)
            and (
                p.status == left_status
                if p.status
                else p.state == left_state and data.get("state") != left_state
            )
        ]
        if not ran:
            return 0
        try:
            case = self.cases.repo.get(str(event["case_id"]))
        except NotFound:  # deleted since: its steps find nothing when they fire
            return 0
        stay = next((p for p in reversed(case.key_dates) if p.status == left_status and p.left_at), None)
        if stay is None:
            return 0
        count = 0
        for plan in ran:
            for index in range(len(plan.steps)):
                self.plans.cancel(plan_schedule_name(case.id, plan.id, stay.entered_at, index))
                count += 1
        return count

    def run_plan_step(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A plan step's schedule fired: send its communication to the contact if the case is still in the
        stay that started the plan (and, for ``unless_accepted``, the contact has not accepted), once."""
        module, plan_id, step = str(payload["module"]), str(payload["plan"]), int(payload["step"])
        rule_set, _ = self.rules.get(module)
        plan = next((p for p in rule_set.plans if p.id == plan_id and p.enabled), None)
        if plan is None or step >= len(plan.steps):
            return {"sent": False, "reason": "PLAN_REMOVED"}
        view = self._view(str(payload["case_id"]), plan)
        if view is None:
            return {"sent": False, "reason": "CASE_DELETED"}
        reason = domain.plan_step_due(plan, step, view, str(payload["entered_at"]))
        if reason is not None:
            return {"sent": False, "reason": reason}
        key = str(payload["schedule"])
        if self.ledger.sent(key, NOTE_MARK):
            return {"sent": True, "reason": "ALREADY_SENT"}
        service = self._acting(plan, {}, key)
        spec = plan.steps[step]
        try:
            communication = service.communicate(
                rule_actor(plan).username,
                view["id"],
                subject=render(spec.subject, view),
                text=render(spec.text, view),
            )
        except ValidationFailed as exc:  # no contact, or no email for them: retrying will not help
            return {"sent": False, "reason": exc.code}
        self.ledger.record(key, NOTE_MARK, communication.id)
        return {"sent": True, "communication_id": communication.id}


__all__ = ["RuleAdmin", "RuleRunner", "RuleSet", "rule_actor"]
