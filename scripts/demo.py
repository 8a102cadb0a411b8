"""`make demo`: exercise the real Pulumi engine end to end (grows into the full demo)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from domo_versions_iac.testing import PulumiWorkspace

PROGRAM = """
import pulumi
from domo_versions_iac.testing import EchoResource

pulumi.export("echoed", EchoResource("hello", value="world").value)
"""


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="domo-versions-demo-") as tmp:
        ws = PulumiWorkspace(Path(tmp), PROGRAM)
        ws.init_stack()
        for step in (ws.preview, ws.up, ws.destroy):
            print(step().stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
