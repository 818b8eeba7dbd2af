"""The few rules that belong to one module's code rather than to data: an activity's services and time
spent, a won lead's conversion. The engine calls them around a case's moves (see ``engine._module_rules``);
everything else about the modules is configuration compiled into definitions.
"""

from __future__ import annotations

from typing import Any

from casework.domain.care.compile import type_config
from casework.domain.error_codes import ErrorCode
from casework.domain.errors import Conflict, ValidationFailed
from casework.domain.workflow import Status


class ModuleRules:
    """No-op hooks; a module overrides the moments it cares about."""

    def on_register(self, draft: Any) -> None:
        """The case is being created (values set, not yet settled)."""

    def entering(self, draft: Any, status: Status) -> None:
        """The case is about to enter ``status``; raise to refuse the move."""

    def entered(self, draft: Any, status: Status) -> None:
        """The case has entered ``status``."""


class ActivityRules(ModuleRules):
    def on_register(self, draft: Any) -> None:
        from casework.domain.care.activities import auto_applied_services

        if not draft.case.fields.get("services"):
            services = auto_applied_services(type_config(draft.defn))
            if services:
                draft.set_values({"services": services})

    def entering(self, draft: Any, status: Status) -> None:
        if status.state == "in_progress":
            self._ensure_resources(draft)
        self._check_services(draft, status)

    @staticmethod
    def _ensure_resources(draft: Any) -> None:
        """An activity starts only with a resource booked (and confirmed, if so configured) for each of its
        type's services that require one (seed 003, "Resource Scheduling")."""
        from casework.domain.resources import missing_resources

        missing = missing_resources(
            type_config(draft.defn).services, draft.case.fields.get("resource_bookings") or ()
        )
        if missing:
            raise Conflict(
                "RESOURCE_REQUIRED",
                "Book a resource for each service that needs one before the activity starts.",
                {"missing": missing},
            )

    @staticmethod
    def _check_services(draft: Any, status: Status) -> None:
        """Completing an activity checks the time spent on each service against the type's minimum, adds
        nothing the user did not log except fixed services, which always count their set time."""
        if status.state != "completed":
            return
        from casework.domain.care.activities import ServicesInvalid, check_services_on_completion

        try:
            services = check_services_on_completion(
                type_config(draft.defn), list(draft.case.fields.get("services") or ())
            )
        except ServicesInvalid as exc:
            raise ValidationFailed(
                ErrorCode.INVALID_SERVICES,
                "The services logged do not meet the activity type's rules.",
                {"problems": exc.problems},
            ) from None
        draft.set_values({"services": services})


class LeadRules(ModuleRules):
    def entered(self, draft: Any, status: Status) -> None:
        """A won lead asks for its conversion; the converter creates the account exactly once."""
        if status.state != "won":
            return
        conversion = type_config(draft.defn).auto_conversion
        draft.emit(
            "LeadWon",
            contact_id=draft.case.contact_id,
            lead_title=draft.case.title,
            lead_number=draft.case.id,
            conversion=None
            if not conversion.enabled
            else {
                "account_classification": conversion.account_classification,
                "credit_rating": conversion.credit_rating,
            },
        )


_RULES: dict[str, ModuleRules] = {"activity": ActivityRules(), "lead": LeadRules()}
_NONE = ModuleRules()


def rules_for(module: str) -> ModuleRules:
    return _RULES.get(module, _NONE)
