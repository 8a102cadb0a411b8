"""What a user who pip-installs the package gets: schemas, py.typed, the console script."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

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
    assert "domo-versions = domo_versions_iac.cli:main" in text


def test_schemas_load_from_the_installed_package() -> None:
    from domo_versions_iac.schemas import load_schema

    assert load_schema("dataversion")["title"].startswith("Domo data version")
