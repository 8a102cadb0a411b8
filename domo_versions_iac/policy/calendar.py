"""keep_daily, keep_weekly, keep_monthly and keep_yearly as rows of one table.

Like restic's ``forget`` (snapshot_policy.go), each rule is data: the policy key that
holds its count, a key function that maps a local time to its bucket (an int such as
``year * 100 + month``), and the reason text for a bucket. One loop applies every row;
nothing here is specific to days, weeks, months or years.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from domo_versions_iac.policy.model import RetentionPolicy

NEVER = datetime.min.replace(tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def day_key(t: datetime) -> int:
    """The local day: 2024-03-09 is 20240309."""
    return t.year * 10000 + t.month * 100 + t.day


def week_key(t: datetime) -> int:
    """The ISO week (its year can differ from the calendar year): 2024-W52 is 202452."""
    year, week, _ = t.isocalendar()
    return year * 100 + week


def month_key(t: datetime) -> int:
    """The local month: 2024-03 is 202403."""
    return t.year * 100 + t.month


def year_key(t: datetime) -> int:
    """The local year."""
    return t.year


@dataclass(frozen=True)
class CalendarRule:
    """One calendar rule: the policy key with its count, the bucket of a local time,
    and the reason a kept version carries for its bucket."""

    name: str
    key: Callable[[datetime], int]
    reason: Callable[[int], str]


CALENDAR_RULES: tuple[CalendarRule, ...] = (
    CalendarRule(
        "keep_daily",
        day_key,
        lambda k: f"keep_daily {k // 10000:04d}-{k // 100 % 100:02d}-{k % 100:02d}",
    ),
    CalendarRule("keep_weekly", week_key, lambda k: f"keep_weekly {k // 100:04d}-W{k % 100:02d}"),
    CalendarRule("keep_monthly", month_key, lambda k: f"keep_monthly {k // 100:04d}-{k % 100:02d}"),
    CalendarRule("keep_yearly", year_key, lambda k: f"keep_yearly {k:04d}"),
)
CALENDAR_RULE_NAMES: tuple[str, ...] = tuple(rule.name for rule in CALENDAR_RULES)


def oldest_reason(rule: str) -> str:
    """The reason a calendar rule gives the oldest version it keeps for its unused count."""
    return f"{rule}: oldest version"


def active_rules(policy: RetentionPolicy) -> list[tuple[CalendarRule, int]]:
    """The rows the policy sets, with their counts, in table order."""
    return [
        (rule, getattr(policy, rule.name)) for rule in CALENDAR_RULES if getattr(policy, rule.name)
    ]


class Calendar:
    """Every calendar rule with restic semantics, in one pass.

    Visit successful versions newest first; a rule keeps the first version of each
    new bucket until it has used its N buckets. A rule that still has count left when
    it reaches the oldest successful version also keeps that one, even in a bucket it
    already kept (restic >= 0.16, restic#3624: the longest history the counts allow).
    A version on the same local day as the previous one can open no new bucket, so it
    is skipped unless it is the oldest; ``lo <= t < hi`` is that local day in UTC, so
    the skip costs two comparisons, not a time zone conversion. The bounds are only
    set when the day has one UTC offset throughout.
    """

    __slots__ = ("active", "counts", "hi", "last_day", "lasts", "lo", "rules", "tz")

    def __init__(self, policy: RetentionPolicy, tz: tzinfo) -> None:
        self.tz = tz
        active = active_rules(policy)
        self.rules = [rule for rule, _ in active]
        self.counts = [count for _, count in active]
        self.lasts: list[int | None] = [None] * len(active)
        self.last_day: int | None = None
        self.active = any(self.counts)
        self.lo = self.hi = NEVER

    def visit(self, recorded: datetime, reasons: list[str], *, oldest: bool = False) -> None:
        """Let every rule with count left keep the version recorded at ``recorded``."""
        local = recorded.astimezone(self.tz)
        day = day_key(local)
        if day == self.last_day and not oldest:
            return
        self.last_day = day
        self._set_bounds(local)
        counts, lasts = self.counts, self.lasts
        for i, rule in enumerate(self.rules):
            if not counts[i]:
                continue
            bucket = rule.key(local)
            if lasts[i] != bucket:  # a new bucket
                lasts[i] = bucket
                reasons.append(rule.reason(bucket))
            elif oldest:  # count left at the oldest version: keep it too
                reasons.append(oldest_reason(rule.name))
            else:
                continue
            counts[i] -= 1
        self.active = any(counts)

    def _set_bounds(self, local: datetime) -> None:
        """Set [lo, hi) to the UTC span of ``local``'s day, if it has one offset."""
        self.lo = self.hi = NEVER
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
