"""Fixtures for end-to-end tests: the real Pulumi CLI against a live emulator.

`stack_factory(program)` gives an initialised `PulumiWorkspace` whose environment
points the provider at the test's emulator (DOMO_INSTANCE, DOMO_DEVELOPER_TOKEN).
Datasets are small and built per test with dates relative to now.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer
from domo_versions_iac.emulator.records import version_record
from domo_versions_iac.testing import PulumiWorkspace

RESOURCE_TYPE = "domo:DatasetVersionRetention"


def make_versions(
    count: int, *, days_apart: float = 1.0, statuses: dict[int, str] | None = None
) -> list[dict[str, Any]]:
    """`count` v2 records, ids 1..count, the newest recorded an hour ago."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    statuses = statuses or {}
    return [
        version_record(
            data_id,
            status=statuses.get(data_id, "success"),
            recorded=now - timedelta(hours=1) - timedelta(days=days_apart * (count - data_id)),
            rows=1000 * data_id,
            num_bytes=100_000 * data_id,
        )
        for data_id in range(1, count + 1)
    ]


StackFactory = Callable[..., PulumiWorkspace]


@pytest.fixture
def stack_factory(tmp_path: Path, domo: EmulatorServer) -> StackFactory:
    counter = iter(range(1000))

    def make(
        program: str,
        *,
        env: dict[str, str] | None = None,
        config: dict[str, str] | None = None,
        secrets: dict[str, str] | None = None,
    ) -> PulumiWorkspace:
        base = {"DOMO_INSTANCE": domo.url, "DOMO_DEVELOPER_TOKEN": EMULATOR_TOKEN}
        base.update(env or {})
        ws = PulumiWorkspace(tmp_path / f"ws{next(counter)}", program, env=base)
        ws.init_stack(config=config, secrets=secrets)
        return ws

    return make


def remaining_ids(domo: EmulatorServer, dataset_id: str) -> list[int]:
    return [record["dataId"] for record in domo.store.list_versions(dataset_id)]


def deleted_ids_sent(domo: EmulatorServer, dataset_id: str | None = None) -> list[int]:
    """Every id any DELETE asked for, in order."""
    return [
        data_id
        for record in domo.store.requests
        if record.method == "DELETE" and dataset_id in (None, record.dataset_id)
        for data_id in record.body_ids or []
    ]


def calls(domo: EmulatorServer, method: str, dataset_id: str | None = None) -> int:
    return sum(
        1
        for record in domo.store.requests
        if record.method == method and dataset_id in (None, record.dataset_id)
    )
