"""Stopping `pulumi up`: after Ctrl-C no new DELETE batch; a killed CLI leaves no provider.

Issue 21, item 4. The update is made long by the emulator's latency and a batch size of
one (one DELETE and one listing per version), and the CLI is signalled once a few
batches have gone out.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator

from domo_versions_iac.emulator import EmulatorServer
from domo_versions_iac.testing import PulumiWorkspace, _kill_tree, _process_tree

from .conftest import StackFactory, calls, make_versions, remaining_ids
from .test_retention import program, retention

VERSIONS = 40


def _wait_until(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def long_up(domo: EmulatorServer, stack_factory: StackFactory) -> Iterator[subprocess.Popen[str]]:
    """`pulumi up` deleting 39 versions one per batch, slowly; yields once 3 batches went out."""
    domo.store.add_dataset("ds-a", make_versions(VERSIONS))
    ws: PulumiWorkspace = stack_factory(
        program(retention("a", "ds-a", policy={"keep_last": 1}, batch_size=1))
    )
    domo.store.set_latency(0.25)
    argv = [str(ws.bin_dir / "pulumi"), "up", "--yes", "--skip-preview", "--non-interactive"]
    proc = subprocess.Popen(
        argv,
        cwd=ws.project_dir,
        env=ws.base_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    tree: list[int] = []
    try:
        assert _wait_until(lambda: calls(domo, "DELETE", "ds-a") >= 3, 120), "no DELETE went out"
        tree[:] = _process_tree(proc.pid)
        yield proc
    finally:
        for pid in tree or [proc.pid]:
            _kill_tree(pid)
        proc.communicate()


def test_after_ctrl_c_no_new_delete_batch_starts(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    with long_up(domo, stack_factory) as proc:
        os.kill(proc.pid, signal.SIGINT)
        sent_at_signal = calls(domo, "DELETE", "ds-a")
        output, _ = proc.communicate(timeout=120)
    sent = calls(domo, "DELETE", "ds-a")
    assert sent <= sent_at_signal + 1, f"{sent - sent_at_signal} batches after Ctrl-C\n{output}"
    assert sent < VERSIONS - 1
    assert proc.returncode != 0
    assert "the update was cancelled (Ctrl-C)" in output, output
    assert len(remaining_ids(domo, "ds-a")) == VERSIONS - sent


def test_a_provider_whose_cli_was_killed_sends_nothing_more_and_exits(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    with long_up(domo, stack_factory) as proc:
        plugins = [pid for pid in _process_tree(proc.pid) if pid != proc.pid]
        assert plugins, "the CLI runs its plugins as child processes"
        os.kill(proc.pid, signal.SIGKILL)
        sent_at_kill = calls(domo, "DELETE", "ds-a")
        proc.wait(timeout=30)

        def all_gone() -> bool:
            return not any(_alive(pid) for pid in plugins)

        assert _wait_until(all_gone, 20), "a plugin outlived its killed CLI by 20 s"
        time.sleep(1.0)  # anything still sending would show in the request log now
        sent = calls(domo, "DELETE", "ds-a")
    assert sent <= sent_at_kill + 1, f"{sent - sent_at_kill} batches after the CLI was killed"
    assert len(remaining_ids(domo, "ds-a")) >= VERSIONS - sent


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (not yet reaped by its new parent) sends nothing: count it as gone
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
