"""The two stack programs the engine benchmarks compare, and their workspaces.

* ``retention_program``: N DatasetVersionRetention resources, one per dataset, with
  ``keep_last = M // 2`` so that ``up`` has surplus to delete on every dataset.
* ``echo_program``: N EchoResource (a trivial dynamic resource, no HTTP): the floor,
  i.e. what the Pulumi engine, the Python language host and the dynamic-provider
  machinery cost on their own for the same number of resources.

Both build their resources in a loop so that the program text (and its parse time)
does not grow with N.
"""

from __future__ import annotations

from pathlib import Path

from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer
from domo_versions_iac.testing import PulumiWorkspace


def retention_program(
    ids: list[str], keep_last: int, *, batch_size: int | None = None, max_deletions: int = 1000
) -> str:
    policy = {"keep_last": keep_last, "max_deletions": max_deletions}
    extra = f", batch_size={batch_size}" if batch_size else ""
    return (
        "from domo_versions_iac import DatasetVersionRetention\n"
        f"IDS = {ids!r}\n"
        "for i, dataset_id in enumerate(IDS):\n"
        f"    DatasetVersionRetention(f'r{{i}}', dataset_id=dataset_id, policy={policy!r}{extra})\n"
    )


def echo_program(n: int) -> str:
    return (
        "from domo_versions_iac.testing import EchoResource\n"
        f"for i in range({n}):\n"
        "    EchoResource(f'e{i}', value=str(i))\n"
    )


def workspace(root: Path, program: str, emulator: EmulatorServer | None) -> PulumiWorkspace:
    """An initialised stack (own backend and PULUMI_HOME) pointed at the emulator."""
    env = {}
    if emulator is not None:
        env = {"DOMO_INSTANCE": emulator.url, "DOMO_DEVELOPER_TOKEN": EMULATOR_TOKEN}
    ws = PulumiWorkspace(root, program, env=env)
    ws.init_stack()
    return ws
