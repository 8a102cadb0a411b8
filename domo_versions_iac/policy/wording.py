"""How a policy and a plan read: plain English, the plan table, the forecast, byte
and count formats and the Markdown policy reference.

Part of the decision core because a policy explains itself (restic prints its
policy the same way); pure, no I/O. The CLI's own shapes are in cli.render.

Why ours stays: the tables are a few fixed-width columns; tabulate or rich would add a
dependency (and rich, terminal detection) to output that golden tests pin byte for
byte, to save about 20 lines.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from domo_versions_iac.domo.models import format_instant
from domo_versions_iac.schemas import load_schema

if TYPE_CHECKING:
    from domo_versions_iac.domo.models import DataVersion
    from domo_versions_iac.policy import (
        Decision,
        Duration,
        ForecastDay,
        Hold,
        Plan,
        RetentionPolicy,
    )


_RIGHT = {0, 3, 4}  # id, rows, bytes


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _version_cells(v: DataVersion) -> tuple[str, str, str, str, str]:
    """id, recorded, status, rows, bytes: the columns every version table starts with."""
    return (
        str(v.data_id),
        format_instant(v.recorded_date),
        v.upload_status,
        format_count(v.num_rows),
        format_bytes(v.num_bytes),
    )


def _table(rows: Sequence[Sequence[str]]) -> str:
    """Fixed-width columns, two spaces apart; id, rows and bytes right-aligned.

    Trailing spaces are stripped, so the last column (reasons, say) is never padded.
    """
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.rjust(widths[i]) if i in _RIGHT else cell.ljust(widths[i])
            for i, cell in enumerate(r)
        ).rstrip()
        for r in rows
    )


def plan_table(plan: Plan) -> str:
    """The version table plus decision, eligible_at and reasons, in the plan's order.

    "eligible_at" is when time alone makes a kept version surplus; "new-upload"
    when only a new upload can (see :attr:`Plan.eligible_at`).
    """
    header = ("id", "recorded", "status", "rows", "bytes", "decision", "eligible_at", "reasons")
    return _table(
        [
            header,
            *(
                (
                    *_version_cells(d.version),
                    d.action,
                    _eligible_text(d, when),
                    ", ".join(d.reasons),
                )
                for d, when in zip(plan.decisions, plan.eligible_at, strict=True)
            ),
        ]
    )


def _eligible_text(d: Decision, when: datetime | None) -> str:
    if d.action != "keep":
        return "-"
    return format_instant(when) if when is not None else "new-upload"


def plan_summary(plan: Plan) -> str:
    """One line: "delete 12 of 40 versions, 3.1 GB, 12.4 M rows"."""
    total = len(plan.decisions)
    noun = "version" if total == 1 else "versions"
    if not plan.delete:
        return f"nothing to delete: {total} {noun} kept"
    return (
        f"delete {len(plan.delete)} of {total} {noun}, "
        f"{format_bytes(plan.deleted_bytes)}, {format_count(plan.deleted_rows)} rows"
    )


def render_forecast(days: list[ForecastDay]) -> str:
    """The forecast as lines: one per day that deletes something, then a total."""
    lines = []
    for day in days:
        if not day.versions and day.day:
            continue
        when = "now" if day.day == 0 else f"day {day.day} (by {format_instant(day.through)})"
        ids = ", ".join(str(i) for i in sorted(v.data_id for v in day.versions)) or "-"
        lines.append(
            f"  {when}: delete {len(day.versions)}, {format_bytes(day.bytes)}, "
            f"{format_count(day.rows)} rows (ids {ids})"
        )
    total = [v for day in days for v in day.versions]
    horizon = days[-1]
    lines.append(
        f"  total through {format_instant(horizon.through)}: delete {len(total)}, "
        f"{format_bytes(sum(v.num_bytes for v in total))}, "
        f"{format_count(sum(v.num_rows for v in total))} rows"
    )
    return "\n".join([f"forecast if nothing new is uploaded ({horizon.day} days):", *lines])


def format_bytes(n: int) -> str:
    """Decimal units with one decimal: "512 B", "3.1 GB"."""
    return _scaled(n, ("B", "kB", "MB", "GB", "TB", "PB"), sep=" ", unit_below_1000=True)


def format_count(n: int) -> str:
    """Counts for humans: "999", "3.1 k", "12.4 M"."""
    return _scaled(n, ("", "k", "M", "G", "T"), sep=" ", unit_below_1000=False)


def _scaled(n: int, units: tuple[str, ...], *, sep: str, unit_below_1000: bool) -> str:
    if abs(n) < 1000:
        return f"{n}{sep}{units[0]}" if unit_below_1000 else str(n)
    value = float(n)
    for unit in units[1:]:
        value /= 1000
        if abs(round(value, 1)) < 1000 or unit == units[-1]:
            return f"{value:.1f}{sep}{unit}"
    raise AssertionError("unreachable")  # pragma: no cover


_CALENDAR_UNITS = (
    ("keep_daily", "day"),
    ("keep_weekly", "ISO week"),
    ("keep_monthly", "month"),
    ("keep_yearly", "year"),
)


_ZONED_KEYS = (
    "keep_within",
    "keep_noncurrent_within",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
    "keep_yearly",
)


def describe_policy(policy: RetentionPolicy) -> str:
    """The policy in plain English: what it keeps, what it never deletes, its budget."""
    text = f"keep {join_and(_keep_phrases(policy))}"
    if policy.timezone != "UTC" and any(getattr(policy, k) is not None for k in _ZONED_KEYS):
        text += f" (calendar in {policy.timezone})"
    guards = [_newest(max(policy.protect_latest, 1)), "uploads in processing"]  # always
    if not policy.delete_failed:
        guards.append("failed uploads")
    text += f"; never delete {join_or(guards)}"
    for hold in policy.holds:
        text += f"; hold {describe_hold(hold)}, whatever the rules say"
    if policy.grace is not None:
        grace = describe_duration(policy.grace)
        text += f"; grace {grace}: delete a version only if it was already surplus {grace} earlier"
    return f"{text}; {_budget_phrase(policy)}"


def _keep_phrases(policy: RetentionPolicy) -> list[str]:
    """One phrase per keep rule the policy sets, in the schema's order."""
    keep: list[str] = []
    if policy.allowed_versions is not None:
        ids = [str(i) for i in policy.allowed_versions]
        if not ids:
            keep.append("no version by id")
        else:
            keep.append(f"version{'s' if len(ids) > 1 else ''} {join_and(ids)}")
    if policy.keep_last is not None:
        keep.append(_newest(policy.keep_last))
    if policy.keep_within is not None:
        keep.append(f"every version recorded in the last {describe_duration(policy.keep_within)}")
    if policy.keep_noncurrent_within is not None:
        keep.append(
            "every successful version replaced by a newer one in the last "
            f"{describe_duration(policy.keep_noncurrent_within)}"
        )
    if policy.keep_since is not None:
        keep.append(f"every version recorded since {format_instant(policy.keep_since)}")
    for key, unit in _CALENDAR_UNITS:
        n = getattr(policy, key)
        if n is not None:
            period = f"the last {unit}" if n == 1 else f"each of the last {n} {unit}s"
            keep.append(f"the newest successful version of {period} with versions")
    return keep


def _budget_phrase(policy: RetentionPolicy) -> str:
    n = policy.max_deletions
    budget = f"delete at most {n} version{'s' if n != 1 else ''}"
    if policy.max_deletion_share is not None:
        budget += f" and at most {policy.max_deletion_share:.0%} of the listed versions"
    return budget


def describe_duration(duration: Duration) -> str:
    """Plain English, e.g. "1 year and 2 months"."""
    return join_and([f"{n} {name}{'s' if n != 1 else ''}" for n, _, name in duration.parts()])


def describe_hold(hold: Hold) -> str:
    """E.g. "versions 3 and 4 (audit) until 2026-05-01T00:00:00Z"."""
    ids = [str(i) for i in hold.versions]
    expiry = f"until {format_instant(hold.until)}" if hold.until else "with no expiry"
    noun = "version" if len(ids) == 1 else "versions"
    return f"{noun} {join_and(ids)} ({hold.reason}) {expiry}"


def policy_reference() -> str:
    """The policy keys as a Markdown table, generated from the schema (docs, --help)."""
    schema = load_schema("retention-policy")
    lines = [
        schema["description"],
        "",
        "| key | expected | default | meaning |",
        "|---|---|---|---|",
    ]
    for key, prop in schema["properties"].items():
        default = json.dumps(prop["default"]) if "default" in prop else ""
        lines.append(f"| `{key}` | {prop['x-expected']} | {default} | {prop['description']} |")
    return "\n".join(lines)


def _newest(n: int) -> str:
    return "the newest successful version" if n == 1 else f"the {n} newest successful versions"


def join_and(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def join_or(items: list[str]) -> str:
    """ "a", "a or b", "a, b or c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"
