"""The daily approval reminder (EventBridge Scheduler -> this function): see casework.services.reminders.

The schedule's input is ignored; the run's outcome (cases seen, reminders sent, already sent today, failed)
is logged and returned. Some failed: the function fails after sending the rest, so the schedule's retry
policy runs it again, and only the failed ones go out then.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from casework.services.reminders import ApprovalReminders

logger = Logger(service="casework")


def now() -> datetime:
    return datetime.now(UTC)


@cache
def reminders() -> ApprovalReminders:
    """Built on first use; adapters and their clients are reused by warm invocations."""
    from casework.adapters.approvals import DynamoReminders
    from casework.adapters.dynamo import DynamoCaseRepository, DynamoDirectory, DynamoWorkflowStore
    from casework.adapters.mailer import EmailRenderer, SesMailer
    from casework.services.notify import Notifier

    notifier = Notifier(
        repo=DynamoCaseRepository(),
        directory=DynamoDirectory(),
        workflows=DynamoWorkflowStore(),
        mailer=SesMailer(os.environ["MAIL_FROM"]),
        renderer=EmailRenderer(),
        clock=now,
        public_base_url=os.environ["PUBLIC_BASE_URL"].rstrip("/"),
        token_ttl_hours=int(os.environ.get("APPROVAL_TOKEN_TTL_HOURS") or 168),
        case_url_template=os.environ.get("CASE_URL_TEMPLATE", ""),
    )
    default_hours = int(os.environ.get("REMIND_AFTER_HOURS") or 48)
    return ApprovalReminders(
        store=DynamoReminders(), notifier=notifier, clock=now, default_hours=default_hours
    )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    return reminders().run()
