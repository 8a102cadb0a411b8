"""``domo-versions archive``: archive without deleting, ls, verify, get (local dir and S3)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from s3_server import S3Endpoint

from domo_versions_iac.cli import common as cli_common
from domo_versions_iac.cli.main import cli
from domo_versions_iac.domo.models import parse_instant
from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer, Fault
from domo_versions_iac.emulator.export import ExportSpec, export_csv
from domo_versions_iac.emulator.records import version_record

DS = "cli-arch"


@pytest.fixture
def env(emulator: EmulatorServer) -> dict[str, str]:
    records = [
        version_record(i, recorded=parse_instant(f"2026-01-0{i}T00:00:00Z"), rows=500 * i)
        for i in range(1, 5)
    ]
    records.append(
        version_record(5, status="processing", recorded=parse_instant("2026-01-05T00:00:00Z"))
    )
    emulator.store.add_dataset(DS, records)
    return {"DOMO_INSTANCE": emulator.url, "DOMO_DEVELOPER_TOKEN": EMULATOR_TOKEN}


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_common, "CLIENT_OPTIONS", {"backoff_base": 0.0, "timeout": 5.0})


def run(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, args, env=env or {})


def served(emulator: EmulatorServer, data_id: int) -> bytes:
    record = next(r for r in emulator.store.list_versions(DS) if r["dataId"] == data_id)
    return export_csv(ExportSpec(DS, data_id, record["schemaId"], record["numRows"]))


def test_archive_ls_verify_get_on_a_local_directory(
    emulator: EmulatorServer, env: dict[str, str], tmp_path: Path
) -> None:
    url = tmp_path.as_uri()
    result = run(["archive", DS, "--versions", "1-2, 4", "--to", url], env)
    assert result.exit_code == 0, result.output
    assert f"dataset {DS}: 3 of 3 versions archived and verified" in result.stdout
    assert [v["dataId"] for v in emulator.store.list_versions(DS)] == [1, 2, 3, 4, 5]
    assert not [r for r in emulator.store.requests if r.method == "DELETE"]

    listed = run(["archive", "ls", url, DS])
    assert listed.exit_code == 0, listed.output
    rows = listed.stdout.splitlines()
    assert rows[0].split()[:3] == ["instance", "dataset", "id"]
    assert [line.split()[2] for line in rows[1:-1]] == ["1", "2", "4"]
    assert rows[-1].startswith("3 archived versions, ")
    as_json = json.loads(run(["archive", "ls", url, "--json"]).stdout)
    assert [m["version_id"] for m in as_json["archives"]] == [1, 2, 4]

    verified = run(["archive", "verify", url])
    assert verified.exit_code == 0 and "3 archives checked, 0 problems" in verified.stdout

    out = tmp_path / "v4.csv"
    got = run(["archive", "get", url, DS, "4", "-o", str(out)])
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == served(emulator, 4)
    to_stdout = run(["archive", "get", url, DS, "2"])
    assert to_stdout.stdout_bytes == served(emulator, 2)


def test_default_versions_skip_processing_uploads(
    emulator: EmulatorServer, env: dict[str, str], tmp_path: Path
) -> None:
    result = run(["archive", DS, "--to", str(tmp_path), "--json"], env)
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(result.stdout)["versions"]) == ["1", "2", "3", "4"]


def test_verify_and_get_catch_a_tampered_archive(
    emulator: EmulatorServer, env: dict[str, str], tmp_path: Path
) -> None:
    url = str(tmp_path)
    assert run(["archive", DS, "--versions", "1-2", "--to", url], env).exit_code == 0
    victim = next(tmp_path.rglob("2.csv.gz"))
    victim.write_bytes(gzip.compress(b"row_id,note\n1,forged\n"))
    (victim.parent / "9.csv.gz").write_bytes(gzip.compress(b"x\n"))  # never verified
    verified = run(["archive", "verify", url])
    assert verified.exit_code == 1
    assert "FAILED" in verified.stdout and "2.csv.gz" in verified.stdout
    assert "9.csv.gz: no manifest (never verified)" in verified.stdout
    out = tmp_path / "out.csv"
    got = run(["archive", "get", url, DS, "2", "-o", str(out)])
    assert got.exit_code == 1 and "sha256" in got.stderr
    assert not out.exists()
    missing = run(["archive", "get", url, DS, "7"])
    assert missing.exit_code == 1 and "no archive of dataset" in missing.stderr


def test_a_failed_export_is_an_error_naming_the_version(
    emulator: EmulatorServer, env: dict[str, str], tmp_path: Path
) -> None:
    emulator.store.inject_fault(Fault(kind="wrong_rows", rows_delta=2, version_id=3))
    result = run(["archive", DS, "--versions", "2-3", "--to", str(tmp_path)], env)
    assert result.exit_code == 1
    assert "error: version 3 not archived: version 3: the export holds 1502 rows" in result.stderr
    assert f"dataset {DS}: 1 of 2 versions archived and verified" in result.stdout


def test_archive_to_s3(
    emulator: EmulatorServer, env: dict[str, str], s3_endpoint: S3Endpoint
) -> None:
    url = f"s3://{s3_endpoint.bucket}/cli"
    full: dict[str, Any] = {**env, **s3_endpoint.env}
    assert run(["archive", DS, "--versions", "3", "--to", url], full).exit_code == 0
    assert run(["archive", "verify", url], full).exit_code == 0
    got = run(["archive", "get", url, DS, "3"], full)
    assert got.stdout_bytes == served(emulator, 3)


def test_plan_json_carries_the_archive_target(env: dict[str, str]) -> None:
    from domo_versions_iac.schemas import validator

    url = "s3://acme-archive/domo-versions"
    result = run(["plan", DS, "--keep-last", "1", "--archive", url, "--json"], env)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["datasets"][DS]
    assert plan["archive"] == {"to": url, "exclude_appended_data": True}
    assert list(validator("plan").iter_errors(plan)) == []
    text = run(["plan", DS, "--keep-last", "1", "--archive", url], env)
    assert f"summary: delete 3 of 5 versions (archived first to {url}), " in text.stdout
    plain = json.loads(run(["plan", DS, "--keep-last", "1", "--json"], env).stdout)
    assert "archive" not in plain["datasets"][DS]
    bad = run(["plan", DS, "--keep-last", "1", "--archive", "ftp://x"], env)
    assert bad.exit_code == 1 and "--archive" in bad.stderr
