"""Durations and key dates: "to be completed within" turned into an expected date, and how late a case is."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework.domain.durations import UNITS, Duration, add, key_dates, minutes

START = datetime(2024, 3, 4, 9, 30, tzinfo=UTC)

instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
durations = st.builds(Duration, st.integers(1, 500), st.sampled_from(UNITS))


# --- Duration ----------------------------------------------------------------------------------------------


def test_duration_round_trips_through_its_dict_form():
    d = Duration.from_dict({"value": 2, "unit": "days"})
    assert d == Duration(2, "days")
    assert d.to_dict() == {"value": 2, "unit": "days"}


@pytest.mark.parametrize(
    ("duration", "text"),
    [(Duration(2, "days"), "2 days"), (Duration(1, "hours"), "1 hour"), (Duration(1, "months"), "1 month")],
)
def test_duration_reads_like_a_person_would_say_it(duration, text):
    assert str(duration) == text


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"value": 0, "unit": "days"}, "between 1 and 100000"),
        ({"value": 100_001, "unit": "days"}, "between 1 and 100000"),
        ({"value": -3, "unit": "days"}, "between 1 and 100000"),
        ({"value": 1.5, "unit": "days"}, "whole number"),
        ({"value": "2", "unit": "days"}, "whole number"),
        ({"value": True, "unit": "days"}, "whole number"),
        ({"value": 2, "unit": "fortnights"}, "minutes, hours, days, weeks, months, years"),
        ({"value": 2}, "needs a unit"),
        ({"unit": "days"}, "needs a value"),
        ({"value": 2, "unit": "days", "business": True}, "remove business"),
        ("2 days", '{"value": 2, "unit": "days"}'),
        (None, '{"value": 2, "unit": "days"}'),
    ],
)
def test_invalid_durations_are_refused_with_a_message_that_says_why(raw, fragment):
    with pytest.raises(ValueError, match="duration") as caught:
        Duration.from_dict(raw)
    assert fragment in str(caught.value)


def test_the_largest_allowed_value_is_accepted():
    assert Duration.from_dict({"value": 100_000, "unit": "minutes"}).value == 100_000


# --- add ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (Duration(90, "minutes"), datetime(2024, 3, 4, 11, 0, tzinfo=UTC)),
        (Duration(4, "hours"), datetime(2024, 3, 4, 13, 30, tzinfo=UTC)),
        (Duration(2, "days"), datetime(2024, 3, 6, 9, 30, tzinfo=UTC)),
        (Duration(2, "weeks"), datetime(2024, 3, 18, 9, 30, tzinfo=UTC)),
        (Duration(1, "months"), datetime(2024, 4, 4, 9, 30, tzinfo=UTC)),
        (Duration(10, "months"), datetime(2025, 1, 4, 9, 30, tzinfo=UTC)),
        (Duration(2, "years"), datetime(2026, 3, 4, 9, 30, tzinfo=UTC)),
    ],
)
def test_add_moves_forward_by_the_duration(duration, expected):
    assert add(START, duration) == expected


@pytest.mark.parametrize(
    ("start", "duration", "expected_day"),
    [
        (datetime(2023, 1, 31, tzinfo=UTC), Duration(1, "months"), (2023, 2, 28)),
        (datetime(2024, 1, 31, tzinfo=UTC), Duration(1, "months"), (2024, 2, 29)),
        (datetime(2024, 3, 31, tzinfo=UTC), Duration(1, "months"), (2024, 4, 30)),
        (datetime(2024, 2, 29, tzinfo=UTC), Duration(1, "years"), (2025, 2, 28)),
        (datetime(2024, 2, 29, tzinfo=UTC), Duration(4, "years"), (2028, 2, 29)),
        (datetime(2023, 11, 30, tzinfo=UTC), Duration(3, "months"), (2024, 2, 29)),
    ],
)
def test_adding_months_clamps_to_the_last_day_of_a_shorter_month(start, duration, expected_day):
    result = add(start, duration)
    assert (result.year, result.month, result.day) == expected_day


def test_adding_months_keeps_the_time_of_day_and_the_time_zone():
    cyprus = timezone(timedelta(hours=2))
    start = datetime(2024, 1, 31, 17, 45, 12, 345000, tzinfo=cyprus)
    result = add(start, Duration(1, "months"))
    assert result == datetime(2024, 2, 29, 17, 45, 12, 345000, tzinfo=cyprus)
    assert result.tzinfo is cyprus


def test_adding_beyond_the_year_9999_is_an_overflow_not_a_wrong_date():
    with pytest.raises(OverflowError):
        add(START, Duration(100_000, "years"))


@settings(max_examples=150)
@given(instants, durations)
def test_add_always_moves_forward(start, duration):
    assert add(start, duration) > start


@settings(max_examples=150)
@given(instants, st.sampled_from(UNITS), st.integers(1, 300), st.integers(1, 300))
def test_add_is_monotonic_in_the_value(start, unit, a, b):
    small, large = sorted((a, b))
    assert add(start, Duration(small, unit)) <= add(start, Duration(large, unit))


@settings(max_examples=150)
@given(instants, instants, durations)
def test_a_later_start_never_gives_an_earlier_result(one, other, duration):
    earlier, later = sorted((one, other))
    assert add(earlier, duration) <= add(later, duration)


@settings(max_examples=200)
@given(instants, st.integers(1, 1200))
def test_adding_months_lands_in_the_target_month_never_past_its_end(start, months):
    result = add(start, Duration(months, "months"))
    target = start.month - 1 + months
    assert (result.year, result.month) == (start.year + target // 12, target % 12 + 1)
    assert result.day == min(start.day, calendar.monthrange(result.year, result.month)[1])
    assert result.time() == start.time()


@settings(max_examples=100)
@given(instants, st.integers(1, 80))
def test_a_year_is_twelve_months(start, years):
    assert add(start, Duration(years, "years")) == add(start, Duration(12 * years, "months"))


# --- minutes -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (Duration(45, "minutes"), 45),
        (Duration(2, "hours"), 120),
        (Duration(1, "days"), 1440),
        (Duration(1, "weeks"), 7 * 1440),
        (Duration(1, "months"), 30 * 1440),
        (Duration(1, "years"), 365 * 1440),
    ],
)
def test_minutes_uses_the_documented_approximation(duration, expected):
    assert minutes(duration) == expected


# --- key dates ---------------------------------------------------------------------------------------------


def dates_within(start, within, actual, now):
    """key_dates for a case expected ``within`` of its start."""
    return key_dates(start, add(start, within) if within is not None else None, actual, now)


def test_a_case_closed_without_completing_is_never_overdue():
    expected = START + timedelta(days=2)
    dates = key_dates(START, expected, None, now=START + timedelta(days=30), closed=START + timedelta(days=9))
    assert dates["overdue"] is False and dates["time_overdue_seconds"] == 0
    assert dates["actual_completion_date"] is None and dates["closed_at"] is not None


def test_key_dates_of_an_open_case_within_its_time():
    dates = dates_within(START, Duration(2, "days"), None, now=START + timedelta(hours=5))
    assert dates == {
        "start_date": "2024-03-04T09:30:00.000Z",
        "expected_completion_date": "2024-03-06T09:30:00.000Z",
        "actual_completion_date": None,
        "closed_at": None,
        "time_to_completion_seconds": None,
        "time_overdue_seconds": 0,
        "overdue": False,
    }


def test_an_open_case_past_its_expected_date_is_overdue_and_keeps_counting():
    expected = START + timedelta(days=2)
    one_hour_late = dates_within(START, Duration(2, "days"), None, now=expected + timedelta(hours=1))
    two_hours_late = dates_within(START, Duration(2, "days"), None, now=expected + timedelta(hours=2))
    assert one_hour_late["overdue"] and one_hour_late["time_overdue_seconds"] == 3600
    assert two_hours_late["time_overdue_seconds"] == 7200


def test_a_case_completed_late_stays_overdue_by_the_same_amount_later_on():
    actual = START + timedelta(days=2, minutes=30)
    dates = dates_within(START, Duration(2, "days"), actual, now=actual + timedelta(days=30))
    assert dates["overdue"] is True
    assert dates["time_overdue_seconds"] == 1800
    assert dates["actual_completion_date"] == "2024-03-06T10:00:00.000Z"
    assert dates["time_to_completion_seconds"] == 2 * 86400 + 1800


def test_a_case_completed_in_time_is_not_overdue_even_when_looked_at_much_later():
    actual = START + timedelta(days=1)
    dates = dates_within(START, Duration(2, "days"), actual, now=START + timedelta(days=90))
    assert dates["overdue"] is False and dates["time_overdue_seconds"] == 0


def test_completing_exactly_on_the_expected_date_is_not_overdue():
    actual = START + timedelta(days=2)
    dates = dates_within(START, Duration(2, "days"), actual, now=actual)
    assert dates["overdue"] is False and dates["time_overdue_seconds"] == 0


def test_without_a_completion_time_a_case_is_never_overdue():
    dates = dates_within(START, None, None, now=START + timedelta(days=400))
    assert dates["expected_completion_date"] is None
    assert dates["overdue"] is False and dates["time_overdue_seconds"] == 0


def test_key_dates_are_written_in_utc_with_milliseconds():
    local = datetime(2024, 3, 4, 11, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    dates = dates_within(local, Duration(1, "months"), None, now=local)
    assert dates["start_date"] == "2024-03-04T09:30:00.123Z"
    assert dates["expected_completion_date"] == "2024-04-04T09:30:00.123Z"


@settings(max_examples=200)
@given(
    instants,
    st.none() | durations,
    st.none() | st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3000)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3000)),
)
def test_key_dates_properties(start, within, took, looked_after):
    actual = start + took if took is not None else None
    now = (actual or start) + looked_after
    dates = dates_within(start, within, actual, now)
    assert dates["time_overdue_seconds"] >= 0
    if actual is None:
        assert dates["time_to_completion_seconds"] is None
    else:
        assert dates["time_to_completion_seconds"] == int((actual - start).total_seconds())
    if within is None:
        assert dates["overdue"] is False and dates["time_overdue_seconds"] == 0
    else:
        expected = add(start, within)
        assert dates["overdue"] == ((actual or now) > expected)
        assert dates["time_overdue_seconds"] == max(0, int(((actual or now) - expected).total_seconds()))
