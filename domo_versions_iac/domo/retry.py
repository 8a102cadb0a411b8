"""Retry rules as data, and the bookkeeping of one retried call within its limits.

What is retried is a table, one row per HTTP method (after urllib3's ``Retry``: errors
before the request reached the server and errors after it are told apart, and which
statuses are retried is data, not branches). How long to wait is ``Retry-After`` when
the server gives it, else exponential backoff with full jitter. Whether to wait at all
is decided by :class:`Attempts` against three limits: ``max_attempts``, the total
waiting budget ``max_retry_seconds`` and the call's deadline.

Why not urllib3's ``Retry`` itself
----------------------------------
It would do the counting, but not within these limits without losing behaviour:

* it sleeps inside ``urlopen`` with ``time.sleep``: the client's injectable ``sleep``,
  the total waiting budget and the call's deadline (checked before every wait) cannot
  take part;
* a ``Retry-After`` longer than allowed is shortened to ``retry_after_max``, where the
  client stops retrying at once instead (waiting less than asked would just be rate
  limited again); its parser refuses fractional seconds by raising ``InvalidHeader``;
* its backoff adds jitter to a fixed delay and does not wait before the first retry;
  the client uses full jitter, ``uniform(0, backoff_base * 2**(attempt - 1))``;
* statuses and methods are two independent lists, and a 413/429/503 with
  ``Retry-After`` is retried for every allowed method: "everything for GET, nothing
  for DELETE" needs one ``Retry`` per method anyway, which is what :data:`RULES` is.

So the client keeps its own loop (:meth:`DomoClient._request`) and reads its rules here.
"""

from __future__ import annotations

import email.utils
import math
import os
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timezone
from types import MappingProxyType

from domo_versions_iac.domo.errors import ConfigurationError

RETRY_STATUSES = frozenset({429, 502, 503, 504})
DEADLINE_ENV = "DOMO_REQUEST_DEADLINE"
DEFAULT_DEADLINE = 60.0
# An export streams a whole version (millions of rows): its own, longer deadline.
EXPORT_DEADLINE_ENV = "DOMO_EXPORT_DEADLINE"
DEFAULT_EXPORT_DEADLINE = 3600.0


@dataclass(frozen=True)
class RetryRules:
    """What one HTTP method may retry.

    ``statuses``: answers worth asking again (waiting ``Retry-After`` when given).
    ``connect_errors``: the connection was never made (refused, connect timeout), so
    nothing was sent. ``read_errors``: it was sent and no answer came (read timeout,
    dropped connection): the server may have carried it out.
    """

    statuses: frozenset[int]
    connect_errors: bool
    read_errors: bool

    def retries_status(self, status: int) -> bool:
        return status in self.statuses

    def retries_transport(self, *, sent: bool) -> bool:
        return self.read_errors if sent else self.connect_errors


RULES: Mapping[str, RetryRules] = MappingProxyType(
    {
        # A listing changes nothing: every transient failure is asked again.
        "GET": RetryRules(RETRY_STATUSES, connect_errors=True, read_errors=True),
        # A DELETE is never re-sent by the client, whatever the answer or failure: what
        # may be deleted can change during any wait (another stack, an upload), so only
        # the delete loop sends again, after a fresh listing and the deletion gate
        # (deletion.apply_retention; it also waits out a throttle's Retry-After).
        "DELETE": RetryRules(frozenset(), connect_errors=False, read_errors=False),
    }
)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date); ``None`` if absent/bad."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def full_jitter(base: float, attempt: int, rand: random.Random) -> float:
    """The wait after failed attempt number ``attempt`` (1, 2, ...) without Retry-After."""
    return rand.uniform(0.0, base * (2 ** (attempt - 1)))


class Attempts:
    """Bookkeeping for one retried call: attempts made, waiting time used, deadline."""

    def __init__(
        self, max_attempts: int, max_retry_seconds: float, deadline_at: float = math.inf
    ) -> None:
        self.max_attempts = max_attempts
        self.budget = max_retry_seconds
        self.number = 0
        self.waited = 0.0
        self.deadline_at = deadline_at


def deadline_setting(
    deadline: float | None,
    base_url: str,
    *,
    env: str = DEADLINE_ENV,
    default: float = DEFAULT_DEADLINE,
) -> float:
    """The deadline in seconds: the argument, else the variable ``env``
    (DOMO_REQUEST_DEADLINE), else ``default`` (60)."""
    source = f"deadline={deadline!r}"
    if deadline is None:
        text = os.environ.get(env, "").strip()
        if not text:
            return default
        source = f"{env}={text!r}"
        try:
            deadline = float(text)
        except ValueError:
            deadline = math.nan
    if isinstance(deadline, bool) or not isinstance(deadline, (int, float)):
        deadline = math.nan
    if not 0 < deadline < math.inf:
        raise ConfigurationError(
            f"{source} is not a deadline: give a number of seconds greater than 0 (such "
            f"as 120), or unset {env} for the default of {default:g}",
            instance=base_url,
            hint="",
        )
    return float(deadline)


__all__ = [
    "DEADLINE_ENV",
    "DEFAULT_DEADLINE",
    "DEFAULT_EXPORT_DEADLINE",
    "EXPORT_DEADLINE_ENV",
    "RETRY_STATUSES",
    "RULES",
    "Attempts",
    "RetryRules",
    "deadline_setting",
    "full_jitter",
    "parse_retry_after",
]
