"""Every error the Domo client raises, in one short hierarchy.

Lower-level errors (``requests``/``urllib3`` exceptions, HTTP statuses, malformed JSON)
are translated into these classes at one seam, :mod:`domo_versions_iac.domo.http_errors`; callers
never need to catch anything else.

::

    DomoError
    ├── ConfigurationError (also a ValueError)   bad instance, empty token
    │   └── InvalidTokenError                   token empty, with a line break, not ASCII
    ├── AuthenticationError                     401
    ├── PermissionDeniedError                   403
    ├── DatasetNotFoundError                    404
    ├── BadRequestError                         400 and other 4xx
    ├── RateLimitedError                        429 (or a 403 rate limit) after retries ran out
    ├── ServerError                             5xx after retries ran out
    ├── InvalidResponseError                    2xx whose body is not what Domo documents
    ├── DomoConnectionError                     connection refused/reset, timeout
    │   └── DeadlineExceededError               no whole answer within the deadline
    ├── ProtectedVersionError (also a ValueError) asked to delete the newest or a processing version
    └── DeleteOutcomeUnknownError               DELETE timed out or got 5xx: ``.ids`` may be gone

Messages name the instance, the dataset, the HTTP status and Domo's ``message`` and
``toe`` (trace id) when present, and end with what to do next. The developer token is
never given to an error. A server may still echo it back (proxies and firewalls copy
request headers into error bodies), so every token a client uses is registered with
:func:`register_secret` and :func:`redact` removes it from every field of every error,
here, in one place; the command line passes its output through :func:`redact` too.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from http import HTTPStatus
from urllib.parse import quote

REDACTED = "<redacted>"
# Shorter values cannot be told apart from ordinary words; no Domo token is that short.
# Any run of at least this many characters of a token (a prefix a proxy echoed, a
# suffix, any piece) is redacted too.
MIN_SECRET_LENGTH = 8
_secrets: tuple[str, ...] = ()
_pieces: re.Pattern[str] | None = None  # every MIN_SECRET_LENGTH-long piece of a token
_secrets_lock = threading.Lock()
# The emulator's published token (emulator.seed.EMULATOR_TOKEN, not a secret): redacted
# whole, but its pieces are ordinary words ("emulator") that messages must keep.
PUBLIC_TOKENS = frozenset({"emulator-token"})


def register_secret(value: str) -> None:
    """Remember a token in use in this process so that :func:`redact` removes it."""
    global _secrets, _pieces
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return
    forms = _forms(value)
    with _secrets_lock:
        known = set(_secrets) | forms
        _secrets = tuple(sorted(known, key=len, reverse=True))
        public = {form for token in PUBLIC_TOKENS for form in _forms(token)}
        pieces = {
            form[start : start + MIN_SECRET_LENGTH]
            for form in known - public
            for start in range(len(form) - MIN_SECRET_LENGTH + 1)
        }
        pieces |= known & public  # the public token whole, never its pieces
        _pieces = re.compile("|".join(re.escape(p) for p in sorted(pieces)))


def _forms(value: str) -> set[str]:
    """A token as it may be echoed: raw, URL-escaped, JSON-escaped."""
    return {value, quote(value, safe=""), json.dumps(value)[1:-1]}


def redact(text: str) -> str:
    """``text`` with every run of at least 8 characters of a registered token (raw,
    URL- or JSON-escaped; the whole token, a prefix, a suffix, any piece) replaced."""
    pieces, secrets = _pieces, _secrets
    if pieces is None or not text:
        return text
    out: list[str] = []
    pos = 0
    while (found := pieces.search(text, pos)) is not None:
        start, end = found.span()
        # extend the run while it is still a piece of some token
        while end < len(text) and any(text[start : end + 1] in s for s in secrets):
            end += 1
        out += [text[pos:start], REDACTED]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def status_text(status: int) -> str:
    """``401 Unauthorized``; just the number when the status is not a standard one."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


class DomoError(Exception):
    """Base class: something went wrong talking to Domo (or the emulator).

    Attributes: ``instance`` (base URL, never the token), ``dataset_id``, ``status``
    (HTTP status or ``None``), ``domo_message`` and ``toe`` (from Domo's error body),
    ``hint`` (what to do next).
    """

    default_hint: str = ""
    # Seconds the server asked to wait (``Retry-After``), when it said so.
    retry_after: float | None = None

    def __init__(
        self,
        summary: str,
        *,
        instance: str | None = None,
        dataset_id: str | None = None,
        status: int | None = None,
        domo_message: str | None = None,
        toe: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.summary = redact(summary)
        self.instance = instance
        self.dataset_id = dataset_id
        self.status = status
        self.domo_message = None if domo_message is None else redact(domo_message)
        self.toe = None if toe is None else redact(toe)
        self.hint = redact(self.default_hint if hint is None else hint)
        super().__init__(self._render())

    def _render(self) -> str:
        return redact(self._compose())

    def _compose(self) -> str:
        text = self.summary
        if self.status is not None:
            text += f" ({self.status_label})"
        if self.dataset_id:
            text += f" for dataset {self.dataset_id}"
        if self.instance:
            text += f" on {self.instance}"
        detail = ""
        if self.domo_message:
            detail = self.domo_message.strip().rstrip(".")
        if self.toe:
            detail = f"{detail} (toe: {self.toe})" if detail else f"toe: {self.toe}"
        if detail:
            text += f": {detail}"
        text += "."
        if self.hint:
            text += f" {self.hint}"
        return text

    @property
    def status_label(self) -> str:
        """The HTTP status as the user reads it: ``403 Forbidden``."""
        return "" if self.status is None else status_text(self.status)

    def __str__(self) -> str:
        return self._render()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._render()!r})"


class ConfigurationError(DomoError, ValueError):
    """The client was configured wrongly (bad instance, empty token, bad option)."""


class InvalidTokenError(ConfigurationError):
    """The developer token cannot be sent as given (empty, a line break, not ASCII)."""


class AuthenticationError(DomoError):
    """401: the developer token is missing, wrong, expired or revoked."""

    default_hint = "Check DOMO_DEVELOPER_TOKEN / domo:token; tokens expire and can be revoked."


class PermissionDeniedError(DomoError):
    """403: the token's user may not read or change this dataset."""

    default_hint = (
        "The token's user needs edit rights on the dataset (or an admin role); "
        "share the dataset with that user or use another token."
    )


class DatasetNotFoundError(DomoError):
    """404: no such dataset on this instance (or the token's user cannot see it)."""

    default_hint = (
        "Check the dataset id (the UUID in the dataset's URL) and the instance; "
        "the dataset may have been deleted."
    )


class BadRequestError(DomoError):
    """400 or another 4xx that retrying will not fix."""

    default_hint = "This is likely a bug in domo-versions-iac; please report it with the toe."


class RateLimitedError(DomoError):
    """Throttled: a 429, or Domo's ``403 {"message": "API Rate limit reached."}``.

    For a read, raised once the retry budget (attempts or time) ran out; for a DELETE
    at once (the delete loop waits, re-lists and decides again).
    """

    default_hint = (
        "Domo is rate limiting this token; wait a few minutes and run again, "
        "or raise max_retry_seconds."
    )

    def __init__(self, summary: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(summary, **kwargs)  # type: ignore[arg-type]

    @property
    def status_label(self) -> str:
        """A throttle is not a refusal: ``403, rate limit`` rather than ``403 Forbidden``."""
        if self.status is None or self.status == 429:
            return super().status_label
        return f"{self.status}, rate limit"


class ServerError(DomoError):
    """5xx and the retry budget ran out (for reads), or a 5xx Domo says is final."""

    default_hint = (
        "Domo had a server-side problem; run again later and quote the toe to Domo support."
    )


class InvalidResponseError(DomoError):
    """A successful status with a body that does not match Domo's documented shape."""

    default_hint = (
        "Domo's API may have changed; please report this with the dataset id and the toe."
    )


class DomoConnectionError(DomoError):
    """The request did not get an HTTP response: DNS, refused, reset, or timeout."""

    default_hint = "Check the instance name and the network (proxy, VPN, firewall), then run again."


class ProtectedVersionError(DomoError, ValueError):
    """A DELETE was asked for the newest successful version or an upload in processing.

    Raised by the client's lowest delete call before anything is sent: a last line of
    defence whatever the caller decided.
    """


class DeadlineExceededError(DomoConnectionError):
    """The whole request (connect, headers, body, retries) did not finish in time.

    Socket timeouts bound each read; a server that trickles a byte at a time never
    trips them, so every call also has a total deadline (``DomoClient(deadline=...)``,
    or ``DOMO_REQUEST_DEADLINE`` seconds in the environment).
    """

    default_hint = (
        "Domo or the network was too slow; run again later. To wait longer, set "
        "DOMO_REQUEST_DEADLINE to more seconds (default 60)."
    )


class DeleteOutcomeUnknownError(DomoError):
    """A DELETE got no clear answer (timeout, dropped connection, 5xx).

    ``ids`` are the version ids of that request: some, all or none may be gone. The
    request is never repeated blindly: the dataset is re-listed and re-planned first
    (``domo_versions_iac.deletion.loop.apply_retention`` does exactly that).
    ``completed_ids`` are ids of earlier batches of the same call that Domo confirmed.
    """

    default_hint = (
        "Some of these versions may already be deleted; list the dataset again and "
        "re-plan before retrying; running `pulumi up` again does this."
    )

    def __init__(
        self,
        summary: str,
        *,
        ids: Iterable[int] = (),
        completed_ids: Iterable[int] = (),
        **kwargs: object,
    ) -> None:
        self.ids: list[int] = sorted(ids)
        self.completed_ids: list[int] = sorted(completed_ids)
        super().__init__(summary, **kwargs)  # type: ignore[arg-type]


__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "DatasetNotFoundError",
    "DeadlineExceededError",
    "DeleteOutcomeUnknownError",
    "DomoConnectionError",
    "DomoError",
    "InvalidResponseError",
    "InvalidTokenError",
    "PermissionDeniedError",
    "ProtectedVersionError",
    "RateLimitedError",
    "ServerError",
    "redact",
    "register_secret",
    "status_text",
]
