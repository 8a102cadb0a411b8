"""Durations (keep_within, grace), instants (keep_since, hold expiry) and time zones.

A duration counts calendar years, months, weeks and days on the wall clock of the
policy's zone, plus exact hours; :meth:`Duration.cutoff` is the one place that does
the calendar arithmetic.

Why ours stays: isodate and dateutil parse ISO 8601 durations, not the ``30d``/``2w``
shorthand policies use, and neither answers "this instant minus 1 month on the wall
clock of Europe/Paris" monotonically across DST gaps and month ends, which is what
:meth:`Duration.cutoff` must guarantee; stdlib ``zoneinfo`` does the time zones.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from domo_versions_iac.policy.errors import key_error
from domo_versions_iac.policy.wording import describe_duration

_ZERO = timedelta(0)
_MICROSECOND = timedelta(microseconds=1)
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
        """(count, unit letter, unit name) for each unit that is not zero, largest first."""
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

        Calendar units move the wall clock in ``tz`` back; hours are exact. Durations
        reaching before year 1 keep everything. The result never moves back as ``now``
        moves on (first_crossing bisects it, and a version let go must stay let go), so
        a wall time that does not exist is read as the first one after it that does:
        - a day past the month's end is the month's end, whatever the time of day:
          31 March minus 1m is the end of February (1 March 00:00); keeping the time
          (29 February 10:00) would move back from 30 March 23:00 to 31 March 00:00;
        - a wall time the clock skipped (spring forward) is the instant it jumped:
          02:30 on that day keeps what was recorded from 03:00 on, as 02:00 would;
        - a wall time the clock repeated (fall back) is its earlier occurrence, so
          nothing goes before its wall time plus the duration; what was recorded in the
          repeated hour stays until the clock has left that hour;
        - while the clock itself repeats an hour, it reads as the time it turned back
          from (03:00): the count stands still for that hour instead of going back.
        """
        local = _wall_clock(now, tz)
        try:
            total = local.year * 12 + local.month - 1 - (self.years * 12 + self.months)
            year, month0 = divmod(total, 12)
            if year < 1:
                raise OverflowError
            last = calendar.monthrange(year, month0 + 1)[1]
            if local.day > last:  # a day past the month's end: the month's end
                moved = datetime(year, month0 + 1, last) + timedelta(days=1)
            else:
                moved = local.replace(year=year, month=month0 + 1)
            moved = moved - timedelta(weeks=self.weeks, days=self.days)
            return _instant(moved, tz) - timedelta(hours=self.hours)
        except (OverflowError, ValueError):
            return datetime.min.replace(tzinfo=timezone.utc)


def _wall_clock(now: datetime, tz: tzinfo) -> datetime:
    """The naive wall time of ``now`` in ``tz``; in the second pass of a repeated hour,
    the time the clock turned back from, so the reading never goes back."""
    local = now.astimezone(tz)
    if not local.fold:
        return local.replace(tzinfo=None)
    before = local.replace(fold=0).utcoffset()
    after = local.utcoffset()
    assert before is not None and after is not None  # an aware datetime has an offset
    turned = _offset_change(now - (before - after), now, tz)
    return (turned + before).replace(tzinfo=None)


def _instant(wall: datetime, tz: tzinfo) -> datetime:
    """The UTC instant of a naive wall time in ``tz``: a repeated one's earlier
    occurrence, a skipped one's jump (the instant the clock skipped it)."""
    first = wall.replace(tzinfo=tz)
    if tz is timezone.utc:
        return first
    second = wall.replace(tzinfo=tz, fold=1)
    early, late = first.astimezone(timezone.utc), second.astimezone(timezone.utc)
    if early <= late:  # unambiguous (equal) or repeated (fold=0 is the earlier one)
        return early
    return _offset_change(late, early, tz)  # skipped: fold=1 reads it after the jump


def _offset_change(before: datetime, after: datetime, tz: tzinfo) -> datetime:
    """The first instant in (before, after] with the UTC offset ``after`` has in ``tz``
    (one change of offset lies between them)."""
    target = after.astimezone(tz).utcoffset()
    while after - before > _MICROSECOND:
        mid = before + (after - before) // 2
        if mid.astimezone(tz).utcoffset() == target:
            after = mid
        else:
            before = mid
    return after


def parse_duration(text: str, key: str = "keep_within") -> Duration:
    """Parse "36h", "30d", "12w", "1y2m"; raise PolicyError naming ``key`` otherwise."""
    match = _DURATION_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise key_error(key, text)
    duration = Duration(*(int(g) if g else 0 for g in match.groups()))
    if not str(duration):
        raise key_error(key, text, "a duration must be longer than zero")
    return duration


def parse_instant(text: str, key: str = "keep_since") -> datetime:
    """ISO-8601 instant with offset or Z; a bare date means midnight UTC."""
    try:
        if len(text) == 10:
            value = datetime.fromisoformat(text + "T00:00:00+00:00")
        else:
            value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except (TypeError, ValueError) as exc:
        raise key_error(key, text) from exc
    if value.tzinfo is None:
        raise key_error(key, text, "a time needs an offset or Z")
    return value.astimezone(timezone.utc)


def zone(name: str) -> tzinfo:
    """The tzinfo for an IANA name; "UTC" is the fast built-in one."""
    if name == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError) as exc:
        raise key_error("timezone", name, "unknown time zone") from exc
