"""Carry the plan of a `pulumi up`'s preview step to its update step.

`pulumi up` (without `--skip-preview`) runs the program twice in one CLI process: a
preview step (dry run), whose plan the user reads and confirms, then the update step,
which lists every dataset again. Uploads that land in between make more versions
surplus; the update step must still delete nothing its own preview step did not show.

So the preview step records each resource's planned inputs in a small file, and the
update step of the same CLI process reads them back and passes the very same inputs
(what the preview showed; with `PULUMI_EXPERIMENTAL` or `--plan` the engine also
insists on that). What became surplus after the preview is left for the next preview.

What identifies "the same `pulumi up`": the `pulumi` CLI process that runs the
program, found as the program's parent (the language host stand-in and the Automation
API's server run the program in their own process) or grandparent (the real language
host starts a Python process per run), and its start time, so a reused pid never
matches. A program that no `pulumi` process runs (the Automation API runs inline
programs in the caller's process, and its `up()` skips the preview step anyway) writes
and reads nothing. A file is trusted only in a private directory (mode 0700, ours)
and for the same CLI process, stack, instance and dataset; the update step removes it
after reading; directories of CLI processes that are gone are removed at the next
preview step.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STASH_DIR_ENV = "DOMO_VERSIONS_IAC_STASH_DIR"  # tests and unusual temp dirs
_MAX_CLEANUP = 200  # stale run directories removed per preview step, at most
_STALE_SECONDS = 7 * 24 * 3600  # a run directory older than this is removed regardless


class StashError(RuntimeError):
    """The preview step could not record its plan (so its update step could not honour it)."""


def _proc_stat(pid: int) -> tuple[str, int, str] | None:
    """(name, parent pid, start marker) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return _ps_stat(pid) if sys.platform != "linux" else None
    # "pid (comm) state ppid ... starttime(22nd field)"; comm may hold spaces or ')'
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return name, int(fields[1]), fields[19]


def _ps_stat(pid: int) -> tuple[str, int, str] | None:
    """The same from POSIX `ps` (macOS has no /proc)."""
    try:
        out = subprocess.run(
            ["ps", "-o", "ppid=,lstart=,comm=", "-p", str(pid)],
            capture_output=True,
            text=True,
            check=False,
            timeout=5,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    if len(out) < 7 or not out[0].isdigit():
        return None
    return os.path.basename(" ".join(out[6:])), int(out[0]), " ".join(out[1:6])


def engine_process() -> tuple[int, str] | None:
    """(pid, start marker) of the `pulumi` CLI process that runs this program, or None."""
    parent_pid = os.getppid()
    if parent_pid not in _engine_cache:  # one look per process and parent, not per resource
        _engine_cache[parent_pid] = _find_engine(parent_pid)
    return _engine_cache[parent_pid]


_engine_cache: dict[int, tuple[int, str] | None] = {}


def _find_engine(parent_pid: int) -> tuple[int, str] | None:
    parent = _proc_stat(parent_pid)
    if parent is None:
        return None
    name, grandparent_pid, started = parent
    if name == "pulumi":
        return parent_pid, started
    if name.startswith("pulumi-language"):  # the real language host: its parent is the CLI
        grandparent = _proc_stat(grandparent_pid)
        if grandparent is not None and grandparent[0] == "pulumi":
            return grandparent_pid, grandparent[2]
    return None


def _base_dir() -> Path:
    root = os.environ.get(STASH_DIR_ENV) or os.path.join(
        tempfile.gettempdir(), f"domo-versions-iac-{os.getuid()}"
    )
    return Path(root)


def _private_dir(path: Path, *, create: bool) -> bool:
    """True if ``path`` is a directory of ours that no one else can write (made if asked)."""
    if create:
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700, parents=True)
    try:
        info = path.lstat()
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _digest(text: str, size: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


def _run_dir(engine: tuple[int, str], stack: str) -> Path:
    """One directory per CLI process (pid and start) and stack."""
    return _base_dir() / f"up-{engine[0]}-{_digest(engine[1], 12)}-{_digest(stack, 8)}"


def _entry(run_dir: Path, base_url: str, dataset_id: str) -> Path:
    return run_dir / f"{_digest(f'{base_url}|{dataset_id}', 32)}.json"


def record(stack: str, base_url: str, dataset_id: str, props: dict[str, Any]) -> None:
    """Preview step: record what this resource's preview shows (nothing outside a CLI)."""
    engine = engine_process()
    if engine is None:
        return
    base, run_dir = _base_dir(), _run_dir(engine, stack)
    fresh_run = not run_dir.exists()
    if not (_private_dir(base, create=True) and _private_dir(run_dir, create=True)):
        raise StashError(
            f"cannot record the preview's plan in {run_dir} (not a private directory of "
            f"this user); set {STASH_DIR_ENV} to a directory only you can write"
        )
    if fresh_run:
        _remove_stale(base, keep=run_dir)
    target = _entry(run_dir, base_url, dataset_id)
    body = {"base_url": base_url, "dataset_id": dataset_id, "props": props}
    try:
        with tempfile.NamedTemporaryFile("w", dir=run_dir, delete=False, suffix=".tmp") as out:
            json.dump(body, out)
        os.replace(out.name, target)
    except OSError as exc:
        raise StashError(f"cannot record the preview's plan in {run_dir}: {exc}") from exc


class NoPreviewStep(Exception):
    """This program run is not the update step of a `pulumi up` that had a preview step."""


def recall(stack: str, base_url: str, dataset_id: str) -> dict[str, Any] | None:
    """Update step: what this resource's preview step showed.

    Raises NoPreviewStep when this CLI process ran no preview step of this stack (`up
    --skip-preview`, the Automation API, or no CLI at all); returns None when it did,
    but recorded nothing for this dataset (then nothing was shown for it).
    """
    engine = engine_process()
    if engine is None:
        raise NoPreviewStep
    base, run_dir = _base_dir(), _run_dir(engine, stack)
    if not (_private_dir(base, create=False) and _private_dir(run_dir, create=False)):
        raise NoPreviewStep
    target = _entry(run_dir, base_url, dataset_id)
    try:
        body = json.loads(target.read_text())
    except (OSError, ValueError):
        return None
    with contextlib.suppress(OSError):
        target.unlink()
    if body.get("base_url") != base_url or body.get("dataset_id") != dataset_id:
        return None
    props = body.get("props")
    return props if isinstance(props, dict) else None


def _remove_stale(base: Path, keep: Path) -> None:
    """Remove run directories whose CLI process is gone (or that are very old)."""
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return
    removed = 0
    for path in entries:
        if removed >= _MAX_CLEANUP:
            return
        if path == keep or not path.name.startswith("up-"):
            continue
        if _alive(path) and time.time() - _mtime(path) < _STALE_SECONDS:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += 1


def _alive(run_dir: Path) -> bool:
    """Whether the CLI process that made ``run_dir`` still runs (same pid, same start)."""
    parts = run_dir.name.split("-")
    if len(parts) != 4 or not parts[1].isdigit():
        return False
    info = _proc_stat(int(parts[1]))
    return info is not None and info[0] == "pulumi" and _digest(info[2], 12) == parts[2]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
