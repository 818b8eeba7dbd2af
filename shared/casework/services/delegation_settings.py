"""Delegation: an approver names who is asked with them for approvals requested while they are away."""

from __future__ import annotations

from datetime import date

from casework.domain import delegation
from casework.domain.delegation import Delegation
from casework.domain.errors import NotFound
from casework.domain.model import timestamp
from casework.domain.views import DelegationEnded
from casework.services.case_context import CaseContext
from casework.services.ports import DelegationStore


class DelegationSettings(CaseContext):
    def _delegation_store(self) -> DelegationStore:
        if self.delegations is None:
            raise NotFound("NO_DELEGATION", "Delegation is not available here.")
        return self.delegations

    def delegation(self, username: str) -> Delegation:
        actor = self.actor(username)
        found = self._delegation_store().get(actor.username)
        if found is None:
            raise NotFound("NO_DELEGATION", "You have not delegated your approvals.")
        return found

    def set_delegation(self, username: str, *, delegate: str, starts: date, until: date) -> Delegation:
        """Name (or replace) who is asked with you for approvals requested from ``starts`` to ``until``."""
        actor = self.actor(username)
        now = self.clock()
        other = self.directory.user(delegate) if delegate != actor.username else actor
        delegation.check(actor, delegate, other, starts, until, now)
        record = Delegation(actor.username, delegate, starts, until, timestamp(now))
        self._delegation_store().put(record)
        return record

    def end_delegation(self, username: str) -> DelegationEnded:
        actor = self.actor(username)
        if not self._delegation_store().delete(actor.username):
            raise NotFound("NO_DELEGATION", "You have not delegated your approvals.")
        return DelegationEnded(owner=actor.username, deleted=True)
