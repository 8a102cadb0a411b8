"""eligible_at: the instant time alone, with no new upload, makes a kept version surplus.

Used by :attr:`Plan.eligible_at <domo_versions_iac.policy.engine.Plan.eligible_at>`, the
forecast, and the reason of a version only grace keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone, tzinfo

from domo_versions_iac.domo.models import DataVersion
from domo_versions_iac.policy.calendar import CALENDAR_RULE_NAMES, active_rules
from domo_versions_iac.policy.durations import Duration
from domo_versions_iac.policy.model import Hold, RetentionPolicy

_MICROSECOND = timedelta(microseconds=1)
_MAX_STEPS = 64


def first_crossing(duration: Duration, tz: tzinfo, x: datetime, after: datetime) -> datetime | None:
    """The last instant b >= ``after`` with cutoff(b) <= x: from b + 1 µs on, the cutoff
    has passed x.

    Expects cutoff(after) <= x; None when b lies beyond year 9999. In UTC without
    months or years the cutoff is ``t - duration``, so b is one addition. Elsewhere b is
    found by bisecting, to the microsecond, the window the duration's bounds allow:
    Duration.cutoff itself, never moving back (DST, clamped month ends included), so
    eligible_at and the plan agree on every instant.
    """
    try:
        exact = duration.exact()
        if exact is not None and tz is timezone.utc:
            return max(after, x + exact)
        low, high = duration.bounds()
        lo = max(after, x + low)
        if lo > after and duration.cutoff(lo, tz) > x:
            lo = after  # the bounds rule this out; stay correct anyway
        hi = x + high + _MICROSECOND
        if duration.cutoff(hi, tz) <= x:
            return hi  # the bounds rule this out too
        while hi - lo > _MICROSECOND:
            mid = lo + (hi - lo) // 2
            if duration.cutoff(mid, tz) > x:
                hi = mid
            else:
                lo = mid
        return lo
    except OverflowError:
        return None


class Lifetimes:
    """eligible_at: when time alone, with no new upload, ends every reason to keep a version.

    A version is kept while any reason holds. keep_within holds until its cutoff
    passes the version, keep_noncurrent_within until its cutoff passes the next newer
    success (the replacement), a hold until its ``until``; the other reasons end only
    with a new upload. With grace, it is also kept while the policy evaluated ``grace``
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
        # The latest upload (highest successful id) is protected until a new upload.
        self.latest_upload = max(
            (v.data_id for v in ordered if v.upload_status == "success"), default=None
        )
        self.success_index: list[int] = []  # per position; -1 for other statuses
        self.success_dates: list[datetime] = []  # successes, newest first
        for v in ordered:
            if v.upload_status == "success":
                self.success_index.append(len(self.success_dates))
                self.success_dates.append(v.recorded_date)
            else:
                self.success_index.append(-1)
        self._buckets: list[tuple[int, list[int], list[int], list[int]]] | None = None
        self._higher: dict[int, datetime] | None = None

    def eligible(self, pos: int, reasons: tuple[str, ...]) -> datetime | None:
        """eligible_at of the version at ``pos``, kept now for ``reasons``."""
        v = self.ordered[pos]
        if self._kept_for_good(v) or v.data_id == self.latest_upload:
            return None
        i = self.success_index[pos]
        if 0 <= i < self.rank_limit or any(r.startswith(CALENDAR_RULE_NAMES) for r in reasons):
            return None  # keep_last, the guards, a calendar bucket: a new upload ends them
        limits = self._hold_limits(v)
        recorded = v.recorded_date
        anchors = self._anchors(pos)
        grace = self.policy.grace
        if grace is None:
            return self._end(self.now, limits, anchors)
        past_limits = self._past_limits(pos)
        if past_limits is None:
            return None
        t = self.now
        for _ in range(_MAX_STEPS):
            now_end = self._end(t, limits, anchors)
            earlier = grace.cutoff(t, self.tz)
            if earlier < recorded:  # not listed yet back then: spared until it is surplus
                past_end: datetime | None = self._end(recorded, past_limits, anchors)
            else:
                past_end = self._end(earlier, past_limits, anchors)
                if past_end == earlier and not self._keeps_at(earlier, past_limits, anchors):
                    past_end = None  # surplus back then: grace spares nothing
            grace_end = t
            if now_end is None:
                return None
            if past_end is not None:
                crossing = self._grace_crossing(grace, t, past_end, past_limits, anchors)
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

    def _anchors(self, pos: int) -> list[tuple[Duration, datetime]]:
        """The duration rules that keep the version at ``pos`` while their cutoff is at or
        before an instant: keep_within its recorded date, keep_noncurrent_within the
        recorded date of the next newer success (the newest success has none: it is kept
        until a new upload, like keep_last)."""
        p = self.policy
        anchors = []
        if p.keep_within is not None:
            anchors.append((p.keep_within, self.ordered[pos].recorded_date))
        i = self.success_index[pos]
        if p.keep_noncurrent_within is not None and i > 0:
            anchors.append((p.keep_noncurrent_within, self.success_dates[i - 1]))
        return anchors

    def _grace_crossing(
        self,
        grace: Duration,
        t: datetime,
        past_end: datetime,
        limits: list[datetime],
        anchors: list[tuple[Duration, datetime]],
    ) -> datetime | None:
        """When grace stops keeping the version: the last t with grace.cutoff(t) <= past_end
        if a duration rule keeps it back then at past_end itself, else the first t with
        grace.cutoff(t) >= past_end (a limit ends before it). The cutoff can stand still
        at past_end for an hour (DST) or days (a month's end), so the two differ."""
        if self._keeps_at(past_end, limits, anchors):
            return first_crossing(grace, self.tz, past_end, t)
        crossing = first_crossing(grace, self.tz, past_end - _MICROSECOND, t)
        return None if crossing is None else crossing + _MICROSECOND

    def _keeps_at(
        self, at: datetime, limits: list[datetime], anchors: list[tuple[Duration, datetime]]
    ) -> bool:
        """Whether a limit or a duration rule (as in :meth:`_end`) keeps the version at ``at``."""
        return any(limit > at for limit in limits) or any(
            duration.cutoff(at, self.tz) <= anchor for duration, anchor in anchors
        )

    def _end(
        self, start: datetime, limits: list[datetime], anchors: list[tuple[Duration, datetime]]
    ) -> datetime | None:
        """The end of the run of instants from ``start`` on at which a reason keeps the
        version: each limit keeps it before that instant, each duration rule while its
        cutoff is at or before its anchor (which can stop and start again: iterate)."""
        t = start
        for _ in range(_MAX_STEPS):
            end = t
            for limit in limits:
                if limit > end:
                    end = limit
            after = t + _MICROSECOND
            for duration, anchor in anchors:
                if duration.cutoff(after, self.tz) <= anchor:
                    crossing = first_crossing(duration, self.tz, anchor, after)
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
        limits.append(self._higher_id_recorded()[v.data_id])  # the latest upload until then
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

    def _higher_id_recorded(self) -> dict[int, datetime]:
        """Per successful id: when the first success with a higher id was recorded (the
        earlier evaluation protects the latest upload among what was recorded by then).
        The latest upload itself is absent: it is kept until a new upload."""
        if self._higher is None:
            self._higher = {}
            first: datetime | None = None
            for v in sorted(self.ordered, key=lambda v: v.data_id, reverse=True):
                if v.upload_status != "success":
                    continue
                if first is not None:
                    self._higher[v.data_id] = first
                first = v.recorded_date if first is None else min(first, v.recorded_date)
        return self._higher

    def _calendar_runs(self) -> list[tuple[int, list[int], list[int], list[int]]]:
        """Per calendar rule: its count, each success's bucket, the run of equal buckets
        each success is in (newest run 0), and the oldest success of each run."""
        if self._buckets is None:
            local = [t.astimezone(self.tz) for t in self.success_dates]
            self._buckets = []
            for rule, count in active_rules(self.policy):
                keys = [rule.key(t) for t in local]
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
