"""The preview step's plan reaches only the update step of the same `pulumi up`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from domo_versions_iac.provider import preview_stash


@pytest.fixture
def stash_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path / "stash"
    monkeypatch.setenv(preview_stash.STASH_DIR_ENV, str(base))
    return base


def _as_engine(monkeypatch: pytest.MonkeyPatch, pid: int, started: str) -> None:
    monkeypatch.setattr(preview_stash, "engine_process", lambda: (pid, started))


def test_the_update_step_of_the_same_cli_process_gets_the_preview_steps_plan(
    stash_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _as_engine(monkeypatch, 4242, "started-1")
    preview_stash.record("dev", "https://a", "ds", {"planned_deletions": "1-7"})
    assert preview_stash.recall("dev", "https://a", "ds") == {"planned_deletions": "1-7"}
    # read once: a second update step (there is none) would find nothing shown
    assert preview_stash.recall("dev", "https://a", "ds") is None
    assert preview_stash.recall("dev", "https://a", "other") is None


@pytest.mark.parametrize(
    ("pid", "started", "stack"),
    [(4243, "started-1", "dev"), (4242, "started-2", "dev"), (4242, "started-1", "prod")],
    ids=["another process", "a reused pid", "another stack"],
)
def test_a_plan_of_another_process_or_stack_is_never_used(
    stash_dir: Path, monkeypatch: pytest.MonkeyPatch, pid: int, started: str, stack: str
) -> None:
    _as_engine(monkeypatch, 4242, "started-1")
    preview_stash.record("dev", "https://a", "ds", {"planned_deletions": "1-7"})
    _as_engine(monkeypatch, pid, started)
    with pytest.raises(preview_stash.NoPreviewStep):
        preview_stash.recall(stack, "https://a", "ds")


def test_without_a_pulumi_cli_nothing_is_recorded_or_recalled(
    stash_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preview_stash, "engine_process", lambda: None)
    preview_stash.record("dev", "https://a", "ds", {"planned_deletions": "1-7"})
    assert not stash_dir.exists()
    with pytest.raises(preview_stash.NoPreviewStep):
        preview_stash.recall("dev", "https://a", "ds")


def test_a_directory_others_can_write_is_refused(
    stash_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stash_dir.mkdir(mode=0o777)
    stash_dir.chmod(0o777)
    _as_engine(monkeypatch, 4242, "started-1")
    with pytest.raises(preview_stash.StashError, match="private directory"):
        preview_stash.record("dev", "https://a", "ds", {})


def test_directories_of_finished_cli_processes_are_removed(
    stash_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    gone_pid = int(done.stdout)
    _as_engine(monkeypatch, gone_pid, "started-0")
    preview_stash.record("dev", "https://a", "ds", {})
    assert len(list(stash_dir.iterdir())) == 1
    _as_engine(monkeypatch, os.getpid(), "started-1")
    preview_stash.record("dev", "https://a", "ds", {})
    assert [p.name.split("-")[1] for p in stash_dir.iterdir()] == [str(os.getpid())]


def test_this_test_process_has_no_pulumi_engine() -> None:
    assert preview_stash.engine_process() is None
