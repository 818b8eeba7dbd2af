"""What every group of routes shares: the error body and responses, the success response helper, the paging
query parameters and the page of plain records. Kept apart from the case schemas (casework.http.schemas) so
that a function serving no case route (customers, analytics, imports, rules, resources) does not import the
case read models at start.

Declared for a quick cold start, as casework.domain.views explains: ``defer_build=True`` on every model,
and no ``from __future__ import annotations``."""

from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from casework.domain.error_codes import ErrorCode

if TYPE_CHECKING:
    from casework.services.ports import Page


class RequestBody(BaseModel):
    """What every request body shares: a field the route does not know is refused (422)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


ExpectedVersion = Field(
    None, ge=0, description="The version you read; 409 STALE_VERSION if the case moved on."
)


class ErrorBody(BaseModel):
    model_config = ConfigDict(defer_build=True)

    code: ErrorCode = Field(
        examples=["ILLEGAL_TRANSITION"], description="Stable: clients branch on it (README: Error codes)."
    )
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    model_config = ConfigDict(defer_build=True)

    error: ErrorBody


class PageResponse(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[dict[str, Any]]
    next_cursor: str | None = None


# A model (not its schema inlined): Powertools puts it in components once and every response refers to it.
ERRORS = {
    status: {"description": text, "content": {"application/json": {"model": ErrorResponse}}}
    for status, text in {
        400: "The body is not JSON (INVALID_JSON) or is nested too deeply (JSON_TOO_DEEP)",
        401: "No or invalid token",
        403: "Not allowed for you",
        404: "No such case, or none you may see (CASE_NOT_FOUND either way)",
        409: "Not possible in the case's current state, or a stale version",
        415: "The body is not application/json (UNSUPPORTED_MEDIA_TYPE)",
        422: "Missing or invalid fields",
        503: "Busy: nothing was changed; send the same request again after Retry-After seconds (RETRY_LATER)",
    }.items()
}


def ok(status: int = 200, description: str = "The result") -> dict:
    """The success response (body schema from the return annotation) and the errors. Powertools documents no
    success response at all when a route passes ``responses``."""
    return {status: {"description": description}, **ERRORS}


CaseId = str  # a case's id in a route's path
Cursor = Annotated[str | None, Query(max_length=2048, description="next_cursor of the previous page")]
Limit = Annotated[int, Query(ge=1, le=100)]


def page(p: "Page") -> dict[str, Any]:
    """A page of plain records, as PageResponse documents it."""
    return {"items": p.items, "next_cursor": p.next_cursor}
