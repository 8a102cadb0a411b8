"""Durations (keep_within, grace), instants (keep_since, hold expiry) and time zones.

A duration counts calendar years, months, weeks and days on the wall clock of the
policy's zone, plus exact hours; :meth:`Duration.cutoff` is the one place that does
the calendar arithmetic.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from domo_versions_iac.policy.errors import key_error
from domo_versions_iac.render import describe_duration

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
