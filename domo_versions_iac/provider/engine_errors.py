"""Errors the provider reports to the user as one message, without a Python traceback.

The Python dynamic-provider host (``python -m pulumi.dynamic``) reports every exception
from create/update/read as ``traceback.format_exc()``: a wall of frames that buries the
one line a user needs. :func:`report_plainly` makes that host print only the message of
a :class:`UserFacingError`; any other exception keeps its full traceback (a bug should
stay debuggable). It changes nothing outside that host process.
"""

from __future__ import annotations

import sys
import traceback
from types import ModuleType
from typing import Any


class UserFacingError(Exception):
    """A failure explained in full by its message (what failed, what was done, what to do)."""


class ApplyError(UserFacingError):
    """`pulumi up` or `pulumi refresh` could not do everything for one dataset."""


class _PlainTraceback:
    """Stands in for the ``traceback`` module inside the provider host."""

    def __init__(self, real: ModuleType) -> None:
        self._real = real

    def format_exc(self, *args: Any, **kwargs: Any) -> str:
        error = sys.exc_info()[1]
        if isinstance(error, UserFacingError):
            return str(error)
        return str(self._real.format_exc(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def report_plainly() -> None:
    """Inside the dynamic-provider host, show UserFacingErrors as their message alone."""
    host = sys.modules.get("__main__")
    if host is None or not hasattr(host, "_abort_with_traceback"):
        return  # not the provider host (the program, the CLI, tests)
    if getattr(host, "traceback", None) is traceback:
        host.traceback = _PlainTraceback(traceback)  # type: ignore[attr-defined]
