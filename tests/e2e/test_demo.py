"""`make demo` shows the real job: preview lists the removals, up applies them.

examples/basic keeps allowed_versions 9 and 10, the newest successful version (11) and
the upload in processing (12): the demo's own listings show exactly that.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_previews_applies_and_lists_what_remains() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/demo.py")],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    preview = out.split("=== pulumi preview ")[1].split("=== pulumi up")[0]
    assert "delete 8 of 12 versions" in preview
    for data_id in range(1, 9):
        assert f"- {data_id}: recorded" in preview, preview
    assert "- 9: recorded" not in preview and "- 12: recorded" not in preview
    after = out.split("(after)")[1].split("=== ")[0]
    assert "total: 4 versions" in after, after
    listed = [int(line.split()[0]) for line in after.splitlines() if line[:3].strip().isdigit()]
    assert listed == [12, 11, 10, 9], after
    no_changes = out.split("=== pulumi preview --expect-no-changes")[1]
    assert "nothing to delete: 4 versions kept" in no_changes, no_changes
    assert "Done in" in out and "the emulator is stopped" in out
