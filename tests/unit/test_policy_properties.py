"""Property-based tests of the plan's invariants, checked against naive oracles."""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domo_versions_iac.domo.models import DataVersion, UploadStatus
from domo_versions_iac.policy import (
    BudgetExceededError,
    Duration,
    PolicyError,
    RetentionPolicy,
    parse_duration,
    plan_retention,
)

UTC = timezone.utc
NOW = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)  # a DST day in Europe
START = datetime(2022, 1, 1, tzinfo=UTC)
STATUSES: list[UploadStatus] = ["success", "success", "success", "error", "processing"]
SPAN_MINUTES = int((NOW - START).total_seconds() // 60) + 60 * 24 * 3  # a few in the future

# DST switches, midnights and year ends where buckets are easy to get wrong (minutes from START)
EDGES = [
    int((datetime.fromisoformat(t) - START).total_seconds() // 60)
    for t in (
        "2024-03-31T01:00:00+00:00",  # Europe/Berlin spring forward
        "2023-10-29T01:00:00+00:00",  # Europe/Berlin fall back
        "2024-03-10T05:00:00+00:00",  # America/Havana at local midnight
        "2023-11-05T05:00:00+00:00",  # America/Havana fall back
        "2023-12-31T23:00:00+00:00",  # new year in Berlin
        "2024-02-29T00:00:00+00:00",  # leap day
        "2023-01-01T00:00:00+00:00",  # ISO week-year boundary
    )
]

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def version_lists(draw: st.DrawFn) -> list[DataVersion]:
    ids = draw(st.lists(st.integers(0, 500), unique=True, max_size=40))
    # few distinct minutes so that ties and same-day clusters are common
    anywhere = st.integers(0, SPAN_MINUTES)
    near_edges = st.builds(
        lambda edge, delta: edge + delta, st.sampled_from(EDGES), st.integers(-90, 90)
    )
    minutes = draw(st.lists(anywhere | near_edges, min_size=1, max_size=12))
    out = []
    for data_id in ids:
        recorded = START + timedelta(minutes=draw(st.sampled_from(minutes)))
        status = draw(st.sampled_from(STATUSES))
        out.append(
            DataVersion(
                data_id=data_id,
                schema_id=1,
                upload_status=status,
                recorded_date=recorded,
                upload_completed_date=None if status == "processing" else recorded,
                num_rows=draw(st.integers(0, 10**6)),
                num_bytes=draw(st.integers(0, 10**9)),
            )
        )
    return out


@st.composite
def recent_version_lists(draw: st.DrawFn) -> list[DataVersion]:
    """Versions recorded mostly in the weeks before NOW (and a few after), on many
    distinct instants: what grace windows, hold expiries and keep_within cut through."""
    ids = draw(st.lists(st.integers(0, 500), unique=True, min_size=1, max_size=30))
    recent = st.integers(-60 * 24 * 50, 60 * 24 * 2)  # minutes from NOW
    hours = st.integers(-24 * 50, 48).map(lambda h: h * 60)  # on the hour: ties, midnights
    out = []
    for data_id in ids:
        recorded = NOW + timedelta(minutes=draw(recent | hours))
        status: UploadStatus = draw(st.sampled_from(["success"] * 6 + ["error", "processing"]))
        out.append(
            DataVersion(
                data_id=data_id,
                schema_id=1,
                upload_status=status,
                recorded_date=recorded,
                upload_completed_date=None if status == "processing" else recorded,
                num_rows=draw(st.integers(0, 10**6)),
                num_bytes=draw(st.integers(0, 10**9)),
            )
        )
    return out


counts = st.none() | st.integers(1, 6)
durations = st.none() | st.sampled_from(["36h", "30d", "2w3d", "1m", "1y2m", "3m", "1y"])
instants = st.none() | st.sampled_from(
    ["2023-01-01", "2024-03-01T00:00:00Z", "2023-06-30T18:00:00+02:00"]
)


@st.composite
def policy_dicts(draw: st.DrawFn) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "allowed_versions": draw(
            st.none() | st.lists(st.integers(0, 520), unique=True, max_size=8)
        ),
        "keep_last": draw(counts),
        "keep_within": draw(durations),
        "keep_noncurrent_within": draw(durations),
        "keep_since": draw(instants),
        "keep_daily": draw(counts),
        "keep_weekly": draw(counts),
        "keep_monthly": draw(counts),
        "keep_yearly": draw(counts),
        "timezone": draw(
            st.sampled_from(["UTC", "Europe/Berlin", "America/Havana", "Asia/Kolkata"])
        ),
        "protect_latest": draw(st.integers(0, 3)),
        "delete_failed": draw(st.booleans()),
        "max_deletions": draw(st.integers(0, 50)),
        "max_deletion_share": draw(st.none() | st.sampled_from([0.1, 0.29, 0.5, 1])),
    }
    data = {k: v for k, v in raw.items() if v is not None}
    if not any(k == "allowed_versions" or k.startswith("keep_") for k in data):
        data["keep_last"] = 1
    return data


@st.composite
def sparse_policy_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """One or two keep rules, so that grace and holds decide more often."""
    rules = {
        "keep_last": st.integers(1, 4),
        "keep_within": st.sampled_from(["36h", "5d", "2w", "1m"]),
        "keep_noncurrent_within": st.sampled_from(["36h", "5d", "2w", "1m"]),
        "keep_daily": st.integers(1, 4),
        "keep_weekly": st.integers(1, 3),
        "keep_monthly": st.integers(1, 3),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(rules)), min_size=1, max_size=2, unique=True))
    data: dict[str, Any] = {key: draw(rules[key]) for key in chosen}
    data["timezone"] = draw(st.sampled_from(["UTC", "UTC", "Europe/Berlin", "America/Havana"]))
    data["protect_latest"] = draw(st.integers(0, 2))
    return data


@st.composite
def policies_with_time(draw: st.DrawFn) -> dict[str, Any]:
    """policy_dicts plus grace and holds, some expired, some naming unlisted ids."""
    data = draw(policy_dicts() | sparse_policy_dicts())
    grace = draw(st.none() | st.sampled_from(["1h", "36h", "3d", "2w", "1m"]) | st.just("10d"))
    if grace is not None:
        data["grace"] = grace
    until = st.none() | st.sampled_from(
        [
            "2024-03-01",
            "2024-03-31T12:00:00Z",
            "2024-04-02T00:30:00+02:00",
            "2024-05-01",
            "2026-01-01",
        ]
    )
    holds = draw(
        st.lists(
            st.builds(
                lambda ids, until: (
                    {"versions": ids, "reason": "audit"} | ({"until": until} if until else {})
                ),
                st.lists(st.integers(0, 520), min_size=1, max_size=4, unique=True),
                until,
            ),
            max_size=3,
        )
    )
    if holds:
        data["holds"] = holds
    return data


def relaxed(data: dict[str, Any]) -> RetentionPolicy:
    return RetentionPolicy.from_dict({**data, "max_deletions": 10**6, "max_deletion_share": 1})


def newest_first(versions: list[DataVersion]) -> list[DataVersion]:
    return sorted(versions, key=lambda v: (v.recorded_date, v.data_id), reverse=True)


def oracle_kept(versions: list[DataVersion], p: RetentionPolicy, now: datetime = NOW) -> set[int]:
    """Naive, rule-by-rule restatement of the policy: ids some rule or guard keeps."""
    if p.grace is not None:  # surplus now and surplus `grace` earlier over what existed then
        kept_now = oracle_kept(versions, replace(p, grace=None), now)
        then = p.grace.cutoff(now, _tz(p.timezone))
        earlier = [v for v in versions if v.recorded_date <= then]
        kept_then = oracle_kept(earlier, replace(p, grace=None), then)
        existed = {v.data_id for v in earlier}
        return kept_now | {v.data_id for v in versions if v.data_id not in existed} | kept_then
    ordered = newest_first(versions)
    success = [v for v in ordered if v.upload_status == "success"]
    keep: set[int] = set()
    for hold in p.holds:
        if hold.until is None or now < hold.until:
            keep |= {v.data_id for v in versions if v.data_id in hold.versions}
    if p.allowed_versions is not None:
        keep |= {v.data_id for v in versions if v.data_id in p.allowed_versions}
    keep |= {v.data_id for v in success[: p.keep_last or 0]}
    keep |= {v.data_id for v in success[: max(p.protect_latest, 1)]}  # the newest: always
    keep |= {max(v.data_id for v in success)} if success else set()  # the latest upload too
    if p.keep_within is not None:
        cutoff = p.keep_within.cutoff(now, _tz(p.timezone))
        keep |= {v.data_id for v in versions if v.recorded_date >= cutoff}
    if p.keep_noncurrent_within is not None:  # the newest, and what was replaced since
        cutoff = p.keep_noncurrent_within.cutoff(now, _tz(p.timezone))
        keep |= {v.data_id for v in success[:1]}
        keep |= {old.data_id for new, old in pairwise(success) if new.recorded_date >= cutoff}
    if p.keep_since is not None:
        keep |= {v.data_id for v in versions if v.recorded_date >= p.keep_since}
    keep |= {v.data_id for v in versions if v.upload_status not in ("success", "error")}
    if not p.delete_failed:
        keep |= {v.data_id for v in versions if v.upload_status == "error"}
    tz = _tz(p.timezone)
    bucketers: list[tuple[int | None, Callable[[datetime], object]]] = [
        (p.keep_daily, lambda t: t.date()),
        (p.keep_weekly, lambda t: t.isocalendar()[:2]),
        (p.keep_monthly, lambda t: (t.year, t.month)),
        (p.keep_yearly, lambda t: t.year),
    ]
    for n, bucket in bucketers:
        if not n:
            continue
        buckets: list[Any] = []
        for v in success:  # newest of each bucket, first n buckets (restic)
            b = bucket(v.recorded_date.astimezone(tz))
            if not buckets or buckets[-1] != b:
                buckets.append(b)
                if len(buckets) <= n:
                    keep.add(v.data_id)
        if success and len(buckets) < n:  # count left: the oldest too (restic >= 0.16)
            keep.add(success[-1].data_id)
    return keep


def _tz(name: str) -> Any:
    return UTC if name == "UTC" else ZoneInfo(name)


@SETTINGS
@given(version_lists(), policy_dicts())
def test_plan_matches_the_oracle_and_its_own_invariants(
    versions: list[DataVersion], data: dict[str, Any]
) -> None:
    policy = relaxed(data)
    plan = plan_retention(versions, policy, NOW)
    kept = {d.version.data_id for d in plan.keep}
    deleted = {d.version.data_id for d in plan.delete}
    listed = {v.data_id for v in versions}
    # a version some rule keeps is never deleted, and nothing else is kept
    assert kept == oracle_kept(versions, policy)
    # exactly one decision per listed version; deleted is a subset of listed
    assert len(plan.decisions) == len(versions)
    assert kept | deleted == listed and not kept & deleted
    assert plan.delete_ids == sorted(deleted)
    # processing and protected versions are never deleted
    for d in plan.delete:
        assert d.reasons == ("no rule keeps it",)
        assert d.version.upload_status != "processing"
    for d in plan.keep:
        assert d.reasons and "no rule keeps it" not in d.reasons
    newest = [v.data_id for v in newest_first(versions) if v.upload_status == "success"]
    assert set(newest[: max(policy.protect_latest, 1)]) <= kept
    # newest first, ties by id
    assert [d.version for d in plan.decisions] == newest_first(versions)
    # totals
    assert plan.kept_rows + plan.deleted_rows == sum(v.num_rows for v in versions)
    assert plan.deleted_bytes == sum(d.version.num_bytes for d in plan.delete)


@SETTINGS
@given(version_lists(), policy_dicts())
def test_planning_the_kept_set_again_deletes_nothing(
    versions: list[DataVersion], data: dict[str, Any]
) -> None:
    policy = relaxed(data)
    first = plan_retention(versions, policy, NOW)
    again = plan_retention([d.version for d in first.keep], policy, NOW)
    assert again.delete == []
    assert [d.reasons for d in again.decisions] == [d.reasons for d in first.keep]


@SETTINGS
@given(version_lists(), policy_dicts(), st.randoms(use_true_random=False))
def test_deterministic_whatever_the_input_order(
    versions: list[DataVersion], data: dict[str, Any], rnd: Any
) -> None:
    policy = relaxed(data)
    shuffled = versions[:]
    rnd.shuffle(shuffled)
    assert plan_retention(shuffled, policy, NOW) == plan_retention(versions, policy, NOW)


@SETTINGS
@given(version_lists(), policy_dicts())
def test_deletions_never_exceed_the_budget(
    versions: list[DataVersion], data: dict[str, Any]
) -> None:
    policy = RetentionPolicy.from_dict(data)
    unbounded = plan_retention(versions, relaxed(data), NOW)
    share = policy.max_deletion_share
    share_limit = int(round(share * 100) * len(versions) // 100) if share is not None else None
    try:
        plan = plan_retention(versions, policy, NOW)
    except BudgetExceededError as err:
        assert err.would_delete == len(unbounded.delete)
        assert err.would_delete > policy.max_deletions or (
            share_limit is not None and err.would_delete > share_limit
        )
        assert err.plan.budget_error == str(err)
        assert "Nothing was deleted." in str(err)
        return
    assert len(plan.delete) <= policy.max_deletions
    if share_limit is not None:
        assert len(plan.delete) <= share_limit
    assert plan.budget_error is None
    assert plan.decisions == unbounded.decisions


@SETTINGS
@given(policy_dicts())
def test_policy_round_trips_through_its_canonical_dict(data: dict[str, Any]) -> None:
    policy = RetentionPolicy.from_dict(data)
    assert RetentionPolicy.from_dict(policy.to_dict()) == policy
    assert str(policy).startswith("keep ")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=8))
def test_parse_duration_never_crashes(text: str) -> None:
    try:
        duration = parse_duration(text)
    except PolicyError as err:
        assert str(err).startswith("policy.keep_within: expected a duration")
    else:
        assert str(duration) and parse_duration(str(duration)) == duration


MICRO = timedelta(microseconds=1)
_OLD = datetime(2022, 1, 1, tzinfo=UTC)


def at_utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


FAR = datetime(2045, 1, 1, tzinfo=UTC)  # past every hold, duration and grace drawn


def kept_ids(versions: list[DataVersion], policy: RetentionPolicy, now: datetime) -> set[int]:
    return {d.version.data_id for d in plan_retention(versions, policy, now).keep}


@SETTINGS
@given(version_lists() | recent_version_lists(), policies_with_time())
def test_grace_and_holds_match_the_oracle(
    versions: list[DataVersion], data: dict[str, Any]
) -> None:
    policy = relaxed(data)
    plan = plan_retention(versions, policy, NOW)
    assert {d.version.data_id for d in plan.keep} == oracle_kept(versions, policy)
    for d in plan.keep:
        graced = [r for r in d.reasons if r.startswith("grace ")]
        assert not graced or d.reasons == tuple(graced)  # grace only spares the surplus


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(version_lists() | recent_version_lists(), policies_with_time())
def test_eligible_at_is_when_time_alone_deletes_a_kept_version(
    versions: list[DataVersion], data: dict[str, Any]
) -> None:
    eligible_at_is_when_time_alone_deletes(versions, data)


# Found by Hypothesis: 10 days before 2024-04-10T00:xxZ is a wall time Berlin skipped on
# 2024-03-31. Duration.cutoff used to read it with the offset before the jump (an hour ahead,
# then back at 01:00Z), and eligible_at said 01:00Z where the plan deleted from 00:00Z.
@pytest.mark.parametrize(
    ("versions", "policy"),
    [
        (
            [DataVersion(i, 1, "success", _OLD, _OLD, 0, 0) for i in range(7)]
            + [DataVersion(7, 1, "success", at_utc("2024-03-31T01:00"), _OLD, 0, 0)],
            {"keep_daily": 1, "timezone": "Europe/Berlin", "protect_latest": 0, "grace": "10d"},
        ),
        (
            [
                DataVersion(0, 1, "error", at_utc("2024-03-17T02:00"), _OLD, 0, 0),
                DataVersion(1, 1, "success", at_utc("2024-03-31T12:00"), _OLD, 0, 0),
            ],
            {
                "keep_daily": 1,
                "keep_within": "2w",
                "timezone": "Europe/Berlin",
                "protect_latest": 0,
                "grace": "10d",
            },
        ),
    ],
)
def test_eligible_at_across_a_skipped_dst_hour(
    versions: list[DataVersion], policy: dict[str, Any]
) -> None:
    eligible_at_is_when_time_alone_deletes(versions, policy)


def test_eligible_at_while_the_grace_cutoff_stands_still_in_a_skipped_hour() -> None:
    """From 2024-04-10T00:00Z to 01:00Z, 10 days back is the skipped 02:00-03:00 of
    2024-03-31, so grace looks back to 01:00Z for that hour, where keep_within 2w still
    keeps version 0 (14 days after 2024-03-17 03:00 CET): kept until 01:00Z, not now."""
    versions = [
        DataVersion(0, 1, "error", at_utc("2024-03-17T02:00"), _OLD, 0, 0),
        DataVersion(1, 1, "success", at_utc("2024-03-31T12:00"), _OLD, 0, 0),
    ]
    policy = {
        "keep_within": "2w",
        "timezone": "Europe/Berlin",
        "protect_latest": 1,
        "grace": "10d",
    }
    now = at_utc("2024-04-10T00:30")
    plan = plan_retention(versions, relaxed(policy), now)
    assert plan.eligible_at[1] == at_utc("2024-04-10T01:00")
    eligible_at_is_when_time_alone_deletes(versions, policy, now)


# (zone, UTC instant its offset changes): spring-forward gaps and fall-back folds of an hour,
# at local midnight (Havana, Sao Paulo), of 30 minutes (Lord Howe), a negative DST (Dublin's
# winter time in tzdata) and a whole skipped day (Apia, 2011-12-30).
TRANSITIONS = [
    ("Europe/Berlin", "2024-03-31T01:00"),
    ("Europe/Berlin", "2023-10-29T01:00"),
    ("America/Havana", "2024-03-10T05:00"),
    ("America/Havana", "2023-11-05T05:00"),
    ("Australia/Lord_Howe", "2024-04-06T15:00"),
    ("Australia/Lord_Howe", "2024-10-05T15:30"),
    ("Pacific/Apia", "2011-12-30T10:00"),
    ("America/Sao_Paulo", "2018-11-04T03:00"),
    ("America/Sao_Paulo", "2019-02-17T02:00"),
    ("Europe/Dublin", "2024-03-31T01:00"),
    ("Europe/Dublin", "2024-10-27T01:00"),
]
CUTOFF_DURATIONS = ["1y", "2m", "1m", "1w", "2w", "10d", "1d", "1h", "36h", "1y2m3w4d5h"]


def wall_clock_after(duration: Duration, start: datetime, tz: ZoneInfo) -> datetime:
    """About when the wall clock in tz reads start's wall time plus duration (the test's
    own arithmetic: the point where the cutoff of that instant is near start)."""
    wall = start.astimezone(tz).replace(tzinfo=None)
    total = wall.year * 12 + wall.month - 1 + duration.years * 12 + duration.months
    year, month0 = divmod(total, 12)
    day = min(wall.day, monthrange(year, month0 + 1)[1])
    wall = wall.replace(year=year, month=month0 + 1, day=day)
    wall += timedelta(weeks=duration.weeks, days=duration.days)
    return wall.replace(tzinfo=tz).astimezone(UTC) + timedelta(hours=duration.hours)


@st.composite
def instants_near_a_transition(draw: st.DrawFn) -> tuple[Duration, ZoneInfo, datetime, datetime]:
    """A duration, a zone and two instants (a <= b) where either the clock itself or the
    wall time the cutoff moves back to is within a few hours of a change of offset."""
    name, when = draw(st.sampled_from(TRANSITIONS))
    tz = ZoneInfo(name)
    duration = parse_duration(draw(st.sampled_from(CUTOFF_DURATIONS)))
    change = at_utc(when)
    base = change if draw(st.booleans()) else wall_clock_after(duration, change, tz)
    span = 5 * 3600 * 10**6
    near = st.integers(-span, span) | st.integers(-300, 300).map(lambda m: m * 60 * 10**6)
    a, b = sorted(base + timedelta(microseconds=draw(near)) for _ in range(2))
    return duration, tz, a, b


@settings(max_examples=300, deadline=None)
@given(instants_near_a_transition())
def test_cutoff_never_moves_back_across_dst(
    case: tuple[Duration, ZoneInfo, datetime, datetime],
) -> None:
    """first_crossing bisects the cutoff: it must not step back (nor leave its bounds)."""
    duration, tz, a, b = case
    cut_a, cut_b = duration.cutoff(a, tz), duration.cutoff(b, tz)
    assert cut_a <= cut_b, (str(duration), a, b, cut_a, cut_b)
    low, high = duration.bounds()
    assert low <= a - cut_a <= high, (str(duration), a, cut_a)


def eligible_at_is_when_time_alone_deletes(
    versions: list[DataVersion], data: dict[str, Any], now: datetime = NOW
) -> None:
    """Planning just before eligible_at keeps the version, just after it deletes it;
    a null eligible_at means no plan, however late, deletes it without a new upload."""
    policy = relaxed(data)
    plan = plan_retention(versions, policy, now)
    for d, when in zip(plan.decisions, plan.eligible_at, strict=True):
        data_id = d.version.data_id
        if d.action == "delete":
            assert when is None
            continue
        if when is None:
            assert data_id in kept_ids(versions, policy, FAR), d.reasons
            continue
        assert when >= now
        assert data_id in kept_ids(versions, policy, max(now, when - MICRO)), (when, d.reasons)
        assert data_id not in kept_ids(versions, policy, when + MICRO), (when, d.reasons)
