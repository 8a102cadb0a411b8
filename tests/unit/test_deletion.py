"""The gated delete loop (deletion.apply_retention) under races and faults.

Two layers: named scenarios through the real DomoClient against the emulator, and a
randomized suite of seeded race-and-fault scenarios against an in-process fake Domo
that checks the rule at the moment of every DELETE.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from domo_versions_iac.client import DomoClient
from domo_versions_iac.deletion import DeletionOutcome, apply_retention, max_failures_for
from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer, Fault
from domo_versions_iac.emulator.records import version_record
from domo_versions_iac.emulator.store import ApiRequest, ApiResponse
from domo_versions_iac.errors import (
    BadRequestError,
    DeleteOutcomeUnknownError,
    InvalidResponseError,
    ServerError,
)
from domo_versions_iac.models import DataVersion, UploadStatus
from domo_versions_iac.policy import RetentionPolicy, parse_duration, plan_retention

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def records(n: int) -> list[dict[str, Any]]:
    """Versions 1..n, one a day, n the newest."""
    return [
        version_record(i, recorded=NOW - timedelta(days=n - i), rows=10 * i, num_bytes=100 * i)
        for i in range(1, n + 1)
    ]


def client_for(server: EmulatorServer) -> DomoClient:
    return DomoClient(server.url, EMULATOR_TOKEN, timeout=5, backoff_base=0, sleep=lambda _: None)


def ids(server: EmulatorServer, dataset_id: str = "ds") -> list[int]:
    return [r["dataId"] for r in server.store.list_versions(dataset_id)]


def shown_by_plan(server: EmulatorServer, rule: RetentionPolicy) -> list[int]:
    listing = [DataVersion.from_api(r) for r in server.store.list_versions("ds")]
    return plan_retention(listing, rule, NOW).delete_ids


def run(server: EmulatorServer, rule: RetentionPolicy, shown: Collection[int], **kw: Any) -> Any:
    return apply_retention(
        client_for(server),
        "ds",
        shown,
        rule,
        index=False,
        batch_size=kw.pop("batch_size", 100),
        clock=lambda: NOW,
        **kw,
    )


def test_retry_after_a_race_replans_against_the_fresh_listing(domo: EmulatorServer) -> None:
    # keep_last 2 over 1..5, batch 1. While the first DELETE is in flight someone else
    # deletes 4 and 5 and the DELETE answers 503: 2 and 3 are now the two newest.
    domo.store.add_dataset("ds", records(5))
    rule = RetentionPolicy(keep_last=2)
    shown = shown_by_plan(domo, rule)
    assert shown == [1, 2, 3]
    original = domo.store.handle
    seen = 0

    def race(request: ApiRequest) -> ApiResponse:
        nonlocal seen
        if request.method == "DELETE":
            seen += 1
            if seen == 1:
                domo.store.delete_versions("ds", [4, 5])
                original(request)
                return ApiResponse(503, {"status": 503, "message": "busy"})
        return original(request)

    domo.store.handle = race  # type: ignore[method-assign]
    outcome = run(domo, rule, shown, batch_size=1)
    assert ids(domo) == [2, 3], "the two newest at the time of each DELETE are kept"
    assert [v.data_id for v in outcome.deleted] == [1]
    assert outcome.complete


def test_one_bad_id_per_batch_does_not_block_the_rest(domo: EmulatorServer) -> None:
    # 1,000 surplus versions, batches of 100; every DELETE holding 37 answers 500.
    domo.store.add_dataset("ds", records(1001))
    original = domo.store.handle

    def poisoned(request: ApiRequest) -> ApiResponse:
        if request.method == "DELETE" and 37 in (request_ids(request) or []):
            return ApiResponse(500, {"status": 500, "message": "cannot delete 37"})
        return original(request)

    domo.store.handle = poisoned  # type: ignore[method-assign]
    rule = RetentionPolicy(keep_last=1, max_deletions=5000)
    outcome = run(domo, rule, range(1, 1001), batch_size=100)
    assert ids(domo) == [37, 1001]
    assert outcome.not_deleted == {37: "Domo answered 500 Internal Server Error: cannot delete 37"}
    assert len(outcome.deleted) == 999
    # isolating 37 by halving costs a handful of requests, not one per id
    assert outcome.requests <= 10 + 2 * max_failures_for(100)


def request_ids(request: ApiRequest) -> list[int] | None:
    import json

    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        return None
    return body if isinstance(body, list) else None


def test_a_repeated_id_in_a_listing_deletes_nothing(domo: EmulatorServer) -> None:
    domo.store.add_dataset("ds", records(4))
    original = domo.store.handle

    def repeating(request: ApiRequest) -> ApiResponse:
        response = original(request)
        if request.method == "GET" and isinstance(response.body, list):
            stale = dict(response.body[-1], recordedDate="2020-01-01T00:00:00Z")
            response = ApiResponse(200, [*response.body, stale])
        return response

    domo.store.handle = repeating  # type: ignore[method-assign]
    with pytest.raises(InvalidResponseError, match="repeats dataId 4"):
        run(domo, RetentionPolicy(keep_last=3), [1, 2, 3, 4])
    assert ids(domo) == [1, 2, 3, 4]
    assert [r.method for r in domo.store.requests] == ["GET"]


def test_a_failing_confirmation_says_what_was_deleted(domo: EmulatorServer) -> None:
    domo.store.add_dataset("ds", records(4))
    domo.store.inject_fault(Fault(status=400, method="GET", count=5))
    original = domo.store.handle
    first_get = True

    def first_listing_works(request: ApiRequest) -> ApiResponse:
        nonlocal first_get
        if request.method == "GET" and first_get:
            first_get = False
            domo.store.clear_faults()
            response = original(request)
            domo.store.inject_fault(Fault(status=400, method="GET", count=5))
            return response
        return original(request)

    domo.store.handle = first_listing_works  # type: ignore[method-assign]
    outcome = run(domo, RetentionPolicy(keep_last=2), [1, 2])
    assert [v.data_id for v in outcome.deleted] == [1, 2]
    assert outcome.stopped_by is not None
    assert outcome.stopped_by.startswith("could not list the dataset after deleting")
    assert ids(domo) == [3, 4]


# -- the randomized race-and-fault suite ----------------------------------------------------


@dataclass
class FakeDomo:
    """An in-process Domo for one dataset whose every request may race or fail.

    It checks the rule at each DELETE against the last listing it served and counts
    every violation; the loop under test never sees those checks.
    """

    rng: random.Random
    policy: RetentionPolicy
    shown: set[int]
    versions: dict[int, DataVersion]
    faults: bool = True
    next_id: int = 0
    body_limit: int | None = None  # more ids than this in one DELETE: 413, whatever else
    refused_as_too_large: int = 0
    last_listing: list[DataVersion] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    deleted_by_loop: set[int] = field(default_factory=set)

    def _race(self) -> None:
        """Someone else acts: deletes a version, uploads one, or finishes a processing one."""
        if not self.faults or self.rng.random() > 0.3:
            return
        action = self.rng.choice(["delete", "upload", "upload-processing", "finish"])
        if action == "delete" and self.versions:
            self.versions.pop(self.rng.choice(sorted(self.versions)))
        elif action.startswith("upload"):
            self.next_id += 1
            status: UploadStatus = "processing" if action == "upload-processing" else "success"
            self.versions[self.next_id] = make_version(self.next_id, 0, status)
        elif action == "finish":
            processing = [v for v in self.versions.values() if v.upload_status == "processing"]
            if processing:
                v = self.rng.choice(processing)
                self.versions[v.data_id] = make_version(v.data_id, 0, "success")

    def list_versions(self, dataset_id: str) -> list[DataVersion]:
        self._race()
        if self.faults and self.rng.random() < 0.1:
            raise ServerError("Domo failed to answer", dataset_id=dataset_id, status=503)
        self.last_listing = list(self.versions.values())
        self.rng.shuffle(self.last_listing)
        return list(self.last_listing)

    def delete_versions(
        self,
        dataset_id: str,
        ids: Sequence[int],
        *,
        index: bool,
        batch_size: int | None = None,
        never_delete: Collection[int] | None = None,
    ) -> list[int]:
        self._check_rule(ids)
        if self.body_limit is not None and len(ids) > self.body_limit:
            self.refused_as_too_large += 1
            raise BadRequestError("Request Entity Too Large", dataset_id=dataset_id, status=413)
        self._race()
        fault = self.rng.random() if self.faults else 1.0
        if fault < 0.1:  # fails before doing anything
            raise ServerError("Domo failed to answer", dataset_id=dataset_id, status=503)
        done = list(ids)
        if fault < 0.25:  # does part or all of the work, then fails
            done = done[: self.rng.randint(0, len(done))]
        for data_id in done:
            if self.versions.pop(data_id, None) is not None:
                self.deleted_by_loop.add(data_id)
        if fault < 0.25:
            raise DeleteOutcomeUnknownError(
                "The DELETE failed on Domo's side", ids=ids, dataset_id=dataset_id, status=500
            )
        return sorted(ids)

    def _check_rule(self, ids: Sequence[int]) -> None:
        listing = self.last_listing
        if len(self.deleted_by_loop | set(ids)) > self.policy.max_deletions:
            self.violations.append(f"{sorted(ids)} would exceed max_deletions for the update")
        surplus = set(plan_retention(listing, self.policy, NOW, enforce_budget=False).delete_ids)
        successes = [v for v in listing if v.upload_status == "success"]
        newest = max(successes, key=lambda v: (v.recorded_date, v.data_id), default=None)
        for data_id in ids:
            if data_id not in self.shown:
                self.violations.append(f"{data_id} was not shown")
            if data_id not in surplus:
                self.violations.append(f"{data_id} was not surplus at its DELETE")
            if newest is not None and data_id == newest.data_id:
                self.violations.append(f"{data_id} was the newest successful version")
            if any(v.data_id == data_id and v.upload_status == "processing" for v in listing):
                self.violations.append(f"{data_id} was processing")


def make_version(data_id: int, days_ago: float, status: UploadStatus = "success") -> DataVersion:
    return DataVersion(
        data_id=data_id,
        schema_id=1,
        upload_status=status,
        recorded_date=NOW - timedelta(days=days_ago, seconds=-data_id),
        upload_completed_date=None,
        num_rows=1,
        num_bytes=1,
    )


RULES = [
    RetentionPolicy(keep_last=3, max_deletions=10_000),
    RetentionPolicy(keep_within=parse_duration("10d"), max_deletions=10_000),
    RetentionPolicy(allowed_versions=(2, 5, 8), protect_latest=0, max_deletions=10_000),
    RetentionPolicy(keep_daily=4, keep_weekly=2, max_deletions=10_000),
    RetentionPolicy(keep_last=2, delete_failed=False, max_deletions=10_000),
    RetentionPolicy(keep_last=1, max_deletions=6),
    RetentionPolicy(keep_last=1, max_deletions=3),
    RetentionPolicy(keep_last=1, max_deletions=10_000, max_deletion_share=0.6),
]
SCENARIOS = 1200


def scenario(seed: int) -> FakeDomo:
    rng = random.Random(seed)
    rule = RULES[seed % len(RULES)]
    count = rng.randint(0, 30)
    success: list[UploadStatus] = ["success"]
    statuses = success * 6 + ["error", "processing"]
    versions = {
        i: make_version(i, rng.uniform(0, 40), rng.choice(statuses)) for i in range(1, count + 1)
    }
    listing = list(versions.values())
    plan = plan_retention(listing, rule, NOW, enforce_budget=False)
    # the preview showed the plan (or part of it: a budget-capped or older plan)
    shown = set(plan.delete_ids)
    if rng.random() < 0.3:
        shown |= set(rng.sample(range(1, count + 5), k=min(5, count + 4)))
    # some servers refuse large DELETE bodies (413), faults or not: the loop learns the size
    body_limit = rng.choice([None, None, None, 1, 2, 5])
    return FakeDomo(rng, rule, shown, versions, next_id=count, body_limit=body_limit)


def apply_in(domo: FakeDomo, batch_size: int) -> DeletionOutcome:
    """One update of the fake dataset: the plan it showed, its policy, a fixed clock."""
    return apply_retention(
        domo, "ds", domo.shown, domo.policy, index=False, batch_size=batch_size, clock=lambda: NOW
    )


def test_randomized_races_and_faults_never_delete_what_the_rule_keeps() -> None:
    """1,200 seeded scenarios: no DELETE ever breaks the rule; after the faults stop,
    a rerun converges to exactly the policy's keep set."""
    wrongly_deleted = 0
    stopped = 0
    too_large = 0
    for seed in range(SCENARIOS):
        domo = scenario(seed)
        batch_size = domo.rng.choice([1, 2, 3, 100])
        try:
            outcome = apply_in(domo, batch_size)
            stopped += outcome.stopped_by is not None
        except ServerError:
            stopped += 1  # the first listing failed: nothing may have been deleted
            assert not domo.deleted_by_loop
        assert not domo.violations, f"seed {seed}: {domo.violations}"
        wrongly_deleted += len(domo.violations)

        # the faults stop: plan afresh (a new preview) and apply; it converges
        domo.faults = False
        domo.deleted_by_loop = set()  # a new update, a new budget
        listing = list(domo.versions.values())
        plan = plan_retention(listing, domo.policy, NOW, enforce_budget=False)
        domo.shown = set(plan.delete_ids)
        if plan.budget_error is None:
            again = apply_in(domo, batch_size)
            assert again.complete, f"seed {seed}: {again}"
            assert set(domo.versions) == {d.version.data_id for d in plan.keep}, f"seed {seed}"
        assert not domo.violations, f"seed {seed}: {domo.violations}"
        too_large += domo.refused_as_too_large
    assert wrongly_deleted == 0
    assert too_large > SCENARIOS // 20, "413s really did shrink some batches"
    assert stopped > SCENARIOS // 20, "the faults really did stop some updates"


def test_the_budget_covers_the_whole_update_not_each_batch(domo: EmulatorServer) -> None:
    # An upload lands after every DELETE, so each re-plan finds new surplus; the
    # update as a whole may still delete at most max_deletions.
    domo.store.add_dataset("ds", records(3))
    original = domo.store.handle

    def upload_after_each_delete(request: ApiRequest) -> ApiResponse:
        response = original(request)
        if request.method == "DELETE":
            domo.store.add_version("ds")
        return response

    domo.store.handle = upload_after_each_delete  # type: ignore[method-assign]
    rule = RetentionPolicy(keep_last=1, max_deletions=3)
    outcome = run(domo, rule, range(1, 20), batch_size=1)
    # third re-plan: 2 deleted + 2 surplus now (3 and the previous newest, 4) > 3: stop
    assert [v.data_id for v in outcome.deleted] == [1, 2]
    assert ids(domo) == [3, 4, 5]
    assert outcome.stopped_by is not None and "max_deletions 3" in outcome.stopped_by


def test_a_413_halves_the_batch_for_the_rest_of_the_update(domo: EmulatorServer) -> None:
    # Domo's body limit is unknown: a server that refuses more than 120 ids per DELETE
    # with 413. The loop learns the size once, instead of failing every new batch.
    domo.store.add_dataset("ds", records(1001))
    original = domo.store.handle
    sizes: list[int] = []

    def small_bodies_only(request: ApiRequest) -> ApiResponse:
        if request.method == "DELETE":
            sizes.append(len(request_ids(request) or []))
            if sizes[-1] > 120:
                return ApiResponse(413, {"status": 413, "message": "Request Entity Too Large"})
        return original(request)

    domo.store.handle = small_bodies_only  # type: ignore[method-assign]
    rule = RetentionPolicy(keep_last=1, max_deletions=5000)
    outcome = run(domo, rule, range(1, 1001), batch_size=500)
    assert ids(domo) == [1001]
    assert outcome.complete
    assert len(outcome.deleted) == 1000
    # 500 refused, then halves until it fits (250, 125, 62); every later batch <= 62.
    assert sizes[:4] == [500, 250, 125, 62]
    assert max(sizes[4:]) <= 62
    assert sizes.count(500) == 1
