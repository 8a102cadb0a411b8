"""Benchmark plan_retention on 100,000 versions under a policy with every rule.

Reports the median time of several runs, the ratio to a baseline measured in the
same run (sorting the versions by (recorded_date, data_id)), and peak memory from
tracemalloc in a separate run. Prints figures against the targets; never asserts.

    .venv/bin/python bench/bench_policy.py [--json OUT] [--versions N] [--repeat K]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from operator import attrgetter
from typing import Any

from domo_versions_iac.domo.models import DataVersion, UploadStatus
from domo_versions_iac.policy import RetentionPolicy, plan_retention

TARGET_SECONDS = 0.3
TARGET_MB = 100.0
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def synthetic_versions(n: int) -> list[DataVersion]:
    """N versions, one every ~47 minutes going back in time (~9 years for 100k),
    with some failed and processing uploads, in shuffled (id) order."""
    success: list[UploadStatus] = ["success"]
    statuses = success * 18 + ["error", "processing"]
    out = []
    for i in range(n):
        recorded = NOW - timedelta(minutes=47 * i)
        status = statuses[(i * 7) % len(statuses)] if i > 10 else "success"
        out.append(
            DataVersion(
                data_id=n - i,
                schema_id=1,
                upload_status=status,
                recorded_date=recorded,
                upload_completed_date=None if status == "processing" else recorded,
                num_rows=1000 + i % 500,
                num_bytes=50_000 + (i * 37) % 10_000,
            )
        )
    out.sort(key=lambda v: (v.data_id * 7919) % n)  # not pre-sorted
    return out


def every_rule_policy(n: int) -> RetentionPolicy:
    return RetentionPolicy.from_dict(
        {
            "allowed_versions": [1, 2, 3, n // 2, n + 5],
            "keep_last": 10,
            "keep_within": "30d",
            "keep_since": "2025-12-15T00:00:00Z",
            "keep_daily": 14,
            "keep_weekly": 8,
            "keep_monthly": 24,
            "keep_yearly": 10,
            "timezone": "Europe/Paris",
            "protect_latest": 2,
            "protect_processing": True,
            "delete_failed": True,
            "max_deletions": n,
            "max_deletion_share": 1,
        }
    )


def median_seconds(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_mb(fn: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="OUT", help="also write the figures as JSON here")
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    versions = synthetic_versions(args.versions)
    policy = every_rule_policy(args.versions)
    key = attrgetter("recorded_date", "data_id")

    def baseline() -> Any:
        return sorted(versions, key=key, reverse=True)

    def plan() -> Any:
        return plan_retention(versions, policy, NOW)

    result = plan()  # warm-up (schema, zoneinfo caches) and a sanity figure
    base_s = median_seconds(baseline, args.repeat)
    plan_s = median_seconds(plan, args.repeat)
    plan_mb = peak_mb(plan)
    base_mb = peak_mb(baseline)

    figures = {
        "versions": args.versions,
        "repeat": args.repeat,
        "policy": policy.to_dict(),
        "kept": len(result.keep),
        "deleted": len(result.delete),
        "plan_seconds_median": plan_s,
        "baseline_seconds_median": base_s,
        "ratio_to_baseline": plan_s / base_s if base_s else None,
        "plan_peak_mb": plan_mb,
        "baseline_peak_mb": base_mb,
        "target_seconds": TARGET_SECONDS,
        "target_mb": TARGET_MB,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(f"plan_retention on {args.versions:,} versions, every rule (median of {args.repeat})")
    print(f"  kept {len(result.keep):,}, deleted {len(result.delete):,}")
    print(f"  {'measure':<24}{'plan':>12}{'baseline':>12}{'ratio':>8}{'target':>10}")
    print(
        f"  {'time (s)':<24}{plan_s:>12.4f}{base_s:>12.4f}"
        f"{plan_s / base_s:>8.2f}{TARGET_SECONDS:>10.2f}"
    )
    print(
        f"  {'peak memory (MB)':<24}{plan_mb:>12.1f}{base_mb:>12.1f}"
        f"{plan_mb / base_mb if base_mb else 0:>8.2f}{TARGET_MB:>10.0f}"
    )
    print("  baseline = sorted(versions, key=(recorded_date, data_id)); no timing is asserted")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
