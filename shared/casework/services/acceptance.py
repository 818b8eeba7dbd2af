"""Acceptance links: the contact accepts or refuses a response or resolution from the link in an email.

There is no login: the link is the credential, like an approver's (services/link_tokens.py has the one
lookup both kinds go through). Its token has purpose "acceptance"; an approval token is unknown here, as an
acceptance token is on the approval pages. ``page`` changes nothing (mail scanners open links); ``decide``
records the decision and uses the token up in the same transaction.
"""

from __future__ import annotations

from casework.domain import engine
from casework.domain.answers import Answer, answer_view
from casework.domain.errors import Gone, ValidationFailed
from casework.domain.model import Actor
from casework.domain.views import CaseSummary, case_view
from casework.services.case_context import CaseContext
from casework.services.email_links import LinkPage, OpenedLink
from casework.services.link_tokens import ACCEPTANCE_LINK, consume, open_link
from casework.services.ports import SideWrites


class AcceptancePage(LinkPage):
    case: CaseSummary
    number: str
    case_title: str
    type_name: str
    answer: Answer
    contact: str


class AcceptanceDecided(LinkPage):
    case: CaseSummary
    number: str
    decision: str
    answer: Answer
    contact: str


def _contact_name(link: OpenedLink) -> str:
    """The contact's name as the directory has it, or nothing (never their ``contact:<id>`` key)."""
    return link.holder.name if link.holder.display_name else ""


class AcceptanceLinks(CaseContext):
    def _open(self, raw_token: str) -> OpenedLink:
        token = open_link(self.repo, self.clock, raw_token, ACCEPTANCE_LINK)
        case = self.repo.get(token.case_id)
        defn = self.definition_of(case)
        contact_id = token.approver.removeprefix(ACCEPTANCE_LINK.holder_prefix)
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
        return OpenedLink(token, case, defn, unit, contact)

    def page(self, raw_token: str) -> AcceptancePage:
        """What the confirm page shows. Changes nothing."""
        link = self._open(raw_token)
        return AcceptancePage(
            case=case_view(link.case),
            number=link.case.id,
            case_title=link.defn.title,
            type_name=link.defn.raw.get("type_name") or link.defn.title,
            answer=answer_view(link.defn, link.case),
            contact=_contact_name(link),
        )

    def decide(self, raw_token: str, decision: str, comment: str | None) -> AcceptanceDecided:
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
            link.holder,
            link.unit,
            decision=decision,
            comment=comment,
            round=link.token.round,
            now=now,
            via="email",
        )
        self.repo.commit(change, SideWrites(tokens=[consume(link.token, decision, now)]))
        return AcceptanceDecided(
            case=case_view(change.case),
            number=change.case.id,
            decision=decision,
            answer=answer_view(link.defn, change.case),
            contact=_contact_name(link),
        )
