"""One pause for every thread of a client when Domo answers 429 (too many requests).

The program lists up to 32 datasets at once, and the provider works on up to 32 at once
(provider_workers); in each process, every request to one instance with one token goes
through one :class:`~domo_versions_iac.domo.client.DomoClient`. A 429 to any of them means
the token is being rate limited.
The call that got it waits ``Retry-After`` (or its backoff) and retries, as before; with
this gate the other calls of the same client also hold their next request until that
pause is over, instead of each earning a 429 of its own. Pauses only lengthen: the
latest end wins.

What is retried, how long to wait and within which budget stay in
:mod:`domo_versions_iac.domo.retry` and the client; this module only shares the pause.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class Throttle:
    """A shared "no request before this instant" for the threads of one client."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._not_before = -math.inf
        self._paused_by: int | None = None  # the thread whose 429 set the pause

    def pause(self, seconds: float) -> None:
        """Domo answered 429 to this thread, which will itself wait ``seconds``: every
        other thread holds its next request until then too."""
        until = self._clock() + max(0.0, seconds)
        with self._lock:
            if until > self._not_before:
                self._not_before = until
                self._paused_by = threading.get_ident()

    def wait(self, deadline_at: float = math.inf) -> float:
        """Before a request: sleep until the pause is over (never past ``deadline_at``);
        return the seconds slept. The thread that set the pause has already waited it."""
        with self._lock:
            until, owner = self._not_before, self._paused_by
        if owner == threading.get_ident():
            return 0.0
        delay = min(until, deadline_at) - self._clock()
        if delay <= 0:
            return 0.0
        self._sleep(delay)
        return delay
