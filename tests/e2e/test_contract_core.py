"""Issue 21 through the real Pulumi CLI: a skewed clock, bad settings, the instance input."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest

from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer
from domo_versions_iac.emulator.records import version_record
from domo_versions_iac.emulator.store import ApiRequest, ApiResponse, error_body

from .conftest import StackFactory, calls, make_versions, remaining_ids

HEADER = "import pulumi\nfrom domo_versions_iac import DatasetVersionRetention\n"


def test_an_old_upload_recorded_in_the_future_does_not_get_the_latest_deleted(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    # Id 1 carries a recordedDate a day in the future (a wrong clock, a bad backfill);
    # the real latest upload, id 5, was recorded an hour ago. keep_last 1 keeps 1 as
    # "newest" by date; 5 (the live data of a replace dataset) must stay too.
    now = datetime.now(timezone.utc).replace(microsecond=0)
    recorded = {1: now + timedelta(days=1), 5: now - timedelta(hours=1)}
    recorded.update({i: now - timedelta(days=5 - i) for i in (2, 3, 4)})
    domo.store.add_dataset(
        "ds-skew", [version_record(i, recorded=recorded[i], rows=10) for i in range(1, 6)]
    )
    ws = stack_factory(
        HEADER + "DatasetVersionRetention('a', dataset_id='ds-skew', policy={'keep_last': 1})\n"
    )
    preview = ws.preview()
    assert "dataset ds-skew: delete 3 of 5 versions" in preview.stdout
    assert "warning: dataset ds-skew: FUTURE DATE: version 1 recorded up to " in preview.stdout
    assert "the latest upload (id 5) are protected" in preview.stdout
    assert calls(domo, "DELETE") == 0
    ws.up()
    assert remaining_ids(domo, "ds-skew") == [1, 5]


@pytest.mark.parametrize(
    ("variable", "value", "accepted"),
    [
        ("DOMO_REQUEST_DEADLINE", "abc", "give a number of seconds greater than 0"),
        ("DOMO_PLAN_CONCURRENCY", "²", "give a whole number from 1 to 64"),
    ],
)
def test_a_bad_setting_is_one_line_at_preview_not_a_traceback(
    domo: EmulatorServer, stack_factory: StackFactory, variable: str, value: str, accepted: str
) -> None:
    domo.store.add_dataset("ds-a", make_versions(3))
    ws = stack_factory(
        HEADER + "DatasetVersionRetention('a', dataset_id='ds-a', policy={'keep_last': 1})\n",
        env={variable: value},
    )
    preview = ws.preview(check=False)
    assert preview.returncode != 0
    assert f"{variable}={value!r} is not " in preview.output
    assert accepted in preview.output
    assert "Traceback" not in preview.output
    assert calls(domo, "GET") == 0


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_an_unreachable_instance_is_reported_on_instance_not_on_dataset_id(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    nowhere = f"http://127.0.0.1:{closed_port()}"
    ws = stack_factory(
        HEADER
        + f"DatasetVersionRetention('a', dataset_id='ds-a', instance={nowhere!r},"
        + f" token=pulumi.Output.secret({EMULATOR_TOKEN!r}), policy={{'keep_last': 1}})\n",
        env={"DOMO_REQUEST_DEADLINE": "1"},  # the connect retries stop at the deadline
    )
    preview = ws.preview(check=False)
    assert preview.returncode != 0
    assert "property instance value" in preview.output
    assert "has a problem: Could not reach Domo (connection refused" in preview.output
    assert "property dataset_id" not in preview.output
    assert "Traceback" not in preview.output


def test_an_unreachable_stack_instance_names_where_it_was_set(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    ws = stack_factory(
        HEADER + "DatasetVersionRetention('a', dataset_id='ds-a', policy={'keep_last': 1})\n",
        env={"DOMO_INSTANCE": f"http://127.0.0.1:{closed_port()}", "DOMO_REQUEST_DEADLINE": "1"},
    )
    preview = ws.preview(check=False)
    assert preview.returncode != 0
    assert "resource 'a' has a problem: Could not reach Domo (connection refused" in preview.output
    assert "The instance comes from stack config domo:instance or DOMO_INSTANCE." in (
        preview.output
    )
    assert "property dataset_id" not in preview.output


def test_localhost_and_127_0_0_1_are_one_instance_for_the_one_owner_rule(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(6))
    port = urlsplit(domo.url).port
    token = f"pulumi.Output.secret({EMULATOR_TOKEN!r})"
    ws = stack_factory(
        HEADER
        + "DatasetVersionRetention('by-ip', dataset_id='ds-a', policy={'keep_last': 2})\n"
        + f"DatasetVersionRetention('by-name', dataset_id='ds-a', token={token},"
        + f" instance='http://localhost:{port}', policy={{'keep_last': 4}})\n"
    )
    preview = ws.preview(check=False)
    assert preview.returncode != 0
    assert "resources 'by-ip' and 'by-name' both manage dataset ds-a" in preview.output
    assert calls(domo, "DELETE") == 0
    assert remaining_ids(domo, "ds-a") == [1, 2, 3, 4, 5, 6]


def test_pulumi_up_sends_a_throttled_delete_again_only_after_a_fresh_listing(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    # Issue 21, item 0, through the real engine: keep_last 2 over 1-5, one batch
    # [1, 2, 3]. The DELETE answers 429 (Retry-After: 1), and 4 and 5 are deleted
    # elsewhere meanwhile. Re-sent as it was, the batch would empty the dataset.
    domo.store.add_dataset("ds-a", make_versions(5))
    sent: list[list[int]] = []
    original = domo.store.handle

    def throttle_once(request: ApiRequest) -> ApiResponse:
        if request.method == "DELETE":
            sent.append(json.loads(request.body))
            if len(sent) == 1:
                domo.store.delete_versions("ds-a", [4, 5])  # another stack, during the wait
                body = error_body(429, "Too many requests")
                return ApiResponse(429, body, {"Retry-After": "1"})
        return original(request)

    domo.store.handle = throttle_once  # type: ignore[method-assign]
    ws = stack_factory(
        HEADER
        + "DatasetVersionRetention('a', dataset_id='ds-a', batch_size=3,"
        + " policy={'keep_last': 2})\n"
    )
    ws.up()
    assert remaining_ids(domo, "ds-a") == [2, 3], "the two newest when the DELETE went through"
    assert sent == [[1, 2, 3], [1]]


def test_domo_s_403_rate_limit_is_throttling_at_preview_and_up(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(5))
    original = domo.store.handle
    throttled: list[str] = []

    def rate_limit_each_method_once(request: ApiRequest) -> ApiResponse:
        if request.method not in throttled:
            throttled.append(request.method)
            body = error_body(403, "API Rate limit reached.")
            return ApiResponse(403, body, {"Retry-After": "0"})
        return original(request)

    domo.store.handle = rate_limit_each_method_once  # type: ignore[method-assign]
    ws = stack_factory(
        HEADER + "DatasetVersionRetention('a', dataset_id='ds-a', policy={'keep_last': 2})\n"
    )
    preview = ws.preview()
    assert "dataset ds-a: delete 3 of 5 versions" in preview.stdout
    ws.up()
    assert throttled == ["GET", "DELETE"]
    assert remaining_ids(domo, "ds-a") == [4, 5]
