"""The case commands' routes: registering (the register function) and changing a case (the transition
function). The other groups have modules of their own (read_routes, approval_routes, config_routes, ...).
Each group is built by a function so every resolver (a function's own, and the docs function's combined one)
gets its own Router."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from casework.domain.views import (
    CaseView,
    CommunicationView,
    DeletedCase,
    FeedbackView,
    NoteView,
)
from casework.http.api import caller
from casework.http.idempotency import idempotent
from casework.http.responses import CaseId, ok
from casework.http.schemas import (
    AddAccount,
    AddProduct,
    AddRelatedCase,
    AssignRequest,
    CommunicationRequest,
    CreateCase,
    EditCase,
    FeedbackRequest,
    NoteRequest,
    ReturnCheck,
    ScheduleChild,
    TransitionRequest,
    VersionOnly,
)
from casework.http.wiring import (
    case_commands,
    case_feedback,
    case_notes,
)


def register_routes() -> Router:
    router = Router()

    @router.post(
        "/cases",
        status_code=201,
        tags=["cases"],
        summary="Register a case",
        responses=ok(201),
        middlewares=[idempotent(router)],
    )
    def create_case(body: CreateCase) -> CaseView:
        return case_commands().register(
            caller(router),
            type=body.type,
            title=body.title,
            description=body.description,
            account_id=body.account_id,
            business_unit=body.gbu,
            fields=body.fields,
            subtype=body.subtype,
            contact_id=body.contact_id,
            assignee=body.assignee,
        )

    @router.post(
        "/cases/<case_id>/activities",
        status_code=201,
        tags=["activities"],
        summary="Schedule an activity from a service request or lead",
        responses=ok(201),
        middlewares=[idempotent(router)],
    )
    def schedule_activity(case_id: CaseId, body: ScheduleChild) -> CaseView:
        return case_commands().schedule(
            caller(router),
            case_id,
            "activity",
            subtype=body.subtype,
            title=body.title,
            description=body.description,
            fields=body.fields,
            assignee=body.assignee,
            business_unit=body.gbu,
            expected_version=body.expected_version,
        )

    return router


RELATED_LISTS = {
    "products": (AddProduct, "product line"),
    "accounts": (AddAccount, "Case Account Association"),
    "service_requests": (AddRelatedCase, "related service request (same contact)"),
}


def _related_list_routes(router: Router, kind: str, body_model: type, label: str) -> None:
    """POST and DELETE for one related list; every list has the same rules, only the names differ."""

    def add(case_id: CaseId, body) -> CaseView:
        return case_commands().change_related(
            caller(router),
            case_id,
            kind=kind,
            key=body.key,
            added=True,
            expected_version=body.expected_version,
            details=body.details,
        )

    def remove(case_id: CaseId, key: str) -> CaseView:
        return case_commands().change_related(
            caller(router), case_id, kind=kind, key=unquote(key), added=False
        )

    # Powertools reads the signature for validation and OpenAPI: give each list its own names and body type.
    add.__annotations__ = {"case_id": str, "body": body_model, "return": CaseView}
    remove.__annotations__ = {"case_id": str, "key": str, "return": CaseView}
    add.__name__, remove.__name__ = f"add_{kind}", f"remove_from_{kind}"
    tags, path = ["related"], f"/cases/<case_id>/{kind}"
    router.post(path, status_code=201, tags=tags, summary=f"Add a {label}", responses=ok(201))(add)
    router.delete(f"{path}/<key>", tags=tags, summary=f"Remove a {label}", responses=ok())(remove)


def change_routes() -> Router:
    router = Router()

    @router.patch(
        "/cases/<case_id>",
        tags=["cases"],
        summary="Edit fields editable in the current status",
        responses=ok(),
    )
    def edit_case(case_id: CaseId, body: EditCase) -> CaseView:
        return case_commands().edit(
            caller(router), case_id, fields=body.fields, expected_version=body.expected_version
        )

    @router.post(
        "/cases/<case_id>/transitions",
        tags=["cases"],
        summary="Move the case to another status",
        responses=ok(),
    )
    def transition(case_id: CaseId, body: TransitionRequest) -> CaseView:
        return case_commands().transition(
            caller(router), case_id, to=body.to, fields=body.fields, expected_version=body.expected_version
        )

    @router.post(
        "/cases/<case_id>/assignment",
        tags=["cases"],
        summary="Reassign to a user and/or (care modules) another business unit",
        responses=ok(),
    )
    def assign(case_id: CaseId, body: AssignRequest) -> CaseView:
        return case_commands().reassign(
            caller(router),
            case_id,
            assignee=body.assignee,
            business_unit=body.gbu,
            expected_version=body.expected_version,
        )

    @router.post(
        "/cases/<case_id>/accept",
        tags=["cases"],
        summary="Accept a case waiting in your business unit: you become its user",
        responses=ok(),
    )
    def accept(case_id: CaseId, body: Annotated[VersionOnly | None, Body()] = None) -> CaseView:
        expected = body.expected_version if body else None
        return case_commands().take(caller(router), case_id, expected_version=expected)

    @router.delete(
        "/cases/<case_id>", tags=["cases"], summary="Delete a case nothing refers to", responses=ok()
    )
    def delete_case(case_id: CaseId) -> DeletedCase:
        return case_commands().delete(caller(router), case_id)

    @router.post(
        "/cases/<case_id>/products/<key>/return",
        tags=["service requests"],
        summary="Check whether a product line's return is covered (warranty / return period)",
        responses=ok(),
    )
    def check_return(case_id: CaseId, key: str, body: ReturnCheck) -> CaseView:
        return case_feedback().check_return(
            caller(router),
            case_id,
            unquote(key),
            coverage_reason=body.coverage_reason,
            return_date=body.return_date.isoformat(),
            expected_version=body.expected_version,
        )

    @router.post(
        "/cases/<case_id>/feedback",
        status_code=201,
        tags=["service requests"],
        summary="Record the customer's rating (1-5) and comment",
        responses=ok(201),
    )
    def give_feedback(case_id: CaseId, body: FeedbackRequest) -> FeedbackView:
        return case_feedback().give_feedback(
            caller(router), case_id, rating=body.rating, comment=body.comment
        )

    for kind, (body_model, label) in RELATED_LISTS.items():
        _related_list_routes(router, kind, body_model, label)

    @router.post(
        "/cases/<case_id>/notes",
        status_code=201,
        tags=["notes"],
        summary="Add a shared note (if you may read the case; closed: 409 CASE_CLOSED unless its type says)",
        responses=ok(201),
        middlewares=[idempotent(router)],
    )
    def add_note(case_id: CaseId, body: NoteRequest) -> NoteView:
        return case_notes().add_note(caller(router), case_id, body.text)

    @router.post(
        "/cases/<case_id>/communications",
        status_code=201,
        tags=["notes"],
        summary="Email the case's contact (free text, or one of the type's communication templates)",
        responses=ok(201),
        middlewares=[idempotent(router)],
    )
    def communicate(case_id: CaseId, body: CommunicationRequest) -> CommunicationView:
        return case_notes().communicate(
            caller(router), case_id, subject=body.subject, text=body.text, template=body.template
        )

    return router
