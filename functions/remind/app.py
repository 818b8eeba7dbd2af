"""The daily approval reminder (EventBridge Scheduler -> this function): see casework.services.reminders.

The schedule's input is ignored; the run's outcome (cases seen, reminders sent, already sent today, failed)
is logged and returned. Some failed: the function fails after sending the rest, so the schedule's retry
policy runs it again, and only the failed ones go out then.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from casework import settings as environment
from casework.observability import entry_point

if TYPE_CHECKING:  # imported with the first event, by the builder below
    from casework.services.reminders import ApprovalReminders

REQUIRED = ("TABLE_NAME", "MAIL_FROM")
environment.load(*REQUIRED)  # fails the init phase with the names of what is missing


@cache
def reminders() -> ApprovalReminders:
    """Built on first use; adapters and their clients are reused by warm invocations."""
    from casework.adapters.approvals import DynamoReminders
    from casework.http.wiring import notifier, now
    from casework.services.reminders import ApprovalReminders

    # no sent ledger: each reminder is claimed under its own key first (see casework.services.reminders)
    return ApprovalReminders(
        store=DynamoReminders(),
        notifier=notifier(with_ledger=False),
        clock=now,
        default_hours=environment.load(*REQUIRED).remind_after_hours,
    )


@entry_point()
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    return reminders().run()
