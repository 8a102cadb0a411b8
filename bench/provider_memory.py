"""Peak memory of the dynamic-provider process while a `pulumi` command runs.

The Python dynamic provider runs as ``python -u -m pulumi.dynamic`` (launched by the
``pulumi-resource-pulumi-python`` shim). A background thread polls ``/proc`` every
``interval`` seconds for such processes that belong to *our* workspace (their
environment holds our PULUMI_HOME, so other users' or engineers' runs on the same
machine are ignored) and records the largest ``VmHWM`` (peak resident set, kept by
the kernel, so short spikes between polls are not missed) and ``VmRSS`` seen.

    with ProviderMemory(ws.home) as mem:
        ws.up()
    mem.peak_mb  # None if no provider process was seen
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

MARKERS = (b"pulumi.dynamic", b"pulumi/dynamic/__main__", b"pulumi-resource-pulumi-python")
MAX_SECONDS = 1800.0  # the poller stops by itself even if never told to


def _status_kb(pid: str, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def provider_pids(home: Path) -> list[str]:
    """Pids of dynamic-provider processes whose environment names PULUMI_HOME=home."""
    wanted = f"PULUMI_HOME={home}".encode()
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmd:
                cmdline = cmd.read()
            if not any(marker in cmdline for marker in MARKERS):
                continue
            with open(f"/proc/{pid}/environ", "rb") as env:
                if wanted not in env.read().split(b"\0"):
                    continue
        except OSError:
            continue
        found.append(pid)
    return found


class ProviderMemory:
    """Polls /proc while active; ``peak_mb`` is the max VmHWM seen (MB, 1e6 bytes)."""

    def __init__(self, home: Path, interval: float = 0.05) -> None:
        self.home = home
        self.interval = interval
        self.peak_kb = 0
        self.pids: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="provider-memory", daemon=True)

    @property
    def peak_mb(self) -> float | None:
        return self.peak_kb * 1024 / 1e6 if self.pids else None

    def _poll(self) -> None:
        for pid in provider_pids(self.home):
            self.pids.add(pid)
            for field in ("VmHWM", "VmRSS"):
                kb = _status_kb(pid, field)
                if kb is not None and kb > self.peak_kb:
                    self.peak_kb = kb

    def _run(self) -> None:
        polls = int(MAX_SECONDS / self.interval)
        for _ in range(polls):
            self._poll()
            if self._stop.wait(self.interval):
                break

    def __enter__(self) -> ProviderMemory:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _serve_big(versions: int, conn: Any) -> None:
    """Child process: an emulator holding one dataset of VERSIONS, until told to stop."""
    from bench import seeds

    emulator = seeds.start_emulator(0.0)
    try:
        conn.send((emulator.url, seeds.seed_big(emulator.store, versions)))
        conn.recv()  # any message: stop
    finally:
        emulator.stop()


def profile_in_process(versions: int, top: int = 12) -> dict[str, Any]:
    """Where the provider's memory goes for one dataset of VERSIONS (keep half).

    Drives ``check`` then ``create`` in this process, like the engine does, against an
    emulator in a child process (so its own allocations are not counted), with
    tracemalloc on: the Python-level peak of each phase, the allocation sites that
    hold most at the end of ``create``, and this process's VmHWM.
    """
    import contextlib
    import io
    import multiprocessing
    import tracemalloc

    from domo_versions_iac.client import DomoClient
    from domo_versions_iac.emulator import EMULATOR_TOKEN
    from domo_versions_iac.provider import DatasetVersionRetentionProvider

    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("spawn").Process(
        target=_serve_big, args=(versions, theirs), daemon=True
    )
    child.start()
    try:
        if not ours.poll(120):
            raise RuntimeError("the emulator process did not start within 120 s")
        url, dataset_id = ours.recv()
        props = {
            "dataset_id": dataset_id,
            "policy": {"keep_last": versions // 2, "max_deletions": versions},
            "instance": url,
            "token": EMULATOR_TOKEN,
            "batch_size": 1000,
        }
        provider = DatasetVersionRetentionProvider()
        figures: dict[str, Any] = {"versions": versions}
        fullest: list[Any] = [0, None]  # traced bytes, snapshot: just after a listing

        def list_and_note(client: DomoClient, dataset_id: str) -> Any:
            listing = plain_list(client, dataset_id)
            current = tracemalloc.get_traced_memory()[0]
            if current > fullest[0]:
                fullest[:] = [current, tracemalloc.take_snapshot()]
            return listing

        plain_list = DomoClient.list_versions
        DomoClient.list_versions = list_and_note  # type: ignore[method-assign,assignment]
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                tracemalloc.start(1)
                baseline = tracemalloc.take_snapshot()
                checked = provider.check({}, props).inputs
                figures["check_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
                tracemalloc.reset_peak()
                fullest[:] = [0, None]
                outs = provider.create(checked).outs
                figures["create_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
                tracemalloc.stop()
        finally:
            DomoClient.list_versions = plain_list  # type: ignore[method-assign]
        figures["outputs_bytes"] = len(repr(outs))
        figures["create_after_a_listing_mb"] = fullest[0] / 1e6
        figures["held_then_by_line"] = [
            str(stat) for stat in fullest[1].compare_to(baseline, "lineno")[:top]
        ]
        figures["process_vmhwm_mb"] = (_status_kb(str(os.getpid()), "VmHWM") or 0) * 1024 / 1e6
        return figures
    finally:
        ours.send("stop")
        child.join(timeout=30)


if __name__ == "__main__":
    import argparse
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    parser = argparse.ArgumentParser(description="In-process memory profile of the provider")
    parser.add_argument("--versions", type=int, default=20_000, help="(tracemalloc is slow)")
    args = parser.parse_args()
    print(json.dumps(profile_in_process(args.versions), indent=2))
