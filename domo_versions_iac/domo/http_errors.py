"""Error translation: HTTP statuses and transport failures become ``errors`` classes.

The one seam where ``requests``/``urllib3`` exceptions and non-2xx answers turn into
:mod:`domo_versions_iac.domo.errors`. Which error a status becomes is one table,
:data:`STATUS_ERRORS`, read top to bottom (the first matching row wins, else
:data:`OTHER_STATUS`); what a
transport failure is called is another, :data:`TRANSPORT_KINDS`, most specific first
(as in httpx's ``map_httpcore_exceptions``). Whether a DELETE may have been carried out
decides between :class:`DomoConnectionError` and :class:`DeleteOutcomeUnknownError`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions

from domo_versions_iac.domo.errors import (
    AuthenticationError,
    BadRequestError,
    DatasetNotFoundError,
    DeadlineExceededError,
    DeleteOutcomeUnknownError,
    DomoConnectionError,
    DomoError,
    InvalidResponseError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    redact,
)
from domo_versions_iac.domo.retry import DEADLINE_ENV

_MAX_DETAIL = 300


@dataclass(frozen=True)
class StatusError:
    """One row: statuses (for one method, or any) become ``error`` with ``summary``.

    ``summary`` may name ``{method}``, ``{versions}`` (such as "3 versions", the DELETE's
    batch) and ``{location}`` (a redirect's target, redacted and quoted).
    """

    statuses: range
    error: type[DomoError]
    summary: str
    method: str | None = None
    hint: str | None = None
    message: str | None = None  # Domo's message must contain this (case-insensitive)

    def matches(self, status: int, method: str, domo_message: str | None = None) -> bool:
        if self.message is not None and self.message not in (domo_message or "").lower():
            return False
        return status in self.statuses and self.method in (None, method)


_SERVER = range(500, sys.maxsize)  # 5xx and above
STATUS_ERRORS: tuple[StatusError, ...] = (
    StatusError(range(401, 402), AuthenticationError, "Domo rejected the developer token"),
    # Domo also throttles with 403 {"message": "API Rate limit reached."}: a 429 in all
    # but status, so it is retried (reads) and reported as throttling, not as forbidden.
    StatusError(
        range(403, 404), RateLimitedError, "Domo rate limited the {method}", message="rate limit"
    ),
    StatusError(range(403, 404), PermissionDeniedError, "Domo denied access", method="GET"),
    StatusError(range(403, 404), PermissionDeniedError, "Domo refused to delete versions"),
    StatusError(range(404, 405), DatasetNotFoundError, "Domo does not know this dataset"),
    StatusError(
        range(429, 430), RateLimitedError, "Domo rate limited the DELETE of {versions}", "DELETE"
    ),
    StatusError(range(429, 430), RateLimitedError, "Domo kept rate limiting the request"),
    # A DELETE that failed on Domo's side may have been carried out in part.
    StatusError(
        _SERVER,
        DeleteOutcomeUnknownError,
        "The DELETE of {versions} failed on Domo's side",
        method="DELETE",
    ),
    StatusError(_SERVER, ServerError, "Domo failed to answer"),
    StatusError(
        range(300, 400),
        InvalidResponseError,
        "Domo answered with a redirect (not followed) to {location}",
        hint="Check the instance name; Domo should not redirect API calls.",
    ),
)
# Every other status (400 and the other 4xx): retrying will not help.
OTHER_STATUS = StatusError(range(0), BadRequestError, "Domo rejected the {method} request")


def status_error(
    response: requests.Response,
    method: str,
    *,
    instance: str,
    dataset_id: str,
    ids: list[int] | None,
    retry_after: float | None,
) -> DomoError:
    """The error for a non-2xx answer, with Domo's message and ``toe`` from its body."""
    status = response.status_code
    domo_message, toe = error_details(response)
    row = next(
        (row for row in STATUS_ERRORS if row.matches(status, method, domo_message)), OTHER_STATUS
    )
    location = repr(redact(response.headers.get("Location", "?"))[:_MAX_DETAIL])
    extra: dict[str, Any] = {}
    if row.error is RateLimitedError:
        extra["retry_after"] = retry_after
    if row.error is DeleteOutcomeUnknownError:
        extra["ids"] = ids or []
    if row.hint is not None:
        extra["hint"] = row.hint
    error = row.error(
        row.summary.format(method=method, versions=versions(len(ids or [])), location=location),
        instance=instance,
        dataset_id=dataset_id,
        status=status,
        domo_message=domo_message,
        toe=toe,
        **extra,
    )
    error.retry_after = retry_after  # a 503 may say when to come back, too
    return error


def error_details(response: requests.Response) -> tuple[str | None, str | None]:
    """Domo's ``message`` and ``toe`` from an error body (JSON or plain text)."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        message = data.get("message") or data.get("error_description") or data.get("error")
        toe = data.get("toe")
        return (
            redact(str(message))[:_MAX_DETAIL] if message else None,
            redact(str(toe))[:100] if toe else None,
        )
    text = redact(response.text or "").strip()
    if text and not text.lstrip().startswith("<"):
        return text.splitlines()[0][:_MAX_DETAIL], None
    return None, None


# What the user reads for a transport failure, most specific first: a ConnectTimeout is
# also a ConnectionError and a Timeout, an SSLError also a ConnectionError.
TRANSPORT_KINDS: tuple[tuple[type[requests.RequestException], str], ...] = (
    (requests.ConnectTimeout, "connect timeout"),
    (requests.ReadTimeout, "read timeout"),
    (requests.exceptions.SSLError, "TLS error"),
)


def transport_error(
    exc: requests.RequestException,
    method: str,
    *,
    instance: str,
    dataset_id: str,
    ids: list[int] | None,
) -> DomoError:
    """No answer: a DELETE that may have been sent has an unknown outcome; else the
    connection failed."""
    kind = describe_transport(exc)
    if method == "DELETE" and not never_connected(exc):
        return DeleteOutcomeUnknownError(
            f"The DELETE of {versions(len(ids or []))} got no answer ({kind})",
            ids=ids or [],
            instance=instance,
            dataset_id=dataset_id,
        )
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return DomoConnectionError(
            f"Could not reach Domo ({kind})",
            instance=instance,
            dataset_id=dataset_id,
        )
    return DomoConnectionError(
        f"The request to Domo failed ({kind})",
        instance=instance,
        dataset_id=dataset_id,
    )


def deadline_error(
    sent: bool,
    method: str,
    *,
    instance: str,
    dataset_id: str,
    ids: list[int] | None,
    deadline: float,
) -> DomoError:
    """The deadline passed: outcome unknown for a DELETE that was sent, else a timeout."""
    limit = f"the {deadline:g} s deadline"
    if method == "DELETE" and sent:
        return DeleteOutcomeUnknownError(
            f"The DELETE of {len(ids or [])} version(s) did not finish within {limit}",
            ids=ids or [],
            instance=instance,
            dataset_id=dataset_id,
            hint=f"{DeleteOutcomeUnknownError.default_hint} To wait longer, set "
            f"{DEADLINE_ENV} to more seconds.",
        )
    return DeadlineExceededError(
        f"Domo did not answer the {method} in full within {limit}",
        instance=instance,
        dataset_id=dataset_id,
    )


def describe_transport(exc: requests.RequestException) -> str:
    for kind, text in TRANSPORT_KINDS:
        if isinstance(exc, kind):
            return text
    if isinstance(exc, requests.ConnectionError):
        if _is_connect_failure(exc):
            return "connection refused or host unreachable"
        return "connection closed without a response"
    return type(exc).__name__


def never_connected(exc: BaseException) -> bool:
    """True if the request cannot have reached the server (connect timeout or failure)."""
    return isinstance(exc, requests.ConnectTimeout) or _is_connect_failure(exc)


def _is_connect_failure(exc: BaseException) -> bool:
    """True if the connection was never established (so nothing was sent)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
        ):
            return True
        if isinstance(current, urllib3.exceptions.MaxRetryError) and current.reason is not None:
            current = current.reason
            continue
        nested = current.args[0] if current.args else None
        if isinstance(nested, BaseException):
            current = nested
            continue
        current = current.__cause__ or current.__context__
    return False


def versions(n: int) -> str:
    """'1 version', '3 versions'."""
    return f"{n} version{'' if n == 1 else 's'}"


__all__ = [
    "OTHER_STATUS",
    "STATUS_ERRORS",
    "TRANSPORT_KINDS",
    "StatusError",
    "deadline_error",
    "describe_transport",
    "error_details",
    "never_connected",
    "status_error",
    "transport_error",
    "versions",
]
