"""Workflow rules (casework.services.rules): read by anybody, replaced by an Admin. Served by the admin
function, next to the configuration they act on."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from casework.http.api import caller
from casework.http.responses import ok

if TYPE_CHECKING:
    from casework.adapters.rules import DynamoRuleStore
    from casework.services.rules import RuleAdmin


class RulesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Checked by casework.domain.rules, which lists every problem at once (422 INVALID_RULES).
    rules: list[dict[str, Any]] = Field(description="The module's workflow rules, all of them (see GET).")
    plans: list[dict[str, Any]] = Field([], description="Its communication plans, all of them (see GET).")
    expected_version: int | None = Field(
        None, ge=0, description="The version you read; 409 STALE_VERSION if somebody saved meanwhile."
    )


class RulesResponse(BaseModel):
    module: str
    version: int = Field(description="0 while no rule set was saved.")
    rules: list[dict[str, Any]]
    plans: list[dict[str, Any]]


@cache
def rule_store() -> DynamoRuleStore:
    """One per process: its cache of versions outlives the request."""
    from casework.adapters.rules import DynamoRuleStore

    return DynamoRuleStore()


def rule_admin() -> RuleAdmin:
    from casework.http.wiring import case_service
    from casework.services.rules import RuleAdmin

    return RuleAdmin(cases=case_service(), rules=rule_store())


def rule_routes() -> Router:
    router = Router()

    @router.get(
        "/rules/<module>",
        tags=["configuration"],
        summary="A care module's workflow rules and communication plans, versioned",
        responses=ok(),
    )
    def get_rules(module: str, version: Annotated[int | None, Query(ge=1)] = None) -> RulesResponse:
        return RulesResponse.model_validate(rule_admin().get(caller(router), module, version))

    @router.put(
        "/rules/<module>",
        tags=["configuration"],
        summary="Replace a module's workflow rules and plans (Admin); 422 INVALID_RULES lists every problem",
        responses=ok(),
    )
    def put_rules(module: str, body: RulesRequest) -> RulesResponse:
        saved = rule_admin().put(caller(router), module, body.rules, body.expected_version, body.plans)
        return RulesResponse.model_validate(saved)

    return router
