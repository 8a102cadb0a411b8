"""The report as an SVG chart: reclaimable against kept bytes per dataset, and the bytes
deleted over the next days if nothing new is uploaded.

matplotlib is an optional extra (``pip install 'domo-versions-iac[report]'``), imported
only here and only when a chart is asked for. The SVG is self-contained (glyphs as
paths, no script) and deterministic: a fixed hash salt for its ids and no date.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any

from domo_versions_iac.cli.report import FORECAST_DAYS
from domo_versions_iac.domo.models import format_instant
from domo_versions_iac.policy.wording import format_bytes

if TYPE_CHECKING:
    from domo_versions_iac.cli.report import Report

TOP = 20
EXTRA_HINT = "pip install 'domo-versions-iac[report]'"
_RECLAIMABLE = "#c0392b"
_KEPT = "#7f8c8d"


class ChartUnavailableError(RuntimeError):
    """matplotlib, the optional extra ``report``, is not installed."""


def require_matplotlib() -> None:
    """Fail early, before any request, when the chart cannot be drawn."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ChartUnavailableError(
            f"--svg needs matplotlib, the optional extra 'report': {EXTRA_HINT}"
        ) from exc


def bars(report: Report, top: int = TOP) -> list[tuple[str, int, int]]:
    """(label, reclaimable, kept) for the ``top`` datasets by reclaimable bytes, then the
    rest as one bar."""
    rows = report.rows
    out = [(r.dataset_id, r.reclaimable_bytes, r.kept_bytes) for r in rows[:top]]
    rest = rows[top:]
    if rest:
        out.append(
            (
                f"{len(rest)} other datasets",
                sum(r.reclaimable_bytes for r in rest),
                sum(r.kept_bytes for r in rest),
            )
        )
    return out


def cumulative_forecast(report: Report) -> list[int]:
    """Bytes deleted after today's deletions by the end of day 0..FORECAST_DAYS, if
    nothing new is uploaded (day 0: none yet)."""
    total = 0
    out = [total]
    for day in report.forecast_bytes():
        total += day
        out.append(total)
    return out


def write_svg(report: Report, out: IO[bytes]) -> None:
    """Draw the chart into ``out`` as SVG (the svg backend; no display, no Agg)."""
    require_matplotlib()
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    data = bars(report)
    height = 2.5 + 0.3 * max(len(data), 1) + 3.0
    with matplotlib.rc_context({"svg.hashsalt": "domo-versions-report", "svg.fonttype": "path"}):
        fig = Figure(figsize=(10, height), layout="constrained")
        FigureCanvasSVG(fig)
        top, bottom = fig.subplots(
            2, 1, gridspec_kw={"height_ratios": [0.3 * max(len(data), 1) + 0.8, 3.0]}
        )
        byte_axis = FuncFormatter(_byte_label)
        _draw_bars(top, data, byte_axis, MaxNLocator)
        _draw_forecast(bottom, report, byte_axis, MaxNLocator)
        fig.suptitle(f"Retention report, planned at {format_instant(report.now)}")
        fig.savefig(out, format="svg", metadata={"Date": None})


def _byte_label(value: float, _pos: Any) -> str:
    return format_bytes(round(value))


def _draw_bars(ax: Any, data: list[tuple[str, int, int]], fmt: Any, locator: Any) -> None:
    labels = [label for label, _, _ in data]
    reclaimable = [r for _, r, _ in data]
    kept = [k for _, _, k in data]
    positions = list(range(len(data)))
    ax.barh(positions, reclaimable, color=_RECLAIMABLE, label="reclaimable")
    ax.barh(positions, kept, left=reclaimable, color=_KEPT, label="kept")
    ax.set_yticks(positions, labels, fontsize=8)
    ax.invert_yaxis()  # the largest reclaimable first
    ax.xaxis.set_major_locator(locator(nbins=6, steps=[1, 2, 5, 10]))
    ax.xaxis.set_major_formatter(fmt)
    ax.set_xlabel("bytes")
    ax.set_title(f"Reclaimable and kept bytes per dataset (top {TOP}, then the rest)")
    ax.legend(loc="lower right", fontsize=8)
    if not data:
        ax.text(0.5, 0.5, "no dataset listed", transform=ax.transAxes, ha="center")


def _draw_forecast(ax: Any, report: Report, fmt: Any, locator: Any) -> None:
    series = cumulative_forecast(report)
    days = list(range(len(series)))
    ax.step(days, series, where="post", color=_RECLAIMABLE)
    ax.fill_between(days, series, step="post", color=_RECLAIMABLE, alpha=0.2)
    ax.set_xlim(0, FORECAST_DAYS)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(locator(nbins=6, steps=[1, 2, 5, 10]))
    ax.yaxis.set_major_formatter(fmt)
    ax.set_xlabel(f"days after {format_instant(report.now)}")
    ax.set_ylabel("bytes (cumulative)")
    ax.set_title(
        f"Bytes deleted over the next {FORECAST_DAYS} days if nothing new is uploaded, "
        f"beyond the {format_bytes(report.reclaimable_bytes)} deletable now"
    )
    ax.grid(axis="y", alpha=0.3)
