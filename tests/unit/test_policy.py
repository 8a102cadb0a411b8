"""Golden cases for the retention policy: parsing, every rule, guards, the plan."""

from __future__ import annotations

import dataclasses
import json
import os
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from domo_versions_iac.domo.models import DataVersion, UploadStatus
from domo_versions_iac.policy import (
    BudgetExceededError,
    Decision,
    Duration,
    Plan,
    PolicyError,
    RetentionPolicy,
    format_bytes,
    format_count,
    parse_duration,
    plan_retention,
    policy_reference,
)
from domo_versions_iac.schemas import load_schema, validator

UTC = timezone.utc
NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
GOLDEN = Path(__file__).parent / "golden"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def ver(
    data_id: int, when: str, status: UploadStatus = "success", rows: int = 100, size: int = 1000
) -> DataVersion:
    recorded = at(when)
    return DataVersion(
        data_id=data_id,
        schema_id=1,
        upload_status=status,
        recorded_date=recorded,
        upload_completed_date=None if status == "processing" else recorded,
        num_rows=rows,
        num_bytes=size,
    )


def plan(versions: list[DataVersion], now: datetime = NOW, **policy: Any) -> Plan:
    return plan_retention(versions, RetentionPolicy.from_dict(policy), now)


def reasons(p: Plan) -> dict[int, tuple[str, ...]]:
    return {d.version.data_id: d.reasons for d in p.decisions}


def kept(p: Plan) -> set[int]:
    return {d.version.data_id for d in p.keep}


# --------------------------------------------------------------------------- schema


def test_schema_is_the_one_source_of_the_policy_shape() -> None:
    schema = load_schema("retention-policy")
    props = schema["properties"]
    assert schema["additionalProperties"] is False
    assert set(props) == {f.name for f in dataclasses.fields(RetentionPolicy)}
    for name, prop in props.items():
        assert prop.get("description"), name
        assert prop.get("title"), name
        assert prop.get("examples"), name
        assert prop.get("x-expected"), name
        for example in prop["examples"]:
            data = (
                {name: example}
                if name.startswith(("keep_", "allowed"))
                else {
                    name: example,
                    "keep_last": 1,
                }
            )
            policy = RetentionPolicy.from_dict(data)
            assert RetentionPolicy.from_dict(policy.to_dict()) == policy
    for example in schema["examples"]:
        RetentionPolicy.from_dict(example)


def test_reference_docs_come_from_the_schema() -> None:
    text = policy_reference()
    for name, prop in load_schema("retention-policy")["properties"].items():
        assert f"| `{name}` | {prop['x-expected']} |" in text
        assert prop["description"] in text


def test_defaults_match_the_schema() -> None:
    policy = RetentionPolicy(keep_last=1)
    for name, prop in load_schema("retention-policy")["properties"].items():
        if "default" in prop:
            assert getattr(policy, name) == prop["default"], name


def test_plan_schema_is_valid_and_documented() -> None:
    schema = load_schema("plan")
    type(validator("plan")).check_schema(schema)  # raises SchemaError if it is not valid
    for name, prop in schema["properties"].items():
        assert prop.get("description"), name


# --------------------------------------------------------------------------- parsing


def test_round_trip_and_canonical_forms() -> None:
    policy = RetentionPolicy.from_dict(
        {
            "allowed_versions": [9, 3],
            "keep_within": "01y2m",
            "keep_since": "2024-06-30T18:00:00+02:00",
            "keep_last": 5.0,
            "protect_latest": 1,
            "max_deletion_share": 1,
        }
    )
    assert policy.to_dict() == {
        "allowed_versions": [3, 9],
        "keep_last": 5,
        "keep_within": "1y2m",
        "keep_since": "2024-06-30T16:00:00Z",
        "max_deletion_share": 1.0,
    }
    assert RetentionPolicy.from_dict(policy.to_dict()) == policy
    json.dumps(policy.to_dict())


def test_date_only_keep_since_is_midnight_utc() -> None:
    policy = RetentionPolicy.from_dict({"keep_since": "2024-01-01"})
    assert policy.keep_since == datetime(2024, 1, 1, tzinfo=UTC)
    assert policy.to_dict() == {"keep_since": "2024-01-01T00:00:00Z"}


def test_explicit_empty_allowed_versions_is_a_rule() -> None:
    policy = RetentionPolicy.from_dict({"allowed_versions": []})
    assert policy.allowed_versions == ()
    assert policy.to_dict() == {"allowed_versions": []}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "policy: empty policy would delete every version; give at least one keep rule"),
        ({"protect_latest": 3}, "policy: empty policy would delete every version"),
        (
            {"keep_within": "30 days"},
            "policy.keep_within: expected a duration such as '30d' or '1y2m', got '30 days'",
        ),
        ({"keep_within": "1m1y"}, "policy.keep_within: expected a duration"),
        ({"keep_within": "0d"}, "longer than zero"),
        ({"keep_within": 30}, "policy.keep_within: expected a duration"),
        ({"keep_last": -1}, "policy.keep_last: expected an integer >= 1 such as 5, got -1"),
        ({"keep_last": 0}, "policy.keep_last: expected an integer >= 1"),
        ({"keep_last": "5"}, "policy.keep_last: expected an integer >= 1 such as 5, got '5'"),
        ({"keep_last": True}, "policy.keep_last: expected an integer"),
        ({"keep_daily": 1.5}, "policy.keep_daily: expected an integer >= 1"),
        ({"keep_last": 1, "protect_latest": -1}, "policy.protect_latest: expected an integer >= 0"),
        ({"keep_last": 1, "max_deletions": -5}, "policy.max_deletions: expected an integer >= 0"),
        ({"keep_last": 1, "max_deletion_share": 0}, "policy.max_deletion_share: expected a number"),
        ({"keep_last": 1, "max_deletion_share": 1.5}, "policy.max_deletion_share"),
        ({"keep_last": 1, "protect_processing": "no"}, "policy.protect_processing: expected true"),
        ({"keep_last": 1, "delete_failed": 0}, "policy.delete_failed: expected true or false"),
        ({"keep_since": "yesterday"}, "policy.keep_since: expected an ISO-8601 instant"),
        ({"keep_since": "2024-02-30"}, "policy.keep_since: expected an ISO-8601 instant"),
        ({"keep_since": "2024-01-01T10:00:00"}, "policy.keep_since: expected an ISO-8601"),
        ({"keep_last": 1, "timezone": "Mars/Olympus"}, "policy.timezone: expected an IANA"),
        ({"keep_last": 1, "timezone": ""}, "policy.timezone: expected an IANA"),
        ({"allowed_versions": [1, 1]}, "policy.allowed_versions: expected a list of distinct"),
        ({"allowed_versions": [-1]}, "policy.allowed_versions: expected a list"),
        ({"allowed_versions": "3,4"}, "policy.allowed_versions: expected a list"),
        ({"keep_last": 1, "keep_lats": 2}, "policy: unknown key 'keep_lats'; expected one of:"),
    ],
)
def test_invalid_policies_name_the_key_and_the_expected_form(
    data: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyError) as info:
        RetentionPolicy.from_dict(data)
    assert message in str(info.value)


def test_not_a_mapping() -> None:
    with pytest.raises(PolicyError, match="policy: expected an object"):
        RetentionPolicy.from_dict([("keep_last", 1)])  # type: ignore[arg-type]


def test_direct_construction_is_checked_and_normalised() -> None:
    policy = RetentionPolicy(keep_within="30d", allowed_versions=[4, 3])  # type: ignore[arg-type]
    assert policy.keep_within == Duration(days=30)
    assert policy.allowed_versions == (3, 4)
    with pytest.raises(PolicyError, match="empty policy"):
        RetentionPolicy()
    with pytest.raises(PolicyError, match=r"policy\.keep_last"):
        RetentionPolicy(keep_last=-2)


@pytest.mark.parametrize(
    "key", ["keep_last", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly"]
)
def test_direct_construction_refuses_a_zero_count(key: str) -> None:
    # A count of 0 keeps nothing: it would make a rule that looks set but deletes.
    with pytest.raises(PolicyError, match=rf"policy\.{key}: expected"):
        kwargs: dict[str, Any] = {key: 0, "keep_within": parse_duration("30d")}
        RetentionPolicy(**kwargs)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (
            {
                "allowed_versions": [3, 4],
                "keep_last": 5,
                "keep_within": "30d",
                "max_deletions": 100,
            },
            "keep versions 3 and 4, the 5 newest successful versions and every version recorded "
            "in the last 30 days; never delete the newest successful version or uploads in "
            "processing; delete at most 100 versions",
        ),
        (
            {
                "keep_daily": 7,
                "keep_weekly": 1,
                "timezone": "Europe/Paris",
                "protect_latest": 0,
                "delete_failed": False,
                "max_deletion_share": 0.5,
            },
            "keep the newest successful version of each of the last 7 days with versions and "
            "the newest successful version of the last ISO week with versions (calendar in "
            "Europe/Paris); never delete the newest successful version, uploads in processing or "
            "failed uploads; delete at most 1000 versions and at "
            "most 50% of the listed versions",
        ),
        (
            {"allowed_versions": [], "keep_since": "2024-01-01", "keep_within": "1y2m"},
            "keep no version by id, every version recorded in the last 1 year and 2 months and "
            "every version recorded since 2024-01-01T00:00:00Z; never delete the newest "
            "successful version or uploads in processing; delete at most 1000 versions",
        ),
    ],
)
def test_policy_in_plain_english(data: dict[str, Any], text: str) -> None:
    assert str(RetentionPolicy.from_dict(data)) == text


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "duration", "english"),
    [
        ("36h", Duration(hours=36), "36 hours"),
        ("30d", Duration(days=30), "30 days"),
        ("12w", Duration(weeks=12), "12 weeks"),
        ("1y2m", Duration(years=1, months=2), "1 year and 2 months"),
        ("2w3d", Duration(weeks=2, days=3), "2 weeks and 3 days"),
        ("1m", Duration(months=1), "1 month"),
        ("1y1m1w1d1h", Duration(1, 1, 1, 1, 1), "1 year, 1 month, 1 week, 1 day and 1 hour"),
    ],
)
def test_parse_duration(text: str, duration: Duration, english: str) -> None:
    assert parse_duration(text) == duration
    assert str(duration) == text
    assert duration.english() == english


@pytest.mark.parametrize("text", ["", "30", "30 days", "1M", "1m1y", "d", "1d1d", "-1d", " 1d"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(PolicyError, match=r"policy\.keep_within: expected a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "now", "cutoff"),
    [
        ("1m", "2024-03-31T10:00:00Z", "2024-03-01T00:00:00Z"),  # clamp: end of February
        ("1m", "2023-03-31T10:00:00Z", "2023-03-01T00:00:00Z"),  # clamp, common year
        ("1m", "2024-03-29T10:00:00Z", "2024-02-29T10:00:00Z"),  # 29 February exists
        ("1y", "2024-02-29T12:00:00Z", "2023-03-01T00:00:00Z"),
        ("4y", "2024-02-29T00:00:00Z", "2020-02-29T00:00:00Z"),
        ("1y2m", "2024-05-15T08:00:00Z", "2023-03-15T08:00:00Z"),
        ("36h", "2024-03-10T12:00:00Z", "2024-03-09T00:00:00Z"),
        ("2w3d", "2024-03-10T12:00:00Z", "2024-02-22T12:00:00Z"),
        ("13m", "2024-01-31T00:00:00Z", "2022-12-31T00:00:00Z"),
    ],
)
def test_duration_cutoff_in_utc(text: str, now: str, cutoff: str) -> None:
    assert parse_duration(text).cutoff(at(now), UTC) == at(cutoff)


def test_duration_cutoff_counts_days_on_the_local_wall_clock_across_dst() -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    # 2024-03-31 02:00 CET -> 03:00 CEST: that local day has 23 hours.
    now = at("2024-03-31T12:00:00Z")  # 14:00 CEST
    assert parse_duration("1d").cutoff(now, berlin) == at("2024-03-30T13:00:00Z")  # 14:00 CET
    assert parse_duration("24h").cutoff(now, berlin) == at("2024-03-30T12:00:00Z")
    # 2024-10-27 03:00 CEST -> 02:00 CET: that local day has 25 hours.
    now = at("2024-10-27T12:00:00Z")  # 13:00 CET
    assert parse_duration("1d").cutoff(now, berlin) == at("2024-10-26T11:00:00Z")  # 13:00 CEST


def test_duration_cutoff_on_a_skipped_or_repeated_wall_time() -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    ten_days = parse_duration("10d")
    # 2024-03-31 02:00-03:00 never happened: a cutoff there is the jump (03:00 CEST = 01:00Z)
    assert ten_days.cutoff(at("2024-04-10T00:00:00Z"), berlin) == at("2024-03-31T01:00:00Z")
    assert ten_days.cutoff(at("2024-04-10T00:30:00Z"), berlin) == at("2024-03-31T01:00:00Z")
    assert ten_days.cutoff(at("2024-04-10T01:00:00Z"), berlin) == at("2024-03-31T01:00:00Z")
    # 2023-10-29 02:00-03:00 happened twice: a cutoff there is the first (CEST) occurrence
    assert ten_days.cutoff(at("2023-11-08T01:30:00Z"), berlin) == at("2023-10-29T00:30:00Z")
    # while the clock repeats 02:00-03:00 it reads 03:00: the cutoff stands still
    assert ten_days.cutoff(at("2023-10-29T00:30:00Z"), berlin) == at("2023-10-19T00:30:00Z")
    assert ten_days.cutoff(at("2023-10-29T01:00:00Z"), berlin) == at("2023-10-19T01:00:00Z")
    assert ten_days.cutoff(at("2023-10-29T01:59:00Z"), berlin) == at("2023-10-19T01:00:00Z")
    assert ten_days.cutoff(at("2023-10-29T02:01:00Z"), berlin) == at("2023-10-19T01:01:00Z")


def test_huge_duration_keeps_everything() -> None:
    assert parse_duration("99999y").cutoff(NOW, UTC) == datetime.min.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- rules

MIXED = [
    ver(1, "2024-03-01T00:00:00Z"),
    ver(2, "2024-03-02T00:00:00Z"),
    ver(3, "2024-03-03T00:00:00Z", "error"),
    ver(4, "2024-03-04T00:00:00Z"),
    ver(5, "2024-03-05T00:00:00Z", "processing"),
    ver(6, "2024-03-06T00:00:00Z"),
    ver(7, "2024-03-07T00:00:00Z", "error"),
]


def test_allowed_versions_and_warnings() -> None:
    p = plan(MIXED, allowed_versions=[2, 3, 99, 98], protect_latest=0)
    assert reasons(p)[2] == ("allowed_versions",)
    assert reasons(p)[3] == ("allowed_versions",)  # a failed upload kept by id
    assert reasons(p)[6] == ("protected: newest successful version (never deleted)",)
    assert kept(p) == {2, 3, 5, 6}
    assert p.warnings == (
        "allowed_versions: version 98 is not listed by Domo",
        "allowed_versions: version 99 is not listed by Domo",
    )


def test_keep_last_counts_successful_versions_only() -> None:
    p = plan(MIXED, keep_last=2, protect_latest=0)
    assert kept(p) == {6, 5, 4}  # 5 is processing: never deleted
    assert reasons(p)[6] == ("keep_last #1",)
    assert reasons(p)[4] == ("keep_last #2",)
    assert reasons(p)[7] == ("no rule keeps it",)


def test_keep_within_is_inclusive_and_keeps_any_status() -> None:
    now = at("2024-03-08T00:00:00Z")
    p = plan(MIXED, now=now, keep_within="3d", protect_latest=0)
    assert kept(p) == {5, 6, 7}  # 2024-03-05T00:00Z is exactly the cutoff
    assert reasons(p)[7] == ("keep_within 3d",)


# Where keep_within differs from restic's --keep-within, on purpose or by arithmetic.


def test_keep_within_keeps_a_version_exactly_at_the_cutoff_unlike_restic() -> None:
    now = at("2024-03-10T12:00:00Z")
    versions = [
        ver(1, "2024-03-09T11:59:59.999999Z"),
        ver(2, "2024-03-09T12:00:00Z"),  # exactly 1d before now: kept (restic: removed)
        ver(3, "2024-03-09T12:00:00.000001Z"),
    ]
    p = plan(versions, now=now, keep_within="1d", protect_latest=0)
    assert kept(p) == {2, 3}
    assert reasons(p)[2] == ("keep_within 1d",)


@pytest.mark.parametrize(
    ("now", "clamped", "restic_cutoff"),
    [
        # Go's AddDate turns 31 March - 1 month into "31 February", normalised to March 3 / 2;
        # here it is the end of February, whatever the time of day
        ("2023-03-31T12:00:00Z", "2023-03-01T00:00:00Z", "2023-03-03T12:00:00Z"),
        ("2024-03-31T12:00:00Z", "2024-03-01T00:00:00Z", "2024-03-02T12:00:00Z"),
    ],
)
def test_keep_within_months_clamp_to_the_month_end_unlike_restic(
    now: str, clamped: str, restic_cutoff: str
) -> None:
    versions = [
        ver(1, (at(clamped) - timedelta(seconds=1)).isoformat()),
        ver(2, clamped),
        ver(3, (at(restic_cutoff) - timedelta(hours=1)).isoformat()),  # restic removes it
        ver(4, restic_cutoff),
    ]
    p = plan(versions, now=at(now), keep_within="1m", protect_latest=0)
    assert kept(p) == {2, 3, 4}


def test_keep_within_counts_from_now_not_from_the_newest_version_unlike_restic() -> None:
    versions = [
        ver(1, "2024-02-20T00:00:00Z"),
        ver(2, "2024-02-25T00:00:00Z"),
        ver(3, "2024-02-28T00:00:00Z"),  # the newest: 11 days before now
    ]
    now = at("2024-03-10T00:00:00Z")
    # restic would keep 2 and 3 (within 7 days of its newest snapshot); here none is
    # recorded within 7 days of now: only the protect_latest guard keeps the newest
    p = plan(versions, now=now, keep_within="7d")
    assert reasons(p) == {
        3: ("protected: latest #1",),
        2: ("no rule keeps it",),
        1: ("no rule keeps it",),
    }
    # measured from the newest version, as restic does, the same rule keeps 2 and 3
    p = plan(versions, now=at("2024-02-28T00:00:00Z"), keep_within="7d", protect_latest=0)
    assert kept(p) == {2, 3}


def test_keep_since_is_inclusive() -> None:
    p = plan(MIXED, keep_since="2024-03-04", protect_latest=0)
    assert kept(p) == {4, 5, 6, 7}
    assert reasons(p)[4] == ("keep_since 2024-03-04T00:00:00Z",)
    assert reasons(p)[5] == ("keep_since 2024-03-04T00:00:00Z", "protected: processing")


def test_keep_daily_restic_semantics() -> None:
    versions = [
        ver(1, "2024-03-01T08:00:00Z"),
        ver(2, "2024-03-01T20:00:00Z"),
        ver(3, "2024-03-03T08:00:00Z"),  # no version on 03-02: that day does not count
        ver(4, "2024-03-03T09:00:00Z", "error"),  # failed: never a daily pick
        ver(5, "2024-03-04T01:00:00Z"),
        ver(6, "2024-03-04T23:59:59Z"),
    ]
    p = plan(versions, keep_daily=3, protect_latest=0)
    assert kept(p) == {6, 3, 2}
    assert reasons(p)[6] == ("keep_daily 2024-03-04",)
    assert reasons(p)[3] == ("keep_daily 2024-03-03",)
    assert reasons(p)[2] == ("keep_daily 2024-03-01",)


def test_calendar_rule_with_count_left_keeps_the_oldest_version_too() -> None:
    # restic >= 0.16 (restic#3624): unused count keeps the longest history possible
    versions = [ver(1, "2024-01-01T08:00:00Z"), ver(2, "2024-01-01T20:00:00Z")]
    p = plan(versions, keep_daily=5, protect_latest=0)
    assert reasons(p) == {
        2: ("keep_daily 2024-01-01",),
        1: ("keep_daily: oldest version",),
    }


def test_the_oldest_rule_uses_the_oldest_successful_version() -> None:
    versions = [
        ver(1, "2024-01-01T06:00:00Z", "error"),  # failed: never a calendar pick
        ver(2, "2024-01-01T07:00:00Z", "processing"),
        ver(3, "2024-01-01T08:00:00Z"),
        ver(4, "2024-01-01T20:00:00Z"),
    ]
    p = plan(versions, keep_monthly=3, protect_latest=0)
    assert reasons(p) == {
        4: ("keep_monthly 2024-01",),
        3: ("keep_monthly: oldest version",),
        2: ("protected: processing",),
        1: ("no rule keeps it",),
    }


def test_the_oldest_rule_only_for_rules_with_count_left() -> None:
    versions = [
        ver(1, "2024-01-01T08:00:00Z"),
        ver(2, "2024-01-02T08:00:00Z"),
        ver(3, "2024-01-03T08:00:00Z"),
    ]
    # daily uses its 2 days on versions 3 and 2; weekly has 1 of 2 weeks left
    p = plan(versions, keep_daily=2, keep_weekly=2, protect_latest=0)
    assert reasons(p) == {
        3: ("keep_daily 2024-01-03", "keep_weekly 2024-W01"),
        2: ("keep_daily 2024-01-02",),
        1: ("keep_weekly: oldest version",),
    }
    # the count runs out on the oldest's own bucket: nothing extra is kept
    p = plan(versions, keep_weekly=1, protect_latest=0)
    assert kept(p) == {3}
    # the oldest opens a bucket of its own: the ordinary reason
    p = plan(versions, keep_daily=4, protect_latest=0)
    assert reasons(p)[1] == ("keep_daily 2024-01-01",)


def test_keep_weekly_uses_iso_weeks_across_the_year_boundary() -> None:
    versions = [
        ver(1, "2020-12-27T12:00:00Z"),  # Sunday, 2020-W52
        ver(2, "2020-12-28T12:00:00Z"),  # Monday, 2020-W53
        ver(3, "2021-01-03T12:00:00Z"),  # Sunday, still 2020-W53
        ver(4, "2021-01-04T12:00:00Z"),  # Monday, 2021-W01
    ]
    p = plan(versions, now=at("2021-01-05T00:00:00Z"), keep_weekly=3, protect_latest=0)
    assert reasons(p) == {
        4: ("keep_weekly 2021-W01",),
        3: ("keep_weekly 2020-W53",),
        2: ("no rule keeps it",),
        1: ("keep_weekly 2020-W52",),
    }


def test_keep_monthly_and_yearly_with_a_leap_day() -> None:
    versions = [
        ver(1, "2023-02-28T12:00:00Z"),
        ver(2, "2023-12-31T23:00:00Z"),
        ver(3, "2024-02-28T12:00:00Z"),
        ver(4, "2024-02-29T12:00:00Z"),
        ver(5, "2024-03-01T00:00:00Z"),
    ]
    p = plan(versions, keep_monthly=2, keep_yearly=5, protect_latest=0)
    assert reasons(p) == {
        5: ("keep_monthly 2024-03", "keep_yearly 2024"),
        4: ("keep_monthly 2024-02",),
        3: ("no rule keeps it",),
        2: ("keep_yearly 2023",),
        1: ("keep_yearly: oldest version",),  # 3 of the 5 years left unused
    }


def test_keep_monthly_buckets_are_keyed_by_year_and_month() -> None:
    # March 2024 and March 2023 with no month in between: two different buckets.
    versions = [ver(1, "2023-03-10T12:00:00Z"), ver(2, "2024-03-10T12:00:00Z")]
    p = plan(versions, now=at("2024-03-11T00:00:00Z"), keep_monthly=2, protect_latest=0)
    assert reasons(p) == {2: ("keep_monthly 2024-03",), 1: ("keep_monthly 2023-03",)}


def test_keep_within_counts_days_in_the_policy_timezone() -> None:
    # New York moved to summer time on 2024-03-10: "1d" before 12:00 EDT is 12:00 EST
    # the day before, 17:00Z, not 16:00Z as in UTC.
    versions = [ver(1, "2024-03-09T16:30:00Z"), ver(2, "2024-03-10T15:00:00Z")]
    now = at("2024-03-10T16:00:00Z")
    utc = plan(versions, now=now, keep_within="1d", protect_latest=0)
    assert kept(utc) == {1, 2}
    new_york = plan(
        versions, now=now, keep_within="1d", protect_latest=0, timezone="America/New_York"
    )
    assert kept(new_york) == {2}
    assert reasons(new_york)[1] == ("no rule keeps it",)


def test_calendar_rules_follow_the_policy_timezone() -> None:
    versions = [
        ver(1, "2024-03-29T12:00:00Z"),
        ver(2, "2024-03-29T23:30:00Z"),  # 2024-03-30 00:30 in Berlin (CET)
        ver(3, "2024-03-30T12:00:00Z"),
    ]
    now = at("2024-04-01T00:00:00Z")
    utc = plan(versions, now=now, keep_daily=2, protect_latest=0)
    assert kept(utc) == {3, 2}
    berlin = plan(versions, now=now, keep_daily=2, protect_latest=0, timezone="Europe/Berlin")
    assert kept(berlin) == {3, 1}
    assert reasons(berlin)[1] == ("keep_daily 2024-03-29",)


@pytest.mark.parametrize(
    ("first", "last", "day"),
    [
        # 2024-03-31 in Berlin runs from 23:00Z (CET) to 22:00Z (CEST): 23 hours.
        ("2024-03-30T23:00:00Z", "2024-03-31T21:59:59Z", "2024-03-31"),
        # 2024-10-27 in Berlin runs from 22:00Z (CEST) to 23:00Z (CET): 25 hours.
        ("2024-10-26T22:00:00Z", "2024-10-27T22:59:59Z", "2024-10-27"),
    ],
)
def test_daily_buckets_across_dst_days(first: str, last: str, day: str) -> None:
    start, end = at(first), at(last)
    before = start - timedelta(seconds=1)
    after = end + timedelta(seconds=1)
    versions = [ver(1, before.isoformat()), ver(2, first), ver(3, last), ver(40, after.isoformat())]
    # more versions inside the day, so the same-day shortcut is exercised (ids below the
    # newest's: the latest upload is protected whatever its date)
    versions += [ver(10 + i, (start + timedelta(hours=i)).isoformat()) for i in range(1, 22)]
    p = plan(versions, now=after, keep_daily=3, protect_latest=0, timezone="Europe/Berlin")
    assert kept(p) == {40, 3, 1}
    assert reasons(p)[3] == (f"keep_daily {day}",)
    assert reasons(p)[2] == ("no rule keeps it",)


def test_daily_in_a_zone_with_midnight_transitions() -> None:
    # America/Havana jumps from 00:00 CST (UTC-5) to 01:00 CDT (UTC-4) on 2024-03-10, 05:00Z.
    times = ["03-09T03:30", "03-09T04:30", "03-09T05:30", "03-10T03:30", "03-10T04:30"]
    times += ["03-10T05:30", "03-10T06:30"]
    versions = [ver(i, f"2024-{t}:00Z") for i, t in enumerate(times, start=1)]
    p = plan(
        versions,
        now=at("2024-03-11T00:00:00Z"),
        keep_daily=5,
        protect_latest=0,
        timezone="America/Havana",
    )
    assert reasons(p) == {
        7: ("keep_daily 2024-03-10",),  # 02:30 CDT
        6: ("no rule keeps it",),  # 01:30 CDT, 03-10
        5: ("keep_daily 2024-03-09",),  # 23:30 CST
        4: ("no rule keeps it",),  # 22:30 CST, 03-09
        3: ("no rule keeps it",),  # 00:30 CST, 03-09
        2: ("keep_daily 2024-03-08",),  # 23:30 CST
        1: ("keep_daily: oldest version",),  # 22:30 CST, 03-08; 2 of the 5 days unused
    }


def test_ties_are_broken_by_version_id() -> None:
    versions = [ver(i, "2024-03-01T00:00:00Z") for i in (5, 9, 7)]
    p = plan(versions, keep_last=1, protect_latest=0)
    assert [d.version.data_id for d in p.decisions] == [9, 7, 5]
    assert kept(p) == {9}


def test_same_inputs_in_any_order_give_the_same_plan() -> None:
    versions = [ver(i, f"2024-0{1 + i % 3}-{1 + i % 27:02d}T00:00:00Z") for i in range(1, 60)]
    expected = plan(versions, keep_daily=5, keep_last=3, max_deletions=100).to_dict()
    for seed in range(3):
        shuffled = versions[:]
        random.Random(seed).shuffle(shuffled)
        assert plan(shuffled, keep_daily=5, keep_last=3, max_deletions=100).to_dict() == expected


# --------------------------------------------------------------------------- guards


def test_processing_and_latest_are_protected_by_default() -> None:
    p = plan(MIXED, allowed_versions=[])
    assert kept(p) == {5, 6}
    assert reasons(p)[6] == ("protected: latest #1",)
    assert reasons(p)[5] == ("protected: processing",)


def test_the_newest_and_processing_uploads_are_kept_whatever_the_guards_say() -> None:
    p = plan(MIXED, allowed_versions=[], protect_latest=0)
    assert kept(p) == {6, 5}
    assert reasons(p)[6] == ("protected: newest successful version (never deleted)",)
    assert reasons(p)[5] == ("protected: processing",)
    with pytest.raises(PolicyError, match="protect_processing: expected true, got False"):
        RetentionPolicy.from_dict({"keep_last": 1, "protect_processing": False})
    with pytest.raises(PolicyError, match="uploads in processing are never deleted"):
        RetentionPolicy(keep_last=1, protect_processing=False)
    p = plan(MIXED, allowed_versions=[], protect_latest=3)
    assert reasons(p)[2] == ("protected: latest #3",)
    assert kept(p) == {6, 5, 4, 2}


def test_failed_uploads_kept_when_delete_failed_is_false() -> None:
    p = plan(MIXED, keep_last=1, delete_failed=False)
    assert kept(p) == {7, 6, 5, 3}
    assert reasons(p)[7] == ("protected: failed upload (delete_failed is false)",)
    assert reasons(p)[6] == ("keep_last #1", "protected: latest #1")


def test_every_reason_is_listed() -> None:
    p = plan(
        MIXED,
        allowed_versions=[6],
        keep_last=1,
        keep_within="7d",
        keep_since="2024-03-01",
        keep_daily=1,
        keep_weekly=1,
        keep_monthly=1,
        keep_yearly=1,
    )
    assert reasons(p)[6] == (
        "allowed_versions",
        "keep_last #1",
        "keep_within 7d",
        "keep_since 2024-03-01T00:00:00Z",
        "keep_daily 2024-03-06",
        "keep_weekly 2024-W10",
        "keep_monthly 2024-03",
        "keep_yearly 2024",
        "protected: latest #1",
    )


def many(n: int) -> list[DataVersion]:
    start = at("2024-01-01T00:00:00Z")
    return [ver(i, (start + timedelta(hours=i)).isoformat(), size=10**6) for i in range(1, n + 1)]


def stale_dataset(days_old: int = 45, count: int = 60) -> list[DataVersion]:
    """One upload a day, the last one DAYS_OLD days before NOW."""
    newest = NOW - timedelta(days=days_old)
    return [ver(i, (newest - timedelta(days=count - i)).isoformat()) for i in range(1, count + 1)]


def test_stale_dataset_warns_that_only_protect_latest_keeps_anything() -> None:
    p = plan(stale_dataset(), keep_within="30d")
    assert p.summary().startswith("delete 59 of 60 versions")
    assert kept(p) == {60}
    (warning,) = p.warnings
    assert warning.startswith("STALE DATASET, uploads may have stopped: ")
    assert "the newest version (id 60, recorded 2024-01-25T12:00:00Z) is 45 days old" in warning
    assert "keep_within 30d keeps nothing and only protect_latest keeps anything" in warning
    assert "the plan deletes 59 of 60 versions" in warning
    assert p.to_dict()["warnings"] == [warning]


def test_stale_dataset_without_protect_latest_warns_that_nothing_is_kept() -> None:
    p = plan(stale_dataset(), keep_since="2024-02-01", protect_latest=0, max_deletions=100)
    (warning,) = p.warnings
    assert "keep_since 2024-02-01T00:00:00Z keeps nothing" in warning
    # the newest successful version is never deleted, even with protect_latest 0
    assert "only the newest successful version is kept" in warning
    assert "deletes 59 of 60 versions" in warning


@pytest.mark.parametrize(
    "policy",
    [
        {"keep_within": "30d"},  # the window still holds the newest uploads
        {"keep_within": "30d", "keep_last": 3},  # another rule keeps versions
        {"keep_last": 1},  # no time rule: keeping only the newest is what was asked
    ],
)
def test_no_stale_warning_when_a_rule_keeps_versions(policy: dict[str, Any]) -> None:
    versions = stale_dataset(days_old=2) if "keep_last" not in policy else stale_dataset()
    p = plan(versions, **policy)
    assert p.delete
    assert p.warnings == ()


def test_no_stale_warning_when_nothing_is_deleted() -> None:
    p = plan(stale_dataset(count=1), keep_within="30d")
    assert not p.delete
    assert p.warnings == ()


def test_budget_exceeded_raises_and_nothing_is_deleted() -> None:
    policy = RetentionPolicy.from_dict({"keep_last": 2, "max_deletions": 5})
    with pytest.raises(BudgetExceededError) as info:
        plan_retention(many(10), policy, NOW)
    err = info.value
    assert str(err) == (
        "plan would delete 8 of 10 dataset versions, above max_deletions 5; raise "
        "max_deletions (or max_deletion_share) in the policy to allow it. Nothing was deleted."
    )
    assert err.would_delete == 8
    assert err.limit == "max_deletions 5"
    assert isinstance(err, PolicyError)
    assert err.plan.budget_error == str(err)
    assert len(err.plan.delete) == 8


def test_budget_not_enforced_returns_the_plan_with_the_error() -> None:
    policy = RetentionPolicy.from_dict({"keep_last": 2, "max_deletion_share": 0.5})
    p = plan_retention(many(10), policy, NOW, enforce_budget=False)
    assert p.budget_error == (
        "plan would delete 8 of 10 dataset versions, above max_deletion_share 0.5 (5 of 10 "
        "versions); raise max_deletion_share (or max_deletions) in the policy to allow it. "
        "Nothing was deleted."
    )


def test_budget_at_the_limit_is_allowed() -> None:
    p = plan(many(10), keep_last=3, max_deletions=7, max_deletion_share=0.7)
    assert len(p.delete) == 7
    assert p.budget_error is None
    with pytest.raises(BudgetExceededError, match="above max_deletions 0"):
        plan(many(10), keep_last=3, max_deletions=0)


def test_budget_reports_the_tighter_limit() -> None:
    with pytest.raises(BudgetExceededError) as info:
        plan(many(100), keep_last=1, max_deletions=50, max_deletion_share=0.29)
    assert info.value.limit == "max_deletion_share 0.29 (29 of 100 versions)"
    p = plan(many(100), keep_last=71, max_deletion_share=0.29)
    assert len(p.delete) == 29  # exactly 29 %: no float rounding surprise


# --------------------------------------------------------------------------- the plan


def test_plan_shape_totals_and_order() -> None:
    p = plan(MIXED, keep_last=1)
    assert [d.version.data_id for d in p.decisions] == [7, 6, 5, 4, 3, 2, 1]
    assert all(isinstance(d, Decision) for d in p.decisions)
    assert [d.version.data_id for d in p.keep] == [6, 5]
    assert p.delete_ids == [1, 2, 3, 4, 7]
    assert all(d.reasons == ("no rule keeps it",) for d in p.delete)
    assert (p.kept_rows, p.kept_bytes, p.deleted_rows, p.deleted_bytes) == (200, 2000, 500, 5000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.decisions[0].action = "keep"  # type: ignore[misc]


def test_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        plan(MIXED, now=datetime(2024, 1, 1), keep_last=1)


def test_summary() -> None:
    versions = [
        ver(10 + i, f"2024-03-01T0{i}:00:00Z", rows=1_033_334, size=258_333_334)
        for i in range(1, 10)
    ]
    versions += [ver(i, f"2024-02-01T0{i}:00:00Z") for i in range(1, 4)]
    p = plan(versions, keep_last=9, protect_latest=0)
    assert p.summary() == "delete 3 of 12 versions, 3.0 kB, 300 rows"
    p = plan(versions, keep_since="2024-02-01", protect_latest=0)
    assert p.summary() == "nothing to delete: 12 versions kept"
    p = plan(versions, allowed_versions=[1, 2, 3], protect_latest=0)
    # the newest (19) is never deleted, even with protect_latest 0
    assert p.summary() == "delete 8 of 12 versions, 2.1 GB, 8.3 M rows"


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (3_100_000_000, "3.1 GB"),
        (999_960, "1.0 MB"),
        (2 * 10**12, "2.0 TB"),
    ],
)
def test_format_bytes(n: int, text: str) -> None:
    assert format_bytes(n) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0"), (999, "999"), (3100, "3.1 k"), (12_400_000, "12.4 M"), (999_999, "1.0 M")],
)
def test_format_count(n: int, text: str) -> None:
    assert format_count(n) == text


def test_render_table() -> None:
    table = plan(MIXED, keep_last=1).render_table().splitlines()
    assert table[0].split() == [
        "id",
        "recorded",
        "status",
        "rows",
        "bytes",
        "decision",
        "eligible_at",
        "reasons",
    ]
    assert len(table) == 1 + len(MIXED)
    assert table[2].split() == [
        "6",
        "2024-03-06T00:00:00Z",
        "success",
        "100",
        "1.0",
        "kB",
        "keep",
        "new-upload",
        "keep_last",
        "#1,",
        "protected:",
        "latest",
        "#1",
    ]
    assert table[1].endswith("no rule keeps it")


def golden_plan() -> Plan:
    versions = [*MIXED, ver(8, "2024-03-09T23:30:00Z", rows=12_345, size=9_876_543)]
    return plan(
        versions,
        allowed_versions=[1, 42],
        keep_last=2,
        keep_within="2d",
        keep_daily=2,
        keep_weekly=1,
        timezone="Europe/Paris",
        max_deletions=10,
    )


def test_to_dict_matches_the_plan_schema_and_the_golden_file() -> None:
    data = golden_plan().to_dict()
    validator("plan").validate(data)
    validator("retention-policy").validate(data["policy"])
    path = GOLDEN / "plan_combined.json"
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == data


def test_to_dict_with_budget_error_matches_the_schema() -> None:
    p = plan_retention(
        many(5),
        RetentionPolicy.from_dict({"keep_last": 1, "max_deletions": 1}),
        NOW,
        enforce_budget=False,
    )
    data = p.to_dict()
    validator("plan").validate(data)
    assert data["budget_error"].startswith("plan would delete 4 of 5")
    assert data["format_version"] == 1
