"""``domo-versions report`` (issue 25), as a user sees it: the same numbers as ``plan``,
one table sorted by reclaimable bytes, Markdown, JSON, an SVG chart, and error rows."""

from __future__ import annotations

import io
import json
import re
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from domo_versions_iac.cli import common as cli_common
from domo_versions_iac.cli.main import cli
from domo_versions_iac.cli.report import build_report, report_markdown, report_text
from domo_versions_iac.cli.report_chart import bars, write_svg
from domo_versions_iac.domo.models import DataVersion, format_instant
from domo_versions_iac.emulator import (
    BUDGET_DATASET_ID,
    EMULATOR_TOKEN,
    EVENTS_DATASET_ID,
    INVENTORY_DATASET_ID,
    SALES_DATASET_ID,
    EmulatorServer,
)
from domo_versions_iac.policy import RetentionPolicy, plan_retention

SEEDED = [SALES_DATASET_ID, EVENTS_DATASET_ID, INVENTORY_DATASET_ID, BUDGET_DATASET_ID]
POLICY = ["--keep-within", "30d", "--keep-noncurrent-within", "10d", "--keep-last", "3"]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_common, "CLIENT_OPTIONS", {"backoff_base": 0.0, "timeout": 5.0})


@pytest.fixture
def env(emulator: EmulatorServer) -> dict[str, str]:
    return {"DOMO_INSTANCE": emulator.url, "DOMO_DEVELOPER_TOKEN": EMULATOR_TOKEN}


@pytest.fixture
def now() -> str:
    """The clock both commands plan at: the emulator's seed is relative to the real one."""
    return format_instant(datetime.now(timezone.utc).replace(microsecond=0))


def run(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, args, env=env)


def test_the_numbers_are_plans_numbers(env: dict[str, str], now: str) -> None:
    planned = run(["plan", *SEEDED, *POLICY, "--now", now, "--forecast", "90", "--json"], env)
    assert planned.exit_code == 0, planned.output
    reported = run(["report", *SEEDED, *POLICY, "--now", now, "--json"], env)
    assert reported.exit_code == 0, reported.output
    plans = json.loads(planned.stdout)["datasets"]
    report = json.loads(reported.stdout)
    assert report["format_version"] == 2 and set(report["datasets"]) == set(SEEDED)
    for ds, row in report["datasets"].items():
        plan = plans[ds]
        summary = plan["summary"]
        assert row["versions"] == summary["versions"]
        assert row["kept"] == summary["keep"] and row["deletable"] == summary["delete"]
        dates = sorted(v["recorded_date"] for v in plan["versions"])
        assert (row["oldest"], row["newest"]) == (dates[0], dates[-1])
        assert row["policy"] == plan["policy"] and row["now"] == plan["now"] == now
        expected = [
            {"day": d["day"], "count": d["count"], "bytes": d["bytes"]}
            for d in plan["forecast"][1:]
            if d["count"]
        ]
        assert row["forecast"] == expected
    assert any(row["forecast"] for row in report["datasets"].values())  # the test has teeth


def test_one_table_sorted_by_reclaimable_bytes_with_totals(env: dict[str, str], now: str) -> None:
    result = run(["report", *SEEDED, *POLICY, "--now", now], env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split("  ")[0] == "dataset"
    assert " ".join(lines[0].split()) == (
        "dataset versions kept deletable bytes kept bytes reclaimable oldest newest"
    )
    data = json.loads(run(["report", *SEEDED, *POLICY, "--now", now, "--json"], env).stdout)
    by_bytes = sorted(SEEDED, key=lambda ds: (-data["datasets"][ds]["deletable"]["bytes"], ds))
    assert [line.split()[0] for line in lines[1:5]] == by_bytes
    assert lines[-3].startswith("policy: keep the 3 newest successful versions, every version")
    assert lines[-2] == f"planned at {now}"
    versions = sum(row["versions"] for row in data["datasets"].values())
    assert lines[-1].startswith(f"total: 4 datasets, {versions} versions: delete ")
    assert "in the next 90 days if nothing new is uploaded" in lines[-1]


def test_a_dataset_that_cannot_be_listed_is_an_error_row(
    env: dict[str, str], tmp_path: Path, now: str
) -> None:
    md = tmp_path / "report.md"
    args = ["report", "no-such-dataset", BUDGET_DATASET_ID, "--keep-last", "2", "--now", now]
    result = run([*args, "--markdown", str(md)], env)
    assert result.exit_code == 1
    rows = result.stdout.splitlines()
    assert rows[1].startswith(BUDGET_DATASET_ID)
    assert rows[2].startswith("no-such-dataset ") and "error: " in rows[2] and "404" in rows[2]
    assert result.stdout.splitlines()[-1].endswith("; 1 dataset not listed")
    assert result.stderr.count("error: ") == 1 and "no-such-dataset" in result.stderr
    text = md.read_text()
    assert "**1 dataset could not be listed.**" in text
    assert "| `no-such-dataset` | error: " in text and f"| `{BUDGET_DATASET_ID}` | 5 |" in text
    data = json.loads(run([*args, "--json"], env).stdout)["datasets"]
    assert data["no-such-dataset"]["error"]["status"] == 404
    assert data[BUDGET_DATASET_ID]["versions"] == 5


def test_markdown_has_the_totals_first_then_the_table(
    env: dict[str, str], tmp_path: Path, now: str
) -> None:
    md = tmp_path / "report.md"
    result = run(["report", *SEEDED, *POLICY, "--now", now, "--markdown", str(md)], env)
    assert result.exit_code == 0, result.output
    text = md.read_text()
    assert text.startswith("## Retention report\n")
    totals = text.index("| deletable now |")
    table = text.index("| dataset | versions | kept | deletable |")
    assert totals < text.index("| deletable in the next 90 days") < table
    assert text.count(f"| `{SALES_DATASET_ID}` |") == 1
    table_rows = [line for line in text[table:].splitlines() if line.startswith("| `")]
    assert len(table_rows) == 4


def versions_of(n: int, size: int) -> list[DataVersion]:
    now = datetime(2026, 12, 5, 12, tzinfo=timezone.utc)
    return [
        DataVersion(i, 1, "success", now - timedelta(days=n - i), now, 1, size)
        for i in range(1, n + 1)
    ]


def synthetic_report(datasets: int) -> Any:
    policy = RetentionPolicy.from_dict({"keep_last": 2, "keep_noncurrent_within": "20d"})
    now = datetime(2026, 12, 5, 12, tzinfo=timezone.utc)
    plans = {
        f"ds-{k:02d}": plan_retention(versions_of(30 + k, 10**6 * (k + 1)), policy, now)
        for k in range(datasets)
    }
    return build_report(plans, {"gone | <b>": KeyError("x | y")}, policy=policy, now=now)


def test_markdown_cells_cannot_break_the_table() -> None:
    text = report_markdown(synthetic_report(2))
    row = next(line for line in text.splitlines() if line.startswith("| `gone"))
    assert row.startswith("| `gone \\| &lt;b&gt;` | error: 'x \\| y' |")
    assert len(re.findall(r"(?<!\\)\|", row)) == 9  # 8 columns, whatever the text


def test_the_chart_shows_the_top_20_and_the_rest_as_one_bar() -> None:
    report = synthetic_report(25)
    got = bars(report)
    assert len(got) == 21
    assert [label for label, _, _ in got[:3]] == ["ds-24", "ds-23", "ds-22"]
    rest = report.rows[20:]
    assert got[-1] == (
        "5 other datasets",
        sum(r.reclaimable_bytes for r in rest),
        sum(r.kept_bytes for r in rest),
    )


def svg_of(report: Any) -> bytes:
    out = io.BytesIO()
    write_svg(report, out)
    return out.getvalue()


def test_the_svg_parses_as_svg_without_script_and_with_byte_labels() -> None:
    report = synthetic_report(25)
    data = svg_of(report)
    root = ET.fromstring(data)
    assert root.tag == f"{SVG}svg"
    assert not [e for e in root.iter() if e.tag.lower().endswith("script")]
    assert b"javascript" not in data.lower() and b"onload" not in data.lower()
    text = data.decode()
    # glyphs are paths; matplotlib keeps each label's text as a comment beside it
    assert "<!-- 5 other datasets -->" in text and "<!-- ds-24 -->" in text
    assert "<!-- 200.0 MB -->" in text or "<!-- 1.0 GB -->" in text
    assert "Bytes deleted over the next 90 days if nothing new is uploaded" in text
    assert data == svg_of(report)  # deterministic: no date, fixed ids
    assert "<dc:date>" not in text


def test_the_cli_writes_the_svg(env: dict[str, str], tmp_path: Path, now: str) -> None:
    svg = tmp_path / "report.svg"
    result = run(["report", *SEEDED, *POLICY, "--now", now, "--svg", str(svg)], env)
    assert result.exit_code == 0, result.output
    root = ET.parse(svg).getroot()
    assert root.tag == f"{SVG}svg"
    assert f"<!-- {SALES_DATASET_ID} -->" in svg.read_text()


def test_without_matplotlib_svg_names_the_extra_before_any_request(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    result = run(["report", *SEEDED, "--keep-last", "2", "--svg", "out.svg"], env)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: --svg needs matplotlib, the optional extra 'report': "
        "pip install 'domo-versions-iac[report]'"
    )
    assert result.stdout == ""
    assert emulator.store.requests == []  # nothing was listed


def test_the_text_report_of_an_empty_dataset_has_no_dates() -> None:
    policy = RetentionPolicy.from_dict({"keep_last": 1})
    now = datetime(2026, 12, 5, 12, tzinfo=timezone.utc)
    report = build_report({"empty": plan_retention([], policy, now)}, {}, policy=policy, now=now)
    row = report_text(report).splitlines()[1]
    assert row.split() == ["empty", "0", "0", "0", "0", "B", "0", "B", "-", "-"]
    assert format_instant(now) in report_text(report)


def test_matplotlib_is_the_optional_extra_report() -> None:
    from importlib.metadata import metadata

    meta = metadata("domo-versions-iac")
    assert "report" in (meta.get_all("Provides-Extra") or [])
    requires = meta.get_all("Requires-Dist") or []
    assert any(r.startswith("matplotlib") and 'extra == "report"' in r for r in requires)
    assert not any(r.startswith("matplotlib") and "extra" not in r for r in requires)
