"""Datasets that went away or went quiet, through the real Pulumi CLI and the emulator."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from domo_versions_iac.emulator import EmulatorServer, Fault
from domo_versions_iac.emulator.records import version_record

from .conftest import RESOURCE_TYPE, StackFactory, calls, make_versions, remaining_ids

HEADER = "import pulumi\nfrom domo_versions_iac import DatasetVersionRetention\n"


def test_refresh_after_the_dataset_was_deleted_in_domo_says_so_and_what_to_do(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-gone", make_versions(4))
    ws = stack_factory(
        HEADER + "DatasetVersionRetention('a', dataset_id='ds-gone', policy={'keep_last': 2})\n"
    )
    ws.up()
    assert remaining_ids(domo, "ds-gone") == [3, 4]
    # Someone deletes the dataset in Domo: every request for it now answers 404.
    domo.store.inject_fault(Fault(status=404, count=1000, dataset_id="ds-gone"))
    domo.store.clear_requests()

    refresh = ws.refresh(check=False)
    assert refresh.returncode != 0, refresh.output
    assert (
        "Refresh cannot read the dataset's versions: Domo says the dataset does not exist "
        "(404 Not Found) for dataset ds-gone on " in refresh.output
    )
    assert "Refresh changed nothing." in refresh.output
    assert (
        "remove its DatasetVersionRetention from the program and run `pulumi up`" in refresh.output
    )
    assert "`pulumi state delete <urn>`" in refresh.output
    assert "Traceback" not in refresh.output
    assert calls(domo, "DELETE") == 0
    [resource] = ws.resources(RESOURCE_TYPE)
    assert resource["inputs"]["dataset_id"] == "ds-gone", "the stack still holds the resource"


def test_preview_warns_when_a_dataset_went_stale(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    newest = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=45)
    records = [
        version_record(data_id, recorded=newest - timedelta(days=10 - data_id), rows=10)
        for data_id in range(1, 11)
    ]
    domo.store.add_dataset("ds-stale", records)
    ws = stack_factory(
        HEADER
        + "DatasetVersionRetention('a', dataset_id='ds-stale', policy={'keep_within': '30d'})\n"
    )

    preview = ws.preview()
    assert "dataset ds-stale: delete 9 of 10 versions" in preview.stdout
    assert "warning: dataset ds-stale: STALE DATASET, uploads may have stopped" in preview.stdout
    assert "the newest version (id 10, recorded " in preview.stdout
    assert "is 45 days old; keep_within 30d keeps nothing and only protect_latest" in preview.stdout
    assert calls(domo, "DELETE") == 0


def test_refresh_of_a_hand_edited_kept_ids_says_so_and_records_it_again(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(5))
    ws = stack_factory(
        HEADER + "DatasetVersionRetention('a', dataset_id='ds-a', policy={'keep_last': 2})\n"
    )
    ws.up()
    state = ws.export_state()
    [resource] = [r for r in state["deployment"]["resources"] if r["type"].endswith(RESOURCE_TYPE)]
    assert resource["outputs"]["kept_ids"] == "4-5"
    resource["outputs"]["kept_ids"] = "0-9999999999"  # 10 billion ids: no listing holds that
    ws.import_state(state)
    domo.store.clear_requests()

    refresh = ws.refresh(check=False)
    assert refresh.returncode == 0, refresh.output
    assert (
        "dataset ds-a: the state's kept_ids cannot be read (too many ids: '0-9999999999' "
        "brings the count past 1,000,000, more than a listing holds): no drift could be "
        "found; kept_ids is recorded again from the listing"
    ) in refresh.output
    assert "Traceback" not in refresh.output and "MemoryError" not in refresh.output
    [resource] = ws.resources(RESOURCE_TYPE)
    assert resource["outputs"]["kept_ids"] == "4-5"
    assert calls(domo, "DELETE") == 0
    ws.preview("--expect-no-changes")
