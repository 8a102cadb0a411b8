"""examples/ci's workflow: valid for GitHub, and it does what its README promises.

Validity is checked against GitHub's workflow JSON Schema, vendored by check-jsonschema
(a dev dependency), so the test needs no network.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples/ci/.github/workflows/domo-versions.yml"


def check_jsonschema() -> str:
    found = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert found, "check-jsonschema is missing: `make setup` installs the dev extras"
    return found


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    data: dict[str | bool, Any] = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return {str(key): value for key, value in data.items()}


def run_steps(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]


def test_the_workflow_matches_githubs_schema() -> None:
    result = subprocess.run(
        [check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs_on: x", 1))
    result = subprocess.run(
        [check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout


def test_triggers_pull_requests_main_nightly_and_by_hand(workflow: dict[str, Any]) -> None:
    triggers = workflow["on"]
    assert set(triggers) == {"pull_request", "push", "schedule", "workflow_dispatch"}
    assert triggers["push"]["branches"] == ["main"]
    assert len(triggers["schedule"]) == 1 and triggers["schedule"][0]["cron"].endswith("* * *")
    assert triggers["workflow_dispatch"]["inputs"]["apply"]["type"] == "boolean"


def test_preview_saves_its_plan_and_the_apply_job_uses_it(workflow: dict[str, Any]) -> None:
    preview, apply = workflow["jobs"]["preview"], workflow["jobs"]["apply"]
    assert "pulumi preview" in run_steps(preview)
    assert '--save-plan "$RUNNER_TEMP/plan.json"' in run_steps(preview)
    upload = next(s for s in preview["steps"] if s.get("uses", "").startswith("actions/upload"))
    assert upload["with"]["path"].endswith("/plan.json")
    assert apply["needs"] == "preview"
    download = next(s for s in apply["steps"] if s.get("uses", "").startswith("actions/download"))
    assert download["with"]["name"] == upload["with"]["name"]
    assert '--plan "$RUNNER_TEMP/plan.json"' in run_steps(apply)
    assert "refs/heads/main" in apply["if"] and apply["environment"] == "production"


def test_the_pr_comment_is_the_short_report(workflow: dict[str, Any]) -> None:
    preview = workflow["jobs"]["preview"]
    comment = next(s for s in preview["steps"] if s.get("name") == "Comment on the pull request")
    assert '--body-file "$RUNNER_TEMP/report.md"' in comment["run"]
    report = next(s for s in preview["steps"] if s.get("id") == "report")["run"]
    # report.md: a heading, the per-dataset summary lines, a link; the full preview only
    # goes to the job summary.
    heading = report.index('echo "### domo-versions preview')
    summaries = report.index('echo "$summaries" | head -n 30')  # short however many datasets
    link = report.index("Every version it would delete")
    written = report.index('> "$RUNNER_TEMP/report.md"')
    assert heading < summaries < link < written < report.index("Full preview")
    assert preview["permissions"]["pull-requests"] == "write"
    assert "pull-requests" not in workflow["permissions"]


def test_parallel_is_bounded_and_python_matches_the_project(workflow: dict[str, Any]) -> None:
    assert 1 <= int(workflow["env"]["PARALLEL"]) <= 8
    assert '--parallel "$PARALLEL"' in run_steps(workflow["jobs"]["apply"])
    pyproject = (ROOT / "pyproject.toml").read_text()
    requires = re.search(r'^requires-python = "([^"]+)"', pyproject, re.MULTILINE)
    assert requires is not None
    python = workflow["env"]["PYTHON_VERSION"]
    assert f"{python}.0" in SpecifierSet(requires.group(1))
    for job in workflow["jobs"].values():
        setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-py"))
        assert setup["with"]["python-version"] == "${{ env.PYTHON_VERSION }}"
        assert "pulumi/actions" in uses(job)


def test_the_secrets_come_from_the_repository_settings() -> None:
    text = WORKFLOW.read_text()
    for secret in ("DOMO_DEVELOPER_TOKEN", "PULUMI_ACCESS_TOKEN"):
        assert f"secrets.{secret}" in text
    assert "vars.DOMO_INSTANCE" in text


def test_the_nightly_run_adds_the_retention_report_and_its_chart(workflow: dict[str, Any]) -> None:
    steps = workflow["jobs"]["preview"]["steps"]
    report = next(s for s in steps if s.get("name") == "Retention report")
    assert report["if"] == "${{ !cancelled() && github.event_name == 'schedule' }}"
    run = report["run"]
    assert 'domo-versions report $ids --policy "$REPORT_POLICY"' in run
    assert '--markdown "$RUNNER_TEMP/retention.md"' in run
    assert '--svg "$RUNNER_TEMP/retention.svg"' in run
    assert run.index('cat "$RUNNER_TEMP/retention.md"') < run.index('>> "$GITHUB_STEP_SUMMARY"')
    upload = next(s for s in steps if s.get("name") == "Keep the retention report")
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert "${{ runner.temp }}/retention.svg" in upload["with"]["path"]
    assert workflow["env"]["REPORT_POLICY"].endswith(".json")
