"""One grid point's `pulumi preview` against its echo floor, in interleaved rounds.

Row 8's N=100 x M=1000 at 150 ms is the figure the listing decoder moves; the full
`make bench` measures it twice in a 13-minute run. This runs only that point (or any
other), ``--rounds`` times, each round one preview of the EchoResource floor and one of
ours in a rotating order, and prints the median of each and their ratio. With
``--compare-src DIR`` (repeatable) another "ours" runs the package from another source tree (e.g.
``git archive main | tar -x -C DIR``) through PYTHONPATH in the same rounds, so a
change is measured before and after under the same load. ``--big VERSIONS`` then
runs `up` of one dataset of that many versions (keep half, batches of 1,000) for
each, with the provider's peak RSS (row 4).

    .venv/bin/python bench/preview_point.py --n 100 --m 1000 --latency 0.15 --rounds 5 \
        [--compare-src /tmp/before] [--big 100000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import seeds, stacks
from bench.provider_memory import ProviderMemory
from domo_versions_iac.emulator import EmulatorServer
from domo_versions_iac.testing import PulumiWorkspace

REPO = Path(__file__).resolve().parent.parent
SLOW_PARALLEL = 32  # as run_all's slow grid


def _timed_preview(ws: PulumiWorkspace, parallel: int) -> float:
    start = time.perf_counter()
    ws.preview(f"--parallel={parallel}")
    return time.perf_counter() - start


def _ours(root: Path, program: str, emulator: EmulatorServer, src: str | None) -> PulumiWorkspace:
    ws = stacks.workspace(root, program, emulator)
    if src:
        ws.env["PYTHONPATH"] = src  # ahead of the editable install of this tree
        check = (
            f"import domo_versions_iac\nassert domo_versions_iac.__file__.startswith({src!r}), "
            "domo_versions_iac.__file__\n"
        )
        ws.write_program(check + program)
    return ws


def run_previews(
    emulator: EmulatorServer, n: int, m: int, rounds: int, sources: dict[str, str | None]
) -> dict[str, list[float]]:
    """Seconds of each preview, by side ("floor" and each of ``sources``)."""
    ids = seeds.seed_grid(emulator.store, n, m)
    program = stacks.retention_program(ids, max(1, m // 2))
    times: dict[str, list[float]] = {"floor": [], **{name: [] for name in sources}}
    with tempfile.TemporaryDirectory(prefix="bench-point-") as tmp:
        root = Path(tmp)
        sides: dict[str, PulumiWorkspace] = {
            "floor": stacks.workspace(root / "floor", stacks.echo_program(n), None)
        }
        for name, src in sources.items():
            sides[name] = _ours(root / name, program, emulator, src)
        order = list(sides)
        for side in order:  # a first, untimed preview each: plugins and caches warm
            _timed_preview(sides[side], SLOW_PARALLEL)
        for i in range(rounds):
            turn = order[i % len(order) :] + order[: i % len(order)]
            for side in turn:
                times[side].append(_timed_preview(sides[side], SLOW_PARALLEL))
            print(
                f"  round {i + 1}: "
                + ", ".join(f"{side} {times[side][-1]:.2f}s" for side in order),
                flush=True,
            )
    return times


def run_big(emulator: EmulatorServer, versions: int, src: str | None) -> dict[str, float]:
    """`up` of one dataset of VERSIONS versions (keep half, batches of 1,000): seconds
    and the provider's peak RSS over its preview and `up`."""
    dataset_id = seeds.seed_big(emulator.store, versions)
    program = stacks.retention_program(
        [dataset_id], versions // 2, max_deletions=versions, batch_size=1000
    )
    with tempfile.TemporaryDirectory(prefix="bench-point-big-") as tmp:
        ws = _ours(Path(tmp), program, emulator, src)
        with ProviderMemory(ws.home) as memory:
            ws.preview()
            start = time.perf_counter()
            ws.up()
            up_s = time.perf_counter() - start
    left = len(emulator.store.list_versions(dataset_id))
    if left != versions // 2:
        raise AssertionError(f"big dataset: {left} versions remain, expected {versions // 2}")
    return {"up_seconds": up_s, "provider_peak_mb": memory.peak_mb or 0.0}


def report(times: dict[str, list[float]]) -> list[str]:
    floor = statistics.median(times["floor"])
    lines = [f"{'side':<10}{'median':>9}{'vs floor':>10}{'per-round ratios':>30}"]
    for side, runs in times.items():
        ratios = [t / f for t, f in zip(runs, times["floor"], strict=True)]
        lines.append(
            f"{side:<10}{statistics.median(runs):>8.2f}s{statistics.median(runs) / floor:>9.2f}x"
            f"   {' '.join(f'{r:.2f}' for r in ratios):>27}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--m", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--compare-src",
        metavar="DIR",
        action="append",
        default=[],
        help="also this source tree's package (repeatable; named by the folder)",
    )
    parser.add_argument("--big", type=int, default=0, metavar="VERSIONS", help="and `up` RSS")
    args = parser.parse_args(argv)
    if not os.environ.get("PULUMI_BIN_DIR"):
        os.environ["PULUMI_BIN_DIR"] = (REPO / ".venv" / ".pulumi-bin-dir").read_text().strip()
    sources: dict[str, str | None] = {"ours": None}
    for src in args.compare_src:
        sources[Path(src).name] = str(Path(src).resolve())
    print(f"load average at the start: {os.getloadavg()[0]:.2f}", flush=True)
    emulator = seeds.start_emulator(args.latency)
    try:
        times = run_previews(emulator, args.n, args.m, args.rounds, sources)
        big = {name: run_big(emulator, args.big, src) for name, src in sources.items() if args.big}
    finally:
        emulator.stop()
    print(
        f"\npreview, N={args.n} M={args.m}, {args.latency * 1000:.0f} ms per request, "
        f"--parallel={SLOW_PARALLEL}, {args.rounds} rounds (medians)"
    )
    print("\n".join(report(times)))
    for name, figures in big.items():
        print(
            f"{name}: up of 1 dataset of {args.big:,} versions {figures['up_seconds']:.1f}s, "
            f"provider peak RSS {figures['provider_peak_mb']:.1f} MB"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
