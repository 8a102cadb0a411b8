"""The deletion gate: which ids the next DELETE batch may hold (README, "Safety")."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domo_versions_iac.deletion.gate import (
    ContradictoryListingError,
    deletable_ids,
    protected_ids,
    repeated_ids,
)
from domo_versions_iac.domo.models import DataVersion, UploadStatus
from domo_versions_iac.policy import BudgetExceededError, RetentionPolicy, plan_retention

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def ver(data_id: int, days_ago: float, status: UploadStatus = "success") -> DataVersion:
    return DataVersion(
        data_id=data_id,
        schema_id=1,
        upload_status=status,
        recorded_date=NOW - timedelta(days=days_ago),
        upload_completed_date=None,
        num_rows=10,
        num_bytes=100,
    )


def daily(n: int, **statuses: UploadStatus) -> list[DataVersion]:
    """Versions 1..n, one a day, n the newest (recorded today)."""
    return [ver(i, n - i, statuses.get(f"v{i}", "success")) for i in range(1, n + 1)]


def policy(**data: Any) -> RetentionPolicy:
    return RetentionPolicy.from_dict(data)


def test_only_ids_shown_and_still_surplus_may_go() -> None:
    listing = daily(5)
    keep_two = policy(keep_last=2)
    assert deletable_ids({1, 2, 3}, listing, keep_two, NOW) == [1, 2, 3]
    assert deletable_ids({1, 3}, listing, keep_two, NOW) == [1, 3], "not shown: 2 stays"
    # someone else deleted 4 and 5: now 2 and 3 are the two newest and must stay
    fresh = [v for v in listing if v.data_id <= 3]
    assert deletable_ids({1, 2, 3}, fresh, keep_two, NOW) == [1]


def test_the_newest_successful_and_processing_uploads_never_go() -> None:
    listing = daily(4, v4="processing", v3="error")
    everything = policy(allowed_versions=[], protect_latest=0)
    assert protected_ids(listing) == {2, 4}, "2 is the newest success, 4 is in processing"
    assert deletable_ids({1, 2, 3, 4}, listing, everything, NOW) == [1, 3]


def test_a_new_upload_is_never_deleted_even_if_shown_by_an_older_plan() -> None:
    # id 6 was shown by an older plan (say, of another dataset's numbering): it is the
    # newest now, so it stays.
    listing = daily(6)
    assert deletable_ids({5, 6}, listing, policy(allowed_versions=[1]), NOW) == [5]


def test_a_repeated_id_refuses_the_whole_listing() -> None:
    listing = [*daily(3), ver(3, 30)]
    assert repeated_ids(listing) == [3]
    with pytest.raises(ContradictoryListingError, match="repeats version id 3"):
        deletable_ids({1, 2, 3}, listing, policy(keep_last=1), NOW)


def test_the_budget_counts_the_whole_update() -> None:
    listing = daily(10)
    capped = policy(keep_last=1, max_deletions=5)
    with pytest.raises(BudgetExceededError):
        deletable_ids(set(range(1, 10)), listing, capped, NOW)
    assert deletable_ids({1, 2, 3}, listing, capped, NOW) == [1, 2, 3]
    # three already gone in this update: two more are allowed, four are not
    rest = listing[3:]
    assert deletable_ids({4, 5}, rest, capped, NOW, already_deleted=3) == [4, 5]
    with pytest.raises(BudgetExceededError, match="would delete 7 of 10"):
        deletable_ids({4, 5, 6, 7}, rest, capped, NOW, already_deleted=3)


def test_the_share_is_rechecked_against_the_fresh_listing() -> None:
    listing = daily(10)
    half = policy(keep_last=1, max_deletion_share=0.5)
    assert deletable_ids({1, 2, 3, 4, 5}, listing, half, NOW) == [1, 2, 3, 4, 5]
    # someone else deleted 1-4 meanwhile: 5 of the 6 left would be more than half
    shrunk = listing[4:]
    with pytest.raises(BudgetExceededError, match="max_deletion_share"):
        deletable_ids({5, 6, 7, 8, 9}, shrunk, half, NOW)


STATUSES: list[UploadStatus] = ["success", "success", "success", "error", "processing"]
statuses = st.sampled_from(STATUSES)


@st.composite
def listings(draw: st.DrawFn) -> list[DataVersion]:
    ids = draw(st.lists(st.integers(1, 40), unique=True, max_size=25))
    return [ver(i, draw(st.floats(0, 90)), draw(statuses)) for i in ids]


policies = st.sampled_from(
    [
        policy(keep_last=3, max_deletions=10**6),
        policy(keep_within="20d", max_deletions=10**6),
        policy(allowed_versions=[1, 2, 3], protect_latest=0, max_deletions=10**6),
        policy(keep_daily=5, keep_monthly=2, max_deletions=10**6),
        policy(keep_last=1, delete_failed=False, max_deletions=10**6),
    ]
)


@settings(max_examples=300, deadline=None)
@given(listings(), st.sets(st.integers(1, 40)), policies)
def test_every_allowed_id_obeys_all_three_conditions(
    listing: list[DataVersion], shown: set[int], rule: RetentionPolicy
) -> None:
    allowed = deletable_ids(shown, listing, rule, NOW)
    surplus = set(plan_retention(listing, rule, NOW, enforce_budget=False).delete_ids)
    successes = [v for v in listing if v.upload_status == "success"]
    newest = max(successes, key=lambda v: (v.recorded_date, v.data_id), default=None)
    for data_id in allowed:
        assert data_id in shown  # (a)
        assert data_id in surplus  # (b)
        assert newest is None or data_id != newest.data_id  # (c)
        status = next(v.upload_status for v in listing if v.data_id == data_id)
        assert status != "processing"
    # and nothing shown, surplus and unprotected is held back
    unprotected = {v.data_id for v in listing} - protected_ids(listing)
    assert set(allowed) == shown & surplus & unprotected


def skewed() -> list[DataVersion]:
    """Issue 21's skewed clock: id 1 recorded a day in the future, 5 an hour ago."""
    versions = [ver(i, 5 - i) for i in range(2, 5)]
    versions.append(ver(1, -1))  # a wrong clock, a bad backfill
    versions.append(ver(5, 1 / 24))
    return versions


def test_a_future_dated_version_does_not_take_the_latest_upload_s_protection() -> None:
    policy = RetentionPolicy(keep_last=1)
    assert protected_ids(skewed()) == {1, 5}, "newest by date and the highest successful id"
    allowed = deletable_ids([2, 3, 4, 5], skewed(), policy, NOW)
    assert allowed == [2, 3, 4]
    plan = plan_retention(skewed(), policy, NOW)
    assert plan.delete_ids == [2, 3, 4]
    reasons = {d.version.data_id: d.reasons for d in plan.keep}
    assert reasons[5] == ("protected: latest upload, the highest successful id (never deleted)",)
    assert reasons[1] == ("keep_last #1", "protected: latest #1")
    eligible = dict(zip((d.version.data_id for d in plan.decisions), plan.eligible_at, strict=True))
    assert eligible[5] is None, "only a new upload lets it go"


def test_a_version_recorded_in_the_future_is_a_warning_in_the_plan_json() -> None:
    plan = plan_retention(skewed(), RetentionPolicy(keep_last=1), NOW)
    (warning,) = plan.to_dict()["warnings"]
    assert warning.startswith("FUTURE DATE: version 1 recorded up to 2026-11-30T12:00:00Z")
    assert "1 day after the time of this plan" in warning
    assert "the latest upload (id 5) are protected" in warning
    # a few minutes of clock drift is not worth a warning
    drift = [ver(1, -4 / (24 * 60)), ver(2, 1)]
    assert plan_retention(drift, RetentionPolicy(keep_last=1), NOW).warnings == ()


def test_with_an_archive_only_versions_archived_and_verified_may_go() -> None:
    listing = daily(5)
    keep_two = policy(keep_last=2)
    assert deletable_ids({1, 2, 3}, listing, keep_two, NOW, archived={1, 3}) == [1, 3]
    assert deletable_ids({1, 2, 3}, listing, keep_two, NOW, archived=set()) == []
    assert deletable_ids({1, 2, 3}, listing, keep_two, NOW, archived=None) == [1, 2, 3]
    # an archive never lifts the other conditions: 5 is the newest, 4 is kept, 9 unknown
    assert deletable_ids({1, 4, 5, 9}, listing, keep_two, NOW, archived={1, 4, 5, 9}) == [1]


@settings(max_examples=200, deadline=None)
@given(listings(), st.sets(st.integers(1, 40)), st.sets(st.integers(1, 40)), policies)
def test_with_an_archive_every_allowed_id_is_archived(
    listing: list[DataVersion], shown: set[int], archived: set[int], rule: RetentionPolicy
) -> None:
    allowed = deletable_ids(shown, listing, rule, NOW, archived=archived)
    without = deletable_ids(shown, listing, rule, NOW)
    assert set(allowed) == set(without) & archived
