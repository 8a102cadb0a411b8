"""The provider's own cost, in-process: planning, `check` and `create` as the engine drives them.

The dynamic provider serves the engine's calls on 4 gRPC worker threads; here a
ThreadPoolExecutor(4) calls ``DatasetVersionRetentionProvider().check`` then
``.create`` for every dataset against the latency emulator. Compared with the bare
HTTP work of the same calls (bench/baseline_http.py at the same concurrency) this
isolates what is ours from the engine's floor. ``--profile`` wraps the run in
pyinstrument (``pip install pyinstrument``; not a project dependency) and writes the
report next to the JSON.

    .venv/bin/python bench/provider_profile.py [--n 100] [--m 1000] [--big 100000] \
        [--latency 0.02] [--profile OUT.txt]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import baseline_http, seeds
from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer
from domo_versions_iac.provider.dynamic import DatasetVersionRetentionProvider
from domo_versions_iac.provider.program_plan import compute_plan

THREADS = 4


def _props(
    emulator: EmulatorServer, dataset_id: str, keep_last: int, max_del: int
) -> dict[str, Any]:
    return {
        "dataset_id": dataset_id,
        "policy": {"keep_last": keep_last, "max_deletions": max_del},
        "instance": emulator.url,
        "token": EMULATOR_TOKEN,
    }


def drive_provider(
    emulator: EmulatorServer,
    ids: list[str],
    keep_last: int,
    max_del: int = 1000,
    threads: int = THREADS,
    create: bool = True,
) -> dict[str, float]:
    """check() for every dataset, then (if CREATE) create(); THREADS threads (0: in this thread,
    so that pyinstrument, which samples one thread, sees it); seconds per phase."""
    provider = DatasetVersionRetentionProvider()
    checked: dict[str, Any] = {}

    def check(dataset_id: str) -> None:
        # The program's planning (list + plan) then the provider's validation, as the
        # engine sees it at preview.
        props = _props(emulator, dataset_id, keep_last, max_del)
        planned = compute_plan(dataset_id, props, config=None, run_id=id(checked)).props
        result = provider.check({}, {**props, **planned})
        if result.failures:
            raise AssertionError(f"check failed: {result.failures}")
        checked[dataset_id] = result.inputs

    def apply(dataset_id: str) -> None:
        provider.create(checked[dataset_id])

    with contextlib.redirect_stdout(io.StringIO()), ThreadPoolExecutor(max(1, threads)) as pool:
        mapper = pool.map if threads else map
        start = time.perf_counter()
        list(mapper(check, ids))
        check_s = time.perf_counter() - start
        start = time.perf_counter()
        if create:
            list(mapper(apply, ids))
        create_s = time.perf_counter() - start
    return {"check_seconds": check_s, "create_seconds": create_s}


def bare_gets(emulator: EmulatorServer, ids: list[str]) -> float:
    """One GET + json per dataset, 4 threads: the floor of `check`."""
    import requests

    session = requests.Session()
    session.trust_env = False
    headers = {"X-DOMO-Developer-Token": EMULATOR_TOKEN}

    def one(dataset_id: str) -> None:
        url = f"{emulator.url}/api/data/v2/datasources/{dataset_id}/dataversions"
        response = session.get(url, headers=headers, timeout=120)
        response.raise_for_status()
        response.json()

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            start = time.perf_counter()
            list(pool.map(one, ids))
            return time.perf_counter() - start
    finally:
        session.close()


def run(n: int, m: int, big: int, latency: float, profile: str | None = None) -> dict[str, Any]:
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="disabled")
    emulator = seeds.start_emulator(latency)
    try:
        keep_last = max(1, m // 2)
        ids = seeds.seed_grid(emulator.store, n, m)
        get_s = bare_gets(emulator, ids)
        base = baseline_http.run_baseline(emulator.url, ids, keep_last)
        ids = seeds.seed_grid(emulator.store, n, m)
        big_id = seeds.seed_big(emulator.store, big)
        big_get_s = bare_gets(emulator, [big_id])
        grid = drive_provider(emulator, ids, keep_last)
        big_check = drive_provider(emulator, [big_id], big // 2, max_del=big, create=False)
        if profiler and profile:
            # again, in this thread: 20 datasets of M and the big one, re-seeded
            sample = seeds.seed_grid(emulator.store, n, m)[:20]
            seeds.seed_big(emulator.store, big)
            profiler.start()
            try:
                drive_provider(emulator, sample, keep_last, threads=0)
                drive_provider(emulator, [big_id], big // 2, max_del=big, threads=0, create=False)
            finally:
                profiler.stop()
            Path(profile).write_text(profiler.output_text(unicode=False, color=False))
    finally:
        emulator.stop()
    return {
        "n": n,
        "m": m,
        "threads": THREADS,
        "latency": latency,
        "check_seconds": grid["check_seconds"],
        "bare_get_seconds": get_s,
        "check_ratio": grid["check_seconds"] / get_s,
        "check_plus_create_seconds": grid["check_seconds"] + grid["create_seconds"],
        "baseline_http_seconds": base.seconds,
        "apply_ratio": (grid["check_seconds"] + grid["create_seconds"]) / (get_s + base.seconds),
        "big_versions": big,
        "big_check_seconds": big_check["check_seconds"],
        "big_bare_get_seconds": big_get_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--m", type=int, default=1000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--profile", metavar="OUT", help="pyinstrument text report here")
    args = parser.parse_args(argv)
    figures = run(args.n, args.m, args.big, args.latency, args.profile)
    for key, value in figures.items():
        print(f"{key:<28}{value:.3f}" if isinstance(value, float) else f"{key:<28}{value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
