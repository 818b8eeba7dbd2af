"""The case reads: a case, its lists (history, notes, communications, related entries, feedback), case lists,
a type's form, the open-case summary, contacts and accounts. Served by the read function; apart from the
case commands (casework.http.routes) so that it does not import the request bodies at start."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from casework.domain.views import CaseView, FeedbackView
from casework.http.api import caller
from casework.http.case_pages import (
    CasePage,
    CommunicationPage,
    HistoryPage,
    NotePage,
    RelatedPage,
    page_as,
)
from casework.http.responses import CaseId, Cursor, Limit, ok
from casework.http.wiring import care_service, case_feedback, case_queries


def read_routes() -> Router:
    router = Router()

    @router.get("/cases", tags=["cases"], summary="List cases (one Query on an index)", responses=ok())
    def list_cases(
        type: Annotated[str | None, Query(max_length=40)] = None,
        status: Annotated[str | None, Query(max_length=80)] = None,
        assignee: Annotated[str | None, Query(max_length=128, description="'me' or a username")] = None,
        account_id: Annotated[str | None, Query(max_length=80)] = None,
        cursor: Cursor = None,
        limit: Limit = 25,
    ) -> CasePage:
        from casework.services.ports import CaseQuery  # with the first request: see wiring.case_service

        query = CaseQuery(
            type=type, status=status, assignee=assignee, account_id=account_id, cursor=cursor, limit=limit
        )
        return page_as(CasePage, case_queries().list_cases(caller(router), query))

    @router.get(
        "/cases/<case_id>", tags=["cases"], summary="A case, with what you can do next", responses=ok()
    )
    def get_case(case_id: CaseId) -> CaseView:
        return case_queries().get(caller(router), case_id)

    @router.get(
        "/cases/<case_id>/history",
        tags=["cases"],
        summary="Every change: who, when, from, to, what",
        responses=ok(),
    )
    def history(case_id: CaseId, cursor: Cursor = None, limit: Limit = 100) -> HistoryPage:
        return page_as(HistoryPage, case_queries().history(caller(router), case_id, cursor, limit))

    @router.get("/cases/<case_id>/notes", tags=["notes"], summary="Shared notes", responses=ok())
    def notes(case_id: CaseId, cursor: Cursor = None, limit: Limit = 100) -> NotePage:
        return page_as(NotePage, case_queries().notes(caller(router), case_id, cursor, limit))

    @router.get(
        "/cases/<case_id>/communications",
        tags=["notes"],
        summary="Emails written to the case's contact: who, when, to whom, what, and when it went out",
        responses=ok(),
    )
    def communications(case_id: CaseId, cursor: Cursor = None, limit: Limit = 100) -> CommunicationPage:
        return page_as(
            CommunicationPage, case_queries().communications(caller(router), case_id, cursor, limit)
        )

    for path, (kind, label) in READABLE_LISTS.items():
        _related_read_route(router, path, kind, label)

    @router.get(
        "/cases/<case_id>/feedback",
        tags=["service requests"],
        summary="The customer's feedback",
        responses=ok(),
    )
    def feedback(case_id: CaseId) -> FeedbackView:
        return case_feedback().feedback(caller(router), case_id)

    @router.get(
        "/case-types/<case_type>",
        tags=["configuration"],
        summary="A case type's statuses, fields, sections and moves (for forms)",
        responses=ok(),
    )
    def case_type(case_type: str, subtype: Annotated[str | None, Query(max_length=40)] = None) -> dict:
        return care_service().case_type(caller(router), case_type, subtype)

    @router.get(
        "/summaries/<case_type>",
        tags=["service requests"],
        summary="Open cases by state, status, priority, assignee and unit, and the overdue ones",
        responses=ok(),
    )
    def summary(case_type: str, gbu: Annotated[str | None, Query(max_length=40)] = None) -> dict:
        return care_service().summary(caller(router), case_type, gbu)

    @router.get("/contacts/<contact_id>", tags=["directory"], summary="A customer contact", responses=ok())
    def contact(contact_id: str) -> dict:
        return care_service().directory_record(caller(router), "contact", contact_id)

    @router.get("/accounts/<account_id>", tags=["directory"], summary="A customer account", responses=ok())
    def account(account_id: str) -> dict:
        return care_service().directory_record(caller(router), "account", account_id)

    return router


# path segment -> (related list kind, label); an activity scheduled from a case is in its "activity" list
READABLE_LISTS = {
    "products": ("products", "Products (of a customer request, service request or lead)"),
    "accounts": ("accounts", "Case Account Associations"),
    "service_requests": ("service_requests", "Related service requests (same contact)"),
    "activities": ("activity", "Activities scheduled from the case"),
}


def _related_read_route(router: Router, path: str, kind: str, label: str) -> None:
    def read(case_id: CaseId, cursor: Cursor = None, limit: Limit = 100) -> RelatedPage:
        return page_as(RelatedPage, case_queries().related(caller(router), case_id, kind, cursor, limit))

    read.__name__ = f"list_{path}"
    router.get(f"/cases/<case_id>/{path}", tags=["related"], summary=label, responses=ok())(read)
