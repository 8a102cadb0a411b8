"""Text and JSON shapes the ``domo-versions`` command prints (no I/O, no click).

Tables are fixed width, newest first; sizes use the plan's units (policy.wording's
``format_bytes``, ``format_count``) so ``ls`` and ``plan`` read the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from domo_versions_iac.domo.models import format_instant

if TYPE_CHECKING:
    from domo_versions_iac.domo.models import DataVersion
    from domo_versions_iac.policy import (
        Plan,
    )
from domo_versions_iac.policy.wording import (
    _plural,
    _table,
    _version_cells,
    describe_policy,
    format_bytes,
    format_count,
    plan_summary,
    plan_table,
    render_forecast,
)

LISTING_FORMAT_VERSION = 2


PLANS_FORMAT_VERSION = 2


def versions_table(versions: Sequence[DataVersion]) -> str:
    """id, recorded, status, rows, bytes: one line per version, newest first."""
    from domo_versions_iac.policy import newest_first

    header = ("id", "recorded", "status", "rows", "bytes")
    return _table([header, *(_version_cells(v) for v in newest_first(versions))])


def versions_totals(versions: Sequence[DataVersion]) -> str:
    """``12 versions, 3.1 GB, 12.4 M rows (10 success, 1 error, 1 processing)``."""
    rows = sum(v.num_rows for v in versions)
    size = sum(v.num_bytes for v in versions)
    text = f"{_plural(len(versions), 'version')}, {format_bytes(size)}, {format_count(rows)} rows"
    statuses = Counter(v.upload_status for v in versions)
    if statuses:
        text += " (" + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) + ")"
    return text


def listing_block(dataset_id: str, versions: Sequence[DataVersion]) -> str:
    """One dataset for ``ls``: heading, table, totals line."""
    return "\n".join(
        [f"dataset {dataset_id}", versions_table(versions), f"total: {versions_totals(versions)}"]
    )


def listings_total(listings: Mapping[str, Sequence[DataVersion]]) -> str:
    """The line under several ``ls`` tables: totals over every dataset listed."""
    everything = [v for versions in listings.values() for v in versions]
    return f"all {_plural(len(listings), 'dataset')}: {versions_totals(everything)}"


def listing_dict(versions: Sequence[DataVersion]) -> dict[str, Any]:
    """``ls --json`` for one dataset (without the envelope)."""
    from domo_versions_iac.policy import newest_first

    return {
        "versions": [v.to_dict() for v in newest_first(versions)],
        "totals": {
            "versions": len(versions),
            "rows": sum(v.num_rows for v in versions),
            "bytes": sum(v.num_bytes for v in versions),
        },
    }


def error_dict(exc: BaseException) -> dict[str, Any]:
    """A per-dataset failure inside ``--json`` output: what failed, and the HTTP status."""
    return {
        "type": type(exc).__name__,
        "status": getattr(exc, "status", None),
        "message": str(exc),
    }


def listings_json(
    listings: Mapping[str, Sequence[DataVersion]],
    errors: Mapping[str, BaseException],
    order: Sequence[str],
) -> dict[str, Any]:
    """``ls --json``: the same shape for one dataset or many; a failed dataset holds
    ``{"error": {...}}`` instead of its listing, so one 404 hides nothing else."""
    datasets = {
        ds: listing_dict(listings[ds]) if ds in listings else {"error": error_dict(errors[ds])}
        for ds in order
        if ds in listings or ds in errors
    }
    return {"format_version": LISTING_FORMAT_VERSION, "datasets": datasets}


def plan_block(dataset_id: str, plan: Plan, *, forecast_days: int | None = None) -> str:
    """One dataset for ``plan``: heading, policy, table with reasons, summary line, and
    the forecast when asked for."""
    lines = [
        f"dataset {dataset_id} (planned at {format_instant(plan.now)})",
        f"policy: {describe_policy(plan.policy)}",
        plan_table(plan),
        f"summary: {plan_summary(plan)}",
    ]
    if forecast_days is not None:
        lines.append(render_forecast(plan.forecast(forecast_days)))
    return "\n".join(lines)


def plans_total(plans: Mapping[str, Plan]) -> str:
    """The combined summary line under several plans."""
    versions = sum(len(p.decisions) for p in plans.values())
    deleting = [p for p in plans.values() if p.delete]
    count = _plural(len(plans), "dataset")
    if not deleting:
        return f"total: nothing to delete in {count} ({_plural(versions, 'version')} kept)"
    deleted = sum(len(p.delete) for p in deleting)
    size = sum(p.deleted_bytes for p in deleting)
    rows = sum(p.deleted_rows for p in deleting)
    return (
        f"total: delete {deleted} of {_plural(versions, 'version')} in {len(deleting)} of "
        f"{count}, {format_bytes(size)}, {format_count(rows)} rows"
    )


def plans_json(
    plans: Mapping[str, Plan],
    errors: Mapping[str, BaseException],
    order: Sequence[str],
    *,
    forecast_days: int | None = None,
) -> dict[str, Any]:
    """``plan --json``: the same shape for one dataset or many, each ``Plan.to_dict()``
    (plan.schema.json) or ``{"error": {...}}`` when the dataset could not be listed."""
    datasets = {
        ds: plans[ds].to_dict(forecast_days) if ds in plans else {"error": error_dict(errors[ds])}
        for ds in order
        if ds in plans or ds in errors
    }
    return {"format_version": PLANS_FORMAT_VERSION, "datasets": datasets}
