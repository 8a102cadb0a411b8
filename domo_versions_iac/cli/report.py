"""``domo-versions report``: what one policy keeps and reclaims across many datasets.

Pure: built from the plans ``plan`` makes (the same numbers) and the datasets that could
not be listed. It renders a fixed-width table, a Markdown document for a CI job summary
or a pull request comment, and the CLI's one JSON shape; the chart is in
:mod:`domo_versions_iac.cli.report_chart`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from domo_versions_iac.cli.render import PLANS_FORMAT_VERSION, error_dict
from domo_versions_iac.domo.models import format_instant
from domo_versions_iac.policy.wording import describe_policy, format_bytes

if TYPE_CHECKING:
    from domo_versions_iac.policy import Plan, RetentionPolicy

FORECAST_DAYS = 90
HEADER = (
    "dataset",
    "versions",
    "kept",
    "deletable",
    "bytes kept",
    "bytes reclaimable",
    "oldest",
    "newest",
)
_RIGHT = {1, 2, 3, 4, 5}


@dataclass(frozen=True)
class DatasetRow:
    """One listed dataset: its plan's counts and bytes, and its forecast."""

    dataset_id: str
    versions: int
    kept: int
    deletable: int
    kept_rows: int
    deletable_rows: int
    kept_bytes: int
    reclaimable_bytes: int
    oldest: datetime | None
    newest: datetime | None
    forecast_bytes: tuple[int, ...]  # bytes deleted on day 1..FORECAST_DAYS, nothing new
    forecast_counts: tuple[int, ...]
    budget_error: str | None
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    """Every dataset asked for: rows sorted by reclaimable bytes, then the errors."""

    now: datetime
    policy: RetentionPolicy
    rows: tuple[DatasetRow, ...]
    errors: Mapping[str, BaseException]

    @property
    def reclaimable_bytes(self) -> int:
        return sum(r.reclaimable_bytes for r in self.rows)

    @property
    def kept_bytes(self) -> int:
        return sum(r.kept_bytes for r in self.rows)

    def forecast_bytes(self) -> list[int]:
        """Bytes deleted on each day 1..FORECAST_DAYS over every dataset, nothing new."""
        return [sum(day) for day in zip(*(r.forecast_bytes for r in self.rows), strict=True)]


def dataset_row(dataset_id: str, plan: Plan, days: int = FORECAST_DAYS) -> DatasetRow:
    """The report's numbers for one dataset: the plan's, plus its forecast."""
    dates = [d.version.recorded_date for d in plan.decisions]
    forecast = plan.forecast(days)[1:]  # day 0 is the plan's own deletions
    return DatasetRow(
        dataset_id=dataset_id,
        versions=len(plan.decisions),
        kept=len(plan.keep),
        deletable=len(plan.delete),
        kept_rows=plan.kept_rows,
        deletable_rows=plan.deleted_rows,
        kept_bytes=plan.kept_bytes,
        reclaimable_bytes=plan.deleted_bytes,
        oldest=min(dates, default=None),
        newest=max(dates, default=None),
        forecast_bytes=tuple(day.bytes for day in forecast),
        forecast_counts=tuple(len(day.versions) for day in forecast),
        budget_error=plan.budget_error,
        warnings=plan.warnings,
    )


def build_report(
    plans: Mapping[str, Plan],
    errors: Mapping[str, BaseException],
    *,
    policy: RetentionPolicy,
    now: datetime,
) -> Report:
    """Rows sorted by reclaimable bytes (largest first, then by dataset id)."""
    rows = sorted(
        (dataset_row(ds, plan) for ds, plan in plans.items()),
        key=lambda r: (-r.reclaimable_bytes, r.dataset_id),
    )
    return Report(now=now, policy=policy, rows=tuple(rows), errors=dict(errors))


# --------------------------------------------------------------------------- text


def _day(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d") if when is not None else "-"


def _cells(row: DatasetRow) -> tuple[str, ...]:
    deletable = str(row.deletable) + (" (over budget)" if row.budget_error else "")
    return (
        row.dataset_id,
        str(row.versions),
        str(row.kept),
        deletable,
        format_bytes(row.kept_bytes),
        format_bytes(row.reclaimable_bytes),
        _day(row.oldest),
        _day(row.newest),
    )


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def totals_line(report: Report) -> str:
    """``3 datasets, 40 versions: delete 12 (3.1 GB), keep 28 (9.0 GB); ...``."""
    rows = report.rows
    versions = sum(r.versions for r in rows)
    deletable = sum(r.deletable for r in rows)
    kept = sum(r.kept for r in rows)
    later = sum(sum(r.forecast_counts) for r in rows)
    text = (
        f"{_plural(len(rows), 'dataset')}, {_plural(versions, 'version')}: "
        f"delete {deletable} ({format_bytes(report.reclaimable_bytes)}), "
        f"keep {kept} ({format_bytes(report.kept_bytes)}); "
        f"in the next {FORECAST_DAYS} days if nothing new is uploaded, {later} more "
        f"({format_bytes(sum(report.forecast_bytes()))})"
    )
    if report.errors:
        text += f"; {_plural(len(report.errors), 'dataset')} not listed"
    return text


def report_text(report: Report) -> str:
    """The table (error rows last), then the policy, the clock and the totals."""
    rows = [HEADER, *(_cells(r) for r in report.rows)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [
        "  ".join(
            cell.rjust(widths[i]) if i in _RIGHT else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
    lines += [
        f"{ds.ljust(widths[0])}  error: {_one_line(str(exc))}" for ds, exc in report.errors.items()
    ]
    lines += [
        f"policy: {describe_policy(report.policy)}",
        f"planned at {format_instant(report.now)}",
        f"total: {totals_line(report)}",
    ]
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- Markdown


def _md(text: str) -> str:
    """A table cell's text: one line, no HTML, no column break."""
    escaped = _one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("|", "\\|")


def _md_id(dataset_id: str) -> str:
    quoted = _md(dataset_id).replace("`", "'")
    return f"`{quoted}`"


def report_markdown(report: Report, *, title: str = "Retention report") -> str:
    """Totals first, then the table: fits a CI job summary or a pull request comment."""
    forecast = report.forecast_bytes()
    later = sum(sum(r.forecast_counts) for r in report.rows)
    lines = [
        f"## {title}",
        "",
        f"Policy: {_md(describe_policy(report.policy))}.",
        f"Planned at {format_instant(report.now)} for {_plural(len(report.rows), 'dataset')}.",
        "",
        "| | versions | bytes |",
        "|---|--:|--:|",
        f"| deletable now | {sum(r.deletable for r in report.rows)} | "
        f"{format_bytes(report.reclaimable_bytes)} |",
        f"| kept | {sum(r.kept for r in report.rows)} | {format_bytes(report.kept_bytes)} |",
        f"| deletable in the next {FORECAST_DAYS} days if nothing new is uploaded | {later} | "
        f"{format_bytes(sum(forecast))} |",
        "",
    ]
    if report.errors:
        lines += [f"**{_plural(len(report.errors), 'dataset')} could not be listed.**", ""]
    over = [r.dataset_id for r in report.rows if r.budget_error]
    if over:
        lines += [
            f"**{_plural(len(over), 'dataset')} above the deletion budget** (pulumi preview "
            "refuses such a plan): " + ", ".join(_md_id(ds) for ds in over),
            "",
        ]
    lines += ["| " + " | ".join(HEADER) + " |", "|---|--:|--:|--:|--:|--:|---|---|"]
    for row in report.rows:
        cells = _cells(row)
        lines.append("| " + " | ".join([_md_id(cells[0]), *cells[1:]]) + " |")
    for ds, exc in report.errors.items():
        lines.append(f"| {_md_id(ds)} | error: {_md(str(exc))} | | | | | | |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- JSON


def _row_dict(report: Report, row: DatasetRow) -> dict[str, Any]:
    forecast = [
        {"day": day, "count": count, "bytes": size}
        for day, (count, size) in enumerate(
            zip(row.forecast_counts, row.forecast_bytes, strict=True), start=1
        )
        if count
    ]
    return {
        "now": format_instant(report.now),
        "policy": report.policy.to_dict(),
        "versions": row.versions,
        "kept": {"count": row.kept, "rows": row.kept_rows, "bytes": row.kept_bytes},
        "deletable": {
            "count": row.deletable,
            "rows": row.deletable_rows,
            "bytes": row.reclaimable_bytes,
        },
        "oldest": format_instant(row.oldest) if row.oldest else None,
        "newest": format_instant(row.newest) if row.newest else None,
        "forecast_days": FORECAST_DAYS,
        "forecast": forecast,
        "budget_error": row.budget_error,
        "warnings": list(row.warnings),
    }


def report_json(report: Report, order: Sequence[str]) -> dict[str, Any]:
    """The CLI's one shape: ``{"format_version": 2, "datasets": {ID: ...}}``, a dataset
    that could not be listed holding ``{"error": {...}}``."""
    rows = {r.dataset_id: r for r in report.rows}
    datasets = {
        ds: _row_dict(report, rows[ds]) if ds in rows else {"error": error_dict(report.errors[ds])}
        for ds in order
        if ds in rows or ds in report.errors
    }
    return {"format_version": PLANS_FORMAT_VERSION, "datasets": datasets}
