"""Generated emulator seeds for the benchmarks: N datasets x M versions, fast.

Records have the emulator's v2 shape (as ``tests/e2e/conftest.make_versions``): ids
1..M, one a day going back from an hour ago, all successful. The records of one M are
built once and shared (``EmulatorStore.add_dataset`` copies them), so seeding 1,000
datasets or one dataset of 100,000 versions takes well under a second or two.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer, EmulatorStore

BIG_DATASET_ID = "bench-big"


def dataset_ids(n: int, m: int) -> list[str]:
    """N stable dataset ids for an N x M grid point (valid Domo dataset ids)."""
    return [f"bench-{n}x{m}-{i:05d}" for i in range(n)]


@lru_cache(maxsize=8)
def _records(m: int, minutes_apart: int) -> tuple[dict[str, Any], ...]:
    now = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    step = timedelta(minutes=minutes_apart)
    done = timedelta(seconds=30)
    out = []
    for data_id in range(1, m + 1):
        recorded = now - step * (m - data_id)
        out.append(
            {
                "schemaId": 1,
                "dataId": data_id,
                "uploadStatus": "success",
                "recordedDate": recorded.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "uploadCompletedDate": (recorded + done).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "numRows": 1000 + data_id % 500,
                "numBytes": 50_000 + (data_id * 37) % 10_000,
            }
        )
    return tuple(out)


def versions(m: int, *, minutes_apart: int = 24 * 60) -> list[dict[str, Any]]:
    """M v2 records (shared dicts: the store deep-copies what it is given)."""
    return list(_records(m, minutes_apart))


def new_store() -> EmulatorStore:
    """An empty store that accepts the emulator token."""
    return EmulatorStore({"tokens": [EMULATOR_TOKEN], "datasets": {}})


def seed_grid(store: EmulatorStore, n: int, m: int) -> list[str]:
    """Add (or replace) N datasets of M versions; return their ids."""
    records = versions(m)
    ids = dataset_ids(n, m)
    for dataset_id in ids:
        store.add_dataset(dataset_id, records)
    return ids


def seed_big(store: EmulatorStore, m: int) -> str:
    """One dataset of M versions (one every 5 minutes: ~1 year for 100,000)."""
    store.add_dataset(BIG_DATASET_ID, versions(m, minutes_apart=5))
    return BIG_DATASET_ID


def start_emulator(latency: float) -> EmulatorServer:
    """A running emulator on 127.0.0.1 with an empty store and the given latency.

    The caller must ``stop()`` it (use try/finally)."""
    return EmulatorServer(new_store(), latency=latency).start()
