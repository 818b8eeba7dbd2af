"""Analytics over the API (served by functions/analytics): the feedback summary (seed 003)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from casework.http.api import caller
from casework.http.responses import Cursor, Limit, ok, page
from casework.http.wiring import feedback_summary

Period = Annotated[str, Query(min_length=4, max_length=7, description="A month (2026-11) or a year (2026)")]
Filter = Annotated[str | None, Query(min_length=1, max_length=64)]


def analytics_routes() -> Router:
    router = Router()

    @router.get(
        "/analytics/feedback",
        tags=["analytics"],
        summary="Ratings by type, unit, assignee and period: count, average, distribution, breakdowns",
        responses=ok(),
    )
    def feedback(
        period: Period, unit: Filter = None, case_type: Filter = None, assignee: Filter = None
    ) -> dict:
        return feedback_summary().summary(
            caller(router), period=period, unit=unit, case_type=case_type, assignee=assignee
        )

    @router.get(
        "/analytics/feedback/comments",
        tags=["analytics"],
        summary="The comments of a unit's month, newest first",
        responses=ok(),
    )
    def comments(
        period: Period,
        unit: Filter = None,
        case_type: Filter = None,
        assignee: Filter = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> dict:
        return page(
            feedback_summary().comments(
                caller(router),
                period=period,
                unit=unit,
                case_type=case_type,
                assignee=assignee,
                cursor=cursor,
                limit=limit,
            )
        )

    return router
