"""Settings read from the environment, each checked with one line that says what to set.

``DOMO_REQUEST_DEADLINE`` (seconds per request, > 0; default 60) and
``DOMO_PLAN_CONCURRENCY`` (datasets listed at once by a Pulumi program, 1-64; default
32). A bad value is never replaced silently by the default: ``pulumi preview`` and the
command line fail with one line naming the variable and the values it accepts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from domo_versions_iac.domo.errors import ConfigurationError
from domo_versions_iac.domo.retry import deadline_setting

PLAN_CONCURRENCY_ENV = "DOMO_PLAN_CONCURRENCY"
DEFAULT_PLAN_CONCURRENCY = 32
MAX_PLAN_CONCURRENCY = 64


def plan_concurrency(environ: Mapping[str, str] | None = None) -> int:
    """DOMO_PLAN_CONCURRENCY as a whole number from 1 to 64, else the default of 32.

    Raises ConfigurationError for any other value (``0``, ``abc``, ``1000``, ``²``).
    """
    env = os.environ if environ is None else environ
    text = env.get(PLAN_CONCURRENCY_ENV, "").strip()
    if not text:
        return DEFAULT_PLAN_CONCURRENCY
    number = whole_number(text, 1, MAX_PLAN_CONCURRENCY)
    if number is not None:
        return number
    raise ConfigurationError(
        f"{PLAN_CONCURRENCY_ENV}={text!r} is not valid: give a whole number from 1 to "
        f"{MAX_PLAN_CONCURRENCY}, or unset it for the default of {DEFAULT_PLAN_CONCURRENCY}",
        hint="",
    )


def whole_number(text: str, low: int, high: int) -> int | None:
    """``text`` as a whole number from ``low`` to ``high`` in ASCII digits, else None
    (``int()`` would take "²" or "١٢" and fail or surprise)."""
    if text.isascii() and text.isdigit() and low <= int(text) <= high:
        return int(text)
    return None


def plan_concurrency_or_default() -> int:
    """For sizing pools at import time: a bad value is reported later, where a user sees
    it (check_environment), never as an import-time traceback."""
    try:
        return plan_concurrency()
    except ConfigurationError:
        return DEFAULT_PLAN_CONCURRENCY


def check_environment() -> None:
    """Raise ConfigurationError (one line) for the first bad setting in the environment."""
    plan_concurrency()
    deadline_setting(None, "")


__all__ = [
    "DEFAULT_PLAN_CONCURRENCY",
    "PLAN_CONCURRENCY_ENV",
    "check_environment",
    "plan_concurrency",
    "plan_concurrency_or_default",
    "whole_number",
]
