"""Returning a physical good through a service request: is it still within its return period, and is the
reason given for the return covered (a free replacement)?"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from casework.domain.care.config import CoverageReason
from casework.domain.durations import add


def last_return_date(reason: CoverageReason, warehouse_issue_date: date) -> date:
    """The last day a good issued on ``warehouse_issue_date`` may be returned for ``reason``.

    The period runs from midnight UTC of the issue day, so a month-long period ending on a shorter month
    lands on its last day (issued 31 January, 1 month: 28/29 February).
    """
    issued = datetime.combine(warehouse_issue_date, time(), tzinfo=UTC)
    return add(issued, reason.return_period).date()


def check_return(reason: CoverageReason, warehouse_issue_date: date, return_date: date) -> dict[str, Any]:
    """Whether a return on ``return_date`` is within the period and covered.

    The return date may be the last day of the period but not later; a return before the good was issued
    is a ValueError (the dates were mixed up).
    """
    if return_date < warehouse_issue_date:
        raise ValueError(
            f"The return date {return_date.isoformat()} is before the warehouse issue date "
            f"{warehouse_issue_date.isoformat()}."
        )
    last_day = last_return_date(reason, warehouse_issue_date)
    within = return_date <= last_day
    return {
        "coverage_reason": reason.code,
        "covered": reason.covered and within,
        "within_return_period": within,
        "last_return_date": last_day.isoformat(),
        "return_period": str(reason.return_period),
    }
