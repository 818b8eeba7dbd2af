"""Every domain event casework publishes: one envelope, one model of ``data`` per event type.

Events leave through the outbox (history items on the table stream) and the publish function puts each on
the casework bus as Source ``casework``, DetailType = its ``type``, Detail = the envelope below. The models
describe exactly what ``DomainEvent.to_dict()`` writes (plus the correlation id the adapters stamp).

Adding an event type is one model here, decorated with ``@event(...)`` (its name, version, when it is
emitted and one example), and ``make events`` to regenerate docs/events/ and the template's schemas. A test
fails until both are done, and another fails when the engine emits an event or a field not catalogued.

Compatibility: within a version, fields may be added (optional, so every model allows unknown properties
and subscribers must ignore what they do not know); renaming, removing or retyping a field is a new
version of the event type (``schema_version``), catalogued next to the old one.

Length (over ~600 lines): it is the catalogue, one small model per event type; the drift test and the
generated docs/events/ read it as one list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

JSON_SCHEMA_DRAFT4 = "http://json-schema.org/draft-04/schema#"


class Payload(BaseModel):
    """A part of an event. Unknown properties are allowed: fields are added within a version."""

    model_config = ConfigDict(extra="allow")


class CausedBy(Payload):
    """The workflow rule whose action raised the event (GET /rules/{module})."""

    rule: str = Field(description="The rule's id; the event's actor is `rule:<id>`.")
    depth: int = Field(
        ge=1, description="1 for an action on a person's change, +1 for each rule-caused event in between."
    )
    event_id: str = Field(description="The event the rule acted on.")


class CaseData(Payload):
    """What every event's ``data`` carries: where the case stands after the change that raised it."""

    status: str = Field(description="The case's status after the change (a status of its definition).")
    state: str = Field(
        description="The life-cycle state of that status (e.g. open, pending, completed, closed, won)."
    )
    caused_by: CausedBy | None = Field(
        default=None,
        description="Only on events a workflow rule's action raised: which rule, and how deep in a chain of "
        "rules (rules stop at depth 3).",
    )


class Envelope(Payload):
    """What every casework event carries around its `data`."""

    id: str = Field(
        description="Stable event id (`<case id>:<case version>:<index>`, `<case id>:note:<note id>`, "
        "`<case id>:feedback`): the same on every redelivery, so a subscriber drops duplicates by it."
    )
    type: str = Field(description="The event type; also the EventBridge detail-type.")
    schema_version: int = Field(description="The version of this event type's schema.")
    occurred_at: datetime = Field(description="When the change was committed (UTC, milliseconds).")
    case_id: str = Field(description="The case the event is about.")
    case_type: str = Field(
        description="Its type: csr, customer_request, service_request, activity, lead, ..."
    )
    case_version: int = Field(
        ge=1,
        description="The case version whose commit raised the event; a case's events are ordered by it "
        "(events of one commit share it, ordered by the index in their id). Notes and feedback do not "
        "change the case: they carry the version they were added to.",
    )
    workflow_version: int | None = Field(
        description="The version of the workflow definition the case runs (it keeps the one it started with)."
    )
    subtype: str | None = Field(
        default=None,
        description="Care modules only: the business's type of the case (e.g. FAULTY_ITEM, B2B).",
    )
    config_version: int | None = Field(
        default=None,
        description="Care modules only: the version of the module configuration the case started with.",
    )
    actor: str = Field(
        description="Who made the change: a username, `system` for automatic steps, `contact:<id>` for a "
        "contact answering through an email link, `rule:<id>` for a workflow rule's action."
    )
    correlation_id: str | None = Field(
        default=None,
        description="The request that caused the event: the client's `x-correlation-id` header, else API "
        "Gateway's request id; for work done by a consumer, the correlation id of the event it handled.",
    )
    notify: bool | None = Field(
        default=None,
        description="Whether casework's notify function sends an email or SMS for it (the case type's "
        "definition has a notification for this event type and state, or it is an agent's message to the "
        "contact), decided when the event was made: the bus's NotifyRule passes only `true` (and events "
        "without the field, from a publisher before it).",
    )
    data: CaseData


@dataclass(frozen=True)
class EventType:
    """One catalogued event type: its name and version, when it is emitted, its data model, an example."""

    name: str
    version: int
    when: str
    data: type[CaseData]
    example: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.name}.v{self.version}"


CATALOGUE: dict[str, EventType] = {}  # "<name>.v<version>" -> its entry, in the order a case meets them

D = TypeVar("D", bound=type[CaseData])


def event(name: str, *, version: int = 1, when: str, example: dict[str, Any]) -> Callable[[D], D]:
    """Catalogue the decorated data model as event type ``name`` (``example``: a whole envelope)."""

    def register(model: D) -> D:
        entry = EventType(name, version, when, model, example)
        if entry.key in CATALOGUE:
            raise ValueError(f"{entry.key} is catalogued twice")
        CATALOGUE[entry.key] = entry
        return model

    return register


def entries() -> Iterator[EventType]:
    return iter(CATALOGUE.values())


@cache
def envelope_model(key: str) -> type[Envelope]:
    """The envelope of one event type with its own ``data`` model: what a subscriber receives."""
    entry = CATALOGUE[key]
    model_name = f"{entry.name}V{entry.version}"
    # Literals of values known only at run time: mypy cannot follow them; pydantic builds them as written.
    event_type: Any = Literal[entry.name]
    schema_version: Any = Literal[entry.version]
    return create_model(
        model_name,
        __base__=Envelope,
        __doc__=entry.when,
        type=(event_type, Field(description="The event type; also the EventBridge detail-type.")),
        schema_version=(schema_version, Field(description="The version of this event's schema.")),
        data=(entry.data, ...),
    )


def validate(event_dict: dict[str, Any]) -> Envelope:
    """Validate a published event against its catalogued model (by type and schema_version)."""
    key = f"{event_dict.get('type')}.v{event_dict.get('schema_version')}"
    if key not in CATALOGUE:
        raise LookupError(f"{key} is not in the event catalogue")
    return envelope_model(key).model_validate(event_dict)


def uncatalogued_fields(model: BaseModel, path: str = "") -> list[str]:
    """Properties of a validated event that no model names (allowed for subscribers, but every field we emit
    must be catalogued)."""
    found = [f"{path}{name}" for name in (model.model_extra or {})]
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            found += uncatalogued_fields(value, f"{path}{name}.")
    return found


def _draft4(node: Any, *, names: bool = False) -> Any:
    """Pydantic writes JSON Schema 2020-12; the EventBridge schema registry takes draft 4. The models use
    only what both share except ``$defs`` (draft 4: ``definitions``) and ``const`` (draft 4: a one-value
    ``enum``). The titles pydantic derives from field names ("Case Id") only repeat them: dropped.
    ``names``: ``node`` maps names to schemas (properties, definitions), whatever the names are."""
    if isinstance(node, list):
        return [_draft4(v) for v in node]
    if not isinstance(node, dict):
        return node
    if names:
        return {name: _draft4(schema) for name, schema in node.items()}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$defs":
            out["definitions"] = _draft4(value, names=True)
        elif key == "const":
            out["enum"] = [value]
        elif key == "title":
            continue
        else:
            out[key] = _draft4(value, names=key in ("properties", "definitions"))
    return out


def envelope_schema() -> dict[str, Any]:
    """The JSON Schema (draft 4) of the envelope every event type shares (``data`` left generic)."""
    schema = _draft4(Envelope.model_json_schema(ref_template="#/definitions/{model}"))
    return {"$schema": JSON_SCHEMA_DRAFT4, **schema}


def json_schema(key: str) -> dict[str, Any]:
    """The JSON Schema (draft 4) of one event type's envelope."""
    entry = CATALOGUE[key]
    schema = envelope_model(key).model_json_schema(ref_template="#/definitions/{model}")
    schema = _draft4(schema)
    return {
        "$schema": JSON_SCHEMA_DRAFT4,
        **schema,
        "title": f"{entry.name} v{entry.version}",
        "description": entry.when,
    }


# --- examples -------------------------------------------------------------------------------------------

_CSR = "5f0c2d8e9b1a4c3f8e7d6a5b4c3d2e1f"
_SR = "0b9e8d7c6a5f4e3d2c1b0a9f8e7d6c5b"
_LEAD = "7a6b5c4d3e2f41a0b9c8d7e6f5a4b3c2"
_ACTIVITY = "c3d4e5f60718293a4b5c6d7e8f901a2b"
_CORRELATION = "3d9c6e1a-7f0b-4c2e-9a51-8b2f4d6e0c17"


def _example(
    name: str,
    version: int,
    data: dict[str, Any],
    *,
    case_id: str = _CSR,
    case_type: str = "csr",
    actor: str = "mary",
    index: int = 0,
    at: str = "2026-11-30T09:15:02.417Z",
    care: tuple[str, int] | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "id": event_id or f"{case_id}:{version}:{index}",
        "type": name,
        "schema_version": 1,
        "case_id": case_id,
        "case_type": case_type,
        "case_version": version,
        "workflow_version": 1,
        "occurred_at": at,
        "actor": actor,
        "data": data,
    }
    if care:
        envelope |= {"subtype": care[0], "config_version": care[1]}
    return envelope | {"correlation_id": _CORRELATION}


# --- the event types, in the order a case meets them ---------------------------------------------------


@event(
    "CaseRegistered",
    when="A case was created (POST /cases, an activity scheduled from its parent). Always the first event "
    "of a case, at case_version 1.",
    example=_example(
        "CaseRegistered",
        1,
        {
            "status": "Registration",
            "state": "open",
            "title": "Antistatic PA66",
            "account_id": "ACC-1001",
            "business_unit": "SP",
            "assignee": "mary",
        },
    ),
)
class CaseRegisteredData(CaseData):
    title: str = Field(description="The case's title.")
    account_id: str | None = Field(description="The customer account it concerns, if any.")
    business_unit: str = Field(description="The business unit that owns it.")
    assignee: str | None = Field(description="Who holds it; null while it waits in its unit's queue.")
    contact_id: str | None = Field(default=None, description="The contact it is for (care modules).")
    parent_id: str | None = Field(
        default=None, description="The case it was scheduled from (an activity's service request or lead)."
    )


@event(
    "CaseAssigned",
    when="A case got a (new) assignee: on creation for somebody other than the creator, on entering a status "
    "that assigns, on reassignment, or when a unit member accepts it. Also when a status assigns the same "
    "person a new piece of work.",
    example=_example(
        "CaseAssigned",
        3,
        {
            "status": "Under Assessment",
            "state": "open",
            "assignee": "frank",
            "previous_assignee": "mary",
            "reason": "entered Under Assessment",
        },
        actor="john",
        index=2,
    ),
)
class CaseAssignedData(CaseData):
    assignee: str = Field(description="The new assignee.")
    previous_assignee: str | None = Field(description="Who held it before; null if nobody.")
    reason: str = Field(description="Why, in words (e.g. `entered Under Assessment`, `accepted by dave`).")


@event(
    "CaseTransitioned",
    when="A case moved to another status: a user's transition, an approval's outcome, or an automatic step "
    "(then actor is who caused it and `by` who the step is attributed to). One event per status entered.",
    example=_example(
        "CaseTransitioned",
        2,
        {
            "status": "Pending Pre-Approval",
            "state": "open",
            "from_status": "Registration",
            "to_status": "Pending Pre-Approval",
            "by": "mary",
        },
    ),
)
class CaseTransitionedData(CaseData):
    from_status: str = Field(description="The status it left.")
    to_status: str = Field(description="The status it entered.")
    by: str = Field(description="Who the move is attributed to (`system` for automatic steps).")


@event(
    "CaseUpdated",
    when="Fields of a case were edited (PATCH /cases/{id}); `fields` names them, the history has the values.",
    example=_example(
        "CaseUpdated",
        5,
        {"status": "Under Assessment", "state": "open", "fields": ["annual_volume", "target_price"]},
        actor="frank",
    ),
)
class CaseUpdatedData(CaseData):
    fields: list[str] = Field(description="The names of the fields that changed, sorted.")


@event(
    "CaseMovedToUnit",
    when="A case was reassigned to another business unit (where its definition allows it).",
    example=_example(
        "CaseMovedToUnit",
        4,
        {
            "status": "In Progress",
            "state": "pending",
            "business_unit": "FIELD",
            "previous_business_unit": "CARE",
            "assignee": None,
        },
        case_id=_SR,
        case_type="service_request",
        actor="tina",
        care=("FAULTY_ITEM", 1),
    ),
)
class CaseMovedToUnitData(CaseData):
    business_unit: str = Field(description="The unit that owns the case now.")
    previous_business_unit: str = Field(description="The unit that owned it before.")
    assignee: str | None = Field(
        None, description="Its user in the new unit; null while it waits there for a member to accept it."
    )


@event(
    "ApprovalRequested",
    when="A case entered a status that waits for approval: one event per approver asked (the notify "
    "function emails each a link).",
    example=_example(
        "ApprovalRequested",
        2,
        {
            "status": "Pending Pre-Approval",
            "state": "open",
            "step": "pre_approval",
            "step_label": "Pre-Approval",
            "round": 1,
            "approver": "john",
            "mode": "any",
        },
        index=1,
    ),
)
class ApprovalRequestedData(CaseData):
    step: str = Field(description="The approval step.")
    step_label: str = Field(description="Its name for people.")
    round: int = Field(
        ge=1, description="Grows each time the case enters an approval status; links are bound to it."
    )
    approver: str = Field(description="The username asked to decide.")
    mode: Literal["any", "all"] = Field(
        description="`any`: the first decision decides; `all`: every approver must approve."
    )
    on_behalf_of: str | None = Field(
        default=None,
        description="Set when `approver` is asked as the delegate of this approver (who is away): their "
        "decision counts as that approver's.",
    )


@event(
    "ApprovalDecided",
    when="An approver decided (through the API or an email link), or a business unit's rule approved "
    "automatically (actor then caused it, approver is `system`). `outcome` is null while an `all` step "
    "still waits for others.",
    example=_example(
        "ApprovalDecided",
        3,
        {
            "status": "Under Assessment",
            "state": "open",
            "step": "pre_approval",
            "round": 1,
            "approver": "john",
            "decision": "approve",
            "outcome": "approve",
            "comment": None,
            "via": "email",
        },
        actor="john",
    ),
)
class ApprovalDecidedData(CaseData):
    step: str = Field(description="The approval step.")
    round: int = Field(ge=1, description="The round decided.")
    approver: str = Field(description="Who decided (`system` for an automatic approval).")
    decision: Literal["approve", "reject"] = Field(description="This approver's decision.")
    outcome: Literal["approve", "reject"] | None = Field(
        description="The step's outcome; null while other approvers of an `all` step are still pending."
    )
    comment: str | None = Field(description="The approver's comment (the reason, for a rejection).")
    via: Literal["api", "email"] | None = Field(
        default=None, description="How the decision came in; absent for automatic approvals."
    )
    on_behalf_of: str | None = Field(
        default=None,
        description="Set when `approver` decided as the delegate of this approver "
        '("Dave on behalf of Peter").',
    )


@event(
    "ApprovalRecalled",
    when="The submitter (or the case's creator) took a pending approval back: the round is closed (its links "
    "no longer decide), the case returned to the status it was submitted from, and the notify function tells "
    "every approver and delegate still asked.",
    example=_example(
        "ApprovalRecalled",
        3,
        {
            "status": "Registration",
            "state": "open",
            "step": "pre_approval",
            "round": 1,
            "approvers": ["john", "susan"],
            "returned_to": "Registration",
            "comment": "Wrong account, I will resubmit",
        },
    ),
)
class ApprovalRecalledData(CaseData):
    step: str = Field(description="The approval step recalled.")
    round: int = Field(ge=1, description="The round closed by the recall.")
    approvers: list[str] = Field(
        description="Everybody the approval still waited for (approvers and delegates)."
    )
    returned_to: str = Field(description="The status the case returned to (the one it was submitted from).")
    comment: str | None = Field(description="Why, as the submitter said.")


@event(
    "AcceptanceRequested",
    when="A response or resolution whose category needs the contact's acceptance was given (a new answer "
    "asks again, in a new round); the notify function emails the contact a link.",
    example=_example(
        "AcceptanceRequested",
        3,
        {
            "status": "Resolved",
            "state": "final_resolved",
            "step": "final_resolution",
            "step_label": "Final resolution",
            "round": 1,
            "category": "REPLACED",
            "contact_id": "CON-2001",
        },
        case_id=_SR,
        case_type="service_request",
        actor="dave",
        index=1,
        care=("FAULTY_ITEM", 1),
    ),
)
class AcceptanceRequestedData(CaseData):
    step: str = Field(description="The step waiting for the contact (e.g. response, final_resolution).")
    step_label: str = Field(description="Its name for people.")
    round: int = Field(ge=1, description="Grows with each new answer; links are bound to it.")
    category: str | None = Field(description="The answer's category, which asked for acceptance.")
    contact_id: str | None = Field(description="The contact asked.")


@event(
    "AcceptanceDecided",
    when="The contact accepted or refused the answer waiting for them (from the email link; actor is "
    "`contact:<id>`).",
    example=_example(
        "AcceptanceDecided",
        4,
        {
            "status": "Resolved",
            "state": "final_resolved",
            "step": "final_resolution",
            "round": 1,
            "category": "REPLACED",
            "decision": "accept",
            "comment": None,
            "contact_id": "CON-2001",
            "via": "email",
        },
        case_id=_SR,
        case_type="service_request",
        actor="contact:CON-2001",
        care=("FAULTY_ITEM", 1),
    ),
)
class AcceptanceDecidedData(CaseData):
    step: str = Field(description="The step decided.")
    round: int = Field(ge=1, description="The round decided.")
    category: str | None = Field(description="The answer's category.")
    decision: Literal["accept", "refuse"] = Field(description="The contact's decision.")
    comment: str | None = Field(description="The contact's comment.")
    contact_id: str | None = Field(description="The contact who decided.")
    via: str = Field(description="How the decision came in (`email`).")


@event(
    "RelatedItemAdded",
    when="A related item was added to a case: a product, an account association, a related service request.",
    example=_example(
        "RelatedItemAdded",
        2,
        {"status": "Registration", "state": "open", "kind": "products", "key": "P-100", "count": 1},
    ),
)
class RelatedItemAddedData(CaseData):
    kind: str = Field(description="The related list: products, accounts, service_requests, ...")
    key: str = Field(description="The item's key in that list (product code, account id, case id).")
    count: int = Field(ge=0, description="How many items the list holds now.")


@event(
    "RelatedItemRemoved",
    when="A related item was removed from a case.",
    example=_example(
        "RelatedItemRemoved",
        3,
        {"status": "Registration", "state": "open", "kind": "accounts", "key": "ACC-1002", "count": 0},
    ),
)
class RelatedItemRemovedData(CaseData):
    kind: str = Field(description="The related list: products, accounts, service_requests, ...")
    key: str = Field(description="The item's key in that list.")
    count: int = Field(ge=0, description="How many items the list holds now.")


class ReturnCheck(Payload):
    coverage_reason: str = Field(description="The configured coverage reason given.")
    covered: bool = Field(description="Whether the return is covered (the reason covers it, in time).")
    within_return_period: bool = Field(description="Whether it came back within the return period.")
    last_return_date: str = Field(description="The last day of the return period (ISO date).")
    return_period: str = Field(description="The reason's return period (e.g. `30 days`).")
    return_date: str = Field(description="When the item came back (ISO date).")


@event(
    "RelatedItemChecked",
    when="A related item was checked: a returned product against its coverage reason and return period "
    "(POST /cases/{id}/products/{code}/return).",
    example=_example(
        "RelatedItemChecked",
        3,
        {
            "status": "In Progress",
            "state": "pending",
            "kind": "products",
            "key": "P-100",
            "check": "return",
            "result": {
                "coverage_reason": "DEFECTIVE",
                "covered": True,
                "within_return_period": True,
                "last_return_date": "2026-12-20",
                "return_period": "30 days",
                "return_date": "2026-11-28",
            },
        },
        case_id=_SR,
        case_type="service_request",
        actor="dave",
        care=("FAULTY_ITEM", 1),
    ),
)
class RelatedItemCheckedData(CaseData):
    kind: str = Field(description="The related list (products).")
    key: str = Field(description="The item checked (product code).")
    check: Literal["return"] = Field(description="What was checked.")
    result: ReturnCheck


@event(
    "ChildScheduled",
    when="A case was scheduled from this one (an activity from a service request or lead); the child has "
    "its own CaseRegistered.",
    example=_example(
        "ChildScheduled",
        3,
        {
            "status": "In Progress",
            "state": "pending",
            "kind": "activity",
            "child_id": _ACTIVITY,
            "child_type": "activity",
            "child_subtype": "VISIT",
        },
        case_id=_SR,
        case_type="service_request",
        actor="dave",
        care=("FAULTY_ITEM", 1),
    ),
)
class ChildScheduledData(CaseData):
    kind: str = Field(description="The kind of child (activity).")
    child_id: str = Field(description="The new case's id.")
    child_type: str = Field(description="Its case type.")
    child_subtype: str | None = Field(description="Its configured type (e.g. VISIT, REPAIR).")


@event(
    "CaseDeleted",
    when="A case nothing refers to was deleted; its last event.",
    example=_example(
        "CaseDeleted",
        2,
        {"status": "Planned", "state": "pending", "parent_id": _SR},
        case_id=_ACTIVITY,
        case_type="activity",
        actor="dave",
        care=("VISIT", 1),
    ),
)
class CaseDeletedData(CaseData):
    parent_id: str | None = Field(description="The case it was scheduled from, if any.")


class Conversion(Payload):
    account_classification: str = Field(description="The classification of the account to create.")
    credit_rating: str = Field(description="Its credit rating.")


@event(
    "LeadWon",
    when="A lead entered a won status. With `conversion` (the lead's type converts automatically) the "
    "convert function makes the contact a customer with a new account, once.",
    example=_example(
        "LeadWon",
        3,
        {
            "status": "Won",
            "state": "won",
            "contact_id": "CON-2003",
            "lead_title": "Fleet of 40 routers",
            "lead_number": _LEAD,
            "conversion": {"account_classification": "Business", "credit_rating": "A"},
        },
        case_id=_LEAD,
        case_type="lead",
        index=1,
        care=("B2B", 1),
    ),
)
class LeadWonData(CaseData):
    contact_id: str | None = Field(description="The lead's contact.")
    lead_title: str = Field(description="The lead's title.")
    lead_number: str = Field(description="The lead's id.")
    conversion: Conversion | None = Field(
        description="What account to create for the contact; null when the lead's type does not convert."
    )


@event(
    "NoteAdded",
    when="Somebody added a shared note to a case (POST /cases/{id}/notes). The case itself does not change.",
    example=_example(
        "NoteAdded",
        3,
        {"status": "Under Assessment", "state": "open", "note_id": "e1d2c3b4a5968778695a4b3c2d1e0f9a"},
        actor="frank",
        event_id=f"{_CSR}:note:e1d2c3b4a5968778695a4b3c2d1e0f9a",
    ),
)
class NoteAddedData(CaseData):
    note_id: str = Field(description="The note's id (GET /cases/{id}/notes has its text).")


@event(
    "CommunicationRequested",
    when="An agent wrote to the case's contact (POST /cases/{id}/communications); the notify function sends "
    "it and marks it sent. The case itself does not change.",
    example=_example(
        "CommunicationRequested",
        3,
        {
            "status": "In Progress",
            "state": "responded",
            "communication_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "at": "2026-11-30T09:15:02.417Z",
            "contact_id": "CON-2001",
        },
        case_id=_SR,
        case_type="service_request",
        actor="dave",
        care=("FAULTY_ITEM", 1),
        event_id=f"{_SR}:communication:0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    ),
)
class CommunicationRequestedData(CaseData):
    communication_id: str = Field(description="GET /cases/{id}/communications lists it (subject, text, to).")
    at: str = Field(description="When it was written (with the id, its key on the case).")
    contact_id: str = Field(description="The contact it is addressed to.")


@event(
    "FeedbackGiven",
    when="The contact's rating and comment were recorded (POST /cases/{id}/feedback), once per case, from "
    "its resolution on. The case itself does not change.",
    example=_example(
        "FeedbackGiven",
        6,
        {"status": "Closed", "state": "completed", "rating": 5, "comment": "Quick and friendly"},
        case_id=_SR,
        case_type="service_request",
        actor="carol",
        care=("FAULTY_ITEM", 1),
        event_id=f"{_SR}:feedback",
    ),
)
class FeedbackGivenData(CaseData):
    rating: int = Field(ge=1, le=5, description="1 (poor) to 5 (excellent).")
    comment: str | None = Field(description="The contact's comment.")
    business_unit: str | None = Field(
        default=None, description="The case's business unit when the feedback was given (the summary's unit)."
    )
    assignee: str | None = Field(default=None, description="Who the case was assigned to then.")


class Booking(Payload):
    id: str = Field(description="The booking's id (GET /bookings/{id}).")
    resource_id: str = Field(description="The resource booked.")
    resource_name: str = Field(description="Its name.")
    service: str = Field(description="The activity's service the resource provides (a product code).")
    starts: str = Field(description="UTC, on the 30-minute mark.")
    ends: str = Field(description="UTC, on the 30-minute mark.")
    status: Literal["requested", "confirmed", "declined", "cancelled"]


class ResourceBookingData(CaseData):
    booking: Booking


_BOOKING = {
    "id": "5b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e",
    "resource_id": "TECH-FRED",
    "resource_name": "Fred (field technician)",
    "service": "SVC-VISIT",
    "starts": "2026-12-01T09:00:00Z",
    "ends": "2026-12-01T10:00:00Z",
}


def _booking_example(name: str, version: int, status: str, actor: str) -> dict[str, Any]:
    return _example(
        name,
        version,
        {"status": "Planned", "state": "pending", "booking": {**_BOOKING, "status": status}},
        case_id=_ACTIVITY,
        case_type="activity",
        actor=actor,
        care=("VISIT", 1),
    )


@event(
    "ResourceRequested",
    when="A resource was booked for a slot on an activity's service (POST /cases/{id}/bookings); its time "
    "is held. Status requested (the owner must confirm) or confirmed (no confirmation configured).",
    example=_booking_example("ResourceRequested", 2, "requested", "dave"),
)
class ResourceRequestedData(ResourceBookingData):
    pass


@event(
    "ResourceConfirmed",
    when="The resource's owner confirmed a requested booking (POST /bookings/{id}/confirm).",
    example=_booking_example("ResourceConfirmed", 3, "confirmed", "fred"),
)
class ResourceConfirmedData(ResourceBookingData):
    pass


@event(
    "ResourceDeclined",
    when="The resource's owner declined a requested booking (POST /bookings/{id}/decline); its time is free.",
    example=_booking_example("ResourceDeclined", 3, "declined", "fred"),
)
class ResourceDeclinedData(ResourceBookingData):
    pass


@event(
    "ResourceCancelled",
    when="A booking was cancelled (POST /bookings/{id}/cancel); its time is free.",
    example=_booking_example("ResourceCancelled", 3, "cancelled", "dave"),
)
class ResourceCancelledData(ResourceBookingData):
    pass
