"""Archive before delete through the real Pulumi CLI: the emulator and a real S3 server.

What a user sees (preview, up's errors) and what is true afterwards: every version Domo
no longer lists has a verified archive in the bucket whose CSV is what Domo served; a
version whose export or store failed is still in Domo, and the next `pulumi up` finishes.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from s3_server import S3Endpoint

from domo_versions_iac.archive.archiver import (
    manifest_key,
    object_key,
    read_manifest,
    verify_manifest,
)
from domo_versions_iac.archive.store import ArchiveStore
from domo_versions_iac.domo.models import DataVersion
from domo_versions_iac.emulator import EmulatorServer, Fault
from domo_versions_iac.emulator.export import ExportSpec, export_csv

from .conftest import StackFactory, calls, make_versions, remaining_ids

PROGRAM = """\
import pulumi
from domo_versions_iac import DatasetVersionRetention

DatasetVersionRetention(
    "sales",
    dataset_id="ds-arch",
    policy={{"keep_last": 2}},
    batch_size=2,
    archive={{"to": "{to}", "exclude_appended_data": True}},
)
"""


def _values_of(data: Any, key: str) -> list[Any]:
    """Every value stored under ``key`` anywhere in a JSON document."""
    if isinstance(data, dict):
        found = [data[key]] if key in data else []
        return found + [v for item in data.values() for v in _values_of(item, key)]
    if isinstance(data, list):
        return [v for item in data for v in _values_of(item, key)]
    return []


def _records(domo: EmulatorServer) -> dict[int, DataVersion]:
    return {
        record["dataId"]: DataVersion.from_api(record)
        for record in domo.store.list_versions("ds-arch")
    }


def _assert_archived(domo: EmulatorServer, url: str, versions: dict[int, DataVersion]) -> None:
    """Each version has a manifest that verifies and a CSV equal to what Domo served."""
    store = ArchiveStore(url)
    instance = domo.url.split("://", 1)[1]
    for data_id, version in versions.items():
        manifest = read_manifest(store, manifest_key(instance, "ds-arch", data_id))
        assert manifest is not None, f"version {data_id} has no manifest"
        assert verify_manifest(store, manifest, version) is None
        stored = b"".join(store.read(object_key(instance, "ds-arch", data_id)))
        spec = ExportSpec("ds-arch", data_id, version.schema_id, version.num_rows)
        assert gzip.decompress(stored) == export_csv(spec)
        assert manifest["archived_by"]["update"] == "pulumi up"


def test_up_archives_every_version_before_deleting_it(
    domo: EmulatorServer, stack_factory: StackFactory, s3_endpoint: S3Endpoint
) -> None:
    domo.store.add_dataset("ds-arch", make_versions(6))
    before = _records(domo)
    url = f"s3://{s3_endpoint.bucket}/domo-versions"
    ws = stack_factory(PROGRAM.format(to=url), env=s3_endpoint.env)

    preview = ws.preview()
    assert (
        f"dataset ds-arch: delete 4 of 6 versions (archived first to {url}), 1.0 MB, 10.0 k rows"
        in preview.stdout
    ), preview.stdout
    assert not [r for r in domo.store.requests if r.version_id is not None], "preview exports"
    # the saved plan (what CI reviews and `up --plan` applies) carries the target
    saved = ws.root / "plan.json"
    ws.preview("--save-plan", str(saved))
    assert {"to": url, "exclude_appended_data": True} in _values_of(
        json.loads(saved.read_text()), "archive"
    )

    ws.up()
    assert remaining_ids(domo, "ds-arch") == [5, 6]
    _assert_archived(domo, url, {i: before[i] for i in (1, 2, 3, 4)})
    # a second up has nothing to do and exports nothing
    domo.store.clear_requests()
    ws.up()
    assert calls(domo, "DELETE") == 0
    assert not [r for r in domo.store.requests if r.version_id is not None]


def test_an_export_cut_half_way_keeps_that_version_and_the_next_up_finishes(
    domo: EmulatorServer, stack_factory: StackFactory, s3_endpoint: S3Endpoint
) -> None:
    domo.store.add_dataset("ds-arch", make_versions(6))
    before = _records(domo)
    # every attempt at version 3's export is cut half-way: retries cannot save it
    domo.store.inject_fault(Fault(kind="cut_body", cut_after=4000, version_id=3, count=100))
    url = f"s3://{s3_endpoint.bucket}/cut"
    ws = stack_factory(PROGRAM.format(to=url), env=s3_endpoint.env)

    failed = ws.up(check=False)
    assert failed.returncode != 0
    assert "not deleted: id 3: not archived, so not deleted: " in failed.stdout + failed.stderr
    assert remaining_ids(domo, "ds-arch") == [3, 5, 6]
    _assert_archived(domo, url, {i: before[i] for i in (1, 2, 4)})
    store = ArchiveStore(url)
    instance = domo.url.split("://", 1)[1]
    assert store.head(object_key(instance, "ds-arch", 3)) is None

    domo.store.clear_faults()
    ws.up()
    assert remaining_ids(domo, "ds-arch") == [5, 6]
    _assert_archived(domo, url, {i: before[i] for i in (1, 2, 3, 4)})


def test_a_store_that_fails_deletes_nothing_and_the_next_up_finishes(
    domo: EmulatorServer, stack_factory: StackFactory, s3_endpoint: S3Endpoint
) -> None:
    domo.store.add_dataset("ds-arch", make_versions(6))
    before = _records(domo)
    url = "s3://not-yet-created/domo-versions"
    ws = stack_factory(PROGRAM.format(to=url), env=s3_endpoint.env)

    failed = ws.up(check=False)
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    for data_id in (1, 2, 3, 4):
        assert f"not deleted: id {data_id}: not archived, so not deleted: " in output, output
    assert "could not store s3://not-yet-created/domo-versions/" in output
    assert remaining_ids(domo, "ds-arch") == [1, 2, 3, 4, 5, 6]
    assert calls(domo, "DELETE") == 0

    s3_endpoint.create_bucket("not-yet-created")
    ws.up()
    assert remaining_ids(domo, "ds-arch") == [5, 6]
    _assert_archived(domo, url, {i: before[i] for i in (1, 2, 3, 4)})


def test_the_stack_config_archives_every_resource_without_its_own(
    domo: EmulatorServer, stack_factory: StackFactory, tmp_path: Path
) -> None:
    domo.store.add_dataset("ds-arch", make_versions(4))
    before = _records(domo)
    target = (tmp_path / "stack-archive").as_uri()
    program = PROGRAM.format(to="unused").replace(
        '    archive={"to": "unused", "exclude_appended_data": True},\n', ""
    )
    ws = stack_factory(program, config={"domo:archive": target})
    preview = ws.preview()
    assert f"delete 2 of 4 versions (archived first to {target})" in preview.stdout
    ws.up()
    assert remaining_ids(domo, "ds-arch") == [3, 4]
    _assert_archived(domo, target, {i: before[i] for i in (1, 2)})
