"""Use cases around the care modules that are not commands on one case: the business's configuration (read
and replace, versioned), what a case type looks like (for forms), and the service request summary that
managers and team leads work from.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from casework.domain.error_codes import ErrorCode
from casework.domain.errors import Forbidden, NotFound, ValidationFailed
from casework.domain.model import Actor, timestamp
from casework.domain.tags import tag_list
from casework.domain.views import CaseRow
from casework.domain.visibility import is_admin, may_see_customers
from casework.domain.workflow import WorkflowDefinition
from casework.services.case_context import CaseContext
from casework.services.ports import ConfigStore

ADMIN_ROLES = frozenset({"Admin"})
SUMMARY_PAGE = 500
SUMMARY_MAX_PAGES = 40  # 20 000 open requests; beyond that the summary says it is partial
OVERDUE_LISTED = 50


def describe(defn: WorkflowDefinition) -> dict[str, Any]:
    """A case type as a form builder needs it: statuses and their states, fields (with choices and
    sections), how it is created, and the moves between statuses."""
    return {
        "type": defn.name,
        "title": defn.title,
        "version": defn.version,
        "subtype": defn.subtype,
        "type_name": defn.raw.get("type_name"),
        "config_version": defn.config_version,
        "states": list(defn.states),
        "terminal_states": sorted(defn.terminal_states),
        "initial_status": defn.initial_status,
        "statuses": [{"name": s.name, "state": s.state} for s in defn.statuses.values()],
        "fields": {
            name: {
                "type": spec.type.value,
                "label": spec.label,
                "choices": list(spec.choices),
                "choice_labels": dict(spec.choice_labels),
                "section": spec.section,
            }
            for name, spec in defn.fields.items()
        },
        "sections": [section.model_dump(mode="json") for section in defn.sections],
        "create": {
            "requires": list(defn.create.requires),
            "accepts": list(defn.create.accepts),
            "defaults": dict(defn.create.defaults),
        },
        "transitions": [
            {
                "name": t.name,
                "label": t.label,
                "from": list(t.sources),
                "to": t.to,
                "accepts": list(t.accepts),
                "requires": list(t.requires),
            }
            for t in defn.transitions
        ],
        "related": dict(defn.related),
        "children": {kind: {"case_type": c.case_type, "label": c.label} for kind, c in defn.children.items()},
        # the type's own communications: templates for POST /cases/{id}/communications
        "communications": [
            {
                "template": n.template,
                "event": n.event,
                "states": list(n.states),
                "to": n.recipient,
                "subject": n.subject,
                "text": n.body,
            }
            for n in defn.notifications
            if n.subject is not None
        ],
        # the #tags that admin-written texts (workflow rule alerts, activity titles) may use
        "tags": tag_list(),
    }


@dataclass
class CareService:
    cases: CaseContext
    configs: ConfigStore

    def _actor_with(self, username: str, roles: frozenset[str], what: str) -> Actor:
        actor = self.cases.actor(username)
        if not roles & actor.roles:
            raise Forbidden(ErrorCode.NOT_ALLOWED, f"Only {', '.join(sorted(roles))} may {what}.")
        return actor

    # --- configuration ---

    def get_config(self, username: str, module: str, version: int | None = None) -> dict[str, Any]:
        from casework.domain.care.config import MODULES

        self.cases.actor(username)
        if module not in MODULES:
            raise NotFound(
                ErrorCode.UNKNOWN_MODULE, f"There is no module {module!r}.", {"modules": list(MODULES)}
            )
        config, version = self.configs.get(module, version)
        return {"module": module, "version": version, "config": config.model_dump(mode="json")}

    def put_config(
        self, username: str, module: str, raw: dict[str, Any], expected_version: int | None
    ) -> dict[str, Any]:
        """Replace a module's configuration with a new version. Cases keep the version they started with."""
        from casework.domain.care.compile import compile_definition
        from casework.domain.care.config import MODULES, InvalidConfiguration, parse_config
        from casework.domain.errors import InvalidDefinition

        self._actor_with(username, ADMIN_ROLES, "change the configuration")
        if module not in MODULES:
            raise NotFound(
                ErrorCode.UNKNOWN_MODULE, f"There is no module {module!r}.", {"modules": list(MODULES)}
            )
        activity_codes = None
        if module != "activity":
            activities, _ = self.configs.get("activity")
            activity_codes = [t.code for t in activities.types]
        try:
            config = parse_config(module, raw, activity_type_codes=activity_codes)
            template = self.cases.workflows.template(module)
            for t in config.types:  # every type must compile into a definition the engine can run
                compile_definition(template, config, t.code, 0)
        except InvalidConfiguration as exc:
            raise ValidationFailed(
                ErrorCode.INVALID_CONFIGURATION, "The configuration is not valid.", {"problems": exc.problems}
            ) from None
        except InvalidDefinition as exc:
            raise ValidationFailed(
                ErrorCode.INVALID_CONFIGURATION,
                "The configuration cannot run as a workflow.",
                {"problems": [{"location": "types", "message": str(exc)}]},
            ) from None
        version = self.configs.put(module, config, expected_version)
        return {"module": module, "version": version, "config": config.model_dump(mode="json")}

    def case_type(self, username: str, type: str, subtype: str | None = None) -> dict[str, Any]:
        self.cases.actor(username)
        return describe(self.cases.definition_for_new(type, subtype))

    def directory_record(self, username: str, kind: str, key: str) -> dict[str, Any]:
        """A contact or account as the directory has it (a won lead's conversion shows here); for whoever
        may not see customers (casework.domain.visibility), there is none."""
        actor = self.cases.actor(username)
        directory = self.cases.directory
        record = directory.contact(key, fresh=True) if kind == "contact" else directory.account(key)
        if record is None or not may_see_customers(actor):
            code = ErrorCode.UNKNOWN_CONTACT if kind == "contact" else ErrorCode.UNKNOWN_ACCOUNT
            raise NotFound(code, f"There is no {kind} {key!r}.")
        return record

    # --- the service request summary ---

    def summary(
        self, username: str, case_type: str = "service_request", business_unit: str | None = None
    ) -> dict[str, Any]:
        """Open cases of a type counted by state, status, priority, assignee and unit, the overdue ones, and
        the caller's own open work (``mine``), from the index that holds only open cases, keyed by type and
        business unit: one Query per shard of each unit (per 500 cases), never a Scan, never another unit's
        cases.

        Every user sees the units they belong to (a manager their teams', an agent their own and their unit's
        work); an Admin every unit; ``business_unit`` narrows it to one of those."""
        actor = self.cases.actor(username)
        self.cases.workflows.get(case_type)  # 404 UNKNOWN_CASE_TYPE rather than a summary of nothing
        everywhere = is_admin(actor)
        if business_unit and not everywhere and business_unit not in actor.business_units:
            raise Forbidden(
                ErrorCode.NOT_ALLOWED, f"You see the summary of your own business units, not {business_unit}."
            )
        if business_unit:
            units: tuple[str, ...] = (business_unit,)
        else:
            units = self.cases.directory.unit_codes() if everywhere else tuple(sorted(actor.business_units))
        now = self.cases.clock()
        counts: dict[str, Counter[str]] = {
            k: Counter() for k in ("state", "status", "priority", "assignee", "business_unit")
        }
        overdue: list[dict[str, Any]] = []
        mine: list[dict[str, Any]] = []
        total, complete = 0, True
        for unit in units:
            cursor, pages = None, 0
            while True:
                page = self.cases.repo.open_cases(case_type, unit, cursor, SUMMARY_PAGE)
                pages += 1
                for case in page.items:
                    total += 1
                    counts["state"][case.state] += 1
                    counts["status"][case.status] += 1
                    counts["priority"][str(case.priority or "none")] += 1
                    counts["assignee"][case.assignee or "(unassigned)"] += 1
                    counts["business_unit"][case.business_unit] += 1
                    entry = _open_entry(case, now)
                    if entry["overdue_seconds"] > 0:
                        overdue.append(entry)
                    if case.assignee == actor.username:
                        mine.append(entry)
                cursor = page.next_cursor
                if cursor is None or pages >= SUMMARY_MAX_PAGES:
                    complete = complete and cursor is None
                    break
        overdue.sort(key=lambda c: c["expected_completion_date"])
        mine.sort(key=lambda c: c["expected_completion_date"] or "9999")
        return {
            "case_type": case_type,
            "business_unit": business_unit,
            "business_units": list(units),
            "at": timestamp(now),
            "open": total,
            "complete": complete,
            "by_state": dict(counts["state"]),
            "by_status": dict(counts["status"]),
            "by_priority": dict(counts["priority"]),
            "by_assignee": dict(counts["assignee"]),
            "by_business_unit": dict(counts["business_unit"]),
            "overdue_count": len(overdue),
            "overdue": overdue[:OVERDUE_LISTED],
            "mine": {
                "open": len(mine),
                "overdue": sum(1 for c in mine if c["overdue_seconds"] > 0),
                "items": mine[:OVERDUE_LISTED],
            },
        }


def _open_entry(case: CaseRow, now: datetime) -> dict[str, Any]:
    """One open case as the summary lists it; ``overdue_seconds`` is 0 unless it is late at ``now``."""
    expected = case.dates.expected_completion_date
    late = (now - datetime.fromisoformat(expected)).total_seconds() if expected else 0
    return {
        "id": case.id,
        "title": case.title,
        "status": case.status,
        "priority": case.priority,
        "assignee": case.assignee,
        "business_unit": case.business_unit,
        "expected_completion_date": expected,
        "overdue_seconds": max(0, int(late)),
    }
