"""How many datasets the provider works on at once, past the dynamic provider's 4 threads.

Pulumi's Python dynamic-provider host (``python -m pulumi.dynamic``) serves its gRPC
calls on ``futures.ThreadPoolExecutor(max_workers=4)`` (pulumi/dynamic/__main__.py, the
same from 2019 to SDK 3.272). A create or update holds one of those threads for its
whole HTTP conversation with Domo, so whatever ``pulumi up --parallel`` says, at most 4
datasets' deletions run at once (docs/upstream-dynamic-provider-workers.md).

What this module does about it, once per provider process (from ``configure``, which
the host calls on one of that pool's worker threads):

* it finds the ThreadPoolExecutor whose worker thread is running this code and raises
  its ``_max_workers`` to the bound below plus :data:`SPARE_THREADS`; the executor reads
  ``_max_workers`` at every submit (``_adjust_thread_count``), so later calls get new
  threads. Spare threads keep ``check`` and ``diff`` answering while every slot deletes.
* only inside the dynamic-provider host, only for pulumi SDK versions in
  :data:`KNOWN_SDK` (where that layout is known and tested: the package's own range),
  and only when the executor looks as expected. Otherwise it says why (one line on
  stdout, which the engine shows; it does not show stderr) and the
  host keeps its 4 threads: slower, never wrong.

The number of datasets worked on at once is bounded by :func:`dataset_slot`, a
semaphore taken by create, update and read, not by the pool (which also serves
``check`` and ``diff``, and cannot shrink below threads it has started). The bound is
``DOMO_UP_CONCURRENCY`` (1-32, default 32); the engine's ``--parallel`` bounds it too.
"""

from __future__ import annotations

import gc
import importlib.metadata
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from domo_versions_iac.domo.settings import whole_number
from domo_versions_iac.provider.engine_errors import UserFacingError

UP_CONCURRENCY_ENV = "DOMO_UP_CONCURRENCY"
MAX_UP_CONCURRENCY = 32
SPARE_THREADS = 4  # for check/diff/configure while every slot is taken
SDK_POOL_SIZE = 4  # what pulumi/dynamic/__main__.py passes to its ThreadPoolExecutor
# pulumi SDK versions whose dynamic-provider host has the layout above (pyproject's
# range; tests/e2e/test_up_concurrency.py runs on its lowest and highest release).
KNOWN_SDK = ((3, 200), (4, 0))
HOST_MODULE = "pulumi.dynamic.__main__"

_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None
_widened = False


class ConcurrencySettingError(UserFacingError):
    """DOMO_UP_CONCURRENCY is not a number the provider accepts."""


def up_concurrency(environ: dict[str, str] | None = None) -> int:
    """DOMO_UP_CONCURRENCY (a whole number from 1 to 32), or 32 when it is unset or blank."""
    env = os.environ if environ is None else environ
    text = env.get(UP_CONCURRENCY_ENV, "").strip()
    if not text:
        return MAX_UP_CONCURRENCY
    number = whole_number(text, 1, MAX_UP_CONCURRENCY)
    if number is None:
        raise ConcurrencySettingError(
            f"{UP_CONCURRENCY_ENV}={text!r} is not valid: give a whole number from 1 to "
            f"{MAX_UP_CONCURRENCY} (how many datasets `pulumi up` and `pulumi refresh` work "
            f"on at once), or unset it for {MAX_UP_CONCURRENCY}"
        )
    return number


def configure_provider_process() -> None:
    """Read the bound and widen the host's pool; idempotent (the host may configure
    several times). Raises ConcurrencySettingError for a bad DOMO_UP_CONCURRENCY."""
    global _slots, _widened
    bound = up_concurrency()
    with _lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(bound)
        if _widened:
            return
        _widened = True
    warning = widen_host_pool(bound + SPARE_THREADS)
    if warning:
        print(f"warning: domo-versions-iac: {warning}", flush=True)  # stdout: shown by the engine


@contextmanager
def dataset_slot() -> Iterator[None]:
    """Held while the provider talks to Domo about one dataset (create, update, read)."""
    slots = _slots
    if slots is None:  # not configured by a host (tests calling the provider directly)
        yield
        return
    with slots:
        yield


def widen_host_pool(workers: int) -> str:
    """Raise the dynamic-provider host's gRPC pool to ``workers`` threads.

    Returns "" when done or not applicable (not the provider host, or already wide
    enough), else why the host keeps its 4 threads (for a warning).
    """
    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None) != HOST_MODULE:
        return ""  # the program, the CLI, tests: nothing to widen
    version = sdk_version()
    if not sdk_supported(version):
        return (
            f"pulumi SDK {version} is outside the versions whose dynamic-provider host is "
            f"known ({_known_range()}), so it keeps serving {SDK_POOL_SIZE} calls at once: "
            f"`pulumi up` works on at most {SDK_POOL_SIZE} datasets at a time"
        )
    pool = serving_executor()
    if pool is None or not isinstance(getattr(pool, "_max_workers", None), int):
        return (
            f"the gRPC thread pool of pulumi SDK {version}'s dynamic-provider host was not "
            f"found, so `pulumi up` works on at most {SDK_POOL_SIZE} datasets at a time"
        )
    widen(pool, workers)
    return ""


def widen(pool: ThreadPoolExecutor, workers: int) -> bool:
    """Let ``pool`` start up to ``workers`` threads (never fewer than it allows now)."""
    if pool._max_workers >= workers:
        return False
    pool._max_workers = workers
    return True


def serving_executor(attempts: int = 40) -> ThreadPoolExecutor | None:
    """The ThreadPoolExecutor whose worker thread is running this code, if any.

    A new worker thread may run its first call before the submitting thread has added
    it to the executor's ``_threads`` (just after ``start()``), so a miss is retried a
    few times, 5 ms apart (at most 0.2 s, once per process).
    """
    me = threading.current_thread()
    for attempt in range(attempts):
        if attempt:
            time.sleep(0.005)
        for candidate in gc.get_objects():
            if isinstance(candidate, ThreadPoolExecutor) and me in getattr(
                candidate, "_threads", ()
            ):
                return candidate
    return None


def sdk_version() -> str:
    try:
        return importlib.metadata.version("pulumi")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def sdk_supported(version: str) -> bool:
    """Is ``version`` ("3.272.0", "3.273.0a1+dev") within :data:`KNOWN_SDK`?"""
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:
        return False
    found = (int(match.group(1)), int(match.group(2)))
    low, high = KNOWN_SDK
    return low <= found < high


def _known_range() -> str:
    (low_major, low_minor), (high_major, high_minor) = KNOWN_SDK
    return f">={low_major}.{low_minor},<{high_major}.{high_minor}"
