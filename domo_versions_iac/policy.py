"""The decision core: which data versions to keep, which to delete, and why.

Pure code, no I/O: given the versions Domo lists, a :class:`RetentionPolicy` and a
clock, :func:`plan_retention` returns a :class:`Plan` with exactly one decision per
version. Modelled on restic's ``forget`` policy: one pass over the versions sorted
newest first, every kept version carries every reason that kept it, and an empty
policy is refused instead of meaning "delete everything".

The shape of a policy lives in ``schemas/retention-policy.schema.json``; validation
and the error messages' "expected ..." texts both come from it.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta, timezone, tzinfo
from fractions import Fraction
from functools import cached_property
from operator import attrgetter
from typing import Any, Literal
from zoneinfo import ZoneInfo

from domo_versions_iac.models import DataVersion, format_instant
from domo_versions_iac.render import (
    describe_duration,
    describe_hold,
    describe_policy,
    format_bytes,
    format_count,
    join_and,
    plan_summary,
    plan_table,
    policy_reference,
    render_forecast,
)
from domo_versions_iac.schemas import load_schema, validator

__all__ = [
    "BudgetExceededError",
    "Decision",
    "Duration",
    "ForecastDay",
    "Hold",
    "Plan",
    "PolicyError",
    "RetentionPolicy",
    "budget_violation",
    "format_bytes",
    "format_count",
    "parse_duration",
    "plan_retention",
    "policy_reference",
    "render_forecast",
]

SCHEMA_NAME = "retention-policy"
PLAN_FORMAT_VERSION = 1

REASON_ALLOWED = "allowed_versions"
REASON_PROCESSING = "protected: processing"
REASON_FAILED = "protected: failed upload (delete_failed is false)"
REASON_NEWEST = "protected: newest successful version (never deleted)"
REASON_NONE = "no rule keeps it"
_DELETED_REASONS: tuple[str, ...] = (REASON_NONE,)

KEEP_RULES: tuple[str, ...] = (
    "allowed_versions",
    "keep_last",
    "keep_within",
    "keep_since",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
    "keep_yearly",
)


class PolicyError(ValueError):
    """An invalid policy; the message names the key and the expected form."""


class BudgetExceededError(PolicyError):
    """The plan deletes more than the policy's budget allows; nothing may be deleted."""

    def __init__(self, message: str, *, plan: Plan, would_delete: int, limit: str) -> None:
        super().__init__(message)
        self.plan = plan
        self.would_delete = would_delete
        self.limit = limit


def _expected(key: str) -> str:
    """The expected form of ``key`` as the schema states it (one source of truth)."""
    prop = load_schema(SCHEMA_NAME)["properties"].get(key, {})
    return str(prop.get("x-expected", "a valid value"))


def _key_error(key: str, value: Any, detail: str = "") -> PolicyError:
    suffix = f" ({detail})" if detail else ""
    return PolicyError(f"policy.{key}: expected {_expected(key)}, got {value!r}{suffix}")


# --------------------------------------------------------------------------- durations

_ZERO = timedelta(0)
_DURATION_RE = re.compile(
    r"(?=[0-9])(?:([0-9]+)y)?(?:([0-9]+)m)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?"
)
_UNIT_NAMES = (("y", "year"), ("m", "month"), ("w", "week"), ("d", "day"), ("h", "hour"))


@dataclass(frozen=True, slots=True)
class Duration:
    """A keep_within duration: calendar years/months/weeks/days plus exact hours.

    Units: ``h`` hours (3600 s), ``d`` days, ``w`` weeks (7 d), ``m`` calendar months,
    ``y`` calendar years; written largest first, each at most once ("1y2m", "36h").
    """

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0

    def parts(self) -> tuple[tuple[int, str, str], ...]:
        values = (self.years, self.months, self.weeks, self.days, self.hours)
        return tuple((n, u, name) for n, (u, name) in zip(values, _UNIT_NAMES, strict=True) if n)

    def __str__(self) -> str:
        return "".join(f"{n}{u}" for n, u, _ in self.parts())

    def english(self) -> str:
        """Plain English, e.g. "1 year and 2 months"."""
        return describe_duration(self)

    def exact(self) -> timedelta | None:
        """The duration as a fixed timedelta, or None when it has calendar months/years."""
        if self.years or self.months:
            return None
        return timedelta(weeks=self.weeks, days=self.days, hours=self.hours)

    def bounds(self) -> tuple[timedelta, timedelta]:
        """Lower and upper bounds of ``now - cutoff(now)`` over every ``now`` and zone.

        Months are 28 to 31 days, years 365 or 366; the wall clock of a zone may be
        a day off (DST, a repeated hour, a zone skipping a whole day as Samoa did).
        """
        fixed = timedelta(weeks=self.weeks, days=self.days, hours=self.hours)
        low = fixed + timedelta(days=365 * self.years + 28 * self.months)
        high = fixed + timedelta(days=366 * self.years + 31 * self.months)
        slack = timedelta(days=1, hours=1)
        return max(low - slack, _ZERO), high + slack

    def cutoff(self, now: datetime, tz: tzinfo) -> datetime:
        """The earliest instant still "within" this duration of ``now``, in UTC.

        Calendar units move the wall clock in ``tz`` (days clamp to the month's end);
        hours are exact. Durations reaching before year 1 keep everything.
        """
        local = now.astimezone(tz)
        try:
            total = local.year * 12 + local.month - 1 - (self.years * 12 + self.months)
            year, month0 = divmod(total, 12)
            if year < 1:
                raise OverflowError
            day = min(local.day, calendar.monthrange(year, month0 + 1)[1])
            moved = local.replace(year=year, month=month0 + 1, day=day, fold=0)
            moved = moved - timedelta(weeks=self.weeks, days=self.days)
            return moved.astimezone(timezone.utc) - timedelta(hours=self.hours)
        except (OverflowError, ValueError):
            return datetime.min.replace(tzinfo=timezone.utc)


def parse_duration(text: str, key: str = "keep_within") -> Duration:
    """Parse "36h", "30d", "12w", "1y2m"; raise PolicyError naming ``key`` otherwise."""
    match = _DURATION_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise _key_error(key, text)
    duration = Duration(*(int(g) if g else 0 for g in match.groups()))
    if not str(duration):
        raise _key_error(key, text, "a duration must be longer than zero")
    return duration


# --------------------------------------------------------------------------- instants


def _parse_since(text: str, key: str = "keep_since") -> datetime:
    """ISO-8601 instant with offset or Z; a bare date means midnight UTC."""
    try:
        if len(text) == 10:
            value = datetime.fromisoformat(text + "T00:00:00+00:00")
        else:
            value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except (TypeError, ValueError) as exc:
        raise _key_error(key, text) from exc
    if value.tzinfo is None:
        raise _key_error(key, text, "a time needs an offset or Z")
    return value.astimezone(timezone.utc)


def _zone(name: str) -> tzinfo:
    """The tzinfo for an IANA name; "UTC" is the fast built-in one."""
    if name == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError) as exc:
        raise _key_error("timezone", name, "unknown time zone") from exc


# --------------------------------------------------------------------------- holds


@dataclass(frozen=True)
class Hold:
    """Keep these versions, whatever the rules say, until ``until`` (None: no expiry).

    Like an S3 legal hold: it wins over every rule, and from ``until`` on it keeps
    nothing. ``until`` accepts the same forms as keep_since (a date is midnight UTC).
    """

    versions: tuple[int, ...]
    reason: str
    until: datetime | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        ids = self.versions
        if (
            not isinstance(ids, (list, tuple))
            or not ids
            or any(not _is_int(i) or i < 0 for i in ids)
            or len(set(ids)) != len(ids)
        ):
            raise _key_error("holds", ids, "versions: a non-empty list of distinct version ids")
        set_(self, "versions", tuple(sorted(int(i) for i in ids)))
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise _key_error("holds", self.reason, "reason: a non-empty text")
        if isinstance(self.until, str):
            set_(self, "until", _parse_since(self.until, "holds"))
        elif self.until is not None:
            if not isinstance(self.until, datetime) or self.until.tzinfo is None:
                raise _key_error("holds", self.until, "until: needs an aware datetime")
            set_(self, "until", self.until.astimezone(timezone.utc))

    @classmethod
    def from_value(cls, value: Hold | Mapping[str, Any]) -> Hold:
        """A Hold from itself or from its JSON form."""
        if isinstance(value, Hold):
            return value
        if not isinstance(value, Mapping) or set(value) - {"versions", "reason", "until"}:
            raise _key_error("holds", value)
        return cls(
            versions=value.get("versions"),  # type: ignore[arg-type]  # checked above
            reason=value.get("reason"),  # type: ignore[arg-type]
            until=value.get("until"),
        )

    def active(self, now: datetime) -> bool:
        """Whether the hold still keeps its versions at ``now``."""
        return self.until is None or now < self.until

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"versions": list(self.versions), "reason": self.reason}
        if self.until is not None:
            out["until"] = format_instant(self.until)
        return out

    def keep_reason(self) -> str:
        """The reason a held version carries in the plan."""
        expiry = f"until {format_instant(self.until)}" if self.until else "no expiry"
        return f"hold: {self.reason} ({expiry})"

    def english(self) -> str:
        """Plain English, e.g. "versions 3 and 4 (audit) with no expiry"."""
        return describe_hold(self)


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class RetentionPolicy:
    """Which versions of one dataset to keep; see retention-policy.schema.json.

    Construct with :meth:`from_dict` for user input. Direct construction is checked
    too (counts, empty policy, time zone) and normalises ``keep_within`` /
    ``keep_since`` strings and ``allowed_versions`` to their canonical types.
    """

    allowed_versions: tuple[int, ...] | None = None
    keep_last: int | None = None
    keep_within: Duration | None = None
    keep_since: datetime | None = None
    keep_daily: int | None = None
    keep_weekly: int | None = None
    keep_monthly: int | None = None
    keep_yearly: int | None = None
    timezone: str = "UTC"
    protect_latest: int = 1
    protect_processing: bool = True
    delete_failed: bool = True
    max_deletions: int = 1000
    max_deletion_share: float | None = None
    grace: Duration | None = None
    holds: tuple[Hold, ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if isinstance(self.grace, str):
            set_(self, "grace", parse_duration(self.grace, "grace"))
        elif self.grace is not None and not (isinstance(self.grace, Duration) and str(self.grace)):
            raise _key_error("grace", self.grace)
        if not isinstance(self.holds, (list, tuple)):
            raise _key_error("holds", self.holds)
        set_(self, "holds", tuple(Hold.from_value(h) for h in self.holds))
        if self.allowed_versions is not None:
            ids = tuple(self.allowed_versions)
            if any(not _is_int(i) or i < 0 for i in ids) or len(set(ids)) != len(ids):
                raise _key_error("allowed_versions", list(ids))
            set_(self, "allowed_versions", tuple(sorted(int(i) for i in ids)))
        if isinstance(self.keep_within, str):
            set_(self, "keep_within", parse_duration(self.keep_within))
        elif self.keep_within is not None and not (
            isinstance(self.keep_within, Duration) and str(self.keep_within)
        ):
            raise _key_error("keep_within", self.keep_within)
        if isinstance(self.keep_since, str):
            set_(self, "keep_since", _parse_since(self.keep_since))
        elif self.keep_since is not None:
            if not isinstance(self.keep_since, datetime) or self.keep_since.tzinfo is None:
                raise _key_error("keep_since", self.keep_since, "needs an aware datetime")
            set_(self, "keep_since", self.keep_since.astimezone(timezone.utc))
        for key in ("keep_last", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly"):
            value = getattr(self, key)
            if value is not None:
                set_(self, key, _check_int(key, value, 1))
        set_(self, "protect_latest", _check_int("protect_latest", self.protect_latest, 0))
        set_(self, "max_deletions", _check_int("max_deletions", self.max_deletions, 0))
        if self.protect_processing is False:
            raise _key_error(
                "protect_processing",
                False,
                "uploads in processing are never deleted; remove the key",
            )
        for key in ("protect_processing", "delete_failed"):
            if not isinstance(getattr(self, key), bool):
                raise _key_error(key, getattr(self, key))
        share = self.max_deletion_share
        if share is not None:
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
                raise _key_error("max_deletion_share", share)
            set_(self, "max_deletion_share", float(share))
        if not isinstance(self.timezone, str) or not self.timezone:
            raise _key_error("timezone", self.timezone)
        _zone(self.timezone)
        if all(getattr(self, key) is None for key in KEEP_RULES):
            raise PolicyError(
                "policy: empty policy would delete every version; give at least one keep rule "
                f"({', '.join(KEEP_RULES)})"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetentionPolicy:
        """Validate user input against the schema, then check what a schema cannot."""
        if not isinstance(data, Mapping):
            raise PolicyError(f"policy: expected an object of policy keys, got {data!r}")
        data = dict(data)
        errors = sorted(validator(SCHEMA_NAME).iter_errors(data), key=_error_sort_key)
        if errors:
            raise _schema_error(errors[0], data)
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Canonical JSON form: only keys that differ from their default."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value == f.default:
                continue
            if f.name == "holds":
                value = [hold.to_dict() for hold in value]
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Duration):
                value = str(value)
            elif isinstance(value, datetime):
                value = format_instant(value)
            out[f.name] = value
        return out

    @property
    def tz(self) -> tzinfo:
        """The policy's time zone as a tzinfo."""
        return _zone(self.timezone)

    def __str__(self) -> str:
        """The policy in plain English (worded by render.describe_policy)."""
        return describe_policy(self)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _is_int(value) or value < minimum:
        raise _key_error(key, value)
    return int(value)


def _error_sort_key(error: Any) -> tuple[int, str]:
    """Report unknown keys and top-level problems first, then by key: stable messages."""
    path = list(error.absolute_path)
    return (len(path), str(path[0]) if path else "")


def _schema_error(error: Any, data: dict[str, Any]) -> PolicyError:
    path = list(error.absolute_path)
    if not path:
        if error.validator == "additionalProperties":
            known = set(load_schema(SCHEMA_NAME)["properties"])
            unknown = sorted(k for k in data if k not in known)
            return PolicyError(
                f"policy: unknown key {', '.join(map(repr, unknown))}; "
                f"expected one of: {', '.join(sorted(known))}"
            )
        return PolicyError(f"policy: expected an object of policy keys ({error.message})")
    key = str(path[0])
    if key == "holds" and len(path) > 1:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[1:])
        return _key_error(key, data.get(key), f"holds{where}: {error.message}")
    if error.validator == "maximum" and key == "allowed_versions":
        # Pulumi passes numbers as floats: a larger id would arrive rounded.
        return _key_error(key, data.get(key), f"{error.instance} is above 2^53 - 1")
    return _key_error(key, data.get(key))


# --------------------------------------------------------------------------- plan


Action = Literal["keep", "delete"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to one version, and every reason for it."""

    version: DataVersion
    action: Action
    reasons: tuple[str, ...]


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
        lifetimes = _Lifetimes(ordered, self.policy, self.now)
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

# Decision is a frozen dataclass; its generated __init__ goes through the frozen
# __setattr__ guard three times per object. The hot loop fills the slots directly
# (same object, same invariants) because it builds one Decision per listed version.
_new_object = object.__new__
_slot: dict[str, Any] = dict(vars(Decision))
_set_version = _slot["version"].__set__
_set_action = _slot["action"].__set__
_set_reasons = _slot["reasons"].__set__


def _decision(version: DataVersion, action: Action, reasons: tuple[str, ...]) -> Decision:
    d: Decision = _new_object(Decision)
    _set_version(d, version)
    _set_action(d, action)
    _set_reasons(d, reasons)
    return d


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

    tz = policy.tz
    allowed = frozenset(policy.allowed_versions or ())
    seen_allowed: set[int] = set()
    keep_last = policy.keep_last or 0
    protect_latest = policy.protect_latest
    keep_failed = not policy.delete_failed
    within = policy.keep_within
    within_cutoff = within.cutoff(now, tz) if within is not None else None
    within_reason = f"keep_within {within}"
    since = policy.keep_since
    since_reason = f"keep_since {format_instant(since)}" if since is not None else ""
    gfs = _Calendar(policy, tz)
    oldest = _oldest_success(ordered)
    held = {  # id -> the reasons of the holds still in force
        i: tuple(h.keep_reason() for h in policy.holds if i in h.versions and h.active(now))
        for hold in policy.holds
        if hold.active(now)
        for i in hold.versions
    }
    grace = policy.grace
    past_now = grace.cutoff(now, tz) if grace is not None else now
    past_kept = _kept_at(ordered, policy, past_now) if grace is not None else None
    graced: list[tuple[int, int]] = []  # (position in decisions, position in keep)

    decisions: list[Decision] = []
    keep: list[Decision] = []
    delete: list[Decision] = []
    rank = 0  # successful versions seen so far, newest first
    for v in ordered:
        reasons: list[str] = []
        status = v.upload_status
        success = status == "success"
        if held and v.data_id in held:
            reasons.extend(held[v.data_id])
        if allowed and v.data_id in allowed:
            reasons.append(REASON_ALLOWED)
            seen_allowed.add(v.data_id)
        if success:
            rank += 1
            if rank <= keep_last:
                reasons.append(f"keep_last #{rank}")
        if within_cutoff is not None and v.recorded_date >= within_cutoff:
            reasons.append(within_reason)
        if since is not None and v.recorded_date >= since:
            reasons.append(since_reason)
        if success:
            if gfs.active and (v is oldest or not (gfs.lo <= v.recorded_date < gfs.hi)):
                gfs.visit(v.recorded_date, reasons, oldest=v is oldest)
            if rank <= protect_latest:
                reasons.append(f"protected: latest #{rank}")
            elif rank == 1 and not reasons:
                reasons.append(REASON_NEWEST)
        elif status == "error":
            if keep_failed:
                reasons.append(REASON_FAILED)
        else:  # processing, or a status Domo may add later: never deleted
            reasons.append(REASON_PROCESSING)
        if reasons:
            d = _decision(v, "keep", tuple(reasons))
            keep.append(d)
        elif past_kept is not None and (v.recorded_date > past_now or v.data_id in past_kept):
            d = _decision(v, "keep", ())  # the reason needs eligible_at: set below
            graced.append((len(decisions), len(keep)))
            keep.append(d)
        else:
            d = _decision(v, "delete", _DELETED_REASONS)
            delete.append(d)
        decisions.append(d)

    if graced and grace is not None:
        lifetimes = _Lifetimes(ordered, policy, now)
        for pos, kept_pos in graced:
            reason = _grace_reason(grace, lifetimes.eligible(pos, ()))
            decisions[pos] = keep[kept_pos] = _decision(ordered[pos], "keep", (reason,))

    warnings = tuple(
        f"allowed_versions: version {i} is not listed by Domo"
        for i in sorted(allowed - seen_allowed)
    )
    warnings += _hold_warnings(policy, ordered, now)
    stale = _stale_warning(policy, ordered, keep, len(delete), now)
    if stale:
        warnings += (stale,)
    over = budget_violation(len(delete), len(ordered), policy)
    message, limit = (f"{over[0]}. Nothing was deleted.", over[1]) if over else (None, "")
    plan = Plan(tuple(decisions), keep, delete, warnings, policy, now, budget_error=message)
    if message is not None and enforce_budget:
        raise BudgetExceededError(message, plan=plan, would_delete=len(delete), limit=limit)
    return plan


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


_NEVER = datetime.min.replace(tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_HOUR = timedelta(hours=1)


def _oldest_success(ordered: list[DataVersion]) -> DataVersion | None:
    """The oldest successful version of a newest-first list (scans from the end)."""
    for v in reversed(ordered):
        if v.upload_status == "success":
            return v
    return None


def _oldest_reason(rule: str) -> str:
    """The reason a calendar rule gives the oldest version it keeps for its unused count."""
    return f"{rule}: oldest version"


_CALENDAR_RULES = ("keep_daily", "keep_weekly", "keep_monthly", "keep_yearly")
_DAY = timedelta(days=1)
_MAX_STEPS = 64


def _first_crossing(
    duration: Duration, tz: tzinfo, x: datetime, after: datetime
) -> datetime | None:
    """The first instant b >= ``after`` with cutoff(b) <= x < cutoff(b + 1 µs).

    Expects cutoff(after) <= x; None when b lies beyond year 9999. In UTC without
    months or years the cutoff is ``t - duration``, so b is one addition. Elsewhere
    the cutoff can step back (a clamped month end, a repeated DST hour), so b is
    found by sampling hourly across the window the duration's bounds allow, then
    bisecting to the microsecond.
    """
    try:
        exact = duration.exact()
        if exact is not None and tz is timezone.utc:
            return max(after, x + exact)
        low, high = duration.bounds()
        lo = max(after, x + low)
        if lo > after and duration.cutoff(lo, tz) > x:
            lo = after  # the bounds rule this out; stay correct anyway
        end = x + high + _HOUR
        hi = lo
        while True:
            if hi >= end:
                return hi
            nxt = min(hi + _HOUR, end)
            if duration.cutoff(nxt, tz) > x:
                break
            hi = nxt
        lo, hi = hi, nxt
        while hi - lo > _MICROSECOND:
            mid = lo + (hi - lo) // 2
            if duration.cutoff(mid, tz) > x:
                hi = mid
            else:
                lo = mid
        return lo
    except OverflowError:
        return None


class _Lifetimes:
    """eligible_at: when time alone, with no new upload, ends every reason to keep a version.

    A version is kept while any reason holds. keep_within holds until its cutoff
    passes the version, a hold until its ``until``; the other reasons end only with
    a new upload. With grace, it is also kept while the policy evaluated ``grace``
    earlier, over the versions recorded by then, keeps it: as that earlier instant
    moves on, versions already listed join it newest last, so its rank reasons end at
    the recorded date of the K-th newer success and its calendar reasons when a newer
    success takes its bucket or uses up the rule's count. Pure, on the plan's
    newest-first versions; the calendar buckets are computed only when grace needs them.
    """

    def __init__(self, ordered: Sequence[DataVersion], policy: RetentionPolicy, now: datetime):
        self.ordered = ordered
        self.policy = policy
        self.now = now
        self.tz = policy.tz
        self.allowed = frozenset(policy.allowed_versions or ())
        self.holds: dict[int, list[Hold]] = {}
        for hold in policy.holds:
            for i in hold.versions:
                self.holds.setdefault(i, []).append(hold)
        self.rank_limit = max(policy.keep_last or 0, policy.protect_latest, 1)
        self.success_index: list[int] = []  # per position; -1 for other statuses
        self.success_dates: list[datetime] = []  # successes, newest first
        for v in ordered:
            if v.upload_status == "success":
                self.success_index.append(len(self.success_dates))
                self.success_dates.append(v.recorded_date)
            else:
                self.success_index.append(-1)
        self._buckets: list[tuple[int, list[Any], list[int], list[int]]] | None = None

    def eligible(self, pos: int, reasons: tuple[str, ...]) -> datetime | None:
        """eligible_at of the version at ``pos``, kept now for ``reasons``."""
        v = self.ordered[pos]
        if self._kept_for_good(v):
            return None
        i = self.success_index[pos]
        if 0 <= i < self.rank_limit or any(r.startswith(_CALENDAR_RULES) for r in reasons):
            return None  # keep_last, the guards, a calendar bucket: a new upload ends them
        limits = self._hold_limits(v)
        recorded = v.recorded_date
        grace = self.policy.grace
        if grace is None:
            return self._end(self.now, limits, recorded)
        past_limits = self._past_limits(pos)
        if past_limits is None:
            return None
        t = self.now
        for _ in range(_MAX_STEPS):
            now_end = self._end(t, limits, recorded)
            earlier = grace.cutoff(t, self.tz)
            if earlier < recorded:  # not listed yet back then: spared until it is surplus
                past_end: datetime | None = self._end(recorded, past_limits, recorded)
            else:
                past_end = self._end(earlier, past_limits, recorded)
                if past_end == earlier:
                    past_end = None  # surplus back then: grace spares nothing
            grace_end = t
            if now_end is None:
                return None
            if past_end is not None:
                crossing = _first_crossing(grace, self.tz, past_end, t)
                if crossing is None:
                    return None
                grace_end = crossing
            end = max(now_end, grace_end)
            if end == t:
                return t
            t = end
        return t

    def _kept_for_good(self, v: DataVersion) -> bool:
        """Reasons that neither time nor new uploads end."""
        p = self.policy
        status = v.upload_status
        return (
            v.data_id in self.allowed
            or (p.keep_since is not None and v.recorded_date >= p.keep_since)
            or (status != "success" and (status != "error" or not p.delete_failed))
            or any(h.until is None for h in self.holds.get(v.data_id, ()))
        )

    def _hold_limits(self, v: DataVersion) -> list[datetime]:
        return [h.until for h in self.holds.get(v.data_id, ()) if h.until is not None]

    def _end(self, start: datetime, limits: list[datetime], recorded: datetime) -> datetime | None:
        """The end of the run of instants from ``start`` on at which a reason keeps the
        version: each limit keeps it before that instant, keep_within while its cutoff
        is at or before ``recorded`` (which can stop and start again: iterate)."""
        within = self.policy.keep_within
        t = start
        for _ in range(_MAX_STEPS):
            end = t
            for limit in limits:
                if limit > end:
                    end = limit
            if within is not None and within.cutoff(t + _MICROSECOND, self.tz) <= recorded:
                crossing = _first_crossing(within, self.tz, recorded, t + _MICROSECOND)
                if crossing is None:
                    return None
                end = max(end, crossing)
            if end == t:
                return t
            t = end
        return t

    def _past_limits(self, pos: int) -> list[datetime] | None:
        """When the reasons of the policy evaluated at an earlier instant end, as that
        instant moves on and the versions recorded after it join; None: never by time."""
        v = self.ordered[pos]
        limits = self._hold_limits(v)
        i = self.success_index[pos]
        if i < 0:
            return limits
        dates = self.success_dates
        if i < self.rank_limit:
            return None
        limits.append(dates[i - self.rank_limit])
        last = len(dates) - 1
        for count, keys, run_of, run_last in self._calendar_runs():  # here i >= 1
            ends = []
            if i != last and keys[i - 1] == keys[i]:
                ends.append(dates[i - 1])  # a newer success takes its bucket
            if count == 1:
                ends.append(dates[i - 1])
            elif run_of[i - 1] >= count - 1:  # the newer successes use up the count
                ends.append(dates[run_last[run_of[i - 1] - (count - 1)]])
            if not ends:
                return None
            limits.append(min(ends))
        return limits

    def _calendar_runs(self) -> list[tuple[int, list[Any], list[int], list[int]]]:
        """Per calendar rule: its count, each success's bucket, the run of equal buckets
        each success is in (newest run 0), and the oldest success of each run."""
        if self._buckets is None:
            p = self.policy
            local = [t.astimezone(self.tz) for t in self.success_dates]
            rules: list[tuple[int | None, Any]] = [
                (p.keep_daily, lambda t: (t.year, t.month, t.day)),
                (p.keep_weekly, lambda t: t.isocalendar()[:2]),
                (p.keep_monthly, lambda t: (t.year, t.month)),
                (p.keep_yearly, lambda t: t.year),
            ]
            self._buckets = []
            for count, bucket in rules:
                if not count:
                    continue
                keys = [bucket(t) for t in local]
                run_of: list[int] = []
                run_last: list[int] = []
                for j, key in enumerate(keys):
                    if j and key == keys[j - 1]:
                        run_last[-1] = j
                    else:
                        run_last.append(j)
                    run_of.append(len(run_last) - 1)
                self._buckets.append((count, keys, run_of, run_last))
        return self._buckets


class _Calendar:
    """keep_daily/weekly/monthly/yearly with restic semantics, in one pass.

    Visit successful versions newest first; a rule keeps the first version of each
    new bucket until it has used its N buckets. A rule that still has count left when
    it reaches the oldest successful version also keeps that one, even in a bucket it
    already kept (restic >= 0.16, restic#3624: the longest history the counts allow).
    A version on the same local day as the previous one can open no new bucket, so it
    is skipped unless it is the oldest; ``lo <= t < hi`` is that local day in UTC, so
    the skip costs two comparisons, not a time zone conversion. The bounds are only
    set when the day has one UTC offset throughout.
    """

    __slots__ = ("active", "counts", "hi", "last_day", "lasts", "lo", "tz")

    def __init__(self, policy: RetentionPolicy, tz: tzinfo) -> None:
        self.tz = tz
        # daily, weekly, monthly, yearly
        self.counts = [
            policy.keep_daily or 0,
            policy.keep_weekly or 0,
            policy.keep_monthly or 0,
            policy.keep_yearly or 0,
        ]
        self.lasts: list[Any] = [None, None, None, None]
        self.last_day: tuple[int, int, int] | None = None
        self.active = any(self.counts)
        self.lo = self.hi = _NEVER

    def visit(self, recorded: datetime, reasons: list[str], *, oldest: bool = False) -> None:
        local = recorded.astimezone(self.tz)
        day = (local.year, local.month, local.day)
        if day == self.last_day and not oldest:
            return
        self.last_day = day
        self._set_bounds(local)
        counts = self.counts
        y, m, d = day
        if counts[0]:
            self._take(0, day, f"keep_daily {y:04d}-{m:02d}-{d:02d}", oldest, reasons)
        if counts[1]:
            week = local.isocalendar()[:2]
            self._take(1, week, f"keep_weekly {week[0]:04d}-W{week[1]:02d}", oldest, reasons)
        if counts[2]:
            self._take(2, (y, m), f"keep_monthly {y:04d}-{m:02d}", oldest, reasons)
        if counts[3]:
            self._take(3, y, f"keep_yearly {y:04d}", oldest, reasons)
        self.active = any(counts)

    def _take(self, rule: int, bucket: Any, reason: str, oldest: bool, reasons: list[str]) -> None:
        """Spend one of the rule's count on a new bucket, or on the oldest version."""
        if self.lasts[rule] != bucket:
            self.lasts[rule] = bucket
        elif oldest:
            reason = _oldest_reason(_CALENDAR_RULES[rule])
        else:
            return
        self.counts[rule] -= 1
        reasons.append(reason)

    def _set_bounds(self, local: datetime) -> None:
        """Set [lo, hi) to the UTC span of ``local``'s day, if it has one offset."""
        self.lo = self.hi = _NEVER
        offset = local.utcoffset()
        if offset is None:
            return
        try:
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
            lo = (midnight - offset).replace(tzinfo=timezone.utc)
            hi = (midnight + timedelta(days=1) - offset).replace(tzinfo=timezone.utc)
        except OverflowError:
            return
        tz = self.tz
        if (
            lo.astimezone(tz).utcoffset() == offset
            and (hi - _MICROSECOND).astimezone(tz).utcoffset() == offset
        ):
            self.lo, self.hi = lo, hi
