"""The emulator's export of one version as CSV: rows, gzip, streaming, faults."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
import requests

from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer, EmulatorStore, Fault
from domo_versions_iac.emulator.export import ExportSpec, columns, export_csv

DATASET = "archive-ds"
HEADERS = {"X-DOMO-Developer-Token": EMULATOR_TOKEN}


def _seed() -> dict[str, object]:
    versions = [
        {
            "schemaId": schema,
            "dataId": data_id,
            "uploadStatus": "success",
            "recordedDate": f"2026-01-0{data_id}T00:00:00Z",
            "uploadCompletedDate": f"2026-01-0{data_id}T00:01:00Z",
            "numRows": rows,
            "numBytes": rows * 40,
        }
        for data_id, schema, rows in ((1, 1, 5000), (2, 2, 17), (3, 3, 0))
    ]
    return {"tokens": [EMULATOR_TOKEN], "datasets": {DATASET: {"versions": versions}}}


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorStore(_seed())) as server:
        yield server


def _url(emulator: EmulatorServer, version: int | str) -> str:
    return f"{emulator.url}/api/data/v2/datasources/{DATASET}/dataversions/{version}"


def _records(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))


def test_export_serves_num_rows_after_a_header_the_same_every_time(
    emulator: EmulatorServer,
) -> None:
    first = requests.get(_url(emulator, 1), headers=HEADERS, timeout=10)
    again = requests.get(_url(emulator, 1), headers=HEADERS, timeout=10)
    assert first.status_code == 200
    assert first.headers["Content-Type"].startswith("text/csv")
    assert first.content == again.content
    records = _records(first.content)
    assert records[0] == list(columns(1))
    assert len(records) == 1 + 5000
    # quoted line breaks make more lines than records: a line count would be wrong
    assert first.content.count(b"\n") > len(records)
    assert first.content == export_csv(ExportSpec(DATASET, 1, 1, 5000))


def test_schema_id_decides_the_columns(emulator: EmulatorServer) -> None:
    body = requests.get(_url(emulator, 2), headers=HEADERS, timeout=10).content
    assert _records(body)[0] == list(columns(2))
    assert len(columns(2)) != len(columns(1))
    assert len(_records(body)) == 18


def test_gzip_only_when_the_client_accepts_it(emulator: EmulatorServer) -> None:
    zipped = requests.get(_url(emulator, 1), headers=HEADERS, timeout=10, stream=True)
    raw = zipped.raw.read(decode_content=False)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert raw[:2] == b"\x1f\x8b"
    plain = requests.get(
        _url(emulator, 1), headers={**HEADERS, "Accept-Encoding": "identity"}, timeout=10
    )
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Transfer-Encoding"] == "chunked"
    assert plain.content == export_csv(ExportSpec(DATASET, 1, 1, 5000))


def test_unknown_version_and_bad_parameters(emulator: EmulatorServer) -> None:
    assert requests.get(_url(emulator, 9), headers=HEADERS, timeout=10).status_code == 404
    assert requests.get(_url(emulator, 1), timeout=10).status_code == 401
    bad = requests.get(_url(emulator, 1), headers=HEADERS, params={"rowLimit": "x"}, timeout=10)
    assert bad.status_code == 400
    limited = requests.get(
        _url(emulator, 1),
        headers=HEADERS,
        params={"rowLimit": "10", "excludeAppendedData": "true"},
        timeout=10,
    )
    assert len(_records(limited.content)) == 11


def test_cut_body_closes_the_connection_mid_stream(emulator: EmulatorServer) -> None:
    emulator.store.inject_fault(Fault(kind="cut_body", cut_after=500))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(_url(emulator, 1), headers=HEADERS, timeout=10)
    # the fault was used up: the next export is whole
    whole = requests.get(_url(emulator, 1), headers=HEADERS, timeout=10)
    assert len(_records(whole.content)) == 5001


def test_wrong_rows_and_export_only_faults(emulator: EmulatorServer) -> None:
    emulator.store.inject_fault(Fault(kind="wrong_rows", rows_delta=-3, version_id=2))
    emulator.store.inject_fault(Fault(status=503, endpoint="export"))
    listing = requests.get(
        f"{emulator.url}/api/data/v2/datasources/{DATASET}/dataversions",
        headers=HEADERS,
        timeout=10,
    )
    assert listing.status_code == 200  # export faults leave the listing alone
    assert requests.get(_url(emulator, 1), headers=HEADERS, timeout=10).status_code == 503
    body = requests.get(_url(emulator, 2), headers=HEADERS, timeout=10).content
    assert len(_records(body)) == 1 + 17 - 3
    assert emulator.store.requests[-1].version_id == 2


def test_export_fault_fields_are_checked() -> None:
    with pytest.raises(ValueError, match="endpoint"):
        Fault(endpoint="nope")
    assert Fault(kind="slow_body", chunk_delay=0.1).endpoint == "export"
