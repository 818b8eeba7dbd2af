"""Every use case on cases over one set of ports: for callers that drive several of them (wiring, whose
narrower accessors hand out this same object as the one use case they need; tests that tell a whole story;
scripts). Each use case lives in its own module; see case_context for what they share."""

from __future__ import annotations

from casework.services.case_commands import CaseCommands
from casework.services.case_feedback import CaseFeedback
from casework.services.case_notes import CaseNotes
from casework.services.case_queries import CaseQueries
from casework.services.delegation_settings import DelegationSettings
from casework.services.email_links import ApprovalLinks


class CaseService(CaseCommands, CaseNotes, CaseQueries, CaseFeedback, ApprovalLinks, DelegationSettings):
    """All of them; no behaviour of its own."""
