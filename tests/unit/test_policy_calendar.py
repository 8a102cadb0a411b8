"""The calendar rules as rows: each bucket key function on its own, and the table."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from domo_versions_iac.policy import RetentionPolicy
from domo_versions_iac.policy.calendar import (
    CALENDAR_RULES,
    active_rules,
    day_key,
    month_key,
    week_key,
    year_key,
)


def at(y: int, m: int, d: int, hour: int = 12) -> datetime:
    return datetime(y, m, d, hour, tzinfo=timezone.utc)


def test_day_key_is_the_local_date_and_differs_across_midnight() -> None:
    assert day_key(at(2024, 3, 9)) == 20240309
    assert day_key(at(2024, 3, 9, 0)) == day_key(at(2024, 3, 9, 23))
    assert day_key(at(2024, 3, 9, 23)) != day_key(at(2024, 3, 10, 0))
    assert day_key(at(2024, 12, 31)) < day_key(at(2025, 1, 1))


@pytest.mark.parametrize(
    ("when", "key"),
    [
        (at(2024, 3, 9), 202410),
        (at(2024, 12, 30), 202501),  # ISO week 1 of 2025 starts in December 2024
        (at(2021, 1, 3), 202053),  # a Sunday still in 2020's week 53
        (at(2021, 1, 4), 202101),
    ],
)
def test_week_key_is_the_iso_year_and_week(when: datetime, key: int) -> None:
    assert week_key(when) == key


def test_week_key_is_the_same_monday_to_sunday() -> None:
    assert week_key(at(2024, 3, 4)) == week_key(at(2024, 3, 10))  # Monday .. Sunday
    assert week_key(at(2024, 3, 10)) != week_key(at(2024, 3, 11))


def test_month_key_is_year_and_month() -> None:
    assert month_key(at(2024, 3, 1)) == month_key(at(2024, 3, 31)) == 202403
    assert month_key(at(2024, 12, 31)) == 202412
    assert month_key(at(2025, 1, 1)) == 202501


def test_year_key_is_the_year() -> None:
    assert year_key(at(2024, 1, 1, 0)) == year_key(at(2024, 12, 31, 23)) == 2024
    assert year_key(at(2025, 1, 1, 0)) == 2025


def test_each_row_words_its_bucket_as_the_plan_shows_it() -> None:
    when = at(2024, 12, 30)
    reasons = {rule.name: rule.reason(rule.key(when)) for rule in CALENDAR_RULES}
    assert reasons == {
        "keep_daily": "keep_daily 2024-12-30",
        "keep_weekly": "keep_weekly 2025-W01",
        "keep_monthly": "keep_monthly 2024-12",
        "keep_yearly": "keep_yearly 2024",
    }


def test_active_rules_are_the_rows_the_policy_sets_in_table_order() -> None:
    policy = RetentionPolicy(keep_yearly=3, keep_daily=7)
    assert [(rule.name, n) for rule, n in active_rules(policy)] == [
        ("keep_daily", 7),
        ("keep_yearly", 3),
    ]
