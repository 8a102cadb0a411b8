"""The planning engine: which data versions to keep, which to delete, and why.

Pure code, no I/O: given the versions Domo lists, a :class:`RetentionPolicy` and a
clock, :func:`plan_retention` returns a :class:`Plan` with exactly one decision per
version. Modelled on restic's ``forget`` policy: one pass over the versions sorted
newest first, every kept version carries every reason that kept it, and an empty
policy is refused instead of meaning "delete everything".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from fractions import Fraction
from functools import cached_property
from operator import attrgetter
from typing import Any, Literal

from domo_versions_iac.domo.models import DataVersion, format_instant
from domo_versions_iac.policy.calendar import Calendar
from domo_versions_iac.policy.durations import Duration
from domo_versions_iac.policy.errors import PolicyError
from domo_versions_iac.policy.lifetimes import Lifetimes
from domo_versions_iac.policy.model import RetentionPolicy
from domo_versions_iac.policy.wording import join_and, plan_summary, plan_table

PLAN_FORMAT_VERSION = 1

REASON_ALLOWED = "allowed_versions"
REASON_PROCESSING = "protected: processing"
REASON_FAILED = "protected: failed upload (delete_failed is false)"
REASON_NEWEST = "protected: newest successful version (never deleted)"
# A clock can be wrong: the latest upload (the highest id) is protected too.
REASON_LATEST_UPLOAD = "protected: latest upload, the highest successful id (never deleted)"
# Recorded further in the future than this: a wrong clock or a bad backfill, said aloud.
FUTURE_TOLERANCE = timedelta(minutes=5)
REASON_NONE = "no rule keeps it"
_DELETED_REASONS: tuple[str, ...] = (REASON_NONE,)
_DAY = timedelta(days=1)


class BudgetExceededError(PolicyError):
    """The plan deletes more than the policy's budget allows; nothing may be deleted."""

    def __init__(self, message: str, *, plan: Plan, would_delete: int, limit: str) -> None:
        super().__init__(message)
        self.plan = plan
        self.would_delete = would_delete
        self.limit = limit


Action = Literal["keep", "delete"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to one version, and every reason for it.

    The planner builds its decisions with :func:`_new_decision` (see there); other
    code uses the constructor.
    """

    version: DataVersion
    action: Action
    reasons: tuple[str, ...]


# Decision stays a frozen dataclass: callers get equality, hashing, the repr and
# FrozenInstanceError on assignment. Its generated __init__ sets each field through
# object.__setattr__ (the frozen guard), which made plan_retention about 14% slower on
# 100,000 versions (bench/bench_policy.py): one Decision per listed version. The planner
# therefore allocates with object.__new__ and fills the three slots through their slot
# descriptors: the object the constructor would build, with no check skipped (the
# generated __init__ checks nothing either).
_SLOTS: dict[str, Any] = dict(vars(Decision))
_set_version = _SLOTS["version"].__set__
_set_action = _SLOTS["action"].__set__
_set_reasons = _SLOTS["reasons"].__set__


def _new_decision(version: DataVersion, action: Action, reasons: tuple[str, ...]) -> Decision:
    """``Decision(version, action, reasons)`` without the frozen guard's three calls."""
    d: Decision = object.__new__(Decision)
    _set_version(d, version)
    _set_action(d, action)
    _set_reasons(d, reasons)
    return d


@dataclass(frozen=True)
class Plan:
    """Every listed version with its decision, newest first, plus totals and warnings."""

    decisions: tuple[Decision, ...]
    keep: list[Decision]
    delete: list[Decision]
    warnings: tuple[str, ...]
    policy: RetentionPolicy
    now: datetime
    budget_error: str | None = None

    @property
    def delete_ids(self) -> list[int]:
        """Ids to delete, ascending (the order the provider deletes them in)."""
        return sorted(d.version.data_id for d in self.delete)

    @property
    def kept_rows(self) -> int:
        return sum(d.version.num_rows for d in self.keep)

    @property
    def kept_bytes(self) -> int:
        return sum(d.version.num_bytes for d in self.keep)

    @property
    def deleted_rows(self) -> int:
        return sum(d.version.num_rows for d in self.delete)

    @property
    def deleted_bytes(self) -> int:
        return sum(d.version.num_bytes for d in self.delete)

    @cached_property
    def eligible_at(self) -> tuple[datetime | None, ...]:
        """For each decision, the instant time alone makes the version surplus.

        Kept before it, deleted by any plan after it, if nothing new is uploaded.
        None for a kept version that only a new upload can make surplus (keep_last,
        calendar rules, allowed_versions, a hold without expiry, the guards), and for
        deleted versions (surplus already). Computed on first use, not by the planner.
        """
        ordered = [d.version for d in self.decisions]
        lifetimes = Lifetimes(ordered, self.policy, self.now)
        return tuple(
            lifetimes.eligible(pos, d.reasons) if d.action == "keep" else None
            for pos, d in enumerate(self.decisions)
        )

    def forecast(self, days: int) -> list[ForecastDay]:
        """What the policy deletes over the next ``days`` days if nothing new arrives.

        Day 0 is this plan's deletions; day k (1..days) holds the kept versions whose
        eligible_at falls in [now + (k-1) days, now + k days), which a plan made at
        the end of day k deletes.
        """
        buckets: list[list[DataVersion]] = [[d.version for d in self.delete]]
        buckets += [[] for _ in range(days)]
        for d, when in zip(self.decisions, self.eligible_at, strict=True):
            if d.action != "keep" or when is None:
                continue
            day = (when - self.now) // _DAY + 1
            if day <= days:
                buckets[max(day, 1)].append(d.version)
        return [
            ForecastDay(k, self.now + k * _DAY, tuple(versions))
            for k, versions in enumerate(buckets)
        ]

    def to_dict(self, forecast_days: int | None = None) -> dict[str, Any]:
        """Stable, versioned JSON (schemas/plan.schema.json); with ``forecast_days``,
        also the forecast of :meth:`forecast`."""
        out = self._to_dict()
        if forecast_days is not None:
            out["forecast"] = [day.to_dict() for day in self.forecast(forecast_days)]
        return out

    def _version_dict(self, d: Decision, eligible: datetime | None) -> dict[str, Any]:
        out = {**d.version.to_dict(), "decision": d.action, "reasons": list(d.reasons)}
        if d.action == "keep":
            out["eligible_at"] = format_instant(eligible) if eligible is not None else None
        return out

    def _to_dict(self) -> dict[str, Any]:
        return {
            "format_version": PLAN_FORMAT_VERSION,
            "now": format_instant(self.now),
            "policy": self.policy.to_dict(),
            "summary": {
                "versions": len(self.decisions),
                "keep": {"count": len(self.keep), "rows": self.kept_rows, "bytes": self.kept_bytes},
                "delete": {
                    "count": len(self.delete),
                    "rows": self.deleted_rows,
                    "bytes": self.deleted_bytes,
                },
            },
            "versions": [
                self._version_dict(d, when)
                for d, when in zip(self.decisions, self.eligible_at, strict=True)
            ],
            "warnings": list(self.warnings),
            "budget_error": self.budget_error,
        }

    def summary(self) -> str:
        """One line: "delete 12 of 40 versions, 3.1 GB, 12.4 M rows"."""
        return plan_summary(self)

    def render_table(self) -> str:
        """A readable fixed-width table, newest first (render.plan_table)."""
        return plan_table(self)


@dataclass(frozen=True, slots=True)
class ForecastDay:
    """The versions one day of the forecast deletes (day 0: the plan's own deletions)."""

    day: int
    through: datetime
    versions: tuple[DataVersion, ...]

    @property
    def bytes(self) -> int:
        return sum(v.num_bytes for v in self.versions)

    @property
    def rows(self) -> int:
        return sum(v.num_rows for v in self.versions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "through": format_instant(self.through),
            "count": len(self.versions),
            "rows": self.rows,
            "bytes": self.bytes,
            "ids": sorted(v.data_id for v in self.versions),
        }


_by_id = attrgetter("data_id")
_by_recorded = attrgetter("recorded_date")


def newest_first(versions: Iterable[DataVersion]) -> list[DataVersion]:
    """Sort by recorded_date descending, ties by data_id descending.

    Two stable single-key sorts: much faster than one sort on a tuple key.
    """
    ordered = sorted(versions, key=_by_id, reverse=True)
    ordered.sort(key=_by_recorded, reverse=True)
    return ordered


def plan_retention(
    versions: Iterable[DataVersion],
    policy: RetentionPolicy,
    now: datetime,
    *,
    enforce_budget: bool = True,
) -> Plan:
    """Decide keep or delete for every version, with reasons; check the deletion budget.

    One pass over the versions sorted newest first (ties broken by the higher id).
    Failed uploads and uploads in processing never count for keep_last,
    protect_latest or the calendar rules. Raises BudgetExceededError when the plan
    deletes more than the budget allows, unless ``enforce_budget`` is False, in which
    case the returned plan carries the message in ``budget_error``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    ordered = newest_first(versions)
    decisions, keep, delete, seen_allowed, graced = _decide(ordered, policy, now)
    if graced:
        _give_grace_reasons(ordered, policy, now, graced, decisions, keep)
    warnings = tuple(
        f"allowed_versions: version {i} is not listed by Domo"
        for i in sorted(set(policy.allowed_versions or ()) - seen_allowed)
    )
    warnings += _hold_warnings(policy, ordered, now)
    warnings += _future_warnings(ordered, now)
    stale = _stale_warning(policy, ordered, keep, len(delete), now)
    if stale:
        warnings += (stale,)
    over = budget_violation(len(delete), len(ordered), policy)
    message, limit = (f"{over[0]}. Nothing was deleted.", over[1]) if over else (None, "")
    plan = Plan(tuple(decisions), keep, delete, warnings, policy, now, budget_error=message)
    if message is not None and enforce_budget:
        raise BudgetExceededError(message, plan=plan, would_delete=len(delete), limit=limit)
    return plan


def _decide(
    ordered: list[DataVersion], policy: RetentionPolicy, now: datetime
) -> tuple[list[Decision], list[Decision], list[Decision], set[int], list[tuple[int, int]]]:
    """The one pass: decisions (newest first), the kept and the deleted ones, the
    allowed_versions ids seen, and where the versions only grace keeps are (their
    reasons come after the pass). Every rule's state is a local: this loop runs once
    per listed version."""
    tz = policy.tz
    allowed = frozenset(policy.allowed_versions or ())
    seen_allowed: set[int] = set()
    keep_last = policy.keep_last or 0
    protect_latest = policy.protect_latest
    failed_reason = "" if policy.delete_failed else REASON_FAILED
    within = policy.keep_within
    within_cutoff = within.cutoff(now, tz) if within is not None else None
    within_reason = f"keep_within {within}"
    since = policy.keep_since
    since_reason = f"keep_since {format_instant(since)}" if since is not None else ""
    gfs = Calendar(policy, tz)
    oldest = _oldest_success(ordered)
    latest_upload = latest_upload_id(ordered)
    held = _held_reasons(policy, now)
    noncurrent = _noncurrent_reasons(ordered, policy, now)
    grace = policy.grace
    past_now = grace.cutoff(now, tz) if grace is not None else now
    past_kept = _kept_at(ordered, policy, past_now) if grace is not None else None
    graced: list[tuple[int, int]] = []  # (position in decisions, position in keep)

    decisions: list[Decision] = []
    keep: list[Decision] = []
    delete: list[Decision] = []
    rank = 0  # successful versions seen so far, newest first
    for v in ordered:
        reasons: list[str] = [*held[v.data_id]] if held and v.data_id in held else []
        status = v.upload_status
        success = status == "success"
        if allowed and v.data_id in allowed:
            reasons.append(REASON_ALLOWED)
            seen_allowed.add(v.data_id)
        if success:
            rank += 1
            if rank <= keep_last:
                reasons.append(f"keep_last #{rank}")
        if within_cutoff is not None and v.recorded_date >= within_cutoff:
            reasons.append(within_reason)
        if noncurrent and v.data_id in noncurrent:
            reasons.append(noncurrent[v.data_id])
        if since is not None and v.recorded_date >= since:
            reasons.append(since_reason)
        if success:
            if gfs.active and (v is oldest or not (gfs.lo <= v.recorded_date < gfs.hi)):
                gfs.visit(v.recorded_date, reasons, oldest=v is oldest)
            if rank <= protect_latest:
                reasons.append(f"protected: latest #{rank}")
            elif not reasons and (rank == 1 or v.data_id == latest_upload):
                reasons.append(REASON_NEWEST if rank == 1 else REASON_LATEST_UPLOAD)
        else:  # failed: kept if delete_failed is false; processing (or new): never deleted
            fixed = failed_reason if status == "error" else REASON_PROCESSING
            if fixed:
                reasons.append(fixed)
        if reasons:
            d = _new_decision(v, "keep", tuple(reasons))
            keep.append(d)
        elif past_kept is not None and (v.recorded_date > past_now or v.data_id in past_kept):
            d = _new_decision(v, "keep", ())  # the reason needs eligible_at: set below
            graced.append((len(decisions), len(keep)))
            keep.append(d)
        else:
            d = _new_decision(v, "delete", _DELETED_REASONS)
            delete.append(d)
        decisions.append(d)
    return decisions, keep, delete, seen_allowed, graced


def _held_reasons(policy: RetentionPolicy, now: datetime) -> dict[int, tuple[str, ...]]:
    """id -> the keep reasons of the holds still in force that name it."""
    active = [hold for hold in policy.holds if hold.active(now)]
    return {
        i: tuple(h.keep_reason() for h in active if i in h.versions)
        for hold in active
        for i in hold.versions
    }


def _noncurrent_reasons(
    ordered: list[DataVersion], policy: RetentionPolicy, now: datetime
) -> dict[int, str]:
    """id -> the keep_noncurrent_within reason of each version it keeps: the newest
    successful version, and each successful version whose next newer successful version
    (in the plan's order) was recorded at or after the cutoff. Failed and processing
    uploads replace nothing."""
    duration = policy.keep_noncurrent_within
    if duration is None:
        return {}
    cutoff = duration.cutoff(now, policy.tz)
    out: dict[int, str] = {}
    newer: DataVersion | None = None
    for v in ordered:
        if v.upload_status != "success":
            continue
        if newer is None:
            out[v.data_id] = f"keep_noncurrent_within {duration}: current version"
        elif newer.recorded_date >= cutoff:
            out[v.data_id] = (
                f"keep_noncurrent_within {duration}: replaced by {newer.data_id} "
                f"at {format_instant(newer.recorded_date)}"
            )
        else:
            break  # every older success was replaced before the cutoff too
        newer = v
    return out


def _give_grace_reasons(
    ordered: list[DataVersion],
    policy: RetentionPolicy,
    now: datetime,
    graced: list[tuple[int, int]],
    decisions: list[Decision],
    keep: list[Decision],
) -> None:
    """Replace the placeholder decision of each version only grace keeps with one that
    says when it may go (that needs eligible_at, hence after the pass)."""
    grace = policy.grace
    if grace is None:  # only grace keeps a version this way
        return
    lifetimes = Lifetimes(ordered, policy, now)
    for pos, kept_pos in graced:
        reason = _grace_reason(grace, lifetimes.eligible(pos, ()))
        decisions[pos] = keep[kept_pos] = _new_decision(ordered[pos], "keep", (reason,))


def _kept_at(ordered: list[DataVersion], policy: RetentionPolicy, when: datetime) -> frozenset[int]:
    """Ids the policy (without grace) keeps evaluated at ``when`` over the versions
    recorded by then: grace deletes only what was surplus then too."""
    earlier = [v for v in ordered if v.recorded_date <= when]
    plan = plan_retention(earlier, replace(policy, grace=None), when, enforce_budget=False)
    return frozenset(d.version.data_id for d in plan.keep)


def _grace_reason(grace: Duration, eligible: datetime | None) -> str:
    """The reason of a version only grace keeps: surplus now, and when it may go."""
    if eligible is None:  # cannot happen when nothing is recorded in the future
        return f"grace {grace}: surplus now, kept while it was not surplus {grace} earlier"
    return f"grace {grace}: surplus now, deletable after {format_instant(eligible)}"


def _hold_warnings(
    policy: RetentionPolicy, ordered: list[DataVersion], now: datetime
) -> tuple[str, ...]:
    """A hold naming a version Domo does not list, or a hold that has expired: said, never
    silently ignored (a keep rule matching nothing once made restic delete all, #4764)."""
    if not policy.holds:
        return ()
    listed = {v.data_id for v in ordered}
    out: list[str] = []
    for hold in policy.holds:
        if not hold.active(now):
            out.append(
                f"holds: the hold '{hold.reason}' expired at {format_instant(hold.until or now)}"
                " and keeps nothing; remove it from the policy"
            )
            continue
        out += [
            f"holds: version {i} (hold '{hold.reason}') is not listed by Domo"
            for i in hold.versions
            if i not in listed
        ]
    return tuple(out)


def _stale_warning(
    policy: RetentionPolicy,
    ordered: list[DataVersion],
    keep: list[Decision],
    deleting: int,
    now: datetime,
) -> str:
    """A warning when the time rules keep nothing and no other rule keeps anything.

    keep_within and keep_since count back from now, not from the newest version, so
    a dataset whose uploads stopped ages out: only the guards (protect_latest) stand
    between the policy and deleting every version. That must not pass silently.
    """
    time_rules = []
    if policy.keep_within is not None:
        time_rules.append(f"keep_within {policy.keep_within}")
    if policy.keep_since is not None:
        time_rules.append(f"keep_since {format_instant(policy.keep_since)}")
    if not deleting or not time_rules or not ordered:
        return ""
    if any(not reason.startswith("protected:") for d in keep for reason in d.reasons):
        return ""  # some rule still keeps a version
    newest = ordered[0]
    who = (
        "only protect_latest keeps anything"
        if policy.protect_latest
        else "only the newest successful version is kept (it is never deleted)"
    )
    verb = "keeps" if len(time_rules) == 1 else "keep"
    total = len(ordered)
    return (
        f"STALE DATASET, uploads may have stopped: the newest version (id {newest.data_id}, "
        f"recorded {format_instant(newest.recorded_date)}) is {_age(now - newest.recorded_date)} "
        f"old; {join_and(time_rules)} {verb} nothing and {who}, so the plan deletes "
        f"{deleting} of {total} version{'s' if total != 1 else ''}. Check the dataset's "
        "uploads before applying; to keep more, add keep_last or widen the time rule."
    )


def latest_upload_id(versions: Iterable[DataVersion]) -> int | None:
    """The highest id of a successful version: the latest upload, whatever the dates say."""
    return max((v.data_id for v in versions if v.upload_status == "success"), default=None)


def _future_warnings(ordered: list[DataVersion], now: datetime) -> tuple[str, ...]:
    """A warning when versions are recorded after ``now`` (beyond a few minutes of clock
    drift): "newest" by date is then suspect, so the latest upload is protected too."""
    future = [v for v in ordered if v.recorded_date > now + FUTURE_TOLERANCE]
    if not future:
        return ()
    latest = future[0]  # newest first
    ids = ", ".join(str(v.data_id) for v in future[:10])
    more = f" and {len(future) - 10} more" if len(future) > 10 else ""
    upload = latest_upload_id(ordered)
    guard = (
        f"; both the newest by date and the latest upload (id {upload}) are protected"
        if upload is not None
        else ""
    )
    return (
        f"FUTURE DATE: version{'s' if len(future) > 1 else ''} {ids}{more} recorded up to "
        f"{format_instant(latest.recorded_date)}, {_age(latest.recorded_date - now)} after "
        f"the time of this plan ({format_instant(now)}): a wrong clock or a bad backfill? "
        f"Check the dataset's recorded dates{guard}.",
    )


def _age(age: timedelta) -> str:
    """'45 days', '3 hours', 'less than an hour'."""
    if age >= timedelta(days=1):
        return f"{age.days} day{'s' if age.days != 1 else ''}"
    hours = int(age.total_seconds() // 3600)
    if hours >= 1:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return "less than an hour"


def budget_violation(would: int, total: int, policy: RetentionPolicy) -> tuple[str, str] | None:
    """The budget message and the limit it breaks, or None when within budget.

    ``would`` versions deleted out of ``total`` listed; used by plan_retention and,
    for a whole update, by the deletion gate.
    """
    limits: list[tuple[int, str, str]] = []
    if would > policy.max_deletions:
        limits.append(
            (policy.max_deletions, f"max_deletions {policy.max_deletions}", "max_deletions")
        )
    share = policy.max_deletion_share
    if share is not None:
        allowed = int(Fraction(repr(share)) * total)  # exact decimal share, rounded down
        if would > allowed:
            limits.append(
                (
                    allowed,
                    f"max_deletion_share {share:g} ({allowed} of {total} versions)",
                    "max_deletion_share",
                )
            )
    if not limits:
        return None
    _, limit, key = min(limits)
    other = "max_deletion_share" if key == "max_deletions" else "max_deletions"
    message = (
        f"plan would delete {would} of {total} dataset versions, above {limit}; "
        f"raise {key} (or {other}) in the policy to allow it"
    )
    return message, limit


def _oldest_success(ordered: list[DataVersion]) -> DataVersion | None:
    """The oldest successful version of a newest-first list (scans from the end)."""
    for v in reversed(ordered):
        if v.upload_status == "success":
            return v
    return None
