"""Approval links: an approver decides an approval step from the link in an email (a contact's acceptance
link is services/acceptance.py). Both kinds open their token with link_tokens.open_link, the one lookup;
each then checks that what the link was sent for is still waiting.

A page changes nothing (mail scanners open links); a decision uses the link up in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from casework.domain import engine
from casework.domain.errors import Gone
from casework.domain.model import Actor, BusinessUnit, Case
from casework.domain.views import CaseSummary, case_view
from casework.domain.workflow import WorkflowDefinition
from casework.services.case_context import CaseContext
from casework.services.link_tokens import APPROVAL_LINK, consume, open_link
from casework.services.ports import ApprovalToken, SideWrites


class LinkPage(BaseModel):
    """What an email-link page shows; its fields are the page template's variables."""

    model_config = ConfigDict(frozen=True)


class ApprovalPage(LinkPage):
    case: CaseSummary
    step: str
    step_label: str
    approver: str
    # names, as the email shows them, not usernames and unit codes
    requested_by: str
    business_unit_name: str
    case_title: str
    account: dict[str, Any] | None


class ApprovalDecided(LinkPage):
    case: CaseSummary
    decision: str
    approver: str


@dataclass(frozen=True)
class OpenedLink:
    """A valid link whose step still waits: its token, the case as it is now with its definition and unit,
    and who holds the link (the approver, or the contact asked to accept)."""

    token: ApprovalToken
    case: Case
    defn: WorkflowDefinition
    unit: BusinessUnit
    holder: Actor


class ApprovalLinks(CaseContext):
    def _open_approval(self, raw_token: str) -> OpenedLink:
        token = open_link(self.repo, self.clock, raw_token, APPROVAL_LINK)
        case, defn, unit = self._load(token.case_id)
        pending = case.approval
        if (
            pending is None
            or pending.step != token.step
            or pending.round != token.round
            or not pending.is_pending_for(token.approver, token.on_behalf_of)
        ):
            raise Gone(
                "APPROVAL_NOT_PENDING",
                "This approval is no longer waiting for your decision.",
                {"status": case.status},
            )
        return OpenedLink(token, case, defn, unit, self.actor(token.approver))

    def _acting_as(self, link: OpenedLink) -> str:
        """ "Dave", or "Dave on behalf of Peter" on a delegate's link."""
        principal_name = link.token.on_behalf_of
        if not principal_name:
            return link.holder.name
        principal = self.directory.user(principal_name)
        return f"{link.holder.name} on behalf of {principal.name if principal else principal_name}"

    def approval_page(self, raw_token: str) -> ApprovalPage:
        """What the confirm page shows. Changes nothing: mail scanners open links."""
        link = self._open_approval(raw_token)
        case, defn = link.case, link.defn
        creator = self.directory.user(case.created_by)
        return ApprovalPage(
            case=case_view(case),
            step=link.token.step,
            step_label=engine.approval_label(defn, case),
            approver=self._acting_as(link),
            requested_by=creator.name if creator else case.created_by,
            business_unit_name=link.unit.name or link.unit.code,
            case_title=defn.title,
            account=self.directory.account(case.account_id) if case.account_id else None,
        )

    def decide_by_token(self, raw_token: str, *, decision: str, comment: str | None) -> ApprovalDecided:
        link = self._open_approval(raw_token)
        now = self.clock()
        change = engine.decide(
            link.defn,
            link.case,
            link.holder,
            link.unit,
            decision=decision,
            comment=comment,
            now=now,
            via="email",
            on_behalf_of=link.token.on_behalf_of,
        )
        change = self._delegated(change)
        self.repo.commit(change, SideWrites(tokens=[consume(link.token, decision, now)]))
        return ApprovalDecided(case=case_view(change.case), decision=decision, approver=self._acting_as(link))
