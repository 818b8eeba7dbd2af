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
from datetime import timedelta
from typing import Any

from casework.domain import rules as domain
from casework.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from casework.domain.model import Actor, Change, DomainEvent
from casework.domain.rules import Alert, Assign, Rule, RuleContext, RuleSet, ScheduleActivity, SetFields
from casework.domain.tags import render
from casework.domain.workflow import WorkflowDefinition
from casework.services.cases import CaseService
from casework.services.notify import Mailer, SentLedger
from casework.services.ports import Note, RuleStore, SideWrites, SmsSender

logger = logging.getLogger(__name__)

ADMIN = "Admin"
MODULES = ("service_request", "activity", "lead")
# Conflicts that mean a repeated action was done by an earlier delivery of the same event.
ALREADY_DONE = frozenset({"CASE_EXISTS", "ALREADY_ASSIGNED"})
# Conflicts that mean the case has moved on and the rule no longer has anything to do.
NOTHING_TO_DO = frozenset({"CASE_CLOSED"})
NOTE_MARK = "#note"  # the sent ledger's entry for the note that records an alert


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
        return {"module": module, "version": version, "rules": rule_set.to_dict()["rules"]}

    def put(self, username: str, module: str, raw: Any, expected_version: int | None) -> dict[str, Any]:
        actor = self.cases.actor(username)
        if ADMIN not in actor.roles:
            raise Forbidden("NOT_ALLOWED", "Only Admin may change the workflow rules.")
        if module not in MODULES:
            raise _unknown_module(module)
        try:
            rule_set = domain.parse_rule_set({"rules": raw}, self.context(module))
        except domain.InvalidRules as exc:
            raise ValidationFailed(
                "INVALID_RULES", "The rules are not valid.", {"problems": exc.problems}
            ) from None
        version = self.rules.put(module, rule_set, expected_version)
        return {"module": module, "version": version, "rules": rule_set.to_dict()["rules"]}

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
        )


def triggered_by(rules: RuleStore, event: Mapping[str, Any]) -> tuple[list[Rule], int]:
    """The rules ``event`` triggers (from the event and the cached rule set alone: no read of the case),
    and the rule set version they come from."""
    module = str(event.get("case_type"))
    if module not in MODULES:
        return [], 0
    rule_set, version = rules.get(module)
    return [r for r in rule_set.rules if domain.triggered(r, event)], version


def rule_actor(rule: Rule, defn: WorkflowDefinition | None = None, unit: str | None = None) -> Actor:
    """Who a rule acts as: itself by name (``rule:<id>`` in the history). An Admin wrote it, so it acts with
    an Admin's rights plus every role the case's definition gives rights to, within the case's unit (a
    status's edits are the assignee's and the Team Lead's: a rule setting the urgency needs those)."""
    roles = {ADMIN}
    if defn is not None:
        edits = [p for s in defn.statuses.values() for e in s.edits for p in e.allowed]
        roles |= {p.role for p in (*defn.reassign_allowed, *defn.related_allowed, *edits) if p.role}
    return Actor(
        username=f"rule:{rule.id}",
        display_name=f"Rule {rule.name}",
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

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Run the rules ``event`` triggers; says which fired (and which were triggered but did not hold)."""
        candidates, version = triggered_by(self.rules, event)
        fired: list[str] = []
        skipped: list[str] = []
        view: dict[str, Any] | None = None
        for rule in candidates:
            if view is None:
                view = self._view(event["case_id"], rule)
            if view is None or not domain.holds(rule, view):
                skipped.append(rule.id)
                continue
            view = self._run(rule, event, view)
            fired.append(rule.id)
        return {"rules_version": version, "fired": fired, "skipped": skipped}

    def _acting(
        self, rule: Rule, cause: Mapping[str, Any], key: str, actor: Actor | None = None
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

    def _view(self, case_id: str, rule: Rule) -> dict[str, Any] | None:
        """The case as tags and conditions read it (with its contact's and assignee's names); None when it
        is gone (deleted since the event)."""
        service = self._acting(rule, {}, "")
        try:
            view = service.get(rule_actor(rule).username, case_id)
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
                        ),
                    }
                elif isinstance(action, SetFields):
                    view = {**view, **service.edit(me, view["id"], fields=dict(action.fields))}
                elif isinstance(action, Alert):
                    self._alert(service, rule, action, view, key)
            except Conflict as exc:
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

    def _note(self, service: CaseService, rule: Rule, view: dict[str, Any], text: str, key: str) -> None:
        """The case keeps each alert as a note by the rule, once (the ledger remembers it was written)."""
        if self.ledger.sent(key, NOTE_MARK):
            return
        note = service.add_note(rule_actor(rule).username, view["id"], text)
        self.ledger.record(key, NOTE_MARK, note["id"])


__all__ = ["RuleAdmin", "RuleRunner", "RuleSet", "rule_actor"]
