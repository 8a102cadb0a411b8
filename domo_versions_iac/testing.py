"""Drive the real Pulumi CLI hermetically: for your tests, and this project's own.

Public API (it ships in the wheel; see README "Testing your own programs"), for
POSIX systems (Linux, macOS):

- `PulumiWorkspace` runs `pulumi` in a throw-away project with its own PULUMI_HOME and
  a ``file://`` backend, so nothing touches the user's Pulumi account or settings;
  a command that outlives its timeout is killed with every plugin it started.
- `CommandResult` is what one command printed and how it ended.
- `find_pulumi_bin_dir` finds the CLI ($PULUMI_BIN_DIR, else PATH), raising
  `PulumiNotFoundError` when there is none.
- `EchoResource` is a trivial dynamic resource that makes no HTTP calls: it proves the
  engine works and is the engine's own floor in benchmarks.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

__all__ = [
    "PASSPHRASE",
    "CommandResult",
    "EchoResource",
    "PulumiNotFoundError",
    "PulumiWorkspace",
    "find_pulumi_bin_dir",
]

PASSPHRASE = "domo-versions-iac-test-passphrase"


class PulumiNotFoundError(RuntimeError):
    """No Pulumi CLI could be found."""


def find_pulumi_bin_dir() -> Path:
    """Where `pulumi` lives: $PULUMI_BIN_DIR (set by `make`), else PATH."""
    configured = os.environ.get("PULUMI_BIN_DIR")
    if configured:
        path = Path(configured)
        if (path / "pulumi").exists():
            return path
        raise PulumiNotFoundError(f"PULUMI_BIN_DIR={configured} holds no `pulumi` binary")
    found = shutil.which("pulumi")
    if found:
        return Path(found).resolve().parent
    raise PulumiNotFoundError(
        "no `pulumi` CLI found: run `make engine` (builds it) or install Pulumi, "
        "or set PULUMI_BIN_DIR"
    )


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from POSIX ``ps`` (no /proc: macOS has none)."""
    listing = subprocess.run(
        ["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True, check=False
    ).stdout
    children: dict[int, list[int]] = {}
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
            children.setdefault(int(fields[1]), []).append(int(fields[0]))
    tree, todo = [pid], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in tree:
                tree.append(child)
                todo.append(child)
    return tree


def _kill_tree(pid: int) -> None:
    """SIGKILL the engine, the plugins it started and their process groups.

    The engine starts each plugin (language host, provider) in a process group of its
    own, so killing the engine's group alone would leave them running.
    """
    groups: set[int] = set()
    for victim in _process_tree(pid):
        with contextlib.suppress(OSError):
            groups.add(os.getpgid(victim))
        with contextlib.suppress(OSError):
            os.kill(victim, signal.SIGKILL)
    for group in groups - {os.getpgrp()}:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)


@dataclass
class CommandResult:
    """What one `pulumi` command printed and how it ended."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def check(self) -> CommandResult:
        if self.returncode != 0:
            raise AssertionError(
                f"`pulumi {' '.join(self.args)}` exited {self.returncode}\n"
                f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
            )
        return self


@dataclass
class PulumiWorkspace:
    """A Pulumi project directory plus a private backend and PULUMI_HOME."""

    root: Path
    program: str | None = None
    project: str = "domo-versions-test"
    stack: str = "dev"
    env: dict[str, str] = field(default_factory=dict)
    bin_dir: Path = field(default_factory=find_pulumi_bin_dir)
    source_dir: Path | None = None
    """An existing project (e.g. examples/basic) to copy instead of writing `program`."""
    secrets_provider: str | None = None
    """`pulumi stack init --secrets-provider` (e.g. ``awskms://KEY?region=...``); None: the
    passphrase (PASSPHRASE), whose deliberate key derivation costs ~0.16 CPU-s per command."""

    def __post_init__(self) -> None:
        self.project_dir = self.root / "project"
        self.home = self.root / "pulumi-home"
        self.backend = self.root / "backend"
        for path in (self.project_dir, self.home, self.backend):
            path.mkdir(parents=True, exist_ok=True)
        if self.source_dir is not None:
            shutil.copytree(
                self.source_dir,
                self.project_dir,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__", "Pulumi.*.yaml", "venv", ".venv"),
            )
            return
        (self.project_dir / "Pulumi.yaml").write_text(
            f"name: {self.project}\nruntime: python\n"
            "description: generated by domo_versions_iac.testing\n"
        )
        self.write_program(self.program or "")

    def write_program(self, program: str) -> None:
        """Replace the program (``__main__.py``) between runs."""
        self.program = textwrap.dedent(program)
        (self.project_dir / "__main__.py").write_text(self.program)

    def base_env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PULUMI_", "DOMO_"))
        }
        env.update(
            {
                "PATH": f"{self.bin_dir}{os.pathsep}{Path(sys.executable).parent}"
                f"{os.pathsep}{env.get('PATH', '')}",
                "PULUMI_HOME": str(self.home),
                "PULUMI_BACKEND_URL": f"file://{self.backend}",
                "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
                "PULUMI_SKIP_UPDATE_CHECK": "true",
                "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
                "PULUMI_PYTHON_CMD": sys.executable,
                "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
                "NO_COLOR": "1",
            }
        )
        env.update(self.env)
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> CommandResult:
        """Run `pulumi ARGS` in the project directory, non-interactively."""
        argv = [str(self.bin_dir / "pulumi"), *args, "--non-interactive", "--color", "never"]
        # A session of its own, so the engine gets no signal meant for the caller; on
        # timeout _kill_tree ends the engine AND its plugins.
        with subprocess.Popen(
            argv,
            cwd=self.project_dir,
            env=self.base_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        ) as proc:
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_tree(proc.pid)
                stdout, stderr = proc.communicate()
                stderr += f"\n[killed after {timeout:.0f} s]"
        result = CommandResult(list(args), proc.returncode, stdout, stderr)
        return result.check() if check else result

    def init_stack(
        self, config: dict[str, str] | None = None, secrets: dict[str, str] | None = None
    ) -> None:
        provider = ("--secrets-provider", self.secrets_provider) if self.secrets_provider else ()
        self.run("stack", "init", self.stack, *provider)
        for key, value in (config or {}).items():
            self.run("config", "set", key, value)
        for key, value in (secrets or {}).items():
            self.run("config", "set", "--secret", key, value)

    def preview(self, *args: str, check: bool = True, timeout: float = 600) -> CommandResult:
        return self.run("preview", *args, check=check, timeout=timeout)

    def up(self, *args: str, check: bool = True) -> CommandResult:
        return self.run("up", "--yes", "--skip-preview", *args, check=check)

    def refresh(self, *args: str, check: bool = True) -> CommandResult:
        return self.run("refresh", "--yes", "--skip-preview", *args, check=check)

    def destroy(self, *args: str, check: bool = True) -> CommandResult:
        return self.run("destroy", "--yes", "--skip-preview", *args, check=check)

    def outputs(self) -> dict[str, Any]:
        result = self.run("stack", "output", "--json", "--show-secrets")
        outputs: dict[str, Any] = json.loads(result.stdout or "{}")
        return outputs

    def export_state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.run("stack", "export").stdout)
        return state

    def import_state(self, state: dict[str, Any]) -> None:
        """Replace the stack's state (`pulumi stack import`), e.g. with an edited export."""
        path = self.root / "state-import.json"
        path.write_text(json.dumps(state))
        self.run("stack", "import", "--file", str(path))

    def resources(self, type_suffix: str = "") -> list[dict[str, Any]]:
        """Resources in the stack's state whose type ends with TYPE_SUFFIX."""
        deployment = self.export_state().get("deployment", {})
        return [
            r for r in deployment.get("resources") or [] if r.get("type", "").endswith(type_suffix)
        ]


class _EchoProvider(dynamic.ResourceProvider):
    """Stores its input as its output; no I/O. Module-level so it pickles by reference."""

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        return dynamic.CreateResult(id_=f"echo-{props.get('value')}", outs=dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = olds.get("value") != news.get("value")
        return dynamic.DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        return dynamic.UpdateResult(outs=dict(news))


class EchoResource(dynamic.Resource):
    """A trivial dynamic resource whose output `value` equals its input."""

    value: pulumi.Output[str]

    def __init__(
        self, name: str, value: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(_EchoProvider(), name, {"value": value}, opts)
