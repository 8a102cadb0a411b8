"""DomoClient.export_version against the emulator: streamed, raw, retried like a read."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from domo_versions_iac.domo.client import DomoClient
from domo_versions_iac.domo.errors import DeadlineExceededError, RateLimitedError
from domo_versions_iac.domo.transport import RawBody
from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer, EmulatorStore, Fault
from domo_versions_iac.emulator.export import ExportSpec, export_csv

DATASET = "export-ds"


def _seed() -> dict[str, Any]:
    version = {
        "schemaId": 2,
        "dataId": 1,
        "uploadStatus": "success",
        "recordedDate": "2026-01-01T00:00:00Z",
        "uploadCompletedDate": "2026-01-01T00:01:00Z",
        "numRows": 20_000,
        "numBytes": 800_000,
    }
    return {"tokens": [EMULATOR_TOKEN], "datasets": {DATASET: {"versions": [version]}}}


EXPECTED = export_csv(ExportSpec(DATASET, 1, 2, 20_000))


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorStore(_seed())) as server:
        yield server


class Collect:
    """A consumer that keeps what each attempt received (a test only: never whole in real use)."""

    def __init__(self) -> None:
        self.attempts: list[bytes] = []
        self.encodings: list[str] = []

    def __call__(self, body: RawBody) -> None:
        self.encodings.append(body.content_encoding)
        self.attempts.append(b"")
        for chunk in body:
            self.attempts[-1] += chunk

    def csv(self) -> bytes:
        return zlib.decompress(self.attempts[-1], 47)


def _client(emulator: EmulatorServer, sleeps: list[float]) -> DomoClient:
    return DomoClient(
        emulator.url, EMULATOR_TOKEN, timeout=5.0, backoff_base=0.01, sleep=sleeps.append
    )


def test_export_hands_over_the_gzip_body_as_sent(emulator: EmulatorServer) -> None:
    got = Collect()
    with _client(emulator, []) as client:
        client.export_version(DATASET, 1, got)
    assert got.encodings == ["gzip"]
    assert got.attempts[0][:2] == b"\x1f\x8b"  # still compressed: stored as it came
    assert got.csv() == EXPECTED
    assert emulator.store.requests[-1].version_id == 1


def test_a_cut_body_is_asked_again_and_the_consumer_starts_over(
    emulator: EmulatorServer,
) -> None:
    emulator.store.inject_fault(Fault(kind="cut_body", cut_after=3000))
    got = Collect()
    with _client(emulator, []) as client:
        client.export_version(DATASET, 1, got)
    assert len(got.attempts) == 2
    assert len(got.attempts[0]) < len(got.attempts[1])
    assert got.csv() == EXPECTED


def test_429_waits_retry_after_then_gives_up_within_the_attempts(
    emulator: EmulatorServer,
) -> None:
    emulator.store.inject_fault(Fault(status=429, retry_after="2", endpoint="export"))
    emulator.store.inject_fault(Fault(status=503, endpoint="export"))
    sleeps: list[float] = []
    got = Collect()
    with _client(emulator, sleeps) as client:
        client.export_version(DATASET, 1, got)
    assert sleeps[0] == 2.0 and len(sleeps) == 2
    assert got.csv() == EXPECTED
    emulator.store.inject_fault(Fault(status=429, endpoint="export", count=10))
    with _client(emulator, []) as client, pytest.raises(RateLimitedError):
        client.export_version(DATASET, 1, Collect())


def test_the_export_deadline_cuts_a_slow_body(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOMO_EXPORT_DEADLINE", "0.5")
    emulator.store.inject_fault(Fault(kind="slow_body", chunk_delay=0.2, count=5))
    with _client(emulator, []) as client, pytest.raises(DeadlineExceededError, match=r"0\.5 s"):
        client.export_version(DATASET, 1, Collect())


def test_export_parameters_are_sent(emulator: EmulatorServer) -> None:
    got = Collect()
    with _client(emulator, []) as client:
        client.export_version(DATASET, 1, got, exclude_appended_data=False, row_limit=5)
        with pytest.raises(ValueError, match="version id"):
            client.export_version(DATASET, -1, got)
    assert got.csv().count(b"\n") >= 6
    assert len(got.csv().splitlines()) < 20
