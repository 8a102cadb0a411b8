"""Fixtures for end-to-end tests: the real Pulumi CLI against a live emulator.

`stack_factory(program)` gives an initialised `PulumiWorkspace` whose environment
points the provider at the test's emulator (DOMO_INSTANCE, DOMO_DEVELOPER_TOKEN). Its
stack keeps secrets with the worker's KMS key on loopback (tests/s3_server.py
``kms_secrets``: no passphrase key derivation in every command).
Datasets are small and built per test with dates relative to now.

`empty_stacks.init(ws)` creates the stack with one real `pulumi stack init` per
project name and worker, then copies that empty stack into later workspaces: a stack
init costs a third of a preview's CPU, and no test here is about creating stacks.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from s3_server import KmsSecrets

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


class EmptyStacks:
    """Empty stacks made by a real `pulumi stack init`, one per project name and stack.

    `init(ws)` copies one into a new workspace as `pulumi stack init` would have left
    it: the backend's files (no path in them), `Pulumi.<stack>.yaml` (the secrets
    salt) and the stack selection in PULUMI_HOME, whose file name holds the SHA-1 of
    the project file's path (as the CLI names it). Config values are set by the CLI.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: dict[tuple[str, str], Path] = {}

    def init(
        self,
        ws: PulumiWorkspace,
        config: dict[str, str] | None = None,
        secrets: dict[str, str] | None = None,
    ) -> None:
        project_file = ws.project_dir.resolve() / "Pulumi.yaml"
        name = str(yaml.safe_load(project_file.read_text())["name"])
        settings = f"Pulumi.{ws.stack}.yaml"
        empty = self.made.get((name, ws.stack))
        if empty is None:
            ws.init_stack()
            empty = self.root / f"{name}-{ws.stack}"
            shutil.copytree(ws.backend / ".pulumi", empty / "backend" / ".pulumi")
            shutil.copyfile(ws.project_dir / settings, empty / settings)
            self.made[(name, ws.stack)] = empty
        else:
            shutil.copytree(empty / "backend", ws.backend, dirs_exist_ok=True)
            shutil.copyfile(empty / settings, ws.project_dir / settings)
            digest = hashlib.sha1(str(project_file).encode()).hexdigest()
            selection = {"stacks": {f"file://{ws.backend}": f"organization/{name}/{ws.stack}"}}
            workspaces = ws.home / "workspaces"
            workspaces.mkdir(parents=True, exist_ok=True)
            (workspaces / f"{name}-{digest}-workspace.json").write_text(json.dumps(selection))
        for key, value in (config or {}).items():
            ws.run("config", "set", key, value)
        for key, value in (secrets or {}).items():
            ws.run("config", "set", "--secret", key, value)


@pytest.fixture(scope="session")
def empty_stacks(tmp_path_factory: pytest.TempPathFactory) -> EmptyStacks:
    """Per worker (xdist runs a session per worker): the empty stacks made so far."""
    return EmptyStacks(tmp_path_factory.mktemp("empty-stacks"))


@pytest.fixture
def stack_factory(
    tmp_path: Path, domo: EmulatorServer, empty_stacks: EmptyStacks, kms_secrets: KmsSecrets
) -> StackFactory:
    counter = iter(range(1000))

    def make(
        program: str,
        *,
        env: dict[str, str] | None = None,
        config: dict[str, str] | None = None,
        secrets: dict[str, str] | None = None,
    ) -> PulumiWorkspace:
        base = {
            **kms_secrets.env,
            "DOMO_INSTANCE": domo.url,
            "DOMO_DEVELOPER_TOKEN": EMULATOR_TOKEN,
        }
        base.update(env or {})
        ws = PulumiWorkspace(
            tmp_path / f"ws{next(counter)}",
            program,
            env=base,
            secrets_provider=kms_secrets.secrets_provider,
        )
        empty_stacks.init(ws, config=config, secrets=secrets)
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
