"""The gated delete loop (deletion.apply_retention) under races and faults.

Named scenarios through the real DomoClient against the emulator. The randomized
race-and-fault suite, judged by an independent oracle, is test_deletion_races.py.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from domo_versions_iac.deletion.loop import apply_retention, max_failures_for
from domo_versions_iac.domo.client import DomoClient
from domo_versions_iac.domo.errors import (
    InvalidResponseError,
)
from domo_versions_iac.domo.models import DataVersion
from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer, EmulatorStore, Fault
from domo_versions_iac.emulator.records import version_record
from domo_versions_iac.emulator.store import ApiRequest, ApiResponse
from domo_versions_iac.policy import RetentionPolicy, plan_retention

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
        listing = response.json()
        if request.method == "GET" and isinstance(listing, list):
            stale = dict(listing[-1], recordedDate="2020-01-01T00:00:00Z")
            response = ApiResponse(200, [*listing, stale])
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
    assert (outcome.stopped_by or "").startswith("could not list the dataset after deleting")
    assert ids(domo) == [3, 4]


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
    assert "max_deletions 3" in (outcome.stopped_by or "")
    stopped_first = "not attempted: the update stopped first"
    assert outcome.not_deleted == {3: stopped_first, 4: stopped_first}
    assert not outcome.complete


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


# -- a throttled DELETE: only the loop sends again, after a fresh listing and the gate ------------


def throttled_during_the_wait(
    server: EmulatorServer, elsewhere: list[int], fault: Fault
) -> tuple[DomoClient, list[float]]:
    """A client whose first DELETE gets ``fault``; while it waits, ``elsewhere`` is deleted."""
    server.store.inject_fault(fault)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:
            server.store.delete_versions("ds", elsewhere)  # another stack, during the wait

    client = DomoClient(server.url, EMULATOR_TOKEN, timeout=5, backoff_base=0, sleep=sleep)
    return client, waits


@pytest.mark.parametrize(
    ("elsewhere", "left"),
    [([4, 5], [2, 3]), ([4], [3, 5])],
    ids=["4-and-5-deleted-elsewhere", "4-deleted-elsewhere"],
)
def test_a_429_on_delete_is_sent_again_only_after_a_fresh_listing(
    domo: EmulatorServer, elsewhere: list[int], left: list[int]
) -> None:
    # The example: keep_last 2 over 1-5, batch [1, 2, 3]. The DELETE gets a 429
    # with Retry-After: 1, and during the wait 4 and 5 (or only 4) are deleted elsewhere.
    domo.store.add_dataset("ds", records(5))
    rule = RetentionPolicy(keep_last=2)
    shown = shown_by_plan(domo, rule)
    assert shown == [1, 2, 3]
    fault = Fault(status=429, retry_after="1", method="DELETE")
    client, waits = throttled_during_the_wait(domo, elsewhere, fault)
    outcome = apply_retention(
        client, "ds", shown, rule, index=False, batch_size=3, clock=lambda: NOW
    )
    assert ids(domo) == left, "the two newest at the time of the DELETE that went through"
    assert waits == [1.0], "Retry-After honoured, once"
    deletes = [r.body_ids for r in domo.store.requests if r.method == "DELETE"]
    assert deletes == [[1, 2, 3], [i for i in [1, 2, 3] if i not in left]]
    methods = [r.method for r in domo.store.requests]
    assert methods == ["GET", "DELETE", "GET", "DELETE", "GET"], "re-listed before resending"
    assert outcome.complete, outcome


def rate_limit_403(store: EmulatorStore) -> None:
    """Domo's other throttle: the next DELETE answers 403 "API Rate limit reached."."""
    original = store.handle
    answered = False

    def handle(request: ApiRequest) -> ApiResponse:
        nonlocal answered
        if request.method == "DELETE" and not answered:
            answered = True
            body = {"status": 403, "message": "API Rate limit reached."}
            return ApiResponse(403, body, {"Retry-After": "2"})
        return original(request)

    store.handle = handle  # type: ignore[method-assign]


def test_a_403_rate_limit_on_delete_waits_relists_and_sends_the_whole_batch_again(
    domo: EmulatorServer,
) -> None:
    domo.store.add_dataset("ds", records(5))
    rate_limit_403(domo.store)
    waits: list[float] = []
    client = DomoClient(domo.url, EMULATOR_TOKEN, timeout=5, backoff_base=0, sleep=waits.append)
    rule = RetentionPolicy(keep_last=2)
    outcome = apply_retention(
        client, "ds", [1, 2, 3], rule, index=False, batch_size=3, clock=lambda: NOW
    )
    assert outcome.complete, outcome
    assert ids(domo) == [4, 5]
    assert waits == [2.0]
    # a throttle is not an id failure: no split, nothing given up
    deletes = [r.body_ids for r in domo.store.requests if r.method == "DELETE"]
    assert deletes == [[1, 2, 3]]  # the 403 answer above never reached the store's log


def test_a_throttle_that_outlasts_the_attempts_stops_the_update_and_says_so(
    domo: EmulatorServer,
) -> None:
    domo.store.add_dataset("ds", records(5))
    domo.store.inject_fault(Fault(status=429, retry_after="1", method="DELETE", count=100))
    waits: list[float] = []
    client = DomoClient(domo.url, EMULATOR_TOKEN, timeout=5, max_attempts=4, sleep=waits.append)
    rule = RetentionPolicy(keep_last=2)
    outcome = apply_retention(
        client, "ds", [1, 2, 3], rule, index=False, batch_size=3, clock=lambda: NOW
    )
    assert ids(domo) == [1, 2, 3, 4, 5]
    deletes = [r.body_ids for r in domo.store.requests if r.method == "DELETE"]
    assert deletes == [[1, 2, 3]] * 4, "the same whole batch, each after a fresh listing"
    assert waits == [1.0, 1.0, 1.0]
    assert "Domo kept throttling the DELETE requests" in (outcome.stopped_by or "")
    assert "Gave up after 4 attempts" in (outcome.stopped_by or "")
    assert outcome.not_deleted == dict.fromkeys(
        [1, 2, 3], "Domo answered 429 Too Many Requests: Too many requests"
    )
    assert outcome.deleted == []


def test_a_throttle_longer_than_the_waiting_budget_is_not_waited(domo: EmulatorServer) -> None:
    domo.store.add_dataset("ds", records(5))
    domo.store.inject_fault(Fault(status=429, retry_after="600", method="DELETE"))
    waits: list[float] = []
    client = DomoClient(domo.url, EMULATOR_TOKEN, timeout=5, sleep=waits.append)
    outcome = apply_retention(
        client,
        "ds",
        [1, 2, 3],
        RetentionPolicy(keep_last=2),
        index=False,
        batch_size=3,
        clock=lambda: NOW,
    )
    assert waits == []
    assert "max_retry_seconds=60" in (outcome.stopped_by or "")
    assert ids(domo) == [1, 2, 3, 4, 5]


def test_a_success_resets_the_failures_in_a_row(domo: EmulatorServer) -> None:
    # Two undeletable ids among 1,000: isolating each by halving costs a few failures,
    # 16 or so in all, more than the 9 in a row that stop an update of batches of 100.
    # The successes between them reset the count, so the update deletes all the rest.
    domo.store.add_dataset("ds", records(1001))
    original = domo.store.handle
    bad = {37, 537}
    failures = 0

    def poisoned(request: ApiRequest) -> ApiResponse:
        nonlocal failures
        if request.method == "DELETE" and bad & set(request_ids(request) or []):
            failures += 1
            return ApiResponse(500, {"status": 500, "message": "locked"})
        return original(request)

    domo.store.handle = poisoned  # type: ignore[method-assign]
    rule = RetentionPolicy(keep_last=1, max_deletions=5000)
    outcome = run(domo, rule, range(1, 1001), batch_size=100)
    assert failures > max_failures_for(100), "more failures in all than the limit in a row"
    assert outcome.stopped_by is None
    assert ids(domo) == [37, 537, 1001]
    assert outcome.not_deleted == dict.fromkeys(
        bad, "Domo answered 500 Internal Server Error: locked"
    )
    assert len(outcome.deleted) == 998


def test_deleted_ids_are_counted_from_domos_answers_not_one_stale_listing(
    domo: EmulatorServer,
) -> None:
    # After the DELETE, a replica that lags serves the listing from before it: all 7
    # are still listed. Domo answered 200 to their DELETE: they count as deleted, and
    # the outcome says the listing still shows them.
    domo.store.add_dataset("ds", records(9))
    original = domo.store.handle
    first: list[ApiResponse] = []

    def stale_after_delete(request: ApiRequest) -> ApiResponse:
        response = original(request)
        if request.method == "GET":
            first.append(response)
            return first[0]
        return response

    domo.store.handle = stale_after_delete  # type: ignore[method-assign]
    outcome = run(domo, RetentionPolicy(keep_last=2), range(1, 8), batch_size=100)
    assert ids(domo) == [8, 9]
    assert [v.data_id for v in outcome.deleted] == [1, 2, 3, 4, 5, 6, 7]
    assert outcome.unconfirmed == [1, 2, 3, 4, 5, 6, 7]
    assert outcome.not_deleted == {}
    assert not outcome.complete
    deletes = [r.body_ids for r in domo.store.requests if r.method == "DELETE"]
    assert deletes == [[1, 2, 3, 4, 5, 6, 7]], "never sent twice, even if still listed"
