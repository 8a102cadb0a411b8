"""examples/ci's nightly "Retention report" step, run as GitHub would run it: bash, the
real `pulumi config get` on examples/policy-fleet's stack config, the real
`domo-versions report` against the emulator; the job summary and the chart checked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from domo_versions_iac.emulator import (
    BUDGET_DATASET_ID,
    EMULATOR_TOKEN,
    EVENTS_DATASET_ID,
    SALES_DATASET_ID,
    EmulatorServer,
)
from domo_versions_iac.testing import find_pulumi_bin_dir

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples/ci/.github/workflows/domo-versions.yml"


def step(name: str) -> dict[str, object]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps: list[dict[str, object]] = workflow["jobs"]["preview"]["steps"]
    return next(s for s in steps if s.get("name") == name)


def test_the_nightly_report_step_fills_the_job_summary(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    work = tmp_path / "infra"
    shutil.copytree(ROOT / "examples/policy-fleet", work)
    (work / "report-policy.json").write_text(json.dumps({"keep_last": 3, "max_deletions": 10**4}))
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    summary = tmp_path / "summary.md"
    summary.write_text("### domo-versions preview\n")
    bin_dirs = [str(find_pulumi_bin_dir()), str(Path(sys.executable).parent)]
    env = {
        "PATH": os.pathsep.join([*bin_dirs, os.environ.get("PATH", "/usr/bin:/bin")]),
        "HOME": str(tmp_path),
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
        "PULUMI_BACKEND_URL": (tmp_path / "state").as_uri(),
        "PULUMI_CONFIG_PASSPHRASE": "example",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "DOMO_INSTANCE": emulator.url,
        "DOMO_DEVELOPER_TOKEN": EMULATOR_TOKEN,
        "STACK": "prod",
        "REPORT_POLICY": "report-policy.json",
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUN_URL": "https://github.example/run/1",
    }
    (tmp_path / "state").mkdir()
    init = subprocess.run(
        ["pulumi", "stack", "init", "prod", "--non-interactive"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr
    report = step("Retention report")
    assert "schedule" in str(report["if"])
    script = str(report["run"])
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],  # GitHub's `shell: bash`
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = summary.read_text()
    assert text.startswith("### domo-versions preview\n\n## Retention report\n")
    for dataset in (SALES_DATASET_ID, EVENTS_DATASET_ID, BUDGET_DATASET_ID):
        assert f"| `{dataset}` |" in text
    assert "artifact `domo-versions-report` of [this run](https://github.example/run/1)" in text
    root = ET.parse(runner_temp / "retention.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    upload = step("Keep the retention report")
    assert upload["if"] == report["if"]
    paths = str(upload["with"]["path"])  # type: ignore[index]
    assert "retention.svg" in paths and "retention.md" in paths
