"""Delegation of approvals: an approver away for a period names a delegate, who is asked too. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from casework.domain.error_codes import ErrorCode
from casework.domain.errors import ValidationFailed
from casework.domain.model import Actor

MAX_DAYS = 366  # a delegation is for an absence, not a standing arrangement (that is a unit's approval rule)


@dataclass(frozen=True)
class Delegation:
    """``delegate`` is asked, with the owner, for approvals requested from ``starts`` to ``until`` (whole
    UTC days, both included)."""

    owner: str
    delegate: str
    starts: date
    until: date
    set_at: str

    def covers(self, day: date) -> bool:
        return self.starts <= day <= self.until

    def to_dict(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "delegate": self.delegate,
            "from": self.starts.isoformat(),
            "until": self.until.isoformat(),
            "set_at": self.set_at,
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Delegation:
        return cls(
            owner=record["owner"],
            delegate=record["delegate"],
            starts=date.fromisoformat(record["from"]),
            until=date.fromisoformat(record["until"]),
            set_at=record["set_at"],
        )


def check(
    owner: Actor, delegate_name: str, delegate: Actor | None, starts: date, until: date, now: datetime
) -> None:
    """Every problem of a delegation at once (422 INVALID_DELEGATION, ``details.problems``): the delegate must
    be another, active user; the period must not end before it starts, nor in the past, nor last a year."""
    problems = []
    if delegate_name == owner.username:
        problems.append(
            {"location": "delegate", "code": "SELF_DELEGATION", "message": "You cannot delegate to yourself."}
        )
    elif delegate is None:
        problems.append(
            {"location": "delegate", "code": "UNKNOWN_DELEGATE", "message": f"{delegate_name} is not a user."}
        )
    elif not delegate.active:
        problems.append(
            {
                "location": "delegate",
                "code": "INACTIVE_DELEGATE",
                "message": f"{delegate_name} is not active.",
            }
        )
    if until < starts:
        problems.append({"location": "until", "code": "PERIOD_REVERSED", "message": "until is before from."})
    elif until < now.date():
        problems.append(
            {"location": "until", "code": "PERIOD_OVER", "message": "The period is over already."}
        )
    elif (until - starts).days >= MAX_DAYS:
        problems.append(
            {
                "location": "until",
                "code": "PERIOD_TOO_LONG",
                "message": f"A delegation lasts at most {MAX_DAYS} days.",
            }
        )
    if problems:
        raise ValidationFailed(
            ErrorCode.INVALID_DELEGATION, "The delegation is not valid.", {"problems": problems}
        )
