"""scripts/ensure-pulumi-engine.sh fails clearly when it cannot build the engine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts/ensure-pulumi-engine.sh"


def run_script(tmp_path: Path, path: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT)],
        env={
            "PATH": path,
            "HOME": str(tmp_path),
            "DOMO_VERSIONS_IAC_CACHE": str(tmp_path / "cache"),
            "PULUMI_FORCE_BUILD": "1",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def fake_go(tmp_path: Path, version: str) -> str:
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    go = bin_dir / "go"
    go.write_text(
        f'#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo go{version} && exit 0\nexit 1\n'
    )
    go.chmod(0o755)
    return f"{bin_dir}:/usr/bin:/bin"


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
    go_dir = os.path.dirname(
        subprocess.run(
            ["bash", "-lc", "command -v go"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    result = run_script(
        tmp_path,
        f"{go_dir}:/usr/bin:/bin",
        GOPROXY="off",
        GOFLAGS="-mod=mod",
        GOMODCACHE=str(tmp_path / "empty-modcache"),
        GOCACHE=str(tmp_path / "gocache"),
    )
    assert result.returncode == 1
    assert "cannot download the Pulumi Go modules" in result.stderr
    assert not (tmp_path / "cache" / "pulumi-v3.274.1" / "bin").exists(), "no half-built engine"


def test_a_cached_engine_is_reused_without_building(tmp_path: Path) -> None:
    # The engine `make` built lives in the shared cache; the script must answer at once.
    result = subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    bin_dir = Path(result.stdout.strip().splitlines()[-1])
    assert (bin_dir / "pulumi").exists()
    assert "building" not in result.stderr
