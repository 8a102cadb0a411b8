"""What a user who pip-installs the package gets: schemas, py.typed, the console script,
the licence, one version, and the public testing helpers."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

from domo_versions_iac import __version__

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_schemas_typing_marker_and_console_script(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("domo_versions_iac-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in (ROOT / "schemas").glob("*.schema.json"):
        assert f"domo_versions_iac/schemas/{schema.name}" in names
    assert "domo_versions_iac/py.typed" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "domo-versions = domo_versions_iac.cli.main:main" in text
    # testing.py is documented public API (README "Testing your own programs")
    assert "domo_versions_iac/testing.py" in names
    license_file = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
    assert "Apache License" in zipfile.ZipFile(wheel).read(license_file).decode()
    metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
    metadata = zipfile.ZipFile(wheel).read(metadata_name).decode()
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert f"Version: {__version__}" in metadata.splitlines()


def test_the_installed_version_is_the_package_version() -> None:
    assert importlib.metadata.version("domo-versions-iac") == __version__


def test_schemas_load_from_the_installed_package() -> None:
    from domo_versions_iac.schemas import load_schema

    assert load_schema("dataversion")["title"].startswith("Domo data version")
