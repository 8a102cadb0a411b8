"""The real Pulumi engine works here: preview, up, no-op up, destroy of a dynamic resource."""

from __future__ import annotations

import os
import time
from pathlib import Path

from domo_versions_iac.testing import PulumiWorkspace

PROGRAM = """
import pulumi
from domo_versions_iac.testing import EchoResource

echo = EchoResource("greeting", value="{value}")
pulumi.export("echoed", echo.value)
"""


def test_preview_up_noop_destroy_of_a_dynamic_resource(tmp_path: Path) -> None:
    ws = PulumiWorkspace(tmp_path, PROGRAM.format(value="hello"))
    ws.init_stack()

    preview = ws.preview()
    assert "+ 2 to create" in preview.stdout
    assert "greeting" in preview.stdout
    assert ws.resources("Resource") == [], "preview must not write resources to state"

    up = ws.up()
    assert "+ 2 created" in up.stdout
    assert ws.outputs() == {"echoed": "hello"}
    [state] = ws.resources(":Resource")
    assert state["outputs"]["value"] == "hello"

    again = ws.up()
    assert "2 unchanged" in again.stdout
    assert "created" not in again.stdout
    ws.preview("--expect-no-changes")

    ws.write_program(PROGRAM.format(value="bonjour"))
    changed = ws.preview("--diff")
    assert "~ 1 to update" in changed.stdout
    assert "bonjour" in changed.stdout

    destroy = ws.destroy()
    assert "- 2 deleted" in destroy.stdout
    assert ws.resources(":Resource") == []


def _processes_in(directory: Path) -> list[int]:
    """Pids of processes whose working directory is DIRECTORY."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and Path(os.readlink(proc / "cwd")) == directory:
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_a_timed_out_command_leaves_no_engine_or_plugin_running(tmp_path: Path) -> None:
    ws = PulumiWorkspace(tmp_path, "import time\ntime.sleep(600)\n")
    ws.init_stack()
    result = ws.preview(check=False, timeout=8)
    assert result.returncode != 0
    assert "[killed after 8 s]" in result.stderr
    deadline = time.monotonic() + 10
    while _processes_in(ws.project_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_in(ws.project_dir) == []
