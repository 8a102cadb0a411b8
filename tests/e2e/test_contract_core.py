"""Issue 21 through the real Pulumi CLI: a skewed clock, bad settings, the instance input."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from domo_versions_iac.emulator import EmulatorServer
from domo_versions_iac.emulator.records import version_record

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
