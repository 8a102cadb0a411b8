"""Every example README works when followed literally from the checkout.

Each README's ```sh blocks are joined, in order, into one bash script and run from the
repository root as a new user pasting them would: a shell with neither `.venv` nor the
engine on PATH and no PULUMI_*/DOMO_* variables. The README's own commands start and
stop the emulator. The test asserts that the script succeeds, prints what the README
promises, leaves no process running and leaves `git status` as it was.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from domo_versions_iac.emulator import BUDGET_DATASET_ID, INVENTORY_DATASET_ID, SALES_DATASET_ID

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
README_PORT = 8123  # the port the READMEs give the emulator
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
        f"dataset {BUDGET_DATASET_ID}: delete 2 of 5 versions",
        f"dataset {SALES_DATASET_ID}: delete ",
        '"budget":"deleted 2 versions',
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


def git_status() -> str:
    result = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


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


def assert_port_free(port: int) -> None:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            pytest.fail(f"127.0.0.1:{port} is in use; the READMEs start the emulator on it")


@pytest.mark.parametrize("name", sorted(path.parent.name for path in EXAMPLES.glob("*/README.md")))
def test_readme_commands_work_as_written(name: str, tmp_path: Path) -> None:
    script = readme_script(EXAMPLES / name / "README.md")
    expected = EXPECTED[name]
    assert_port_free(README_PORT)
    status_before = git_status()
    stack_files_before = set(EXAMPLES.glob("*/Pulumi.*.yaml"))
    proc = subprocess.Popen(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=ROOT,
        env=new_user_env(tmp_path / "pulumi-home"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        try:
            output, _ = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            kill_session(proc.pid)
            output, _ = proc.communicate()
            pytest.fail(f"README commands still running after {TIMEOUT:.0f} s:\n{output}")
        assert proc.returncode == 0, f"README commands failed ({proc.returncode}):\n{output}"
        left = wait_for_session_to_end(proc.pid, 10.0)
        assert not left, f"processes left running: {left}"
        missing = [line for line in expected if line not in output]
        assert not missing, f"missing from the output: {missing}\n{output}"
        assert git_status() == status_before, "the README's commands changed the checkout"
    finally:
        kill_session(proc.pid)
        for leftover in set(EXAMPLES.glob("*/Pulumi.*.yaml")) - stack_files_before:
            leftover.unlink()  # only after a failure: never leave a stack file in the checkout
