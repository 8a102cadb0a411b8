"""Every example README works when followed literally from the checkout.

Each README's ```sh blocks are joined, in order, into one bash script and run from the
repository root as a new user pasting them would: a shell with neither `.venv` nor the
engine on PATH and no PULUMI_*/DOMO_* variables. The root is a copy of the checkout's
``examples/`` beside a link to its ``.venv`` (all the READMEs use), so the READMEs can run
at the same time as each other (examples/ci also uses examples/basic). The README's own
commands start and stop the emulator (on a free port: no README depends on a fixed one).
The test asserts that the script succeeds, prints what the README promises, leaves no
process running and leaves the tree as it was. Output goes to a file, not a pipe: when a
command fails, the emulator left in the background cannot keep the test waiting for the
pipe to close.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from domo_versions_iac.emulator import BUDGET_DATASET_ID, INVENTORY_DATASET_ID, SALES_DATASET_ID

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TIMEOUT = 600.0
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)

# What each README's commands must print (a README without an entry fails the test).
EXPECTED = {
    "basic": [
        f"dataset {INVENTORY_DATASET_ID}: delete 8 of 12 versions",
        "\n9-12\n",
        f"added version 13 to dataset {INVENTORY_DATASET_ID}: success",
        f"dataset {INVENTORY_DATASET_ID}: delete 1 of 5 versions",
        "- 11: recorded ",
        "Stack 'dev' has been removed!",
        "emulator stopped",
    ],
    "policy-fleet": [
        f"dataset {BUDGET_DATASET_ID}: delete 2 of 5 versions (archived first to file:///",
        f"dataset {SALES_DATASET_ID}: delete ",
        '"budget":"deleted 2 versions',
        "2 archived versions, ",
        "2 archives checked, 0 problems",
        "Stack 'dev' has been removed!",
        "emulator stopped",
    ],
    "ci": [
        "ok -- validation done",
        "Update plan written to",
        "violates plan",
        "pulumi up refused the stale plan: preview again",
        "total: 4 versions",
        "## Retention report",
        "| deletable now | ",
        "Stack 'ci' has been removed!",
        "emulator stopped",
    ],
}


def readme_script(readme: Path) -> str:
    blocks = SH_BLOCK.findall(readme.read_text())
    assert blocks, f"{readme} has no ```sh block to follow"
    return "\n".join(blocks)


def engine_dir() -> Path:
    recorded = ROOT / ".venv" / ".pulumi-bin-dir"
    assert recorded.exists(), "run `make setup` first: the READMEs read .venv/.pulumi-bin-dir"
    return Path(recorded.read_text().strip())


def new_user_env(pulumi_home: Path) -> dict[str, str]:
    """This process's environment minus what a fresh shell would not have."""
    hidden = {(ROOT / ".venv" / "bin").resolve(), engine_dir().resolve()}
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PULUMI_", "DOMO_", "VIRTUAL_ENV"))
    }
    env["PATH"] = os.pathsep.join(
        entry
        for entry in env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
        if entry and Path(entry).resolve() not in hidden
    )
    # Not needed by the READMEs; keeps the test's Pulumi workspace files out of ~/.pulumi.
    env["PULUMI_HOME"] = str(pulumi_home)
    env["PULUMI_SKIP_UPDATE_CHECK"] = "true"
    env["NO_COLOR"] = "1"
    return env


def checkout_copy(tmp_path: Path) -> Path:
    """A root holding a copy of examples/ and a link to the checkout's .venv."""
    root = tmp_path / "checkout"
    shutil.copytree(
        EXAMPLES,
        root / "examples",
        ignore=shutil.ignore_patterns("__pycache__", "Pulumi.*.yaml", "venv", ".venv"),
    )
    (root / ".venv").symlink_to(ROOT / ".venv")
    return root


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (not following the .venv link) and a digest of it."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts
    }


def session_pids(session_id: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields_after_name = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields_after_name[3]) == session_id and fields_after_name[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def kill_session(session_id: int) -> None:
    for pid in session_pids(session_id):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def wait_for_session_to_end(session_id: int, seconds: float) -> list[int]:
    """The session's processes still alive after up to ``seconds`` (bounded polling)."""
    deadline = time.monotonic() + seconds
    while (left := session_pids(session_id)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def run_script(
    script: str, tmp_path: Path, cwd: Path = ROOT, timeout: float = TIMEOUT
) -> tuple[int, str, int]:
    """Run ``script`` in ``cwd`` as a new user would; (exit code, output, session id).

    Returns when bash exits: output goes to a file, so a process the script left in the
    background (the emulator, after a failed command) cannot hold the test on a pipe.
    The caller ends the session's leftovers (kill_session).
    """
    log = tmp_path / "output.txt"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            cwd=cwd,
            env=new_user_env(tmp_path / "pulumi-home"),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        returncode = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_session(proc.pid)
        pytest.fail(f"commands still running after {timeout:.0f} s:\n{log.read_text()}")
    return returncode, log.read_text(), proc.pid


def follow_as_written(script: str, root: Path, tmp_path: Path, expected: list[str]) -> None:
    """Run ``script`` in ``root`` as a new user would; assert that it succeeds, prints
    each ``expected`` line, leaves no process running and leaves the tree as it was."""
    before = tree(root)
    session = 0
    try:
        returncode, output, session = run_script(script, tmp_path, cwd=root)
        left = wait_for_session_to_end(session, 10.0)
        assert returncode == 0, f"README commands failed ({returncode}):\n{output}"
        assert not left, f"processes left running: {left}"
        missing = [line for line in expected if line not in output]
        assert not missing, f"missing from the output: {missing}\n{output}"
        assert tree(root) == before, "the README's commands left files behind or changed some"
    finally:
        if session:
            kill_session(session)


@pytest.mark.parametrize("name", sorted(path.parent.name for path in EXAMPLES.glob("*/README.md")))
def test_readme_commands_work_as_written(name: str, tmp_path: Path) -> None:
    script = readme_script(EXAMPLES / name / "README.md")
    expected = EXPECTED[name]
    follow_as_written(script, checkout_copy(tmp_path), tmp_path, expected)


def test_a_failing_command_ends_the_run_with_the_emulator_still_in_the_background(
    tmp_path: Path,
) -> None:
    """A README command that fails ends the run at once: the emulator the README started
    in the background used to hold the output pipe open for the whole 600 s timeout."""
    script = (
        'export PATH="$PWD/.venv/bin:$PATH"\n'
        'EMULATOR_DIR="$(mktemp -d)"\n'
        'domo-versions emulator --url-file "$EMULATOR_DIR/url" &\n'
        'domo-versions emulator status --wait 30 --url-file "$EMULATOR_DIR/url"\n'
        "false  # a README command that fails\n"
    )
    session = 0
    try:
        returncode, output, session = run_script(script, tmp_path, timeout=60)
        assert returncode == 1, output
        assert "is up: 4 datasets" in output
        assert session_pids(session), "the emulator should still be running here"
    finally:
        if session:
            kill_session(session)
    assert wait_for_session_to_end(session, 10.0) == []


def readme_section(heading: str) -> str:
    """The ```sh blocks of one section of the root README, joined in order."""
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    blocks = SH_BLOCK.findall(text[start : end if end != -1 else len(text)])
    assert blocks, f"README.md's {heading!r} has no ```sh block to follow"
    return "\n".join(blocks)


def test_the_readme_s_archive_walkthrough_works_as_written(tmp_path: Path) -> None:
    """README "Archive before delete", "Try it": from `make setup` to the clean-up, with
    the emulator and a real S3 server (moto) on free ports."""
    script = readme_section("### Try it: the emulator and a local S3 server")
    root = checkout_copy(tmp_path)
    for name in (
        "Makefile",
        "pyproject.toml",
        "constraints-dev.txt",
        "domo_versions_iac",
        "scripts",
    ):
        (root / name).symlink_to(ROOT / name)
    expected = [
        f"dataset {INVENTORY_DATASET_ID}: delete 8 of 12 versions (archived first to "
        "s3://domo-archive/domo-versions)",
        "8 archives checked, 0 problems",
        "emulator stopped",
    ]
    follow_as_written(script, root, tmp_path, expected)
