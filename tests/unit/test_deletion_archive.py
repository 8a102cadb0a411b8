"""The delete loop with an archive: archived and verified first, or not deleted."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from domo_versions_iac.archive.archiver import ArchiveOptions, Archiver, archive_hook, read_manifest
from domo_versions_iac.deletion.loop import apply_retention
from domo_versions_iac.domo.client import DomoClient
from domo_versions_iac.domo.models import DataVersion
from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer, Fault
from domo_versions_iac.emulator.export import ExportSpec, export_csv
from domo_versions_iac.emulator.records import version_record
from domo_versions_iac.policy import RetentionPolicy

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def records(n: int) -> list[dict[str, Any]]:
    return [
        version_record(i, recorded=NOW - timedelta(days=n - i), rows=100 * i, num_bytes=10 * i)
        for i in range(1, n + 1)
    ]


def client_for(server: EmulatorServer) -> DomoClient:
    return DomoClient(server.url, EMULATOR_TOKEN, timeout=5, backoff_base=0, sleep=lambda _: None)


def ids(server: EmulatorServer) -> list[int]:
    return [r["dataId"] for r in server.store.list_versions("ds")]


class FakeArchive:
    """Archives by id, failing the ids in ``fail``; checks each id is still in Domo."""

    def __init__(self, server: EmulatorServer, fail: dict[int, str]) -> None:
        self.server = server
        self.fail = fail
        self.calls: list[list[int]] = []
        self.verified: set[int] = set()

    def __call__(self, listing: Sequence[DataVersion], pending: Sequence[int]) -> dict[int, Any]:
        self.calls.append(list(pending))
        present = set(ids(self.server))
        assert set(pending) <= present, "archived after its DELETE"
        self.verified.update(i for i in pending if i not in self.fail)
        return {i: self.fail.get(i) for i in pending}


def run(server: EmulatorServer, archive: Any, *, batch_size: int = 100, keep: int = 2) -> Any:
    return apply_retention(
        client_for(server),
        "ds",
        list(range(1, 6 - keep + 1)),
        RetentionPolicy(keep_last=keep),
        index=False,
        batch_size=batch_size,
        clock=lambda: NOW,
        archive=archive,
    )


def deleted_ids(server: EmulatorServer) -> list[list[int]]:
    return [r.body_ids or [] for r in server.store.requests if r.method == "DELETE"]


def test_a_version_whose_archive_failed_stays_and_is_named(domo: EmulatorServer) -> None:
    domo.store.add_dataset("ds", records(6))
    archive = FakeArchive(domo, {2: "the store refused it"})
    outcome = run(domo, archive)
    assert ids(domo) == [2, 5, 6]
    assert [v.data_id for v in outcome.deleted] == [1, 3, 4]
    assert outcome.not_deleted == {2: "not archived, so not deleted: the store refused it"}
    assert not outcome.complete
    # every id sent in a DELETE had been archived and verified before
    for batch in deleted_ids(domo):
        assert set(batch) <= archive.verified


def test_without_a_hook_nothing_is_archived_and_all_surplus_goes(domo: EmulatorServer) -> None:
    domo.store.add_dataset("ds", records(6))
    outcome = run(domo, None)
    assert ids(domo) == [5, 6] and outcome.complete


def test_a_batch_whose_archives_all_failed_does_not_hide_the_next(domo: EmulatorServer) -> None:
    domo.store.add_dataset("ds", records(6))
    archive = FakeArchive(domo, {1: "cut", 2: "cut"})
    outcome = run(domo, archive, batch_size=2)
    assert ids(domo) == [1, 2, 5, 6]
    assert archive.calls[:2] == [[1, 2], [3, 4]]
    assert set(outcome.not_deleted) == {1, 2}


def test_archives_are_made_batch_by_batch_before_each_delete(domo: EmulatorServer) -> None:
    domo.store.add_dataset("ds", records(6))
    archive = FakeArchive(domo, {})
    outcome = run(domo, archive, batch_size=1)
    assert outcome.complete and ids(domo) == [5, 6]
    assert archive.calls == [[1], [2], [3], [4]]
    assert deleted_ids(domo) == [[1], [2], [3], [4]]


class SlowArchive(FakeArchive):
    """While it archives, someone else deletes the two newest versions: archiving takes
    time, and the listing taken before it is stale by the time it ends."""

    def __call__(self, listing: Sequence[DataVersion], pending: Sequence[int]) -> dict[int, Any]:
        answer = super().__call__(listing, pending)
        if len(self.calls) == 1:
            newest = ids(self.server)[-2:]
            self.server.store.delete_versions("ds", newest, index=False)
        return answer


def test_after_archiving_the_gate_decides_on_a_fresh_listing(domo: EmulatorServer) -> None:
    domo.store.add_dataset("ds", records(5))  # keep_last 2, the preview showed 1, 2, 3
    outcome = run(domo, SlowArchive(domo, {}), keep=2)
    # 4 and 5 went elsewhere while 1-3 were archived: 2 and 3 are now the last two
    assert ids(domo) == [2, 3]
    assert deleted_ids(domo) == [[1]]
    assert [v.data_id for v in outcome.deleted] == [1]


def test_the_real_archiver_proves_each_deleted_version(
    domo: EmulatorServer, tmp_path: Path
) -> None:
    domo.store.add_dataset("ds", records(6))
    domo.store.inject_fault(Fault(kind="wrong_rows", rows_delta=1, version_id=3))
    client = client_for(domo)
    archiver = Archiver(client, ArchiveOptions(str(tmp_path)))
    outcome = run(domo, archive_hook(archiver, "ds"))
    assert ids(domo) == [3, 5, 6]
    assert outcome.not_deleted == {
        3: "not archived, so not deleted: version 3: the export holds 301 rows, "
        "the listing says 300"
    }
    instance = client.instance.replace(":", "_")
    for data_id in (1, 2, 4):
        key = f"{instance}/ds/{data_id}.manifest.json"
        manifest = read_manifest(archiver.store, key)
        assert manifest is not None and manifest["rows"] == 100 * data_id
        stored = (tmp_path / instance / "ds" / f"{data_id}.csv.gz").read_bytes()
        spec = ExportSpec("ds", data_id, manifest["schema_id"], 100 * data_id)
        assert gzip.decompress(stored) == export_csv(spec)
    # the next run archives 3 (the fault was used up) and deletes it
    again = run(domo, archive_hook(archiver, "ds"))
    assert again.complete and ids(domo) == [5, 6]
