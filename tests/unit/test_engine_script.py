"""scripts/ensure-pulumi-engine.sh: clear failures, cache reuse, one build at a time.

Every test runs the script against a private cache and a fake `go`, so none of them
builds (or needs) the real engine.
"""

from __future__ import annotations

import fcntl
import select
import subprocess
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts/ensure-pulumi-engine.sh"
VERSION = "3.274.1"


def script_env(tmp_path: Path, path: str) -> dict[str, str]:
    """A private cache, no `pulumi` from PATH: the script sees only what the test made."""
    return {
        "PATH": path,
        "HOME": str(tmp_path),
        "DOMO_VERSIONS_IAC_CACHE": str(tmp_path / "cache"),
        "PULUMI_FORCE_BUILD": "1",
    }


def run_script(tmp_path: Path, path: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT)],
        env={**script_env(tmp_path, path), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def fake_go(tmp_path: Path, version: str, download_error: str = "") -> str:
    """A PATH whose `go` reports VERSION and fails `go mod download` with DOWNLOAD_ERROR."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    go = bin_dir / "go"
    go.write_text(
        "#!/bin/sh\n"
        f'[ "$1 $2" = "env GOVERSION" ] && echo go{version} && exit 0\n'
        '[ "$1 $2" = "env GOPROXY" ] && echo https://proxy.golang.org && exit 0\n'
        f'[ "$1 $2" = "mod download" ] && echo "{download_error}" >&2 && exit 1\n'
        "exit 1\n"
    )
    go.chmod(0o755)
    return f"{bin_dir}:/usr/bin:/bin"


def fake_cached_engine(cache: Path) -> Path:
    """A cache holding a 'built' engine: the two executables the script checks for."""
    bin_dir = cache / f"pulumi-v{VERSION}" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "pulumi").write_text(f'#!/bin/sh\n[ "$1" = version ] && echo v{VERSION}\n')
    (bin_dir / "pulumi-resource-pulumi-python").write_text("#!/bin/sh\nexit 0\n")
    for exe in bin_dir.iterdir():
        exe.chmod(0o755)
    return bin_dir


def test_without_go_it_says_to_install_go_or_pulumi(tmp_path: Path) -> None:
    result = run_script(tmp_path, "/usr/bin:/bin")
    assert result.returncode == 1
    assert "Go is not installed" in result.stderr
    assert "install the Pulumi CLI" in result.stderr


def test_with_an_old_go_it_names_the_version_needed(tmp_path: Path) -> None:
    result = run_script(tmp_path, fake_go(tmp_path, "1.18.2"))
    assert result.returncode == 1
    assert "Go 1.18.2 is too old" in result.stderr and ">= 1.22" in result.stderr


def test_without_the_module_proxy_it_says_so(tmp_path: Path) -> None:
    path = fake_go(tmp_path, "1.22.0", download_error="dial tcp: lookup proxy.golang.org")
    result = run_script(tmp_path, path)
    assert result.returncode == 1
    assert "dial tcp: lookup proxy.golang.org" in result.stderr
    assert "cannot download the Pulumi Go modules" in result.stderr
    assert not (tmp_path / "cache" / f"pulumi-v{VERSION}" / "bin").exists(), "no half-built engine"


def test_a_cached_engine_is_reused_without_building(tmp_path: Path) -> None:
    bin_dir = fake_cached_engine(tmp_path / "cache")
    result = run_script(tmp_path, "/usr/bin:/bin")  # no Go: a build would fail
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(bin_dir)
    assert "building" not in result.stderr
    assert (bin_dir / "pulumi-language-python").exists(), "the language host is installed"


def hold_lock(path: Path) -> IO[bytes]:
    """Take the build lock as a concurrent run would (released when the file closes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("ab")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle


def start_script(tmp_path: Path, path: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["bash", str(SCRIPT)],
        env={**script_env(tmp_path, path), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_run_waits_for_the_build_under_way_and_reuses_it(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with hold_lock(cache / f"pulumi-v{VERSION}.lock"):
        proc = start_script(tmp_path, "/usr/bin:/bin")  # no Go: building itself would fail
        try:
            assert proc.stderr is not None
            ready, _, _ = select.select([proc.stderr], [], [], 60)
            assert ready, "the second run said nothing while the lock was held"
            assert "another run is building the engine" in proc.stderr.readline()
            assert proc.poll() is None, "the second run did not wait for the lock"
            bin_dir = fake_cached_engine(cache)  # the first run finishes its build
        except BaseException:
            proc.kill()
            raise
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert stdout.strip().splitlines()[-1] == str(bin_dir)
    assert "building" not in stderr


def test_a_second_run_gives_up_after_the_bounded_wait(tmp_path: Path) -> None:
    with hold_lock(tmp_path / "cache" / f"pulumi-v{VERSION}.lock"):
        result = run_script(tmp_path, "/usr/bin:/bin", PULUMI_ENGINE_LOCK_WAIT="1")
    assert result.returncode == 1
    assert "gave up after 1 s waiting for" in result.stderr
    assert "PULUMI_ENGINE_LOCK_WAIT" in result.stderr
