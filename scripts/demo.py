"""`make demo`: the real job against the local emulator, start to finish.

Starts the emulator with its default seed, runs `pulumi preview` of examples/basic
(the removal list is visible), `pulumi up`, lists what remains with `domo-versions
ls`, then stops the emulator. Uses a throw-away Pulumi home and file backend.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from domo_versions_iac.emulator import EMULATOR_TOKEN, INVENTORY_DATASET_ID, serve
from domo_versions_iac.testing import PulumiWorkspace

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "domo-versions"


def banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def list_versions(env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(CLI), "ls", INVENTORY_DATASET_ID],
        env=env,
        text=True,
        capture_output=True,
        timeout=60,
        check=False,
    )
    print(result.stdout + result.stderr, flush=True)
    if result.returncode != 0:
        raise SystemExit(f"domo-versions ls failed with exit code {result.returncode}")


def main() -> int:
    started = time.monotonic()
    emulator = serve()
    try:
        env = {"DOMO_INSTANCE": emulator.url, "DOMO_DEVELOPER_TOKEN": EMULATOR_TOKEN}
        banner(f"Local Domo emulator on {emulator.url} (token {EMULATOR_TOKEN!r})")
        cli_env = {**os.environ, **env}
        banner(f"domo-versions ls {INVENTORY_DATASET_ID}  (before)")
        list_versions(cli_env)
        with tempfile.TemporaryDirectory(prefix="domo-versions-demo-") as tmp:
            ws = PulumiWorkspace(Path(tmp), source_dir=ROOT / "examples/basic", env=env)
            ws.init_stack()
            banner("pulumi preview  (examples/basic: allowed_versions=[9, 10])")
            print(ws.preview().stdout, flush=True)
            banner("pulumi up")
            print(ws.up().stdout, flush=True)
            banner(f"domo-versions ls {INVENTORY_DATASET_ID}  (after)")
            list_versions(cli_env)
            banner("pulumi preview --expect-no-changes")
            print(ws.preview("--expect-no-changes").stdout, flush=True)
    finally:
        emulator.stop()
    banner(f"Done in {time.monotonic() - started:.0f} s; the emulator is stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
