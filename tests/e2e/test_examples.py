"""examples/policy-fleet through examples/ci's reviewed-plan steps, against the emulator.

The other runs of the examples: `make demo` (tests/e2e/test_demo.py) previews and applies
examples/basic and checks what remains; each example README is followed as written
(tests/e2e/test_example_readmes.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from domo_versions_iac.emulator import (
    BUDGET_DATASET_ID,
    EMULATOR_TOKEN,
    EVENTS_DATASET_ID,
    SALES_DATASET_ID,
    EmulatorServer,
)
from domo_versions_iac.testing import PulumiWorkspace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def seeded_emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer().start()  # the default seed, as in the demo
    yield server
    server.stop()


def example_stack(
    tmp_path: Path, name: str, emulator: EmulatorServer, config: dict[str, str] | None = None
) -> PulumiWorkspace:
    env = {"DOMO_INSTANCE": emulator.url, "DOMO_DEVELOPER_TOKEN": EMULATOR_TOKEN}
    ws = PulumiWorkspace(tmp_path, source_dir=EXAMPLES / name, env=env)
    ws.init_stack(config=config)
    return ws


def ids(emulator: EmulatorServer, dataset_id: str) -> list[int]:
    return [v["dataId"] for v in emulator.store.list_versions(dataset_id)]


@pytest.mark.parametrize("skip_checkpoints", [False, True], ids=["checkpoints", "skip-checkpoints"])
def test_policy_fleet_through_the_ci_workflows_reviewed_plan_steps(
    tmp_path: Path, seeded_emulator: EmulatorServer, skip_checkpoints: bool
) -> None:
    """examples/ci's apply job on examples/policy-fleet, with deletions: exit 0, outputs kept.

    Each dataset's policy comes from the stack configuration; the README's own commands
    (test_example_readmes) run the same example with a plain preview and up.
    """
    before = {d: ids(seeded_emulator, d) for d in (SALES_DATASET_ID, EVENTS_DATASET_ID)}
    archive_dir = tmp_path / "archive"  # never the shared default under /tmp
    ws = example_stack(
        tmp_path, "policy-fleet", seeded_emulator, config={"archive_dir": archive_dir.as_uri()}
    )
    if skip_checkpoints:
        ws.env["PULUMI_SKIP_CHECKPOINTS"] = "true"
    plan = tmp_path / "plan.json"
    preview = ws.preview("--diff", "--save-plan", str(plan))
    for dataset_id in (SALES_DATASET_ID, EVENTS_DATASET_ID, BUDGET_DATASET_ID):
        assert f"dataset {dataset_id}: delete" in preview.output, preview.output
    up = ws.run(
        "up", "--yes", "--skip-preview", "--plan", str(plan), "--parallel", "4", check=False
    )
    assert up.returncode == 0, up.output
    assert ids(seeded_emulator, BUDGET_DATASET_ID) == [3, 4, 5]
    # budget's deleted versions were archived first, with their manifests
    archived = sorted(p.name for p in archive_dir.rglob(f"{BUDGET_DATASET_ID}/*"))
    assert archived == ["1.csv.gz", "1.manifest.json", "2.csv.gz", "2.manifest.json"]
    sales = ids(seeded_emulator, SALES_DATASET_ID)
    assert 7 + 30 - 7 <= len(sales) <= 7 + 30 + 12, "last 7, 30 dailies, 12 monthlies"
    assert sales[-1] == before[SALES_DATASET_ID][-1], "the newest is always kept"
    events = ids(seeded_emulator, EVENTS_DATASET_ID)
    assert 48 <= len(events) < len(before[EVENTS_DATASET_ID])
    outputs = ws.outputs()
    assert set(outputs["plan"]) == {"sales", "web-events", "budget"}, outputs
    assert outputs["plan"]["budget"].startswith("delete 2 of 5 versions"), outputs
    assert outputs["deleted_bytes"]["budget"] > 0, outputs
    assert outputs["applied"]["budget"].startswith("deleted 2 versions"), outputs
    assert all(summary.startswith("delete ") for summary in outputs["plan"].values()), outputs
    assert all(summary.startswith("deleted ") for summary in outputs["applied"].values())
    ws.preview("--expect-no-changes")
