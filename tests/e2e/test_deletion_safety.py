"""Deletion safety through the real engine: races and faults injected into the emulator
while `pulumi up` runs (issue 10). Each test says what Domo kept and what the user read.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from domo_versions_iac.emulator import EmulatorServer, Fault
from domo_versions_iac.emulator.store import ApiRequest, ApiResponse, error_body

from .conftest import StackFactory, calls, deleted_ids_sent, make_versions, remaining_ids
from .test_retention import program, retention

Handler = Callable[[ApiRequest], ApiResponse]


def intercept(domo: EmulatorServer, wrapper: Callable[[Handler, ApiRequest], ApiResponse]) -> None:
    """Route every API request through WRAPPER(original_handler, request)."""
    original = domo.store.handle
    domo.store.handle = lambda request: wrapper(original, request)  # type: ignore[method-assign]


def ids_in(request: ApiRequest) -> list[int]:
    body = json.loads(request.body or b"[]")
    return body if isinstance(body, list) else []


def test_a_listing_that_repeats_an_id_is_refused_and_nothing_is_deleted(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(5))
    ws = stack_factory(program(retention("a", "ds-a", policy={"keep_last": 3})))

    def repeat_the_newest(handle: Handler, request: ApiRequest) -> ApiResponse:
        response = handle(request)
        listing = response.json()
        if request.method == "GET" and isinstance(listing, list):
            stale = dict(listing[-1], recordedDate="2020-01-01T00:00:00Z")
            return ApiResponse(200, [*listing, stale])
        return response

    intercept(domo, repeat_the_newest)
    for result in (ws.preview(check=False), ws.up(check=False)):
        assert result.returncode != 0
        assert "The version listing contradicts itself: it repeats dataId 5" in result.output
        assert "for dataset ds-a" in result.output and "nothing was deleted" in result.output
    assert calls(domo, "DELETE") == 0
    assert remaining_ids(domo, "ds-a") == [1, 2, 3, 4, 5]


def test_after_a_failed_delete_the_retry_follows_the_fresh_listing(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    # keep_last 2 over 1..5, one id per DELETE. While the first DELETE is in flight
    # someone else deletes 4 and 5, and the DELETE answers 503 after doing its work.
    domo.store.add_dataset("ds-a", make_versions(5))
    ws = stack_factory(program(retention("a", "ds-a", policy={"keep_last": 2}, batch_size=1)))
    deletes = 0

    def race(handle: Handler, request: ApiRequest) -> ApiResponse:
        nonlocal deletes
        if request.method == "DELETE":
            deletes += 1
            if deletes == 1:
                domo.store.delete_versions("ds-a", [4, 5])
                handle(request)
                return ApiResponse(503, error_body(503, "busy"))
        return handle(request)

    intercept(domo, race)
    ws.up()
    assert remaining_ids(domo, "ds-a") == [2, 3], "the two newest at each DELETE are kept"
    assert deleted_ids_sent(domo, "ds-a") == [1]


def test_a_version_spared_by_one_update_is_deleted_by_a_later_one(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    # allowed_versions [3] over 2 and 3. Between the plan and the apply, 3 is deleted
    # outside Pulumi: 2 becomes the newest and is rightly spared.
    domo.store.add_dataset("ds-a", make_versions(3))
    domo.store.delete_versions("ds-a", [1])
    ws = stack_factory(program(retention("a", "ds-a", allowed_versions=[3])))
    gets = 0

    def delete_3_before_the_apply_lists(handle: Handler, request: ApiRequest) -> ApiResponse:
        nonlocal gets
        if request.method == "GET":
            gets += 1
            if gets == 2:  # the program planned [2]; the apply now re-lists
                domo.store.delete_versions("ds-a", [3])
        return handle(request)

    intercept(domo, delete_3_before_the_apply_lists)
    ws.up()
    assert remaining_ids(domo, "ds-a") == [2]
    domo.store.add_version("ds-a")  # 4: now 2 is surplus again

    preview = ws.preview()
    assert "dataset ds-a: delete 1 of 2 versions" in preview.stdout
    assert "- 2: recorded" in preview.stdout
    assert "~ 1 to update" in preview.stdout, "the surplus is a change, not 'already applied'"
    ws.up()
    assert remaining_ids(domo, "ds-a") == [4]


def test_one_undeletable_version_does_not_block_the_others(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(301))
    policy = {"keep_last": 1, "max_deletions": 1000}
    ws = stack_factory(program(retention("a", "ds-a", policy=policy, batch_size=100)))

    def refuse_37(handle: Handler, request: ApiRequest) -> ApiResponse:
        if request.method == "DELETE" and 37 in ids_in(request):
            return ApiResponse(500, error_body(500, "version 37 is locked"))
        return handle(request)

    intercept(domo, refuse_37)
    for _ in range(2):  # the second up is left with only the truly undeletable id
        failed = ws.up(check=False)
        assert failed.returncode != 0
        assert (
            "not deleted: id 37: Domo answered 500 Internal Server Error: version 37 is locked"
            in (failed.output)
        )
        assert "Traceback" not in failed.output
        assert remaining_ids(domo, "ds-a") == [37, 301]
    assert calls(domo, "DELETE") <= 2 * 20, "isolating 37 costs a few requests per update"


def test_a_delete_domo_accepts_but_still_lists_is_reported_not_resent(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(4))
    ws = stack_factory(program(retention("a", "ds-a", policy={"keep_last": 2})))
    sent: list[list[int]] = []

    def accept_without_deleting(handle: Handler, request: ApiRequest) -> ApiResponse:
        if request.method == "DELETE":
            sent.append(ids_in(request))
            if len(sent) == 1:
                return ApiResponse(200, None)  # says yes, does nothing (a stale listing)
        return handle(request)

    intercept(domo, accept_without_deleting)
    failed = ws.up(check=False)
    assert failed.returncode != 0
    assert "deleted 2 versions (ids 1, 2); Domo still lists ids 1, 2 that this update" in (
        failed.output
    )
    assert sent == [[1, 2]], "sent once, not re-sent in the same update"
    ws.up()
    assert remaining_ids(domo, "ds-a") == [3, 4]


def test_a_revoked_token_mid_update_stops_and_says_what_was_deleted(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(6))
    ws = stack_factory(program(retention("a", "ds-a", policy={"keep_last": 2}, batch_size=2)))
    deletes = 0

    def revoke_after_the_first_batch(handle: Handler, request: ApiRequest) -> ApiResponse:
        nonlocal deletes
        if request.method == "DELETE":
            deletes += 1
            if deletes == 2:
                return ApiResponse(401, error_body(401, "token revoked"))
        return handle(request)

    intercept(domo, revoke_after_the_first_batch)
    failed = ws.up(check=False)
    assert failed.returncode != 0
    assert "deleted 2 versions (ids 1, 2); not deleted: ids 3, 4" in failed.output
    assert "401 Unauthorized" in failed.output
    assert remaining_ids(domo, "ds-a") == [3, 4, 5, 6]
    assert deletes == 2, "no DELETE after the 401"


def test_when_the_confirming_listing_fails_the_error_says_what_was_deleted(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(5))
    ws = stack_factory(program(retention("a", "ds-a", policy={"keep_last": 2})))
    deleted = False

    def fail_listings_after_the_delete(handle: Handler, request: ApiRequest) -> ApiResponse:
        nonlocal deleted
        if request.method == "DELETE":
            deleted = True
        elif deleted:
            return ApiResponse(400, error_body(400, "listing unavailable"))
        return handle(request)

    intercept(domo, fail_listings_after_the_delete)
    failed = ws.up(check=False)
    assert failed.returncode != 0
    assert "deleted 3 versions (ids 1, 2, 3)" in failed.output
    assert "could not list the dataset after deleting" in failed.output
    assert remaining_ids(domo, "ds-a") == [4, 5]


def test_a_delete_cut_off_by_the_deadline_is_relisted_not_resent(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(4))
    ws = stack_factory(
        program(retention("a", "ds-a", policy={"keep_last": 2})),
        env={"DOMO_REQUEST_DEADLINE": "1"},
    )
    # The DELETE does its work but answers after 2 s: the client gives up at 1 s.
    domo.store.inject_fault(Fault(latency=2.0, method="DELETE", dataset_id="ds-a"))
    ws.up()
    assert remaining_ids(domo, "ds-a") == [3, 4]
    assert deleted_ids_sent(domo, "ds-a") == [1, 2], "one DELETE: re-listed, not re-sent"
