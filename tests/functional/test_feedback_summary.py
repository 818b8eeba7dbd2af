"""The feedback summary: FeedbackGiven events (real-shaped SQS records of EventBridge envelopes) counted by
the feedback_summary consumer into running aggregates, read back over the API by who may see each unit.
Duplicates, redeliveries and bad messages never change a figure."""

from __future__ import annotations

from typing import Any

import pytest

from infra.local.functions import LambdaContext
from tests.functional.moto_account import load_function
from tests.functional.shapes import for_event, sqs_record
from tests.functional.test_api_handlers import Api, ok, refused

QUEUE = "casework-api-FeedbackSummaryQueue"


def feedback(
    case_id: str, rating: int, unit: str, assignee: str | None, comment: str | None, at: str
) -> dict:
    return {
        "id": f"{case_id}:feedback",
        "type": "FeedbackGiven",
        "schema_version": 1,
        "case_id": case_id,
        "case_type": "service_request",
        "case_version": 6,
        "workflow_version": 1,
        "subtype": "FAULTY_ITEM",
        "config_version": 1,
        "occurred_at": at,
        "actor": "carol",
        "data": {
            "status": "Closed",
            "state": "completed",
            "rating": rating,
            "comment": comment,
            "business_unit": unit,
            "assignee": assignee,
        },
    }


EVENTS = [
    feedback("c1", 5, "CARE", "dave", "Quick and friendly", "2026-11-02T09:00:00.000Z"),
    feedback("c2", 3, "CARE", "dave", None, "2026-11-05T09:00:00.000Z"),
    feedback("c3", 4, "CARE", "carol", "Fixed, but slow", "2026-11-09T09:00:00.000Z"),
    feedback("c4", 2, "FIELD", "fred", "Late", "2026-11-10T09:00:00.000Z"),
    feedback("c5", 1, "CARE", "dave", "Old news", "2026-10-30T09:00:00.000Z"),  # another month
]


@pytest.fixture
def consumer(api: Api, monkeypatch: pytest.MonkeyPatch) -> Any:
    return load_function("feedback_summary", monkeypatch, prefix="fs")


def deliver(consumer: Any, records: list[dict[str, Any]]) -> list[str]:
    """One SQS batch to the function; the message ids it reports as failed."""
    result = consumer.handler({"Records": records}, LambdaContext("casework-test"))
    return [f["itemIdentifier"] for f in result["batchItemFailures"]]


def summary(api: Api, user: str, **query: str) -> Any:
    return api("GET /analytics/feedback", query=query, user=user)


def test_feedback_is_counted_once_and_summarised_by_unit_assignee_and_period(api: Api, consumer: Any) -> None:
    records = [for_event(e, f"m{k}", QUEUE) for k, e in enumerate(EVENTS)]
    duplicate = for_event(EVENTS[0], "again", QUEUE)  # the same event delivered twice in one batch
    poison = sqs_record("not json", "poison", QUEUE)
    no_unit = feedback("c6", 4, "CARE", "dave", None, "2026-11-11T09:00:00.000Z")
    no_unit["data"].pop("business_unit")
    assert deliver(consumer, [*records, duplicate, poison, for_event(no_unit, "no-unit", QUEUE)]) == [
        "poison",
        "no-unit",
    ]
    assert deliver(consumer, records[:2]) == []  # redelivered later: dropped
    assert consumer.summary().count(EVENTS[0]) == "duplicate"  # past idempotency too: the marker holds

    care = ok(summary(api, "tina", period="2026-11"))
    assert care["units"] == ["CARE"]
    assert (care["count"], care["average"]) == (3, 4.0)
    assert care["distribution"] == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}
    assert care["by_assignee"]["dave"]["count"] == 2 and care["by_assignee"]["dave"]["average"] == 4.0
    assert "fred" not in care["by_assignee"]  # Field Service's feedback is not Customer Care's
    assert care["by_type"]["service_request"]["count"] == 3

    daves = ok(summary(api, "tina", period="2026-11", assignee="dave"))
    assert (daves["count"], daves["average"]) == (2, 4.0)
    year = ok(summary(api, "tina", period="2026", assignee="dave"))
    assert (year["count"], year["distribution"]["1"]) == (3, 1)  # October counts in the year
    everywhere = ok(summary(api, "admin", period="2026-11"))
    assert everywhere["count"] == 4 and everywhere["by_unit"]["FIELD"]["average"] == 2.0
    nothing = ok(summary(api, "tina", period="2025-01"))
    assert (nothing["count"], nothing["average"]) == (0, None)


def test_comments_are_listed_newest_first_with_a_cursor(api: Api, consumer: Any) -> None:
    assert deliver(consumer, [for_event(e, f"m{k}", QUEUE) for k, e in enumerate(EVENTS)]) == []
    query = {"period": "2026-11", "unit": "CARE"}
    first = ok(api("GET /analytics/feedback/comments", query={**query, "limit": "1"}, user="tina"))
    assert [c["comment"] for c in first["items"]] == ["Fixed, but slow"]
    rest = ok(
        api(
            "GET /analytics/feedback/comments",
            query={**query, "limit": "1", "cursor": first["next_cursor"]},
            user="tina",
        )
    )
    assert [c["comment"] for c in rest["items"]] == ["Quick and friendly"]
    daves = ok(api("GET /analytics/feedback/comments", query={**query, "assignee": "dave"}, user="dave"))
    assert [(c["case_id"], c["rating"]) for c in daves["items"]] == [("c1", 5)]
    tampered = first["next_cursor"][:-2] + ("AA" if not first["next_cursor"].endswith("AA") else "BB")
    refused(
        api("GET /analytics/feedback/comments", query={**query, "cursor": tampered}, user="tina"),
        400,
        "INVALID_CURSOR",
    )


def test_bad_filters_and_other_units_are_refused(api: Api) -> None:
    refused(summary(api, "tina", period="November"), 422, "INVALID_REQUEST")  # longer than a month
    refused(summary(api, "tina", period="2026-13"), 422, "INVALID_FILTER")
    refused(summary(api, "dave", period="2026-11", unit="FIELD"), 403, "NOT_ALLOWED")
    refused(summary(api, "tina", period="2026-11", assignee="a b"), 422, "INVALID_FILTER")
    several = api("GET /analytics/feedback/comments", query={"period": "2026-11"}, user="admin")
    assert refused(several, 422, "INVALID_FILTER")["details"]["problems"][0]["location"] == "unit"
    by_year = api("GET /analytics/feedback/comments", query={"period": "2026", "unit": "CARE"}, user="tina")
    refused(by_year, 422, "INVALID_FILTER")
    assert api("GET /analytics/feedback", query={}, user="tina").status == 422  # period is required
