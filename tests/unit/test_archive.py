"""Archiving versions: the emulator's export into a local directory and a real S3 server."""

from __future__ import annotations

import gzip
import json
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from s3_server import S3Endpoint

from domo_versions_iac.archive.archiver import (
    ArchiveError,
    ArchiveOptions,
    Archiver,
    CsvRecords,
    _gzip_stream,
    _Sent,
    manifest_key,
    object_key,
    read_manifest,
    verify_manifest,
)
from domo_versions_iac.archive.store import ArchiveStore, ArchiveStoreError, normalize_url
from domo_versions_iac.domo.client import DomoClient
from domo_versions_iac.domo.errors import ConfigurationError
from domo_versions_iac.domo.models import DataVersion
from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer, EmulatorStore, Fault
from domo_versions_iac.emulator.export import ExportSpec, export_csv

DATASET = "arch-ds"
ROWS = {1: 3000, 2: 10, 3: 0, 4: 25_000}


def _seed() -> dict[str, Any]:
    versions = [
        {
            "schemaId": 1 + data_id % 3,
            "dataId": data_id,
            "uploadStatus": "success",
            "recordedDate": f"2026-01-0{data_id}T00:00:00Z",
            "uploadCompletedDate": f"2026-01-0{data_id}T00:01:00Z",
            "numRows": rows,
            "numBytes": rows * 40,
        }
        for data_id, rows in ROWS.items()
    ]
    return {"tokens": [EMULATOR_TOKEN], "datasets": {DATASET: {"versions": versions}}}


@pytest.fixture
def domo() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorStore(_seed())) as server:
        yield server


@pytest.fixture
def client(domo: EmulatorServer) -> Iterator[DomoClient]:
    with DomoClient(domo.url, EMULATOR_TOKEN, backoff_base=0.01, sleep=lambda _: None) as c:
        yield c


def _listing(client: DomoClient) -> dict[int, DataVersion]:
    return {v.data_id: v for v in client.list_versions(DATASET)}


def _served(domo: EmulatorServer, data_id: int) -> bytes:
    record = next(v for v in domo.store.list_versions(DATASET) if v["dataId"] == data_id)
    return export_csv(ExportSpec(DATASET, data_id, record["schemaId"], record["numRows"]))


def _exports(domo: EmulatorServer) -> list[int]:
    return [r.version_id for r in domo.store.requests if r.version_id is not None]


def test_local_directory_archive_has_the_layout_the_csv_and_a_manifest(
    domo: EmulatorServer, client: DomoClient, tmp_path: Path
) -> None:
    archiver = Archiver(client, ArchiveOptions(tmp_path.as_uri()), archived_by="test update")
    version = _listing(client)[1]
    manifest = archiver.archive_version(DATASET, version)
    instance = client.instance.replace(":", "_")
    stored = tmp_path / instance / DATASET / "1.csv.gz"
    assert gzip.decompress(stored.read_bytes()) == _served(domo, 1)
    on_disk = json.loads((tmp_path / instance / DATASET / "1.manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["dataset_id"] == DATASET and manifest["version_id"] == 1
    assert manifest["rows"] == 3000 and manifest["schema_id"] == version.schema_id
    assert manifest["bytes"] == version.num_bytes
    assert manifest["recorded_date"] == "2026-01-01T00:00:00Z"
    assert manifest["object"]["size"] == stored.stat().st_size
    assert (
        manifest["object"]["sha256"]
        == __import__("hashlib").sha256(stored.read_bytes()).hexdigest()
    )
    assert manifest["archived_by"]["update"] == "test update"
    assert manifest["export"]["exclude_appended_data"] is True
    assert verify_manifest(archiver.store, manifest, version) is None


def test_an_archive_that_verifies_is_not_exported_again(
    domo: EmulatorServer, client: DomoClient, tmp_path: Path
) -> None:
    archiver = Archiver(client, ArchiveOptions(str(tmp_path)))
    listing = _listing(client)
    assert archiver.archive(DATASET, [listing[1], listing[2]]) == {1: None, 2: None}
    assert sorted(_exports(domo)) == [1, 2]
    again = Archiver(client, ArchiveOptions(str(tmp_path)))
    assert again.archive(DATASET, [listing[1], listing[2], listing[3]]) == {
        1: None,
        2: None,
        3: None,
    }
    assert sorted(_exports(domo)) == [1, 2, 3]  # only the new one was exported


def test_a_tampered_archive_is_exported_again(
    domo: EmulatorServer, client: DomoClient, tmp_path: Path
) -> None:
    archiver = Archiver(client, ArchiveOptions(str(tmp_path)))
    version = _listing(client)[2]
    manifest = archiver.archive_version(DATASET, version)
    path = tmp_path / manifest["object"]["key"]
    path.write_bytes(gzip.compress(b"row_id,note\n1,x\n"))
    assert "differs" in str(verify_manifest(archiver.store, manifest, version)) or "bytes" in str(
        verify_manifest(archiver.store, manifest, version)
    )
    archiver.archive_version(DATASET, version)
    assert _exports(domo) == [2, 2]
    assert gzip.decompress(path.read_bytes()) == _served(domo, 2)


def test_a_cut_export_is_retried_and_the_archive_is_whole(
    domo: EmulatorServer, client: DomoClient, tmp_path: Path
) -> None:
    domo.store.inject_fault(Fault(kind="cut_body", cut_after=20_000, version_id=4))
    archiver = Archiver(client, ArchiveOptions(str(tmp_path)))
    manifest = archiver.archive_version(DATASET, _listing(client)[4])
    assert _exports(domo) == [4, 4]
    data = (tmp_path / manifest["object"]["key"]).read_bytes()
    assert gzip.decompress(data) == _served(domo, 4)


def test_an_export_cut_every_time_leaves_no_archive(
    domo: EmulatorServer, client: DomoClient, tmp_path: Path
) -> None:
    domo.store.inject_fault(Fault(kind="cut_body", cut_after=5000, count=50))
    archiver = Archiver(client, ArchiveOptions(str(tmp_path)))
    result = archiver.archive(DATASET, [_listing(client)[4]])
    assert result[4] is not None and "Gave up" in result[4]
    assert not list(tmp_path.rglob("*.csv.gz")) and not list(tmp_path.rglob("*.json"))


def test_wrong_row_count_fails_and_leaves_nothing(
    domo: EmulatorServer, client: DomoClient, tmp_path: Path
) -> None:
    domo.store.inject_fault(Fault(kind="wrong_rows", rows_delta=-1, version_id=1))
    archiver = Archiver(client, ArchiveOptions(str(tmp_path)))
    listing = _listing(client)
    result = archiver.archive(DATASET, [listing[1], listing[2]])
    assert result[2] is None
    assert result[1] == "version 1: the export holds 2999 rows, the listing says 3000"
    assert not (tmp_path / object_key(client.instance, DATASET, 1)).exists()
    assert read_manifest(archiver.store, manifest_key(client.instance, DATASET, 1)) is None


def test_s3_archive_on_a_real_s3_server(
    domo: EmulatorServer, client: DomoClient, s3_endpoint: S3Endpoint
) -> None:
    url = f"s3://{s3_endpoint.bucket}/domo-versions/"
    archiver = Archiver(client, ArchiveOptions(url))
    listing = _listing(client)
    assert archiver.archive(DATASET, list(listing.values())) == dict.fromkeys(ROWS)
    store = ArchiveStore(url)
    keys = sorted(obj.key for obj in store.objects())
    instance = client.instance.replace(":", "_")
    assert keys == sorted(
        f"{instance}/{DATASET}/{i}.{kind}" for i in ROWS for kind in ("csv.gz", "manifest.json")
    )
    manifest = read_manifest(store, manifest_key(client.instance, DATASET, 4))
    assert manifest is not None and verify_manifest(store, manifest, listing[4]) is None
    data = b"".join(store.read(object_key(client.instance, DATASET, 4)))
    assert gzip.decompress(data) == _served(domo, 4)


def test_a_store_that_fails_names_the_version(
    domo: EmulatorServer, client: DomoClient, s3_endpoint: S3Endpoint
) -> None:
    archiver = Archiver(client, ArchiveOptions("s3://no-such-bucket/x"))
    result = archiver.archive(DATASET, [_listing(client)[2]])
    assert result[2] is not None and "could not" in result[2] and "no-such-bucket" in result[2]


def test_a_plain_export_is_compressed_as_it_streams() -> None:
    class Plain:
        content_encoding = ""

        def __iter__(self) -> Iterator[bytes]:
            yield b'a,b\n1,"x\n'
            yield b'y"\n2,z'

    sent = _Sent()
    data = b"".join(_gzip_stream(Plain(), sent))
    assert gzip.decompress(data) == b'a,b\n1,"x\ny"\n2,z'
    assert sent.csv.records == 3 and sent.size == len(data)


def test_a_cut_gzip_body_is_refused() -> None:
    class Cut:
        content_encoding = "gzip"

        def __iter__(self) -> Iterator[bytes]:
            yield gzip.compress(b"a\n" * 1000)[:-10]

    with pytest.raises(ArchiveError, match="cut short"):
        b"".join(_gzip_stream(Cut(), _Sent()))


def test_csv_records_count_quoted_line_breaks_across_chunks() -> None:
    counter = CsvRecords()
    for piece in (b'h1,h2\n1,"a', b"\n", b'b""', b'c"\n2,', b"x"):
        counter.feed(piece)
    assert counter.records == 3
    two = CsvRecords()
    two.feed(b"h\n1\n")
    assert two.records == 2
    assert zlib.crc32(b"") == 0  # (zlib is the same one the archive uses)


def test_urls_and_the_missing_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert normalize_url(str(tmp_path)) == tmp_path.as_uri()
    assert normalize_url("s3://bucket/prefix/") == "s3://bucket/prefix"
    with pytest.raises(ConfigurationError, match="ftp"):
        normalize_url("ftp://x/y")
    monkeypatch.setitem(sys.modules, "obstore", None)
    with pytest.raises(ConfigurationError, match=r"domo-versions-iac\[archive\]"):
        ArchiveStore(str(tmp_path))


def test_store_errors_are_archive_store_errors(tmp_path: Path) -> None:
    store = ArchiveStore(str(tmp_path))
    assert store.head("nothing") is None
    with pytest.raises(ArchiveStoreError, match="does not exist"):
        b"".join(store.read("nothing"))


def test_archive_options_from_the_input() -> None:
    assert ArchiveOptions.from_value(None) is None
    assert ArchiveOptions.from_value("s3://b/p") == ArchiveOptions("s3://b/p")
    assert ArchiveOptions.from_value(
        {"to": "s3://b/p", "exclude_appended_data": False}
    ) == ArchiveOptions("s3://b/p", False)
    with pytest.raises(ValueError, match="unknown"):
        ArchiveOptions.from_value({"to": "s3://b", "bucket": 1})
    with pytest.raises(ValueError, match=r"archive\.to"):
        ArchiveOptions.from_value({"exclude_appended_data": True})


def test_csv_records_agree_with_the_csv_module_on_rfc4180_text() -> None:
    import csv
    import io
    import random

    rand = random.Random(2)
    for _ in range(1500):
        rows = []
        for _ in range(rand.randrange(1, 6)):
            fields = []
            for _ in range(rand.randrange(1, 4)):
                if rand.random() < 0.5:
                    fields.append(rand.choice(["", "a", "bc"]))
                else:
                    content = "".join(
                        rand.choice(["x", ",", '"', "\n", "\r\n"]) for _ in range(rand.randrange(6))
                    )
                    fields.append('"' + content.replace('"', '""') + '"')
            rows.append(",".join(fields))
        text = rand.choice(["\n", "\r\n"]).join(rows) + rand.choice(["", "\n"])
        expected = len(list(csv.reader(io.StringIO(text, newline=""))))
        data = text.encode()
        counter = CsvRecords()
        cuts = sorted(rand.randrange(len(data) + 1) for _ in range(3))
        for start, stop in zip([0, *cuts], [*cuts, len(data)], strict=True):
            counter.feed(data[start:stop])
        assert counter.records == expected, text


def test_gunzip_yields_bounded_pieces_across_members() -> None:
    from domo_versions_iac.archive.archiver import Gunzip

    zeros = gzip.compress(b"\0" * (5 * Gunzip.PIECE)) + gzip.compress(b"tail\n")
    gunzip = Gunzip()
    pieces = [
        piece for i in range(0, len(zeros), 4096) for piece in gunzip.feed(zeros[i : i + 4096])
    ]
    assert max(map(len, pieces)) <= Gunzip.PIECE
    assert b"".join(pieces) == b"\0" * (5 * Gunzip.PIECE) + b"tail\n"
    assert gunzip.complete
    cut = Gunzip()
    list(cut.feed(zeros[:100]))
    assert not cut.complete
