"""What every use case on a case stands on: the ports, who the caller is, the case's definition and unit, the
visibility check, and the caller's view of a case. The use cases themselves are split by what they do:
case_commands (register, change), case_notes (notes, emails to the contact), case_queries (reads),
email_links (approvals decided from an email), case_feedback (feedback, returns), delegation_settings.

Request budget (see scripts/count_requests.py): a command is one GetItem for the case plus one
TransactWriteItems; definitions and the directory are cached in the process, so a warm function reads
nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, TypeVar

from casework.domain import engine
from casework.domain.errors import ValidationFailed, require_version_read
from casework.domain.model import Actor, BusinessUnit, Case, Change, DomainEvent
from casework.domain.views import CaseView, case_view
from casework.domain.visibility import ensure_visible
from casework.domain.workflow import WorkflowDefinition
from casework.services.ports import (
    CaseRepository,
    Clock,
    ConfigStore,
    DelegationStore,
    Directory,
    IdFactory,
    WorkflowStore,
    active_user,
)

MAX_PAGE = 100

UseCase = TypeVar("UseCase", bound="CaseContext")


def event_beside(
    case: Case,
    defn: WorkflowDefinition,
    event_type: str,
    suffix: str,
    actor: Actor,
    at: str,
    data: dict[str, Any],
) -> DomainEvent:
    """An event about a case that does not change it (a note, feedback, a communication): stamped with the
    case's version and where it stands, its id ``<case>:<suffix>`` stable for the thing it reports, and
    whether its definition (``defn``, the case's) has notify send anything for it."""
    return DomainEvent(
        id=f"{case.id}:{suffix}",
        type=event_type,
        case_id=case.id,
        case_type=case.type,
        occurred_at=at,
        actor=actor.username,
        data={**data, "status": case.status, "state": case.state},
        workflow_version=case.workflow_version,
        subtype=case.subtype,
        config_version=case.config_version,
        case_version=case.version,
        notify=defn.notifies(event_type, case.state),
    )


@dataclass
class CaseContext:
    repo: CaseRepository
    directory: Directory
    workflows: WorkflowStore
    clock: Clock
    new_id: IdFactory
    configs: ConfigStore | None = None
    delegations: DelegationStore | None = None

    def sharing(self, use_case: type[UseCase]) -> UseCase:
        """Another use case over the same ports (and so the same process caches)."""
        return use_case(**{f.name: getattr(self, f.name) for f in fields(self)})

    def actor(self, username: str | None) -> Actor:
        return active_user(self.directory, username)

    def _unit(self, code: str) -> BusinessUnit:
        unit = self.directory.business_unit(code)
        if unit is None:
            raise ValidationFailed(
                "UNKNOWN_BUSINESS_UNIT", f"Business unit {code!r} does not exist.", {"business_unit": code}
            )
        return unit

    def definition_of(self, case: Case) -> WorkflowDefinition:
        """The definition the case started with (for a care module: its type and configuration version)."""
        return self.workflows.get(
            case.type, case.workflow_version, subtype=case.subtype, config_version=case.config_version
        )

    def definition_for_new(self, type: str, subtype: str | None) -> WorkflowDefinition:
        defn = self.workflows.get(type, subtype=subtype)
        if subtype is not None and defn.module is None:
            raise ValidationFailed(
                "UNKNOWN_TYPE", f"A {defn.title} has no types; leave 'subtype' out.", {"subtype": subtype}
            )
        return defn

    def _load(self, case_id: str) -> tuple[Case, WorkflowDefinition, BusinessUnit]:
        case = self.repo.get(case_id)
        return case, self.definition_of(case), self._unit(case.business_unit)

    def _load_visible(self, actor: Actor, case_id: str) -> tuple[Case, WorkflowDefinition, BusinessUnit]:
        """The case, if ``actor`` may see it; else the same 404 as an unknown id (ids cannot be probed)."""
        case = self.repo.get(case_id)
        defn = self.definition_of(case)
        ensure_visible(defn, case, actor)
        return case, defn, self._unit(case.business_unit)

    @staticmethod
    def _check_version(case: Case, expected_version: int | None) -> None:
        require_version_read("case", expected_version, case.version)

    def view(
        self,
        case: Case,
        actor: Actor,
        defn: WorkflowDefinition | None = None,
        unit: BusinessUnit | None = None,
    ) -> CaseView:
        """The case as ``actor`` sees it: what every reader sees, and what this one may do next."""
        defn = defn or self.definition_of(case)
        unit = unit or self._unit(case.business_unit)
        return CaseView(
            **dict(case_view(case, self.clock())),
            type_name=defn.raw.get("type_name") or defn.title,
            available_transitions=engine.available_transitions(defn, case, actor, unit),
            editable_fields=engine.editable_fields(defn, case, actor),
            can_decide_approval=bool(case.approval and case.approval.is_pending_for(actor.username)),
        )

    def _delegated(self, change: Change) -> Change:
        """Ask the delegates of approvers the change just asked, if they delegated for today. Reads only when
        an approval was requested (one BatchGetItem), so every other command costs what it did."""
        asked = engine.approvers_just_asked(change)
        if not asked or self.delegations is None:
            return change
        today = self.clock().date()
        delegates = {}
        for owner, delegation in self.delegations.many(asked).items():
            delegate = self.directory.user(delegation.delegate)
            if delegation.covers(today) and delegate is not None and delegate.active:
                delegates[owner] = delegation.delegate
        return engine.with_delegates(change, delegates)
