"""Smoke test of the benchmark harness: `bench/run_all.py --smoke`.

What it proves is that the harness runs: one grid point (N=1, 10 versions) through the
real Pulumi CLI, ours and the echo floor, and every metric computed from it and written
as a number; the steps that differ from that point only by a parameter (150 ms, the
--parallel sweep, skipped checkpoints, the big dataset) reuse its runs and say so. No
timing is asserted: the figures themselves are for `make bench` (see bench/README.md).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

METRICS = (
    "preview_vs_floor",
    "up_vs_floor_plus_baseline",
    "up_vs_floor",
    "up_vs_http_baseline",
    "preview_gets_per_dataset",
    "preview_deletes",
    "up_gets_per_dataset",
    "up_deletes_per_dataset",
    "provider_peak_mb",
    "plan_seconds_big",
    "check_seconds_big",
    "preview_per_dataset_growth",
    "up_per_dataset_growth",
    "fleet_up_per_dataset_growth",
    "provider_check_vs_bare_get",
    "provider_apply_vs_http",
    "parallel_up_speedup",
    "state_bytes_per_resource",
    "slow_preview_vs_floor",
    "slow_up_vs_floor",
)


def test_quick_run_writes_every_metric(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = dict(os.environ)
    argv = [sys.executable, str(REPO / "bench" / "run_all.py"), "--smoke"]
    proc = subprocess.run(
        [*argv, "--json", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "metric" in proc.stdout and "met?" in proc.stdout, proc.stdout
    assert "smoke run: rows marked * reuse" in proc.stdout, proc.stdout

    document = json.loads(out.read_text())
    metrics = document["metrics"]
    for key in METRICS:
        assert key in metrics, f"missing metric {key}"
        measured = metrics[key]["measured"]
        assert isinstance(measured, (int, float)) and math.isfinite(measured), (key, measured)
        ratio = metrics[key]["ratio"]
        assert ratio is None or isinstance(ratio, (int, float)), (key, ratio)
    # calls are counted from the emulator's log, so these are exact, not timings
    assert metrics["preview_gets_per_dataset"]["measured"] == 1
    assert metrics["preview_deletes"]["measured"] == 0
    assert metrics["up_gets_per_dataset"]["met"] is True, "check, before batch 1, after each"
    assert metrics["state_bytes_per_resource"]["measured"] <= 16 * 1024
    assert document["raw"]["config"]["sizes"] == [1]
    assert metrics["slow_up_vs_floor"]["reuses"], "reused rows say so in the JSON"
