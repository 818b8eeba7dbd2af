"""The feedback summary under Analytics (seed 003): ratings and comments by case type, business unit,
assignee and period, read from running aggregates, never from the feedback itself.

Each FeedbackGiven event adds its rating to the cells it belongs to: per unit and period (the month and the
year), the cell ``<case type>#<assignee>`` and its roll-ups with ``*`` (any type, anyone), so any filter
combination is one cell and the breakdowns are the other cells of the same partition. A rating adds 1 to
``count`` and ``r<rating>``, and the rating to ``total`` (atomic ADDs, once per event). A comment goes to
the month's comment lists of the same four combinations, newest first.

Who sees what: everybody the units they belong to, an Admin every unit (as the open-case summary).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from casework.domain.errors import Forbidden, ValidationFailed
from casework.domain.visibility import is_admin
from casework.services.ports import Directory, FeedbackSummaryStore, FeedbackTally, Page, active_user

ANY = "*"
UNASSIGNED = "-"
RATINGS = (1, 2, 3, 4, 5)
_PERIOD = re.compile(r"^\d{4}(-(0[1-9]|1[0-2]))?$")
_SAFE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def summary_partition(unit: str, period: str) -> str:
    return f"FEEDBACKSUM#{unit}#{period}"


def comment_list(unit: str, month: str, case_type: str, assignee: str) -> str:
    return f"FEEDBACKCOMMENTS#{unit}#{month}#{case_type}#{assignee}"


def tally(event: dict[str, Any]) -> FeedbackTally:
    """What a FeedbackGiven event adds; ValidationFailed (the message is refused) if it cannot be counted."""
    data = event.get("data") or {}
    rating, unit = data.get("rating"), data.get("business_unit")
    at = str(event.get("occurred_at") or "")
    if isinstance(rating, bool) or rating not in RATINGS:
        raise ValidationFailed(
            "INVALID_EVENT", "FeedbackGiven without a rating of 1 to 5.", {"id": event["id"]}
        )
    if not isinstance(unit, str) or not unit or not re.match(r"^\d{4}-\d{2}-", at):
        raise ValidationFailed(
            "INVALID_EVENT", "FeedbackGiven without its business unit or time.", {"id": event["id"]}
        )
    month, year = at[:7], at[:4]
    case_type = str(event["case_type"])
    assignee = str(data.get("assignee") or UNASSIGNED)
    combos = [(t, a) for t in (case_type, ANY) for a in (assignee, ANY)]
    cells = [(summary_partition(unit, p), f"{t}#{a}") for p in (month, year) for t, a in combos]
    comment = (data.get("comment") or "").strip()
    return FeedbackTally(
        key=str(event["id"]),
        rating=rating,
        cells=cells,
        comment_lists=[comment_list(unit, month, t, a) for t, a in combos] if comment else [],
        comment={
            "case_id": event["case_id"],
            "case_type": case_type,
            "subtype": event.get("subtype"),
            "assignee": None if assignee == UNASSIGNED else assignee,
            "rating": rating,
            "comment": comment,
            "at": at,
        }
        if comment
        else None,
    )


def figures(cells: list[dict[str, Any]]) -> dict[str, Any]:
    count = sum(int(c.get("count", 0)) for c in cells)
    total = sum(int(c.get("total", 0)) for c in cells)
    return {
        "count": count,
        "average": round(total / count, 2) if count else None,
        "distribution": {str(r): sum(int(c.get(f"r{r}", 0)) for c in cells) for r in RATINGS},
    }


@dataclass
class FeedbackSummary:
    store: FeedbackSummaryStore
    directory: Directory

    def count(self, event: dict[str, Any]) -> str:
        """The consumer's handling of one FeedbackGiven event: ``counted``, or ``duplicate``."""
        return "counted" if self.store.add(tally(event)) else "duplicate"

    def _units(self, username: str, unit: str | None) -> tuple[str, ...]:
        actor = active_user(self.directory, username)
        everywhere = is_admin(actor)
        if unit:
            if not everywhere and unit not in actor.business_units:
                raise Forbidden(
                    "NOT_ALLOWED", f"You see the feedback of your own business units, not {unit}."
                )
            return (unit,)
        return self.directory.unit_codes() if everywhere else tuple(sorted(actor.business_units))

    @staticmethod
    def _filters(period: str, case_type: str | None, assignee: str | None) -> tuple[str, str]:
        problems = []
        if not _PERIOD.match(period or ""):
            problems.append({"location": "period", "message": "a month (2026-11) or a year (2026)"})
        for name, value in (("case_type", case_type), ("assignee", assignee)):
            if value is not None and not _SAFE.match(value):
                problems.append({"location": name, "message": "letters, digits, _ . @ - (64 at most)"})
        if problems:
            raise ValidationFailed(
                "INVALID_FILTER", "The summary's filters are not valid.", {"problems": problems}
            )
        return case_type or ANY, assignee or ANY

    def summary(
        self,
        username: str,
        *,
        period: str,
        unit: str | None = None,
        case_type: str | None = None,
        assignee: str | None = None,
    ) -> dict[str, Any]:
        """The figures of the chosen cell summed over the units, and the breakdowns by unit, by type (for
        the chosen assignee) and by assignee (for the chosen type): one Query per unit."""
        t, a = self._filters(period, case_type, assignee)
        units = self._units(username, unit)
        chosen: list[dict[str, Any]] = []
        by_unit: dict[str, dict[str, Any]] = {}
        by_type: dict[str, list[dict[str, Any]]] = {}
        by_assignee: dict[str, list[dict[str, Any]]] = {}
        for code in units:
            cells = {c["cell"]: c for c in self.store.cells(summary_partition(code, period))}
            cell = cells.get(f"{t}#{a}")
            if cell:
                chosen.append(cell)
                by_unit[code] = figures([cell])
            for name, c in cells.items():
                ctype, cassignee = name.split("#", 1)
                if cassignee == a and ctype != ANY:
                    by_type.setdefault(ctype, []).append(c)
                if ctype == t and cassignee != ANY:
                    by_assignee.setdefault(cassignee, []).append(c)
        return {
            "period": period,
            "units": list(units),
            "case_type": case_type,
            "assignee": assignee,
            **figures(chosen),
            "by_unit": by_unit,
            "by_type": {k: figures(v) for k, v in sorted(by_type.items())},
            "by_assignee": {
                ("(unassigned)" if k == UNASSIGNED else k): figures(v) for k, v in sorted(by_assignee.items())
            },
        }

    def comments(
        self,
        username: str,
        *,
        period: str,
        unit: str | None = None,
        case_type: str | None = None,
        assignee: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        """The comments of one unit and month (newest first), narrowed by type and assignee."""
        t, a = self._filters(period, case_type, assignee)
        if len(period) != 7:
            raise ValidationFailed(
                "INVALID_FILTER",
                "Comments are listed by month (period=2026-11).",
                {"problems": [{"location": "period", "message": "a month"}]},
            )
        units = self._units(username, unit)
        if len(units) != 1:
            raise ValidationFailed(
                "INVALID_FILTER",
                "Name the business unit whose comments you want (unit=...).",
                {
                    "problems": [{"location": "unit", "message": "required: you see several units"}],
                    "units": units,
                },
            )
        return self.store.comments(comment_list(units[0], period, t, a), cursor, limit)
