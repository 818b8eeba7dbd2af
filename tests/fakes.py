"""In-memory implementations of casework.services.ports, for unit tests. No network, no boto3.

They keep the contracts the real adapters promise: ``commit`` is all-or-nothing with optimistic
concurrency, a duplicate link or a used token fails the whole commit, and every committed DomainEvent lands
in ``outbox`` in commit order. tests/contract/ holds them to it: the same tests run on each fake and on its
DynamoDB adapter.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from casework.domain.care.compile import compile_definition
from casework.domain.care.config import ModuleConfig, parse_config
from casework.domain.customers import seeded_record
from casework.domain.directory import actor_from_record, members_by_role, unit_from_record
from casework.domain.errors import BadRequest, Conflict, NotFound, ValidationFailed, link_expired, link_used
from casework.domain.model import Actor, BusinessUnit, Case, Change, DomainEvent
from casework.domain.views import CaseRow, HistoryView, case_row, history_view, list_row
from casework.domain.workflow import WorkflowDefinition, parse_definition
from casework.services.cases import CaseService
from casework.services.ports import ApprovalToken, CaseQuery, Communication, Note, Page, SideWrites
from casework.workflows import default_configs, module_templates, shipped

DEMO_PATH = Path(__file__).resolve().parent.parent / "infra" / "seed" / "demo.json"
START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def demo_data() -> dict[str, Any]:
    """A fresh copy of the demo directory (mutate it freely)."""
    return json.loads(DEMO_PATH.read_text())


def page_of(items: list[Any], cursor: str | None, limit: int, bound: str) -> Page[Any]:
    """One page of ``items``. As the adapter's, a cursor is bound to the list it came from (``bound``): one
    made up, or taken from another list, is 400 INVALID_CURSOR."""
    start = 0
    if cursor:
        list_of, _, offset = cursor.rpartition("@")
        if list_of != bound or not offset.isdigit():
            raise BadRequest("INVALID_CURSOR", "The cursor is not one this API returned for this list.")
        start = int(offset)
    end = start + limit
    return Page(items=items[start:end], next_cursor=f"{bound}@{end}" if end < len(items) else None)


class InMemoryRepository:
    def __init__(self) -> None:
        self.cases: dict[str, Case] = {}
        self.entries: dict[str, list[dict[str, Any]]] = {}
        self.links: dict[tuple[str, str], dict[str, str | None]] = {}
        self.note_items: dict[str, list[Note]] = {}
        self.communication_items: dict[str, list[dict[str, Any]]] = {}
        self.tokens: dict[str, ApprovalToken] = {}
        self.outbox: list[DomainEvent] = []
        self.commits = 0
        self.counters: dict[tuple[str, str], int] = {}
        self.link_details: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.feedbacks: dict[str, dict[str, Any]] = {}

    # --- CaseRepository ---

    def get(self, case_id: str) -> Case:
        try:
            return self.cases[case_id]
        except KeyError:
            raise NotFound("CASE_NOT_FOUND", f"Case {case_id} does not exist.") from None

    def commit(self, change: Change, side: SideWrites = SideWrites()) -> None:
        changes = (change, *side.new_cases)
        for each in changes:
            self._check(each)
        counters = dict(self.counters)
        for kind in change.closed_children:
            if counters.get((change.case.id, f"open_{kind}"), 0) > 0:
                raise Conflict(
                    "OPEN_CHILDREN", f"Every scheduled {kind} must be completed or cancelled first."
                )
        if change.deleted and counters.get((change.case.id, "refs"), 0) > 0:
            raise Conflict("REFERENCED", "Other cases refer to this case; it cannot be deleted.")
        for guard in side.guards:
            if counters.get((guard.case_id, guard.name), 0) > 0:
                raise Conflict(guard.code, guard.message)
        for delta in side.counters:
            key = (delta.case_id, delta.name)
            counters[key] = counters.get(key, 0) + delta.delta
        links = {key: dict(value) for key, value in self.links.items()}
        details = dict(self.link_details)
        for link in side.links:
            owner = link.case_id or change.case.id
            entries = links.setdefault((owner, link.kind), {})
            if link.added:
                if link.key in entries:
                    raise Conflict("ALREADY_LINKED", f"{link.key} is already linked.")
                entries[link.key] = link.label
                # what the DynamoDB adapter keeps beside the details: who added it, when
                details[(owner, link.kind, link.key)] = {
                    **link.details,
                    "kind": link.kind,
                    "added_by": change.entry.by,
                    "added_at": change.entry.at,
                }
            else:
                if link.key not in entries:
                    raise NotFound("NOT_LINKED", f"{link.key} is not linked.")
                del entries[link.key]
        for update in side.related_updates:
            owner = update.case_id or change.case.id
            if update.key not in links.get((owner, update.kind), {}):
                raise NotFound("NOT_LINKED", f"{update.key} is not linked.")
            key = (owner, update.kind, update.key)
            details[key] = {**details.get(key, {}), **update.values}
        tokens = dict(self.tokens)
        for consume in side.tokens:
            token = tokens.get(consume.token_hash)
            # a record gone (removed by the table's TTL) reads as used, as the adapter reports it
            if token is None or token.used_at:
                raise link_used()
            if token.expires_at <= consume.now_epoch:
                raise link_expired()
            tokens[consume.token_hash] = replace(token, used_at=consume.used_at, decision=consume.decision)
        # every check passed: write it all
        for each in changes:
            if each.deleted:
                del self.cases[each.case.id]
            else:
                self.cases[each.case.id] = each.case
            self.entries.setdefault(each.case.id, []).append(history_view(each.entry).model_dump())
            self.outbox.extend(each.events)
        self.links = links
        self.link_details = details
        self.counters = counters
        self.tokens = tokens
        self.commits += 1

    def _check(self, change: Change) -> None:
        case = change.case
        stored = self.cases.get(case.id)
        if change.expected_version is None:
            if stored is not None:
                raise Conflict("CASE_EXISTS", f"Case {case.id} exists already.")
        elif stored is None or stored.version != change.expected_version:
            # a case deleted since it was read: the table can only tell that the version condition failed
            raise Conflict(
                "CONCURRENT_UPDATE",
                "The case was changed by somebody else.",
                {
                    "expected_version": change.expected_version,
                    "current_version": stored.version if stored else None,
                },
            )

    def list_cases(self, query: CaseQuery) -> Page[CaseRow]:
        def keep(case: Case) -> bool:
            return (
                (query.type is None or case.type == query.type)
                and (query.status is None or case.status == query.status)
                and (query.assignee is None or case.assignee == query.assignee)
                and (query.account_id is None or case.account_id == query.account_id)
                and (query.scope is None or query.scope.admits(case))
            )

        # the list indexes' sort key (type, created, id), read newest first
        listed = sorted(
            (c for c in self.cases.values() if keep(c)),
            key=lambda c: (c.type, c.created_at, c.id),
            reverse=True,
        )
        bound = f"cases|{query.scope.username if query.scope else ''}|{query.type}|{query.status}"
        rows = [case_row(list_row(c, "closed_at" not in c.dates)) for c in listed]
        return page_of(rows, query.cursor, query.limit, bound)

    def history(self, case_id: str, cursor: str | None, limit: int) -> Page:
        return page_of(list(self.entries.get(case_id, [])), cursor, limit, f"history|{case_id}")

    def related(self, case_id: str, kind: str, cursor: str | None, limit: int) -> Page:
        keys = sorted(self.links.get((case_id, kind), {}))  # by key, as the table's sort key
        items = [self.related_entry(case_id, kind, k) for k in keys]
        return page_of([i for i in items if i is not None], cursor, limit, f"related|{case_id}|{kind}")

    def related_entry(self, case_id: str, kind: str, key: str) -> dict[str, Any] | None:
        entries = self.links.get((case_id, kind), {})
        if key not in entries:
            return None
        return {
            **self.link_details.get((case_id, kind, key), {}),
            "key": key,
            "label": entries[key],
        }

    def save_feedback(self, feedback: Any, event: DomainEvent) -> None:
        if feedback.case_id in self.feedbacks:
            raise Conflict("FEEDBACK_GIVEN", "This case has feedback already.")
        self.feedbacks[feedback.case_id] = dict(feedback.__dict__)
        self.outbox.append(event)

    def feedback(self, case_id: str) -> dict[str, Any] | None:
        return self.feedbacks.get(case_id)

    def open_cases(self, case_type: str, business_unit: str, cursor: str | None, limit: int) -> Page[CaseRow]:
        open_cases = [
            c
            for c in self.cases.values()
            if c.type == case_type and c.business_unit == business_unit and "closed_at" not in c.dates
        ]
        open_cases.sort(key=lambda c: (c.dates.get("expected_completion_date") or "9999", c.id))
        bound = f"open|{case_type}|{business_unit}"
        return page_of([case_row(list_row(c, True)) for c in open_cases], cursor, limit, bound)

    def add_note(self, note: Note, event: DomainEvent) -> None:
        self.note_items.setdefault(note.case_id, []).append(note)
        self.outbox.append(event)

    def notes(self, case_id: str, cursor: str | None, limit: int) -> Page:
        items = [
            {"id": n.id, "case_id": n.case_id, "text": n.text, "author": n.author, "at": n.at}
            for n in sorted(self.note_items.get(case_id, []), key=lambda n: (n.at, n.id))
        ]
        return page_of(items, cursor, limit, f"notes|{case_id}")

    def add_communication(self, communication: Communication, event: DomainEvent) -> None:
        self.communication_items.setdefault(communication.case_id, []).append(communication.to_dict())
        self.outbox.append(event)

    def communications(self, case_id: str, cursor: str | None, limit: int) -> Page:
        items = sorted(self.communication_items.get(case_id, []), key=lambda c: (c["at"], c["id"]))
        return page_of(items, cursor, limit, f"communications|{case_id}")

    def communication(self, case_id: str, communication_id: str, at: str) -> dict[str, Any] | None:
        items = self.communication_items.get(case_id, [])
        return next((dict(c) for c in items if c["id"] == communication_id and c["at"] == at), None)

    def communication_sent(
        self, case_id: str, communication_id: str, at: str, sent_at: str, message_id: str
    ) -> None:
        for item in self.communication_items.get(case_id, []):
            if item["id"] == communication_id and item["at"] == at:
                item.update(sent_at=sent_at, message_id=message_id)

    def token(self, token_hash: str) -> ApprovalToken | None:
        return self.tokens.get(token_hash)

    def save_token(self, token: ApprovalToken) -> None:
        self.tokens[token.token_hash] = token

    # --- test helpers ---

    def history_of(self, case_id: str) -> list[HistoryView]:
        return [HistoryView.model_validate(entry) for entry in self.entries.get(case_id, [])]


class InMemoryDirectory:
    """The demo directory (or any dict shaped like infra/seed/demo.json). Unit members come from users."""

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        data = demo_data() if data is None else data
        users = list(data.get("users", ()))
        self.users: dict[str, Actor] = {u["username"]: actor_from_record(u) for u in users}
        self.units: dict[str, BusinessUnit] = {
            u["code"]: unit_from_record({**u, "members": members_by_role(users, u["code"])})
            for u in data.get("business_units", ())
        }
        # customers and contacts as the seed stores them (validated, version 1), as the adapter reads them
        at = START.isoformat()
        self.accounts = {a["id"]: seeded_record("customer", a, at)[0] for a in data.get("accounts", ())}
        self.products = {p["code"]: dict(p) for p in data.get("products", ())}
        self.contacts = {c["id"]: seeded_record("contact", c, at)[0] for c in data.get("contacts", ())}
        self.area_units = {
            r["geographic_area"]: r["business_unit"] for r in data.get("collaboration_rules", ())
        }

    def user(self, username: str) -> Actor | None:
        return self.users.get(username)

    def business_unit(self, code: str) -> BusinessUnit | None:
        return self.units.get(code)

    def account(self, account_id: str) -> dict[str, Any] | None:
        return self.accounts.get(account_id)

    def product(self, code: str) -> dict[str, Any] | None:
        return self.products.get(code)

    def contact(self, contact_id: str, *, fresh: bool = False) -> dict[str, Any] | None:
        record = self.contacts.get(contact_id)
        return dict(record) if record is not None else None

    def area_unit(self, area: str) -> str | None:
        return self.area_units.get(area)

    def unit_codes(self) -> tuple[str, ...]:
        return tuple(self.units)


class InMemoryWorkflows:
    """The shipped definitions, plus any ``extra`` ones (raw dicts or parsed)."""

    def __init__(
        self,
        extra: Iterable[WorkflowDefinition | Mapping[str, Any]] = (),
        configs: InMemoryConfigs | None = None,
    ) -> None:
        self.configs = configs or InMemoryConfigs()
        self.definitions: dict[tuple[str, int], WorkflowDefinition] = {}
        for raw in shipped().values():
            self.add(parse_definition(raw))
        for item in extra:
            self.add(item if isinstance(item, WorkflowDefinition) else parse_definition(item))

    def add(self, defn: WorkflowDefinition) -> None:
        self.definitions[(defn.name, defn.version)] = defn

    def get(
        self,
        name: str,
        version: int | None = None,
        *,
        subtype: str | None = None,
        config_version: int | None = None,
    ) -> WorkflowDefinition:
        if name in module_templates():
            return self._compiled(name, subtype, config_version)
        if version is None:
            versions = [v for (n, v) in self.definitions if n == name]
            version = max(versions) if versions else None
        defn = self.definitions.get((name, version)) if version is not None else None
        if defn is None:
            raise NotFound("UNKNOWN_CASE_TYPE", f"{name!r} (version {version}) is not a case type.")
        return defn

    def template(self, name: str, version: int | None = None) -> dict[str, Any]:
        return module_templates()[name]

    def _compiled(self, name: str, subtype: str | None, config_version: int | None) -> WorkflowDefinition:
        config, version = self.configs.get(name, config_version)
        try:
            return compile_definition(module_templates()[name], config, subtype, version)
        except KeyError:
            raise ValidationFailed("UNKNOWN_TYPE", f"{name} has no type {subtype!r}.") from None


class InMemoryConfigs:
    """Module configurations by version, starting from the shipped defaults (version 1)."""

    def __init__(self) -> None:
        self.versions: dict[str, list[ModuleConfig]] = {}
        for module in ("activity", "service_request", "lead"):
            self.versions[module] = [parse_config(module, default_configs()[module])]

    def get(self, module: str, version: int | None = None) -> tuple[ModuleConfig, int]:
        versions = self.versions.get(module)
        if not versions or (version is not None and not 1 <= version <= len(versions)):
            raise NotFound("UNKNOWN_CONFIGURATION", f"No {module} configuration version {version}.")
        version = version or len(versions)
        return versions[version - 1], version

    def put(self, module: str, config: ModuleConfig, expected_version: int | None) -> int:
        current = len(self.versions.setdefault(module, []))
        if expected_version is not None and expected_version != current:
            raise Conflict("STALE_VERSION", "The configuration has changed since you read it.")
        self.versions[module].append(config)
        return current + 1


class FixedClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class SequentialIds:
    def __init__(self, prefix: str = "CASE") -> None:
        self.prefix = prefix
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"{self.prefix}-{self.n:04d}"


class InMemoryDelegations:
    """The delegation store: one record per user who delegated."""

    def __init__(self) -> None:
        self.records: dict[str, Any] = {}

    def get(self, username: str) -> Any:
        return self.records.get(username)

    def many(self, usernames: Iterable[str]) -> dict[str, Any]:
        return {u: self.records[u] for u in usernames if u in self.records}

    def put(self, delegation: Any) -> None:
        self.records[delegation.owner] = delegation

    def delete(self, username: str) -> bool:
        return self.records.pop(username, None) is not None


def make_service(**overrides: Any) -> tuple[CaseService, InMemoryRepository]:
    """A CaseService over fresh fakes and the demo directory; any constructor argument can be overridden."""
    kwargs: dict[str, Any] = {
        "repo": InMemoryRepository(),
        "directory": InMemoryDirectory(),
        "workflows": InMemoryWorkflows(),
        "clock": FixedClock(),
        "new_id": SequentialIds(),
        "delegations": InMemoryDelegations(),
    }
    kwargs.update(overrides)
    kwargs.setdefault("configs", getattr(kwargs["workflows"], "configs", None))
    return CaseService(**kwargs), kwargs["repo"]


# The CSR's statuses before it is closed, in process order (seed 000); Close Case works from each.
CSR_OPEN_STATUSES = (
    "Registration",
    "Pending Pre-Approval",
    "Under Assessment",
    "Approval Pending",
    "Under Implementation",
    "Implemented",
)


# A small hand-written definition with a contact acceptance step, for the communication and link tests.
CARE_ACCEPTANCE = {
    "step": "response",
    "label": "Response",
    "category_field": "response_category",
    "categories": ["NEEDS_OK"],
    "watch": ["response_category", "response"],
}


def care_request_definition(
    notifications: list[dict[str, Any]] | None = None, name: str = "care_request"
) -> dict[str, Any]:
    """A small care request: Pending -> Responded (the contact accepts a NEEDS_OK response) -> Completed."""
    return {
        "name": name,
        "version": 1,
        "title": "Care Request",
        "type_name": "Technical issue",
        "id_prefix": "CR",
        "states": ["pending", "responded", "completed"],
        "terminal_states": ["completed"],
        "fields": {
            "response_category": {
                "type": "choice",
                "label": "Response Category",
                "choices": ["NEEDS_OK", "INFO"],
            },
            "response": {"type": "text", "label": "Response"},
        },
        "create": {
            "allowed": [{"role": "Team Lead", "any_unit": True}],
            "requires": ["title"],
            "assign": "given",
        },
        "statuses": [
            {"name": "Pending", "state": "pending"},
            {
                "name": "Responded",
                "state": "responded",
                "acceptance": CARE_ACCEPTANCE,
                "edits": [{"fields": ["response_category", "response"], "allowed": [{"role": "Team Lead"}]}],
            },
            {"name": "Completed", "state": "completed"},
        ],
        "initial_status": "Pending",
        "transitions": [
            {
                "name": "respond",
                "from": ["Pending"],
                "to": "Responded",
                "allowed": [{"relation": "assignee"}, {"role": "Team Lead"}],
                "accepts": ["response_category", "response"],
                "requires": ["response_category", "response"],
            },
            {
                "name": "complete",
                "from": ["Responded"],
                "to": "Completed",
                "allowed": [{"role": "Team Lead"}],
            },
        ],
        "notifications": notifications
        if notifications is not None
        else [{"event": "AcceptanceRequested", "to": "contact", "template": "acceptance_requested"}],
    }


class InMemoryBookingStore:
    """casework.services.ports.BookingStore in memory: granules held in a dict, the activity's change
    committed through the repository fake, all or nothing."""

    def __init__(self, repo: InMemoryRepository) -> None:
        self.repo = repo
        self.resources: dict[str, tuple[dict[str, Any], int]] = {}
        self.slots: dict[tuple[str, datetime], str] = {}
        self.bookings: dict[str, dict[str, Any]] = {}

    def resource(self, resource_id: str) -> tuple[dict[str, Any], int] | None:
        return self.resources.get(resource_id)

    def save_resource(self, resource: dict[str, Any], previous: dict[str, Any] | None, version: int) -> None:
        stored = self.resources.get(resource["id"])
        if version == 1 and stored is not None:
            raise Conflict("RESOURCE_EXISTS", "exists")
        if version > 1 and (stored is None or stored[1] != version - 1):
            raise Conflict("STALE_VERSION", "stale")
        self.resources[resource["id"]] = (dict(resource), version)

    def resources_for(self, unit: str, service: str, cursor: str | None, limit: int) -> Page:
        found = [
            r
            for r, _ in sorted(self.resources.values(), key=lambda rv: rv[0]["id"])
            if r["unit"] == unit and service in r["services"]
        ]
        return Page(found[:limit])

    def taken(self, resource_id: str, start: datetime, end: datetime) -> list[datetime]:
        return sorted(g for (r, g) in self.slots if r == resource_id and start <= g < end)

    def booking(self, booking_id: str) -> dict[str, Any] | None:
        return self.bookings.get(booking_id)

    def book(self, booking: dict[str, Any], granules: list[datetime], change: Change) -> None:
        if any((booking["resource_id"], g) in self.slots for g in granules):
            raise Conflict("SLOT_TAKEN", "taken")
        self.repo.commit(change)
        self.slots.update({(booking["resource_id"], g): booking["id"] for g in granules})
        self.bookings[booking["id"]] = dict(booking)

    def settle(self, booking: dict[str, Any], release: list[datetime], change: Change) -> None:
        if self.bookings[booking["id"]]["version"] != booking["version"] - 1:
            raise Conflict("BOOKING_CHANGED", "changed")
        self.repo.commit(change)
        for g in release:
            self.slots.pop((booking["resource_id"], g), None)
        self.bookings[booking["id"]] = dict(booking)
