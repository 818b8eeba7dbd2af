"""A care module's configuration (casework.services.care): read by anybody, replaced by an Admin. Served by
the admin function, with the directory and the workflow rules; apart from the case routes so that the admin
function does not import the case read models at start.

Declared for a quick cold start, as casework.domain.views explains: ``defer_build=True`` on every model,
and no ``from __future__ import annotations``."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from casework.http.api import caller
from casework.http.responses import ok
from casework.http.wiring import care_service


class ConfigurationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    config: dict[str, Any] = Field(description="The module's whole configuration (see GET).")
    expected_version: int | None = Field(
        None, ge=0, description="The version you read; 409 STALE_VERSION if somebody saved meanwhile."
    )


class ConfigurationResponse(BaseModel):
    model_config = ConfigDict(defer_build=True)

    module: str
    version: int
    config: dict[str, Any]


def admin_routes() -> Router:
    router = Router()

    @router.get(
        "/config/<module>",
        tags=["configuration"],
        summary="A care module's configuration (statuses, categories, types, ...)",
        responses=ok(),
    )
    def get_config(module: str, version: Annotated[int | None, Query(ge=1)] = None) -> ConfigurationResponse:
        return ConfigurationResponse.model_validate(
            care_service().get_config(caller(router), module, version)
        )

    @router.put(
        "/config/<module>",
        tags=["configuration"],
        summary="Replace a care module's configuration (Admin); a new version, cases keep theirs",
        responses=ok(),
    )
    def put_config(module: str, body: ConfigurationRequest) -> ConfigurationResponse:
        saved = care_service().put_config(caller(router), module, body.config, body.expected_version)
        return ConfigurationResponse.model_validate(saved)

    return router
