"""Approvals: an approver's decision, a recall, your delegation while away, and the email-link pages
(casework.http.pages). Served by the approve function; apart from the case commands (casework.http.routes)
so that it imports only its own request bodies at start.

Declared for a quick cold start, as casework.domain.views explains: ``defer_build=True`` on every model,
and no ``from __future__ import annotations``."""

from datetime import date
from typing import Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict, Field

from casework.domain.views import CaseView, DelegationEnded
from casework.http.api import caller
from casework.http.responses import CaseId, ExpectedVersion, RequestBody, ok
from casework.http.wiring import case_commands, delegation_settings


class ApprovalDecision(RequestBody):
    decision: Literal["approve", "reject"]
    comment: str | None = Field(None, max_length=4000)
    expected_version: int | None = ExpectedVersion


class SetDelegation(RequestBody):
    delegate: str = Field(
        min_length=1, max_length=128, description="The user asked with you while you are away."
    )
    starts: date = Field(alias="from", description="First day (UTC) of the period, included.")
    until: date = Field(description="Last day (UTC) of the period, included; at most 366 days after `from`.")


class DelegationResponse(BaseModel):
    owner: str
    delegate: str
    starts: date = Field(alias="from")
    until: date
    set_at: str

    # built from the service's Delegation (its attribute is ``starts``; the JSON says "from")
    model_config = ConfigDict(
        serialize_by_alias=True, from_attributes=True, validate_by_name=True, defer_build=True
    )


class RecallRequest(RequestBody):
    comment: str | None = Field(None, max_length=4000, description="Why (the approvers are told).")
    expected_version: int | None = ExpectedVersion


def approval_routes() -> Router:
    router = Router()

    @router.post(
        "/cases/<case_id>/approvals",
        tags=["approvals"],
        summary="Decide your pending approval",
        responses=ok(),
    )
    def decide(case_id: CaseId, body: ApprovalDecision) -> CaseView:
        return case_commands().decide(
            caller(router),
            case_id,
            decision=body.decision,
            comment=body.comment,
            expected_version=body.expected_version,
        )

    @router.post(
        "/cases/<case_id>/recall",
        tags=["approvals"],
        summary="Recall the pending approval (who submitted it, or the creator): back to the status before",
        responses=ok(),
    )
    def recall(case_id: CaseId, body: RecallRequest) -> CaseView:
        return case_commands().recall(
            caller(router), case_id, comment=body.comment, expected_version=body.expected_version
        )

    delegation_routes(router)
    from casework.http.pages import acceptance_link_routes, approval_link_routes, short_link_routes

    approval_link_routes(router)
    acceptance_link_routes(router)
    short_link_routes(router)
    return router


def delegation_routes(router: Router) -> None:
    """Your own delegation: who is asked with you for approvals requested while you are away."""

    @router.get(
        "/users/me/delegation",
        tags=["approvals"],
        summary="Your delegation (404 NO_DELEGATION)",
        responses=ok(),
    )
    def get_delegation() -> DelegationResponse:
        return DelegationResponse.model_validate(delegation_settings().delegation(caller(router)))

    @router.put(
        "/users/me/delegation",
        tags=["approvals"],
        summary="Name a delegate for a period (replaces yours); 422 INVALID_DELEGATION lists every problem",
        responses=ok(),
    )
    def put_delegation(body: SetDelegation) -> DelegationResponse:
        record = delegation_settings().set_delegation(
            caller(router), delegate=body.delegate, starts=body.starts, until=body.until
        )
        return DelegationResponse.model_validate(record)

    @router.delete(
        "/users/me/delegation", tags=["approvals"], summary="End your delegation now", responses=ok()
    )
    def delete_delegation() -> DelegationEnded:
        return delegation_settings().end_delegation(caller(router))
