"""The provider's peak RSS phase by phase, for one `up` of a dataset of N versions.

In this process, like the provider process: import what it imports, `check` the
inputs the program computed (in the emulator's child process, so its memory is not
counted), then `create`, reading VmHWM after each listing, gate answer and DELETE
batch and resetting it (``/proc/self/clear_refs``) so each line is that phase's peak.

    .venv/bin/python bench/provider_phases.py --versions 100000
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import re
import sys
from pathlib import Path
from typing import Any

_marks: list[tuple[str, float, float]] = []


def _kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        found = re.search(field + r":\s+(\d+)", status.read())
    return int(found.group(1)) if found else 0


def mark(name: str) -> None:
    """Record this phase's peak and current RSS (MB), then reset the peak."""
    _marks.append((name, _kb("VmHWM") * 1024 / 1e6, _kb("VmRSS") * 1024 / 1e6))
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")


def _serve(versions: int, conn: Any) -> None:
    """Child: an emulator with one dataset, and the program's plan of it."""
    from bench import seeds
    from domo_versions_iac.emulator import EMULATOR_TOKEN
    from domo_versions_iac.provider import program_plan

    emulator = seeds.start_emulator(0.0)
    try:
        inputs = {
            "dataset_id": seeds.seed_big(emulator.store, versions),
            "policy": {"keep_last": versions // 2, "max_deletions": versions},
            "instance": emulator.url,
            "token": EMULATOR_TOKEN,
            "batch_size": 1000,
        }
        planned = program_plan.compute_plan("big", dict(inputs), {}).props
        conn.send({**inputs, **planned})
        conn.recv()  # any message: stop
    finally:
        emulator.stop()


def _hook(owner: Any, name: str, every: int) -> None:
    """Mark after the first 3 calls of owner.name and every EVERY-th after."""
    plain = getattr(owner, name)
    calls = [0]

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = plain(*args, **kwargs)
        calls[0] += 1
        if calls[0] <= 3 or calls[0] % every == 0:
            mark(f"{name} {calls[0]}")
        return result

    setattr(owner, name, wrapped)


def run(versions: int) -> list[tuple[str, float, float]]:
    mark("start")
    import dill  # noqa: F401  # what the provider process imports
    import grpc  # noqa: F401
    import pulumi.dynamic  # noqa: F401

    from domo_versions_iac.deletion import loop as deletion
    from domo_versions_iac.domo.client import DomoClient
    from domo_versions_iac.provider.dynamic import DatasetVersionRetentionProvider

    mark("imports")
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(versions, theirs), daemon=True
    )
    child.start()
    try:
        if not ours.poll(300):
            raise RuntimeError("the emulator process did not start within 300 s")
        props = ours.recv()
        mark("inputs received")
        provider = DatasetVersionRetentionProvider()
        checked = provider.check({}, props).inputs
        mark("check")
        _hook(DomoClient, "list_versions", 10)
        _hook(deletion, "deletable_ids", 10)
        _hook(DomoClient, "delete_versions", 10)
        with contextlib.redirect_stdout(io.StringIO()):
            provider.create(checked)
        mark("create end")
    finally:
        ours.send("stop")
        child.join(timeout=30)
    return _marks


if __name__ == "__main__":
    import argparse

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=100_000)
    args = parser.parse_args()
    for name, peak, rss in run(args.versions):
        print(f"{name:24s} peak {peak:7.1f} MB   then {rss:7.1f} MB")
