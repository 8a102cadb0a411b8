"""One `pulumi up` of N retention resources (or N EchoResource) without checkpoints.

    .venv/bin/python bench/fleet_up.py --n 1000 --latency 0.15 --parallel 32 ours
    .venv/bin/python bench/fleet_up.py --n 1000 --latency 0.15 --parallel 32 floor

PULUMI_SKIP_CHECKPOINTS=true (README, "Large fleets"), so the engine's O(N^2) state
rewrites do not hide the provider's own cost; prints the time and the most DELETEs the
emulator served at once. bench/README.md, "`pulumi up` past 4 datasets at a time".
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import seeds, stacks  # noqa: E402
from bench.engine_bench import FLEET_ENV  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=("ours", "floor"))
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--m", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--parallel", type=int, default=32)
    args = parser.parse_args(argv)
    emulator = seeds.start_emulator(args.latency)
    try:
        ids = seeds.seed_grid(emulator.store, args.n, args.m)
        with tempfile.TemporaryDirectory(prefix="bench-fleet-up-") as tmp:
            if args.which == "floor":
                ws = stacks.workspace(Path(tmp), stacks.echo_program(args.n), None)
            else:
                program = stacks.retention_program(ids, max(1, args.m // 2))
                ws = stacks.workspace(Path(tmp), program, emulator)
            ws.env.update(FLEET_ENV)
            emulator.store.clear_requests()
            started = time.perf_counter()
            ws.up(f"--parallel={args.parallel}")
            seconds = time.perf_counter() - started
        print(
            f"{args.which} N={args.n} M={args.m} up ({args.latency * 1000:.0f} ms, "
            f"--parallel={args.parallel}, skip checkpoints): {seconds:.2f}s; "
            f"at most {emulator.store.max_in_flight('DELETE')} DELETEs in flight"
        )
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
