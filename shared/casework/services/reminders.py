"""The daily approval reminder: every approval waiting longer than its business unit's rule says reminds the
people it waits for (approvers and their delegates), once a day each, with a fresh link.

Run by an EventBridge Scheduler schedule (functions/remind). Found through the sparse ``pending_approvals``
index (a Query per shard, never a Scan); each reminder is claimed first under its own key (case + step +
round + person + UTC day), so a retried or overlapping run sends nothing twice, and released when the email
could not go out, so the scheduler's retry sends it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from casework.domain import engine
from casework.domain.errors import DomainError
from casework.domain.model import timestamp
from casework.services.notify import Notifier, remind
from casework.services.ports import Clock

logger = logging.getLogger(__name__)


class ReminderStore(Protocol):
    def waiting_case_ids(self, requested_before: str) -> Iterator[str]: ...

    def claim(self, key: str, now: datetime) -> bool: ...

    def release(self, key: str) -> None: ...


class RemindersIncomplete(Exception):
    """Some reminders could not be sent (each logged); raised after the rest went out, so the schedule's
    retry policy runs again and sends only those (the others are claimed)."""


@dataclass
class ApprovalReminders:
    store: ReminderStore
    notifier: Notifier
    clock: Clock
    default_hours: int = engine.DEFAULT_REMIND_AFTER_HOURS

    def run(self) -> dict[str, int]:
        now = self.clock()
        day = now.date().isoformat()
        counts = {"cases": 0, "sent": 0, "already_sent": 0, "not_emailed": 0, "failed": 0}
        repo, directory = self.notifier.repo, self.notifier.directory
        for case_id in self.store.waiting_case_ids(timestamp(now)):
            counts["cases"] += 1
            try:
                case = repo.get(case_id)
                unit = directory.business_unit(case.business_unit)
            except DomainError as exc:  # deleted meanwhile: nothing to remind of
                logger.warning("case not readable; skipped", extra={"case_id": case_id, "error": exc.code})
                continue
            if unit is None or case.approval is None:
                continue
            for person, on_behalf_of in engine.reminders_due(
                case, unit, now=now, default_hours=self.default_hours
            ):
                key = f"{case.id}#{case.approval.step}#{case.approval.round}#{person}#{day}"
                if not self.store.claim(key, now):
                    counts["already_sent"] += 1
                    continue
                try:
                    sent = remind(self.notifier, case, person, on_behalf_of)
                except Exception:
                    logger.exception("reminder failed; released for the retry", extra={"reminder": key})
                    self.store.release(key)
                    counts["failed"] += 1
                    continue
                counts["sent" if sent else "not_emailed"] += 1
        logger.info("approval reminders", extra=counts)
        if counts["failed"]:
            raise RemindersIncomplete(f"{counts['failed']} reminders failed; see the log")
        return counts
