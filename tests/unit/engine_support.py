"""Helpers for driving the pure engine through a case's life in tests (no repository, no services)."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from casework.domain import engine
from casework.domain.directory import actor_from_record, members_by_role, unit_from_record
from casework.domain.model import Actor, ApprovalRule, BusinessUnit, Case, Change, timestamp
from casework.domain.workflow import ApprovalMode, WorkflowDefinition, parse_definition
from casework.workflows import shipped
from tests.fakes import CSR_OPEN_STATUSES, demo_data

CSR = parse_definition(shipped()["csr"])
DEMO = demo_data()
USERS: dict[str, Actor] = {u["username"]: actor_from_record(u) for u in DEMO["users"]}
SP: BusinessUnit = unit_from_record(
    {**DEMO["business_units"][0], "members": members_by_role(DEMO["users"], "SP")}
)
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

OPEN_STATUSES = CSR_OPEN_STATUSES


def csr_with(mutate) -> WorkflowDefinition:
    raw = copy.deepcopy(shipped()["csr"])
    mutate(raw)
    return parse_definition(raw)


def unit_with_rule(
    step: str, kind: str, users: tuple[str, ...] = (), role: str | None = None, mode: str = "any"
) -> BusinessUnit:
    rules = {
        **SP.approval_rules,
        step: ApprovalRule(kind=kind, users=users, role=role, mode=ApprovalMode(mode)),
    }
    return replace(SP, approval_rules=rules)


class Run:
    """One case driven through the engine. Every command advances the clock one hour first; a successful
    command's Change is kept and its case becomes the current one."""

    def __init__(
        self, defn: WorkflowDefinition = CSR, unit: BusinessUnit = SP, case_id: str = "CSR-1"
    ) -> None:
        self.defn = defn
        self.unit = unit
        self.case_id = case_id
        self.now = T0
        self.case: Case | None = None
        self.changes: list[Change] = []

    @property
    def at(self) -> str:
        return timestamp(self.now)

    def _tick(self) -> datetime:
        self.now += timedelta(hours=1)
        return self.now

    def _keep(self, change: Change | None) -> Change | None:
        if change is not None:
            self.case = change.case
            self.changes.append(change)
        return change

    def register(
        self,
        by: str = "mary",
        title: Any = "Anti-static packaging",
        description: Any = "Customer needs ESD-safe bags",
        account_id: str | None = "ACC-1001",
        **fields: Any,
    ) -> Change:
        return self._keep(
            engine.register(
                self.defn,
                USERS[by],
                self.unit,
                case_id=self.case_id,
                now=self._tick(),
                title=title,
                description=description,
                account_id=account_id,
                fields=fields,
            )
        )

    def transition(self, by: str, to: str, **fields: Any) -> Change:
        return self._keep(
            engine.transition(
                self.defn, self.case, USERS[by], self.unit, to=to, fields=fields, now=self._tick()
            )
        )

    def decide(self, by: str, decision: str, comment: str | None = None) -> Change:
        return self._keep(
            engine.decide(
                self.defn,
                self.case,
                USERS[by],
                self.unit,
                decision=decision,
                comment=comment,
                now=self._tick(),
            )
        )

    def edit(self, by: str, **fields: Any) -> Change | None:
        return self._keep(
            engine.edit(self.defn, self.case, USERS[by], self.unit, fields=fields, now=self._tick())
        )

    def link(
        self, by: str = "mary", key: str = "P-100", added: bool = True, kind: str = "products"
    ) -> Change:
        return self._keep(
            engine.change_related(
                self.defn, self.case, USERS[by], self.unit, kind=kind, key=key, added=added, now=self._tick()
            )
        )

    def reassign(self, by: str, to: Actor | str) -> Change:
        target = USERS[to] if isinstance(to, str) else to
        return self._keep(
            engine.reassign(self.defn, self.case, USERS[by], self.unit, assignee=target, now=self._tick())
        )

    # --- reaching a status the usual way ---

    def to_status(self, status: str) -> Run:
        steps = [
            ("Registration", lambda: (self.register(), self.link())),
            ("Pending Pre-Approval", lambda: self.transition("mary", "Pending Pre-Approval")),
            ("Under Assessment", lambda: self.decide("john", "approve")),
            (
                "Approval Pending",
                lambda: self.transition(
                    "frank", "Approval Pending", global_feasibility_conclusion="Feasible in PA66"
                ),
            ),
            ("Under Implementation", lambda: self.decide("peter", "approve")),
            ("Implemented", lambda: self.transition("frank", "Implemented")),
            ("Inactive", lambda: self.transition("mary", "Inactive")),
        ]
        for name, step in steps:
            if self.case is not None and self.case.status == status:
                break
            step()
            if name == status:
                break
        assert self.case.status == status, (self.case.status, status)
        return self


def event_types(change: Change) -> list[str]:
    return [e.type for e in change.events]


def events_of(change: Change, event_type: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in change.events if e.type == event_type]
