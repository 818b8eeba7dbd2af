"""Care module rules: services logged on activities (billing depends on them) and warranty returns."""

from __future__ import annotations

import json
from datetime import date, timedelta
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework.domain.care.activities import (
    ServicesInvalid,
    auto_applied_services,
    check_services_on_completion,
)
from casework.domain.care.config import CoverageReason, ModuleConfig, TypeConfig, parse_config
from casework.domain.care.warranty import check_return, last_return_date
from casework.domain.durations import Duration


def activity_config() -> ModuleConfig:
    raw = json.loads((resources.files("casework.workflows") / "config" / "activity.json").read_text())
    return parse_config("activity", raw)


ACTIVITIES = activity_config()
VISIT, REPAIR, CALL = ACTIVITIES.type("VISIT"), ACTIVITIES.type("REPAIR"), ACTIVITIES.type("CALL")


def refusal(type_cfg: TypeConfig, logged: list, **kwargs) -> list[dict]:
    with pytest.raises(ServicesInvalid) as caught:
        check_services_on_completion(type_cfg, logged, **kwargs)
    return caught.value.problems


# --- services on new activities -----------------------------------------------------------------------------


def test_a_new_activity_starts_with_its_auto_applied_services_at_their_minimum_time():
    assert auto_applied_services(VISIT) == [{"product": "SVC-VISIT", "time_spent_minutes": 60}]
    assert auto_applied_services(REPAIR) == [{"product": "SVC-REPAIR", "time_spent_minutes": 30}]
    assert auto_applied_services(CALL) == []


def test_an_auto_applied_minimum_in_hours_is_converted_to_minutes():
    raw = json.loads((resources.files("casework.workflows") / "config" / "activity.json").read_text())
    raw["types"][0]["services"][0]["minimum_time"] = {"value": 2, "unit": "hours"}
    visit = parse_config("activity", raw).type("VISIT")
    assert auto_applied_services(visit) == [{"product": "SVC-VISIT", "time_spent_minutes": 120}]


# --- services on completion ---------------------------------------------------------------------------------


def test_a_fixed_service_is_recorded_at_its_minimum_whether_or_not_the_time_is_given():
    assert check_services_on_completion(VISIT, [{"product": "SVC-VISIT"}]) == [
        {"product": "SVC-VISIT", "time_spent_minutes": 60}
    ]
    assert check_services_on_completion(VISIT, [{"product": "SVC-VISIT", "time_spent_minutes": 60}]) == [
        {"product": "SVC-VISIT", "time_spent_minutes": 60}
    ]


def test_a_fixed_service_cannot_be_logged_with_another_time():
    assert refusal(VISIT, [{"product": "SVC-VISIT", "time_spent_minutes": 90}]) == [
        {
            "product": "SVC-VISIT",
            "message": "SVC-VISIT: the time spent is fixed at 1 hour and cannot be changed "
            "(1 hour 30 minutes given).",
        }
    ]


def test_flexible_services_keep_the_time_logged():
    logged = [
        {"product": "SVC-REPAIR", "time_spent_minutes": 45},
        {"product": "SVC-INSTALL", "time_spent_minutes": 15},
    ]
    assert check_services_on_completion(REPAIR, logged) == logged


def test_an_optional_service_may_be_left_out():
    assert check_services_on_completion(REPAIR, [{"product": "SVC-REPAIR", "time_spent_minutes": 30}]) == [
        {"product": "SVC-REPAIR", "time_spent_minutes": 30}
    ]


def test_time_below_the_minimum_is_refused_in_words_the_user_understands():
    problems = refusal(
        REPAIR,
        [{"product": "SVC-REPAIR", "time_spent_minutes": 20}],
        product_names={"SVC-REPAIR": "Repair"},
    )
    assert problems == [
        {"product": "SVC-REPAIR", "message": "Repair: 20 minutes logged, at least 30 minutes required."}
    ]


def test_exactly_the_minimum_is_enough_and_a_minute_less_is_not():
    assert check_services_on_completion(REPAIR, [{"product": "SVC-REPAIR", "time_spent_minutes": 30}])
    assert refusal(REPAIR, [{"product": "SVC-REPAIR", "time_spent_minutes": 29}])[0]["message"] == (
        "SVC-REPAIR: 29 minutes logged, at least 30 minutes required."
    )


def test_a_mandatory_service_must_be_logged():
    assert refusal(VISIT, []) == [
        {"product": "SVC-VISIT", "message": "SVC-VISIT is mandatory for Site visit but was not logged."}
    ]


def test_a_product_that_is_not_a_service_of_the_type_is_refused():
    problems = refusal(
        REPAIR, [{"product": "SVC-REPAIR", "time_spent_minutes": 30}, {"product": "SVC-VISIT"}]
    )
    assert problems == [
        {"product": "SVC-VISIT", "message": "SVC-VISIT is not a service of Repair activities."}
    ]


def test_a_type_without_services_accepts_only_an_empty_log():
    assert check_services_on_completion(CALL, []) == []
    problems = refusal(CALL, [{"product": "SVC-INSTALL", "time_spent_minutes": 15}])
    assert problems == [
        {
            "product": "SVC-INSTALL",
            "message": "Phone call activities provide no services, so SVC-INSTALL cannot be logged.",
        }
    ]


@pytest.mark.parametrize("time_spent", [-1, 1.5, "45", True, None])
def test_time_spent_must_be_a_whole_number_of_minutes(time_spent):
    problems = refusal(REPAIR, [{"product": "SVC-REPAIR", "time_spent_minutes": time_spent}])
    assert {
        "product": "SVC-REPAIR",
        "message": "SVC-REPAIR: time spent must be a whole number of minutes, 0 or more.",
    } in (problems)


def test_a_service_logged_twice_is_refused():
    logged = [
        {"product": "SVC-REPAIR", "time_spent_minutes": 30},
        {"product": "SVC-REPAIR", "time_spent_minutes": 40},
    ]
    assert refusal(REPAIR, logged) == [
        {"product": "SVC-REPAIR", "message": "SVC-REPAIR is logged twice; log its total time once."}
    ]


@pytest.mark.parametrize("item", [{}, {"time_spent_minutes": 30}, "SVC-REPAIR", {"product": ""}])
def test_an_entry_without_a_product_is_refused(item):
    assert {"product": None, "message": "Each logged service needs a product."} in refusal(
        REPAIR, [item, {"product": "SVC-REPAIR", "time_spent_minutes": 30}]
    )


def test_every_problem_with_a_log_is_reported_at_once():
    problems = refusal(
        REPAIR,
        [{"product": "SVC-INSTALL", "time_spent_minutes": 5}, {"product": "P-100", "time_spent_minutes": 10}],
    )
    assert [p["product"] for p in problems] == ["SVC-INSTALL", "P-100", "SVC-REPAIR"]


def test_minimums_in_hours_are_compared_in_minutes():
    raw = json.loads((resources.files("casework.workflows") / "config" / "activity.json").read_text())
    raw["types"][1]["services"][0]["minimum_time"] = {"value": 2, "unit": "hours"}
    repair = parse_config("activity", raw).type("REPAIR")
    assert refusal(repair, [{"product": "SVC-REPAIR", "time_spent_minutes": 90}])[0]["message"] == (
        "SVC-REPAIR: 1 hour 30 minutes logged, at least 2 hours required."
    )
    assert check_services_on_completion(repair, [{"product": "SVC-REPAIR", "time_spent_minutes": 120}])


@settings(max_examples=150)
@given(st.integers(0, 10_000), st.none() | st.integers(0, 10_000))
def test_flexible_time_is_accepted_exactly_when_it_reaches_the_minimum(repair_minutes, install_minutes):
    logged = [{"product": "SVC-REPAIR", "time_spent_minutes": repair_minutes}]
    if install_minutes is not None:
        logged.append({"product": "SVC-INSTALL", "time_spent_minutes": install_minutes})
    acceptable = repair_minutes >= 30 and (install_minutes is None or install_minutes >= 15)
    if acceptable:
        assert check_services_on_completion(REPAIR, logged) == logged
    else:
        with pytest.raises(ServicesInvalid):
            check_services_on_completion(REPAIR, logged)


# --- warranty returns ---------------------------------------------------------------------------------------

DOA = CoverageReason(code="DOA", name="Dead on arrival", covered=True, return_period=Duration(14, "days"))
WARRANTY = CoverageReason(
    code="FAULTY_WARRANTY", name="Faulty under warranty", covered=True, return_period=Duration(24, "months")
)
CHANGED_MIND = CoverageReason(
    code="CHANGED_MIND", name="Changed mind", covered=False, return_period=Duration(30, "days")
)


def test_a_return_on_the_last_day_of_the_period_is_within_and_covered():
    assert check_return(DOA, date(2024, 3, 1), date(2024, 3, 15)) == {
        "coverage_reason": "DOA",
        "covered": True,
        "within_return_period": True,
        "last_return_date": "2024-03-15",
        "return_period": "14 days",
    }


def test_a_return_the_day_after_the_period_is_neither_within_nor_covered():
    result = check_return(DOA, date(2024, 3, 1), date(2024, 3, 16))
    assert result["within_return_period"] is False and result["covered"] is False
    assert result["last_return_date"] == "2024-03-15"


def test_a_return_on_the_issue_day_is_within():
    assert check_return(DOA, date(2024, 3, 1), date(2024, 3, 1))["within_return_period"] is True


def test_a_reason_that_is_not_covered_is_never_covered_even_in_time():
    result = check_return(CHANGED_MIND, date(2024, 3, 1), date(2024, 3, 2))
    assert result["within_return_period"] is True and result["covered"] is False


def test_a_period_in_months_ends_on_the_last_day_of_a_shorter_month():
    one_month = CoverageReason(code="M", name="One month", covered=True, return_period=Duration(1, "months"))
    assert last_return_date(one_month, date(2024, 1, 31)) == date(2024, 2, 29)
    assert last_return_date(one_month, date(2023, 1, 31)) == date(2023, 2, 28)
    assert check_return(one_month, date(2024, 1, 31), date(2024, 2, 29))["covered"] is True
    assert check_return(one_month, date(2024, 1, 31), date(2024, 3, 1))["covered"] is False


def test_a_two_year_warranty_from_a_leap_day():
    assert check_return(WARRANTY, date(2024, 2, 29), date(2026, 2, 28))["within_return_period"] is True
    assert check_return(WARRANTY, date(2024, 2, 29), date(2026, 3, 1))["within_return_period"] is False
    assert check_return(WARRANTY, date(2024, 2, 29), date(2026, 3, 1))["return_period"] == "24 months"


def test_a_return_before_the_issue_date_is_refused():
    with pytest.raises(ValueError, match="before the warehouse issue date 2024-03-01"):
        check_return(DOA, date(2024, 3, 1), date(2024, 2, 29))


def test_the_seeded_coverage_reasons_behave_as_described():
    raw = json.loads((resources.files("casework.workflows") / "config" / "service_request.json").read_text())
    sr = parse_config("service_request", raw)
    issued = date(2024, 5, 10)
    assert check_return(sr.coverage_reason("DOA"), issued, date(2024, 5, 24))["covered"] is True
    assert check_return(sr.coverage_reason("DOA"), issued, date(2024, 5, 25))["covered"] is False
    assert check_return(sr.coverage_reason("FAULTY_WARRANTY"), issued, date(2026, 5, 10))["covered"] is True
    assert check_return(sr.coverage_reason("CHANGED_MIND"), issued, date(2024, 5, 11))["covered"] is False


@settings(max_examples=150)
@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    st.integers(0, 2000),
    st.booleans(),
    st.integers(1, 60),
    st.sampled_from(["days", "weeks", "months", "years"]),
)
def test_a_return_is_within_exactly_up_to_the_last_return_date(issued, days_later, covered, value, unit):
    reason = CoverageReason(code="R", name="Reason", covered=covered, return_period=Duration(value, unit))
    returned = issued + timedelta(days=days_later)
    result = check_return(reason, issued, returned)
    last_day = date.fromisoformat(result["last_return_date"])
    assert last_day > issued
    assert result["within_return_period"] == (returned <= last_day)
    assert result["covered"] == (covered and result["within_return_period"])
