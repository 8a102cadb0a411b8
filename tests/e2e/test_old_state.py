"""A stack written by a release with the flat package layout still previews, refreshes
and updates after the re-layout into sub-packages.

Pulumi state pickles the provider class by module path (``__provider`` is a dill pickle
of ``domo_versions_iac.provider.DatasetVersionRetentionProvider``), so moving that class
could strand every existing stack. ``fixtures/state-flat-layout-0.1.0.json`` is the
``pulumi stack export`` of an ``up`` made with that release (keep_last 3 over versions
1-10 of ``old-state-ds``, leaving 8-10), imported here into a fresh stack.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from domo_versions_iac.emulator import EmulatorServer
from domo_versions_iac.emulator.records import version_record

from .conftest import StackFactory, remaining_ids

OLD_STATE = Path(__file__).parent / "fixtures" / "state-flat-layout-0.1.0.json"
DATASET = "old-state-ds"
PROGRAM = """
import pulumi
from domo_versions_iac import DatasetVersionRetention
r = DatasetVersionRetention(
    "kept-by-an-old-release", dataset_id="old-state-ds", policy={"keep_last": 3}
)
pulumi.export("kept_ids", r.kept_ids)
"""


def test_the_fixture_pickles_the_provider_by_its_flat_module_path() -> None:
    state = json.loads(OLD_STATE.read_text())
    pickles = {
        r["inputs"]["__provider"]
        for r in state["deployment"]["resources"]
        if r["type"].startswith("pulumi-python:dynamic")
    }
    assert [b"domo_versions_iac.provider\x94" in base64.b64decode(p) for p in pickles] == [True]


def test_an_old_state_previews_refreshes_and_updates(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    ws = stack_factory(PROGRAM)
    ws.run("stack", "import", "--file", str(OLD_STATE))
    # What the old release's update left (8-10), and an upload since: one more is surplus.
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    kept = [
        version_record(i, status="success", recorded=start + timedelta(days=i)) for i in (8, 9, 10)
    ]
    upload = version_record(11, status="success", recorded=now - timedelta(hours=1))
    domo.store.add_dataset(DATASET, [*kept, upload])

    preview = ws.preview()
    assert "delete 1 of 4 versions" in preview.output
    ws.refresh()  # raises with the CLI's output if it fails
    ws.up()
    assert remaining_ids(domo, DATASET) == [9, 10, 11]
    assert ws.outputs()["kept_ids"] == "9-11"
