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
