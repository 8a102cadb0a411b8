"""`make demo` shows the real job: preview lists the removals, up applies them."""

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
    after = out.split("(after)")[1]
    assert "total: 4 versions" in after, after
    assert "Done in" in out and "the emulator is stopped" in out
