"""Grace periods, holds, eligible_at and the forecast (issue 14), as a user reads them."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from domo_versions_iac.domo.models import DataVersion
from domo_versions_iac.policy import (
    BudgetExceededError,
    Plan,
    PolicyError,
    RetentionPolicy,
    plan_retention,
    render_forecast,
)
from domo_versions_iac.schemas import validator

UTC = timezone.utc
NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
GOLDEN = Path(__file__).parent / "golden"


def daily(n: int, size: int = 1000) -> list[DataVersion]:
    """Versions 1..n, one a day, version n recorded a day before NOW."""
    return [
        DataVersion(i, 1, "success", NOW - timedelta(days=n + 1 - i), NOW, 10 * i, size * i)
        for i in range(1, n + 1)
    ]


def plan(versions: list[DataVersion], now: datetime = NOW, **policy: Any) -> Plan:
    return plan_retention(versions, RetentionPolicy.from_dict(policy), now)


def reasons(p: Plan) -> dict[int, tuple[str, ...]]:
    return {d.version.data_id: d.reasons for d in p.decisions}


def eligible(p: Plan) -> dict[int, str | None]:
    return {
        row["data_id"]: row["eligible_at"]
        for row in p.to_dict()["versions"]
        if "eligible_at" in row
    }


# --------------------------------------------------------------------------- grace


def test_grace_example_from_the_issue() -> None:
    p = plan(daily(10), keep_last=2, grace="3d")
    assert p.delete_ids == [1, 2, 3, 4, 5, 6]
    r = reasons(p)
    assert r[10] == ("keep_last #1", "protected: latest #1")
    assert r[9] == ("keep_last #2",)
    # 7 was surplus 3 days ago once 9 arrived (2 days ago + 3 days grace = tomorrow)
    assert r[7] == ("grace 3d: surplus now, deletable after 2024-03-11T12:00:00Z",)
    assert r[8] == ("grace 3d: surplus now, deletable after 2024-03-12T12:00:00Z",)
    assert eligible(p) == {
        10: None,
        9: None,
        8: "2024-03-12T12:00:00Z",
        7: "2024-03-11T12:00:00Z",
    }


def test_a_burst_of_uploads_does_not_condemn_yesterdays_versions_at_once() -> None:
    old = daily(3)  # 1, 2, 3: kept by keep_last 3
    burst = [
        DataVersion(10 + i, 1, "success", NOW - timedelta(minutes=10 * i), NOW, 1, 1)
        for i in range(1, 4)
    ]
    without = plan([*old, *burst], keep_last=3)
    assert without.delete_ids == [1, 2, 3]
    with_grace = plan([*old, *burst], keep_last=3, grace="1d")
    assert with_grace.delete == []
    assert all(
        r[0].startswith("grace 1d: surplus now") for i, r in reasons(with_grace).items() if i < 4
    )


def test_grace_spares_a_version_for_the_grace_period_after_its_time_rule_ends() -> None:
    versions = daily(10)
    policy: dict[str, Any] = {"keep_within": "5d", "grace": "2d", "protect_latest": 0}
    p = plan(versions, **policy)
    # keep_within 5d keeps 6..10; 2 days ago (cutoff 7 days back) it kept 4..9
    assert p.delete_ids == [1, 2, 3]
    got = eligible(p)
    assert got[4] == "2024-03-10T12:00:00Z"  # kept exactly at the cutoff two days ago
    assert got[5] == "2024-03-11T12:00:00Z"
    assert got[6] == "2024-03-12T12:00:00Z"  # keep_within ends now; two days of grace follow
    later = plan(versions, NOW + timedelta(days=1, microseconds=1), **policy)
    assert later.delete_ids == [1, 2, 3, 4, 5]


def test_grace_is_in_plain_english_and_round_trips() -> None:
    policy = RetentionPolicy.from_dict({"keep_last": 2, "grace": "7d"})
    assert "grace 7 days: delete a version only if it was already surplus 7 days earlier" in str(
        policy
    )
    assert policy.to_dict() == {"keep_last": 2, "grace": "7d"}
    assert RetentionPolicy.from_dict(policy.to_dict()) == policy


@pytest.mark.parametrize("value", ["7", "0d", "7 days", 7, "1d1y"])
def test_bad_grace_names_the_key(value: Any) -> None:
    with pytest.raises(PolicyError, match=r"^policy\.grace: expected a duration such as '7d'"):
        RetentionPolicy.from_dict({"keep_last": 1, "grace": value})


# --------------------------------------------------------------------------- holds

HOLD = {"versions": [3, 4], "reason": "audit FY25", "until": "2024-04-01"}


def test_held_versions_are_kept_with_the_reason_and_the_expiry() -> None:
    p = plan(daily(6), keep_last=1, holds=[HOLD])
    assert p.delete_ids == [1, 2, 5]
    assert reasons(p)[3] == ("hold: audit FY25 (until 2024-04-01T00:00:00Z)",)
    assert eligible(p)[3] == "2024-04-01T00:00:00Z"
    assert p.warnings == ()


def test_holds_win_over_every_rule_and_come_first() -> None:
    p = plan(daily(6), keep_last=6, holds=[{"versions": [6], "reason": "legal"}])
    assert reasons(p)[6] == ("hold: legal (no expiry)", "keep_last #1", "protected: latest #1")
    assert eligible(p)[6] is None


def test_an_expired_hold_keeps_nothing_and_says_so() -> None:
    expired = {**HOLD, "until": "2024-03-10T12:00:00Z"}  # exactly now: expired
    p = plan(daily(6), keep_last=1, holds=[expired])
    assert p.delete_ids == [1, 2, 3, 4, 5]
    assert p.warnings == (
        "holds: the hold 'audit FY25' expired at 2024-03-10T12:00:00Z and keeps nothing; "
        "remove it from the policy",
    )


def test_a_hold_naming_an_unlisted_version_is_a_warning_in_the_plan_json() -> None:
    p = plan(daily(6), keep_last=1, holds=[{"versions": [4, 99], "reason": "audit"}])
    assert 4 not in p.delete_ids
    warning = "holds: version 99 (hold 'audit') is not listed by Domo"
    assert p.warnings == (warning,)
    assert p.to_dict()["warnings"] == [warning]


def test_the_budget_still_applies_with_holds() -> None:
    with pytest.raises(BudgetExceededError) as err:
        plan(daily(6), keep_last=1, holds=[HOLD], max_deletions=2)
    assert err.value.would_delete == 3


def test_holds_alone_are_not_a_policy() -> None:
    with pytest.raises(PolicyError, match="empty policy would delete every version"):
        RetentionPolicy.from_dict({"holds": [HOLD]})


def test_holds_in_plain_english_and_round_trip() -> None:
    policy = RetentionPolicy.from_dict(
        {"keep_last": 1, "holds": [HOLD, {"versions": [7], "reason": "x"}]}
    )
    text = str(policy)
    assert (
        "hold versions 3 and 4 (audit FY25) until 2024-04-01T00:00:00Z, whatever the rules say"
        in text
    )
    assert "hold version 7 (x) with no expiry" in text
    assert policy.to_dict()["holds"] == [
        {"versions": [3, 4], "reason": "audit FY25", "until": "2024-04-01T00:00:00Z"},
        {"versions": [7], "reason": "x"},
    ]
    assert RetentionPolicy.from_dict(policy.to_dict()) == policy


@pytest.mark.parametrize(
    ("hold", "detail"),
    [
        ({"versions": [], "reason": "x"}, "holds[0].versions"),
        ({"versions": [1, 1], "reason": "x"}, "holds[0].versions"),
        ({"versions": [1], "reason": " "}, "holds[0].reason"),
        ({"versions": [1]}, "'reason' is a required property"),
        ({"versions": [1], "reason": "x", "until": "next year"}, "holds[0].until"),
        ({"versions": [1], "reason": "x", "by": "me"}, "'by' was unexpected"),
    ],
)
def test_bad_holds_name_the_key_and_the_place(hold: dict[str, Any], detail: str) -> None:
    with pytest.raises(PolicyError) as err:
        RetentionPolicy.from_dict({"keep_last": 1, "holds": [hold]})
    assert str(err.value).startswith("policy.holds: expected a list of holds such as")
    assert detail in str(err.value)


# --------------------------------------------------------------------------- eligible_at


def test_eligible_at_per_reason() -> None:
    p = plan(
        daily(10),
        keep_within="3d",
        keep_since="2024-03-08",
        keep_daily=1,
        allowed_versions=[2],
        holds=[{"versions": [5, 6], "reason": "a", "until": "2024-03-20"}],
    )
    assert eligible(p) == {
        10: None,  # keep_daily and the newest: only a new upload ends them
        9: None,  # keep_since never ends
        8: "2024-03-10T12:00:00Z",  # keep_within 3d: recorded 03-07T12:00, kept through now
        6: "2024-03-20T00:00:00Z",  # the hold's until
        5: "2024-03-20T00:00:00Z",
        2: None,  # allowed_versions
    }


def test_eligible_at_is_the_latest_expiry_of_the_reasons() -> None:
    versions = daily(10)
    hold = {"versions": [7, 8], "reason": "a", "until": "2024-03-11"}
    p = plan(versions, keep_within="4d", holds=[hold], protect_latest=0)
    got = eligible(p)
    assert got[10] is None  # the newest successful version is never deleted
    assert got[9] == "2024-03-12T12:00:00Z"  # recorded 03-08T12:00, plus 4 days
    assert got[8] == "2024-03-11T12:00:00Z"  # keep_within (03-07T12:00 + 4d) outlasts the hold
    assert got[7] == "2024-03-11T00:00:00Z"  # the hold outlasts keep_within (03-10T12:00)


def test_eligible_at_with_keep_within_across_dst_in_the_policy_zone() -> None:
    v = DataVersion(1, 1, "success", datetime(2024, 3, 30, 12, tzinfo=UTC), NOW, 1, 1)
    newer = DataVersion(2, 1, "success", datetime(2024, 4, 5, tzinfo=UTC), NOW, 1, 1)
    now = datetime(2024, 3, 30, 13, tzinfo=UTC)
    p = plan([v, newer], now, keep_within="1d", timezone="Europe/Paris")
    # Paris springs forward on 03-31: one wall-clock day after 13:00 CET is 11:00 UTC
    assert eligible(p)[1] == "2024-03-31T11:00:00Z"


# --------------------------------------------------------------------------- plan JSON and forecast


def test_plan_json_keeps_format_version_1_and_validates() -> None:
    p = plan(daily(10), keep_last=2, grace="3d", holds=[{**HOLD, "versions": [3, 99]}])
    data = p.to_dict(forecast_days=5)
    validator("plan").validate(data)
    validator("retention-policy").validate(data["policy"])
    assert data["format_version"] == 1
    assert all(("eligible_at" in row) == (row["decision"] == "keep") for row in data["versions"])
    path = GOLDEN / "plan_grace_holds.json"
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == data


def test_forecast_per_day_with_bytes() -> None:
    p = plan(daily(10, size=1000), keep_last=2, grace="3d")
    days = p.forecast(4)
    assert [(d.day, [v.data_id for v in d.versions], d.bytes) for d in days] == [
        (0, [6, 5, 4, 3, 2, 1], 21_000),
        (1, [], 0),
        (2, [7], 7000),
        (3, [8], 8000),
        (4, [], 0),
    ]
    assert days[2].through == NOW + timedelta(days=2)
    assert render_forecast(days).splitlines() == [
        "forecast if nothing new is uploaded (4 days):",
        "  now: delete 6, 21.0 kB, 210 rows (ids 1, 2, 3, 4, 5, 6)",
        "  day 2 (by 2024-03-12T12:00:00Z): delete 1, 7.0 kB, 70 rows (ids 7)",
        "  day 3 (by 2024-03-13T12:00:00Z): delete 1, 8.0 kB, 80 rows (ids 8)",
        "  total through 2024-03-14T12:00:00Z: delete 8, 36.0 kB, 360 rows",
    ]


def test_forecast_matches_planning_on_each_day() -> None:
    versions = daily(20)
    policy = RetentionPolicy.from_dict({"keep_within": "9d", "keep_last": 2, "grace": "2d"})
    p = plan_retention(versions, policy, NOW + timedelta(hours=1))  # days end off the hour
    gone = {v.data_id for v in p.forecast(0)[0].versions}
    for day in p.forecast(12)[1:]:
        gone |= {v.data_id for v in day.versions}
        assert set(plan_retention(versions, policy, day.through).delete_ids) == gone
