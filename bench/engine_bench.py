"""`pulumi preview` / `pulumi up` timings through the real CLI, against their floors.

For one grid point (N datasets x M versions, one emulator with per-request latency):

1. baseline: the minimal-HTTP script (bench/baseline_http.py) deletes the surplus;
   the datasets are then re-seeded.
2. floor: a stack of N EchoResource: ``pulumi preview`` (timed, ``repeats`` times,
   median), then ``pulumi up`` (timed, once: it creates the N resources).
3. ours: a stack of N DatasetVersionRetention (keep_last = M // 2): ``pulumi preview``
   (median of ``repeats``), then ``pulumi up --skip-preview`` (once), with the
   emulator's request log cleared before each so calls per dataset can be counted, and
   the provider process's peak memory polled throughout.

Both stacks are fresh (``preview`` plans N creates, ``up`` performs them), so the
two sides do the same engine work; only what the provider does differs.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench import baseline_http, seeds, stacks
from bench.provider_memory import ProviderMemory
from domo_versions_iac.domo.models import DEFAULT_BATCH_SIZE
from domo_versions_iac.emulator import EmulatorServer
from domo_versions_iac.testing import CommandResult, PulumiWorkspace

DEFAULT_BATCH = DEFAULT_BATCH_SIZE  # the baseline batches like the product does


def _timed(fn: Callable[[], CommandResult]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _median_timed(fn: Callable[[], CommandResult], repeats: int) -> tuple[float, list[float]]:
    times = [_timed(fn) for _ in range(max(1, repeats))]
    return statistics.median(times), times


def calls_per_dataset(emulator: EmulatorServer, ids: list[str]) -> dict[str, Any]:
    """GETs and DELETEs per dataset from the emulator's request log (min/mean/max)."""
    gets: Counter[str] = Counter()
    deletes: Counter[str] = Counter()
    other = 0
    for record in emulator.store.requests:
        if record.method == "GET" and record.dataset_id is not None:
            gets[record.dataset_id] += 1
        elif record.method == "DELETE" and record.dataset_id is not None:
            deletes[record.dataset_id] += 1
        else:
            other += 1
    get_counts = [gets[d] for d in ids]
    delete_counts = [deletes[d] for d in ids]
    return {
        "get_min": min(get_counts),
        "get_mean": statistics.fmean(get_counts),
        "get_max": max(get_counts),
        "delete_min": min(delete_counts),
        "delete_mean": statistics.fmean(delete_counts),
        "delete_max": max(delete_counts),
        "other_requests": other,
        "total_requests": sum(get_counts) + sum(delete_counts) + other,
    }


def run_point(
    emulator: EmulatorServer,
    n: int,
    m: int,
    *,
    repeats: int = 1,
    parallel: int | None = None,
    floor: dict[str, Any] | None = None,
    http_baseline: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Measure one (N, M) grid point; returns the raw figures.

    ``floor``: the EchoResource timings of an earlier point with the same N (the floor
    makes no HTTP call, so the emulator's latency does not change it), reused instead
    of measured again. ``http_baseline=False`` skips the minimal-HTTP script.
    """
    store = emulator.store
    keep_last = max(1, m // 2)
    surplus = m - keep_last
    extra = (f"--parallel={parallel}",) if parallel else ()
    point: dict[str, Any] = {
        "n": n,
        "m": m,
        "keep_last": keep_last,
        "repeats": repeats,
        "latency": store.latency,
    }
    tag = f"N={n} M={m} {store.latency * 1000:.0f}ms"

    ids = seeds.seed_grid(store, n, m)
    if http_baseline:
        store.clear_requests()
        base = baseline_http.run_baseline(emulator.url, ids, keep_last, batch_size=DEFAULT_BATCH)
        point["baseline_http"] = {
            "seconds": base.seconds,
            "gets": base.gets,
            "deletes": base.deletes,
            "deleted": base.deleted,
            "concurrency": baseline_http.CONCURRENCY,
        }
        log(f"  {tag}: HTTP baseline {base.seconds:.2f}s")
        seeds.seed_grid(store, n, m)  # back to M versions each

    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        root = Path(tmp)
        if floor is None:
            echo = stacks.workspace(root / "echo", stacks.echo_program(n), None)
            echo_preview, echo_previews = _median_timed(lambda: echo.preview(*extra), repeats)
            log(f"  {tag}: floor preview {echo_preview:.2f}s {_fmt(echo_previews)}")
            echo_up = _timed(lambda: echo.up(*extra))
            log(f"  {tag}: floor up {echo_up:.2f}s")
        else:
            echo_preview = floor["floor_preview_seconds"]
            echo_previews = floor["floor_preview_runs"]
            echo_up = floor["floor_up_seconds"]

        program = stacks.retention_program(ids, keep_last)
        ours = stacks.workspace(root / "ours", program, emulator)
        store.clear_requests()
        with ProviderMemory(ours.home) as preview_mem:
            ours_preview, ours_previews = _median_timed(lambda: ours.preview(*extra), repeats)
        preview_calls = calls_per_dataset(emulator, ids)
        for key in ("get_min", "get_mean", "get_max"):
            preview_calls[key] /= max(1, repeats)
        preview_calls["delete_max_total"] = preview_calls["delete_max"]
        log(f"  {tag}: ours preview {ours_preview:.2f}s {_fmt(ours_previews)}")

        store.clear_requests()
        with ProviderMemory(ours.home) as up_mem:
            ours_up = _timed(lambda: ours.up(*extra))
        up_calls = calls_per_dataset(emulator, ids)
        log(f"  {tag}: ours up {ours_up:.2f}s")
        remaining = {len(store.list_versions(d)) for d in ids}
        _check_outcome(ours, remaining, keep_last)
        state = state_bytes(ours)

    point.update(
        {
            "floor_preview_seconds": echo_preview,
            "floor_preview_runs": echo_previews,
            "floor_up_seconds": echo_up,
            "ours_preview_seconds": ours_preview,
            "ours_preview_runs": ours_previews,
            "ours_up_seconds": ours_up,
            "floor_reused": floor is not None,
            "preview_ratio": ours_preview / echo_preview,
            "up_ratio_floor": ours_up / echo_up,
            "preview_calls": preview_calls,
            "up_calls": up_calls,
            "expected_delete_batches": math.ceil(surplus / DEFAULT_BATCH),
            "state": state,
            "remaining_versions": sorted(remaining),
            "provider_peak_mb_preview": preview_mem.peak_mb,
            "provider_peak_mb_up": up_mem.peak_mb,
            "per_dataset_ms": {
                "floor_preview": 1000 * echo_preview / n,
                "ours_preview": 1000 * ours_preview / n,
                "floor_up": 1000 * echo_up / n,
                "ours_up": 1000 * ours_up / n,
            },
        }
    )
    if http_baseline:
        point["up_ratio_baseline"] = ours_up / base.seconds
        point["up_ratio_floor_plus_baseline"] = ours_up / (echo_up + base.seconds)
        point["per_dataset_ms"]["baseline_http"] = 1000 * base.seconds / n
    return point


def state_bytes(ws: PulumiWorkspace) -> dict[str, Any]:
    """Bytes of each DatasetVersionRetention in `pulumi stack export` (max, mean, total)."""
    state = ws.export_state()
    resources = state["deployment"]["resources"]
    sizes = [len(json.dumps(r)) for r in resources if r["type"].endswith("DatasetVersionRetention")]
    return {
        "max_bytes_per_resource": max(sizes),
        "mean_bytes_per_resource": statistics.fmean(sizes),
        "total_bytes": len(json.dumps(state)),
        "resources": len(sizes),
    }


def _check_outcome(ws: PulumiWorkspace, remaining: set[int], keep_last: int) -> None:
    if remaining != {keep_last}:
        raise AssertionError(
            f"after up, datasets hold {sorted(remaining)} versions, expected {keep_last}"
        )
    del ws


def run_big(
    emulator: EmulatorServer, versions: int, *, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """One resource on one dataset of VERSIONS versions: preview and up, with memory."""
    store = emulator.store
    dataset_id = seeds.seed_big(store, versions)
    keep_last = versions // 2
    program = stacks.retention_program(
        [dataset_id], keep_last, max_deletions=versions, batch_size=1000
    )
    with tempfile.TemporaryDirectory(prefix="bench-big-") as tmp:
        ws = stacks.workspace(Path(tmp), program, emulator)
        store.clear_requests()
        with ProviderMemory(ws.home) as preview_mem:
            preview_s = _timed(ws.preview)
        log(f"  big ({versions:,} versions): preview {preview_s:.2f}s")
        store.clear_requests()
        with ProviderMemory(ws.home) as up_mem:
            up_s = _timed(ws.up)
        up_calls = calls_per_dataset(emulator, [dataset_id])
        log(f"  big ({versions:,} versions): up {up_s:.2f}s")
        remaining = len(store.list_versions(dataset_id))
        state = state_bytes(ws)
    if remaining != keep_last:
        raise AssertionError(f"big dataset: {remaining} versions remain, expected {keep_last}")
    return {
        "versions": versions,
        "keep_last": keep_last,
        "batch_size": 1000,
        "preview_seconds": preview_s,
        "up_seconds": up_s,
        "up_calls": up_calls,
        "state": state,
        "provider_peak_mb_preview": preview_mem.peak_mb,
        "provider_peak_mb_up": up_mem.peak_mb,
    }


def run_parallel_sweep(
    emulator: EmulatorServer,
    n: int,
    m: int,
    values: list[int],
    *,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """`pulumi up --parallel P` of N retention resources for each P (fresh stack each)."""
    out = []
    keep_last = max(1, m // 2)
    for p in values:
        ids = seeds.seed_grid(emulator.store, n, m)
        with tempfile.TemporaryDirectory(prefix="bench-par-") as tmp:
            ws = stacks.workspace(Path(tmp), stacks.retention_program(ids, keep_last), emulator)
            flag = f"--parallel={p}"
            preview_s = _timed(partial(ws.preview, flag))
            up_s = _timed(partial(ws.up, flag))
        log(f"  --parallel={p}: preview {preview_s:.2f}s, up {up_s:.2f}s (N={n}, M={m})")
        out.append(
            {"parallel": p, "n": n, "m": m, "preview_seconds": preview_s, "up_seconds": up_s}
        )
    return out


def _fmt(times: list[float]) -> str:
    return "" if len(times) < 2 else "(runs " + ", ".join(f"{t:.2f}" for t in times) + ")"


FLEET_ENV = {"PULUMI_SKIP_CHECKPOINTS": "true"}  # README: "Large fleets"


def run_fleet_mode(
    emulator: EmulatorServer, sizes: list[int], m: int, *, log: Callable[[str], None] = print
) -> list[dict[str, Any]]:
    """`pulumi up` of N retention resources and of N EchoResource with the engine's
    PULUMI_SKIP_CHECKPOINTS=true (state written once, at the end), fresh stacks each.

    By default the file backend rewrites the whole checkpoint after every step, which
    makes the engine's own per-resource cost grow with N; this measures what is left.
    """
    keep_last = max(1, m // 2)
    out = []
    for n in sizes:
        ids = seeds.seed_grid(emulator.store, n, m)
        with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
            root = Path(tmp)
            echo = stacks.workspace(root / "echo", stacks.echo_program(n), None)
            echo.env.update(FLEET_ENV)
            floor_s = _timed(echo.up)
            ours = stacks.workspace(
                root / "ours", stacks.retention_program(ids, keep_last), emulator
            )
            ours.env.update(FLEET_ENV)
            ours_s = _timed(ours.up)
            remaining = {len(emulator.store.list_versions(d)) for d in ids}
            _check_outcome(ours, remaining, keep_last)
        log(f"  N={n} M={m} skip checkpoints: floor up {floor_s:.2f}s, ours up {ours_s:.2f}s")
        out.append({"n": n, "m": m, "floor_up_seconds": floor_s, "ours_up_seconds": ours_s})
    return out
