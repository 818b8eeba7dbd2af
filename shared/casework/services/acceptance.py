"""Acceptance links: the contact accepts or refuses a response or resolution from the link in an email.

There is no login: the link is the credential, like an approver's link (random, stored hashed, bound to
contact + case + step + round, single use, expiring). Its token has purpose "acceptance"; an approval token
is unknown here, as an acceptance token is on the approval pages. ``page`` changes nothing (mail scanners
open links); ``decide`` records the decision and uses the token up in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from casework.domain import engine
from casework.domain.errors import Gone, NotFound, ValidationFailed
from casework.domain.model import Actor, BusinessUnit, Case, timestamp
from casework.domain.workflow import WorkflowDefinition
from casework.services.cases import case_view, hash_token
from casework.services.ports import (
    ApprovalToken,
    CaseRepository,
    Clock,
    ConsumeToken,
    Directory,
    SideWrites,
    WorkflowStore,
)

PURPOSE = "acceptance"
CONTACT_PREFIX = "contact:"


def answer_view(defn: WorkflowDefinition, case: Case) -> dict[str, Any]:
    """The response or resolution waiting for the contact: its category and its text, i.e. the acceptance
    spec's watched fields other than the category field (a service request's ``response``,
    ``temporary_resolution`` or ``final_resolution``). Empty values when the status asks for no acceptance."""
    pending = case.acceptance
    status = defn.statuses.get(pending.status if pending else case.status)
    spec = status.acceptance if status else None
    if spec is None:
        return {
            "step": "",
            "label": "",
            "category": None,
            "category_label": "",
            "category_name": "",
            "text": "",
            "fields": [],
        }
    fields = [
        {"name": name, "label": defn.fields[name].label if name in defn.fields else name, "value": value}
        for name in spec.watch
        if name != spec.category_field and (value := case.value(name)) not in (None, "")
    ]
    category = defn.fields.get(spec.category_field)
    code = pending.category if pending else case.value(spec.category_field)
    return {
        "step": spec.step,
        "label": spec.label,
        "category": code,
        "category_label": category.label if category else spec.category_field,
        "category_name": category.choice_label(code) if category else code,
        "text": "\n\n".join(str(f["value"]) for f in fields),
        "fields": fields,
    }


@dataclass(frozen=True)
class _Link:
    token: ApprovalToken
    case: Case
    defn: WorkflowDefinition
    unit: BusinessUnit
    contact: Actor


@dataclass
class AcceptanceLinks:
    repo: CaseRepository
    directory: Directory
    workflows: WorkflowStore
    clock: Clock

    def _definition(self, case: Case) -> WorkflowDefinition:
        if case.subtype:  # a care module's case: its type, compiled with the configuration it started with
            return self.workflows.get(
                case.type, case.workflow_version, subtype=case.subtype, config_version=case.config_version
            )
        return self.workflows.get(case.type, case.workflow_version)

    def _open(self, raw_token: str) -> _Link:
        token = self.repo.token(hash_token(raw_token)) if raw_token else None
        if token is None or token.purpose != PURPOSE or not token.approver.startswith(CONTACT_PREFIX):
            raise NotFound("TOKEN_UNKNOWN", "This link is not valid.")
        if token.used_at:
            raise Gone(
                "TOKEN_USED",
                "This link has already been used.",
                {"used_at": token.used_at, "decision": token.decision},
            )
        if token.expires_at <= int(self.clock().timestamp()):
            raise Gone("TOKEN_EXPIRED", "This link has expired. Contact us if you still need to answer.")
        case = self.repo.get(token.case_id)
        defn = self._definition(case)
        contact_id = token.approver.removeprefix(CONTACT_PREFIX)
        pending = case.acceptance
        if (
            pending is None
            or not pending.pending
            or pending.status != case.status
            or pending.step != token.step
            or pending.round != token.round
            or case.contact_id not in (None, contact_id)
            or defn.is_terminal(case.status)
        ):
            raise Gone(
                "ACCEPTANCE_NOT_PENDING",
                "This answer is no longer waiting for your acceptance.",
                {"status": case.status},
            )
        unit = self.directory.business_unit(case.business_unit)
        if unit is None:  # the case's unit was removed from the directory: nothing can decide for it
            raise Gone(
                "ACCEPTANCE_NOT_PENDING",
                "This answer can no longer be accepted here.",
                {"status": case.status},
            )
        record = self.directory.contact(contact_id) or {}
        contact = Actor(username=token.approver, display_name=str(record.get("name") or ""))
        return _Link(token, case, defn, unit, contact)

    def page(self, raw_token: str) -> dict[str, Any]:
        """What the confirm page shows. Changes nothing."""
        link = self._open(raw_token)
        return {
            "case": case_view(link.case),
            "number": link.case.id,
            "case_title": link.defn.title,
            "type_name": link.defn.raw.get("type_name") or link.defn.title,
            "answer": answer_view(link.defn, link.case),
            "contact": link.contact.name if link.contact.display_name else "",
        }

    def decide(self, raw_token: str, decision: str, comment: str | None) -> dict[str, Any]:
        """Accept or refuse (``decision`` "accept" | "refuse", an optional comment); uses the link up."""
        link = self._open(raw_token)
        if len(comment or "") > 4000:
            raise ValidationFailed(
                "INVALID_FIELDS", "A comment is at most 4000 characters.", {"fields": ["comment"]}
            )
        now = self.clock()
        change = engine.decide_acceptance(
            link.defn,
            link.case,
            link.contact,
            link.unit,
            decision=decision,
            comment=comment,
            round=link.token.round,
            now=now,
            via="email",
        )
        consume = ConsumeToken(link.token.token_hash, timestamp(now), int(now.timestamp()), decision)
        self.repo.commit(change, SideWrites(tokens=[consume]))
        return {
            "case": case_view(change.case),
            "number": change.case.id,
            "decision": decision,
            "answer": answer_view(link.defn, change.case),
            "contact": link.contact.name if link.contact.display_name else "",
        }
