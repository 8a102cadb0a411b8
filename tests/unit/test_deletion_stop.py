"""The delete loop's stop hook: asked before each batch, it ends the loop there."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from domo_versions_iac.deletion.loop import apply_retention
from domo_versions_iac.domo.client import DomoClient
from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer
from domo_versions_iac.emulator.records import version_record
from domo_versions_iac.policy import RetentionPolicy

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def ids(server: EmulatorServer) -> list[int]:
    return [r["dataId"] for r in server.store.list_versions("ds")]


def test_a_stop_reason_ends_the_loop_before_the_next_batch(domo: EmulatorServer) -> None:
    domo.store.add_dataset(
        "ds", [version_record(i, recorded=NOW - timedelta(days=10 - i)) for i in range(1, 11)]
    )
    asked: list[int] = []

    def should_stop() -> str | None:
        asked.append(len(domo.store.requests))
        return "the update was cancelled" if len(asked) > 2 else None

    client = DomoClient(domo.url, EMULATOR_TOKEN, timeout=5, backoff_base=0, sleep=lambda _: None)
    outcome = apply_retention(
        client,
        "ds",
        range(1, 8),
        RetentionPolicy(keep_last=3),
        index=False,
        batch_size=2,
        clock=lambda: NOW,
        should_stop=should_stop,
    )
    assert ids(domo) == [5, 6, 7, 8, 9, 10], "two batches went out, the third did not"
    assert outcome.stopped_by == "the update was cancelled"
    assert not outcome.complete
    assert outcome.not_deleted == dict.fromkeys(
        [5, 6, 7], "not attempted: the update stopped first"
    )
