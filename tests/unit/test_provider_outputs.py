"""The resource's outputs: sizes that do not grow with versions, and drift on refresh.

Each test drives the provider the way the engine does (create, then read for a refresh)
against the emulator and reads what would land in the state.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from domo_versions_iac.domo.models import DataVersion
from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer
from domo_versions_iac.emulator.records import version_record
from domo_versions_iac.provider.dynamic import DatasetVersionRetentionProvider
from domo_versions_iac.provider.engine_errors import ApplyError

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def records(count: int, *, rows: int = 1000) -> list[dict[str, Any]]:
    """Ids 1..count, one a day, the newest an hour ago; version i has i * rows rows."""
    return [
        version_record(
            data_id,
            recorded=NOW - timedelta(hours=1, days=count - data_id),
            rows=rows * data_id,
            num_bytes=100 * data_id,
        )
        for data_id in range(1, count + 1)
    ]


def applied(domo: EmulatorServer, count: int, keep_last: int) -> dict[str, Any]:
    """The outputs of a create that deletes all but the newest KEEP_LAST of COUNT."""
    domo.store.add_dataset("ds", records(count))
    props = {
        "dataset_id": "ds",
        "policy": {"keep_last": keep_last, "max_deletions": count},
        "instance": domo.url,
        "token": EMULATOR_TOKEN,
        "batch_size": 1000,
        "planned_deletions": f"1-{count - keep_last}",
    }
    outs = DatasetVersionRetentionProvider().create(props).outs
    assert outs is not None
    return outs


def refreshed(outs: dict[str, Any]) -> dict[str, Any]:
    result = DatasetVersionRetentionProvider().read("ds", outs)
    assert result.outs is not None
    refreshed_outs: dict[str, Any] = result.outs
    return refreshed_outs


def test_outputs_give_counts_totals_and_id_ranges(domo: EmulatorServer) -> None:
    outs = applied(domo, 10, keep_last=3)
    assert outs["kept_count"] == 3
    assert outs["kept_rows"] == 1000 * (8 + 9 + 10)
    assert outs["kept_bytes"] == 100 * (8 + 9 + 10)
    assert outs["kept_ids"] == "8-10"
    assert outs["newest_kept_id"] == 10
    assert outs["newest_kept_recorded_date"] == (NOW - timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert outs["deleted_count"] == 7
    assert outs["deleted_rows"] == 1000 * sum(range(1, 8))
    assert outs["deleted_bytes"] == 100 * sum(range(1, 8))
    assert outs["deleted_ids"] == "1-7"
    assert outs["planned_deletions"] == "1-7", "what the preview showed"
    assert outs["applied_summary"] == "deleted 7 versions, 2.8 kB, 28.0 k rows; 3 listed"
    assert outs["left_ids"] == ""
    assert "versions" not in outs and "deleted_versions" not in outs
    assert [v["dataId"] for v in domo.store.list_versions("ds")] == [8, 9, 10]


def test_outputs_of_1000_versions_with_500_deleted_fit_in_2_kb(domo: EmulatorServer) -> None:
    outs = applied(domo, 1000, keep_last=500)
    assert (outs["kept_ids"], outs["deleted_ids"]) == ("501-1000", "1-500")
    assert (outs["kept_count"], outs["deleted_count"]) == (500, 500)
    size = len(json.dumps(outs))
    assert size < 2048, f"outputs take {size} bytes: {outs}"


def test_refresh_without_drift_changes_nothing(domo: EmulatorServer) -> None:
    outs = applied(domo, 10, keep_last=3)
    assert refreshed(outs) == outs


def test_refresh_names_the_ids_removed_and_added_outside_pulumi(
    domo: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    outs = applied(domo, 10, keep_last=4)
    capsys.readouterr()
    domo.store.delete_versions("ds", [7, 8])
    domo.store.add_version("ds")  # id 11
    after = refreshed(outs)
    message = "dataset ds: changed outside Pulumi: removed 7-8; added 11"
    assert message in capsys.readouterr().out
    assert after["kept_ids"] == "9-11" and after["kept_count"] == 3
    assert after["newest_kept_id"] == 11
    assert after["__drift"].endswith("removed 7-8; added 11")
    assert after["deleted_ids"] == "1-6", "refresh does not rewrite what the update deleted"


def test_refresh_notices_metadata_changes_that_keep_the_ids(
    domo: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    outs = applied(domo, 5, keep_last=5)
    capsys.readouterr()
    domo.store.add_dataset("ds", records(5, rows=7))  # same ids, other row counts
    after = refreshed(outs)
    assert "changed outside Pulumi: status, dates, rows or bytes" in capsys.readouterr().out
    assert after["kept_rows"] == 7 * 15 and after["kept_ids"] == "1-5"
    assert after["listing_digest"] != outs["listing_digest"]


def legacy_state(outs: dict[str, Any], listed: list[dict[str, Any]]) -> dict[str, Any]:
    """Outputs as earlier releases stored them: every version, with metadata."""
    old = {k: v for k, v in outs.items() if not k.startswith(("kept_", "newest_", "listing_"))}
    del old["deleted_count"], old["deleted_ids"]
    old["versions"] = [DataVersion.from_api(r).to_dict() for r in reversed(listed)]
    old["deleted_versions"] = [DataVersion.from_api(r).to_dict() for r in records(10)[:7]]
    return old


def test_refresh_rewrites_state_of_earlier_releases_without_reporting_drift(
    domo: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    outs = applied(domo, 10, keep_last=3)
    old = legacy_state(outs, domo.store.list_versions("ds"))
    capsys.readouterr()
    after = refreshed(old)
    assert "changed outside Pulumi" not in capsys.readouterr().out
    assert "versions" not in after and "deleted_versions" not in after
    assert "__drift" not in after
    for key in ("kept_ids", "kept_count", "kept_rows", "newest_kept_id", "listing_digest"):
        assert after[key] == outs[key], key
    assert (after["deleted_ids"], after["deleted_count"]) == ("1-7", 7)


def test_refresh_of_state_of_earlier_releases_still_reports_drift(
    domo: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    outs = applied(domo, 10, keep_last=3)
    old = legacy_state(outs, domo.store.list_versions("ds"))
    domo.store.delete_versions("ds", [9])
    capsys.readouterr()
    after = refreshed(old)
    assert "changed outside Pulumi: removed 9" in capsys.readouterr().out
    assert after["kept_ids"] == "8, 10" and "versions" not in after


def test_the_next_up_rewrites_state_of_earlier_releases(domo: EmulatorServer) -> None:
    outs = applied(domo, 10, keep_last=3)
    old = legacy_state(outs, domo.store.list_versions("ds"))
    news = {key: outs[key] for key in ("dataset_id", "policy", "instance", "batch_size")}
    news["planned_deletions"] = ""
    provider = DatasetVersionRetentionProvider()
    assert provider.diff("ds", old, news).changes, "per-version outputs of old state: update"
    assert not provider.diff("ds", outs, news).changes, "current outputs, nothing to do: none"


@pytest.mark.parametrize(
    ("planned", "expected"),
    [
        ("7, 1-3", "1-3, 7"),  # normalized: ascending ranges
        ("", ""),
        ([3.0, 1.0, 2.0], "1-3"),  # a list, as state of an earlier release held it
        ("3-1", None),
        ("all", None),
        (None, None),  # not made by the program
    ],
)
def test_check_reads_planned_deletions_as_ranges(planned: Any, expected: str | None) -> None:
    news = {
        "dataset_id": "ds",
        "policy": {"keep_last": 3},
        "instance": "http://127.0.0.1:9",
        "token": EMULATOR_TOKEN,
        "plan_summary": "",
    }
    if planned is not None:
        news["planned_deletions"] = planned
    result = DatasetVersionRetentionProvider().check({}, news)
    if expected is None:
        assert [f.property for f in result.failures] == ["planned_deletions"]
        assert "DatasetVersionRetention in the program" in result.failures[0].reason
    else:
        assert result.failures == []
        assert result.inputs["planned_deletions"] == expected


def test_a_stale_listing_after_the_deletions_does_not_make_them_zero(
    domo: EmulatorServer,
) -> None:
    # Issue 21: with a stale listing after the deletions, the error said "deleted 0
    # versions" although all 7 were deleted.
    domo.store.add_dataset("ds", records(9))
    original = domo.store.handle
    served: list[Any] = []

    def stale_after_delete(request: Any) -> Any:
        response = original(request)
        if request.method == "GET":
            served.append(response)
            return served[0]
        return response

    domo.store.handle = stale_after_delete  # type: ignore[method-assign]
    props = {
        "dataset_id": "ds",
        "policy": {"keep_last": 2},
        "instance": domo.url,
        "token": EMULATOR_TOKEN,
        "planned_deletions": "1-7",
    }
    with pytest.raises(ApplyError) as caught:
        DatasetVersionRetentionProvider().create(props)
    message = str(caught.value)
    assert "deleted 7 versions (ids 1, 2, 3, 4, 5, 6, 7)" in message
    assert "Domo still lists ids 1, 2, 3, 4, 5, 6, 7 that this update deleted" in message
    assert [v["dataId"] for v in domo.store.list_versions("ds")] == [8, 9]
