"""Resource booking for activity services (seed 003 "Booking resources to complete an activity service"):
Admins keep resources and their calendars; anybody working on an activity searches availability and books a
resource for a slot on one of the activity's services; the resource's owner confirms or declines when the
activity type asks for confirmation; a booking can be cancelled. Each booking change is also a change of the
activity (its field ``resource_bookings`` and history), committed with the claim or release of the resource's
time in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from casework.domain import engine
from casework.domain.care.compile import type_config
from casework.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed, require_version_read
from casework.domain.model import Actor, Case
from casework.domain.resources import (
    GRANULE_MINUTES,
    HOLDING,
    MAX_WINDOW,
    Resource,
    booking_summary,
    check_slot,
    check_window,
    ensure_working,
    free_spans,
    granules,
    instant,
    iso,
    parse_resource,
)
from casework.domain.visibility import ensure_visible, is_admin
from casework.domain.workflow import WorkflowDefinition
from casework.services.ports import (
    BookingStore,
    CaseRepository,
    Clock,
    ConfigStore,
    Directory,
    IdFactory,
    Page,
    WorkflowStore,
    active_user,
)

MAX_RESOURCES_PAGE = 50


def resource_not_found(resource_id: str) -> NotFound:
    return NotFound("RESOURCE_NOT_FOUND", f"No resource {resource_id!r}.", {"resource_id": resource_id})


@dataclass
class BookingService:
    store: BookingStore
    repo: CaseRepository
    directory: Directory
    workflows: WorkflowStore
    configs: ConfigStore
    clock: Clock
    new_id: IdFactory

    # --- resources (Admin) ---

    def _admin(self, username: str) -> Actor:
        actor = active_user(self.directory, username)
        if not is_admin(actor):
            raise Forbidden("NOT_ALLOWED", "Only an Admin manages resources.")
        return actor

    def _services(self) -> set[str]:
        config, _version = self.configs.get("activity")
        return {spec.product for t in config.types for spec in t.services}

    def _parse(self, raw: Any) -> Resource:
        unit = raw.get("unit") if isinstance(raw, dict) else None
        known = [unit] if isinstance(unit, str) and self.directory.business_unit(unit) is not None else []
        return parse_resource(raw, known, self._services())

    def create_resource(self, username: str, raw: Any) -> dict[str, Any]:
        self._admin(username)
        resource = self._parse(raw)
        self.store.save_resource(resource.to_dict(), None, 1)
        return {**resource.to_dict(), "version": 1}

    def replace_resource(
        self, username: str, resource_id: str, raw: Any, expected_version: int
    ) -> dict[str, Any]:
        self._admin(username)
        stored = self.store.resource(resource_id)
        if stored is None:
            raise resource_not_found(resource_id)
        previous, version = stored
        require_version_read("resource", expected_version, version)
        resource = self._parse({**(raw if isinstance(raw, dict) else {}), "id": resource_id})
        self.store.save_resource(resource.to_dict(), previous, version + 1)
        return {**resource.to_dict(), "version": version + 1}

    def get_resource(self, username: str, resource_id: str) -> dict[str, Any]:
        active_user(self.directory, username)
        stored = self.store.resource(resource_id)
        if stored is None:
            raise resource_not_found(resource_id)
        return {**stored[0], "version": stored[1]}

    def list_resources(
        self, username: str, *, unit: str, service: str, cursor: str | None = None, limit: int = 50
    ) -> Page:
        active_user(self.directory, username)
        return self.store.resources_for(unit, service, cursor, min(limit, MAX_RESOURCES_PAGE))

    # --- availability ---

    def availability(
        self,
        username: str,
        *,
        service: str,
        unit: str,
        starts: str,
        ends: str,
        minutes: int = GRANULE_MINUTES,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Who of ``unit`` provides ``service`` and when they are free in the window, in stretches of at
        least ``minutes``: one Query for the resources, one per resource for its booked time. No Scan."""
        active_user(self.directory, username)
        start, end = instant(starts, "from"), instant(ends, "to")
        check_window(start, end, longest=MAX_WINDOW, what="search window")
        if service not in self._services():
            raise ValidationFailed(
                "UNKNOWN_SERVICE", f"{service!r} is not a service of any activity type.", {"service": service}
            )
        if self.directory.business_unit(unit) is None:
            raise ValidationFailed("UNKNOWN_BUSINESS_UNIT", f"Business unit {unit!r} does not exist.")
        page = self.store.resources_for(unit, service, cursor, MAX_RESOURCES_PAGE)
        items = []
        for raw in page.items:
            resource = Resource.model_validate(raw)
            free = free_spans(
                resource, start, end, self.store.taken(resource.id, start, end), timedelta(minutes=minutes)
            )
            if free:
                items.append(
                    {
                        "resource": {k: raw[k] for k in ("id", "name", "kind", "unit", "owner")},
                        "free": [{"from": iso(s), "to": iso(e)} for s, e in free],
                    }
                )
        return {"items": items, "next_cursor": page.next_cursor}

    # --- bookings ---

    def _activity(self, actor: Actor, case_id: str) -> tuple[Case, WorkflowDefinition]:
        case = self.repo.get(case_id)
        defn = self.workflows.get(
            case.type, case.workflow_version, subtype=case.subtype, config_version=case.config_version
        )
        ensure_visible(defn, case, actor)
        if case.type != "activity":
            raise ValidationFailed("NOT_AN_ACTIVITY", "Resources are booked for activities.")
        return case, defn

    @staticmethod
    def _works_on(actor: Actor, case: Case) -> bool:
        return (
            case.business_unit in actor.business_units
            or actor.username in (case.assignee, case.created_by)
            or is_admin(actor)
        )

    def book(
        self, username: str, case_id: str, *, resource_id: str, service: str, starts: str, ends: str
    ) -> dict[str, Any]:
        actor = active_user(self.directory, username)
        case, defn = self._activity(actor, case_id)
        if not self._works_on(actor, case):
            raise Forbidden("NOT_ALLOWED", f"Only members of {case.business_unit} and the people on it book.")
        spec = next((s for s in type_config(defn).services if s.product == service), None)
        if spec is None:
            raise ValidationFailed(
                "UNKNOWN_SERVICE",
                f"This activity's type does not provide {service!r}.",
                {"service": service, "services": [s.product for s in type_config(defn).services]},
            )
        stored = self.store.resource(resource_id)
        if stored is None:
            raise resource_not_found(resource_id)
        resource = Resource.model_validate(stored[0])
        if service not in resource.services:
            raise ValidationFailed(
                "SERVICE_NOT_PROVIDED",
                f"{resource.name} does not provide {service}.",
                {"resource_id": resource.id, "services": resource.services},
            )
        start, end = instant(starts, "from"), instant(ends, "to")
        check_slot(start, end)
        if start < self.clock():
            raise ValidationFailed(
                "INVALID_WINDOW", "A booking cannot start in the past.", {"from": iso(start)}
            )
        ensure_working(resource, start, end)
        confirmed = not spec.resource_confirmation or actor.username == resource.owner
        booking = {
            "id": self.new_id(),
            "activity_id": case.id,
            "resource_id": resource.id,
            "resource_name": resource.name,
            "owner": resource.owner,
            "service": service,
            "starts": iso(start),
            "ends": iso(end),
            "status": "confirmed" if confirmed else "requested",
            "requested_by": actor.username,
            "requested_at": iso(self.clock()),
            "version": 1,
        }
        unit = self._unit(case)
        change = engine.record_booking(
            defn,
            case,
            actor,
            unit,
            booking=booking_summary(booking),
            event_type="ResourceRequested",
            now=self.clock(),
        )
        self.store.book(booking, granules(start, end), change)
        return booking

    def _unit(self, case: Case) -> Any:
        unit = self.directory.business_unit(case.business_unit)
        if unit is None:
            raise ValidationFailed("UNKNOWN_BUSINESS_UNIT", f"Business unit {case.business_unit!r} is gone.")
        return unit

    def _booking(self, booking_id: str) -> dict[str, Any]:
        booking = self.store.booking(booking_id)
        if booking is None:
            raise NotFound("BOOKING_NOT_FOUND", f"No booking {booking_id!r}.", {"booking_id": booking_id})
        return booking

    def get_booking(self, username: str, booking_id: str) -> dict[str, Any]:
        actor = active_user(self.directory, username)
        booking = self._booking(booking_id)
        if actor.username != booking["owner"]:
            try:
                self._activity(actor, booking["activity_id"])
            except NotFound:
                raise NotFound("BOOKING_NOT_FOUND", f"No booking {booking_id!r}.") from None
        return booking

    def decide(self, username: str, booking_id: str, *, confirm: bool) -> dict[str, Any]:
        """The resource's owner (or an Admin) confirms or declines a requested booking."""
        actor = active_user(self.directory, username)
        booking = self._booking(booking_id)
        if actor.username != booking["owner"] and not is_admin(actor):
            raise Forbidden(
                "NOT_RESOURCE_OWNER", "Only the resource's owner confirms or declines its bookings."
            )
        if booking["status"] != "requested":
            raise Conflict(
                "BOOKING_NOT_PENDING", f"The booking is {booking['status']}.", {"status": booking["status"]}
            )
        status = "confirmed" if confirm else "declined"
        event = "ResourceConfirmed" if confirm else "ResourceDeclined"
        return self._settle(actor, booking, status, event, release=not confirm)

    def cancel(self, username: str, booking_id: str) -> dict[str, Any]:
        actor = active_user(self.directory, username)
        booking = self._booking(booking_id)
        case, _defn = self._activity(actor, booking["activity_id"])
        if not (self._works_on(actor, case) or actor.username == booking["owner"]):
            raise Forbidden(
                "NOT_ALLOWED", "Only the people on the activity or the owner cancel its bookings."
            )
        if booking["status"] not in HOLDING:
            raise Conflict(
                "BOOKING_NOT_ACTIVE", f"The booking is {booking['status']}.", {"status": booking["status"]}
            )
        return self._settle(actor, booking, "cancelled", "ResourceCancelled", release=True, case=case)

    def _settle(
        self,
        actor: Actor,
        booking: dict[str, Any],
        status: str,
        event_type: str,
        *,
        release: bool,
        case: Case | None = None,
    ) -> dict[str, Any]:
        case = case or self.repo.get(booking["activity_id"])
        defn = self.workflows.get(
            case.type, case.workflow_version, subtype=case.subtype, config_version=case.config_version
        )
        now = self.clock()
        settled = {
            **booking,
            "status": status,
            "decided_by": actor.username,
            "decided_at": iso(now),
            "version": booking["version"] + 1,
        }
        change = engine.record_booking(
            defn,
            case,
            actor,
            self._unit(case),
            booking=booking_summary(settled),
            event_type=event_type,
            now=now,
        )
        freed = (
            granules(instant(booking["starts"], "from"), instant(booking["ends"], "to")) if release else []
        )
        self.store.settle(settled, freed, change)
        return settled
