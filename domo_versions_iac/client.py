"""The Domo data versions client: list and delete, with retries and clear errors.

This module is the one seam where ``requests``/``urllib3`` exceptions, HTTP statuses
and malformed bodies become :mod:`domo_versions_iac.errors` exceptions.

Retry policy
------------
* ``GET`` (listing) is retried on 429, 502, 503, 504, connection errors and timeouts,
  with exponential backoff and full jitter (``uniform(0, backoff_base * 2**n)``),
  honouring ``Retry-After`` (seconds or an HTTP date). At most ``max_attempts``
  attempts; the total time spent *waiting between attempts* never exceeds
  ``max_retry_seconds`` (a ``Retry-After`` longer than what is left ends the retries
  at once rather than being shortened). Each attempt is bounded by ``timeout``.
* ``DELETE`` is never repeated when its outcome is unknown: a timeout, a dropped
  connection or any 5xx raises :class:`DeleteOutcomeUnknownError` with the batch's ids.
  :func:`domo_versions_iac.deletion.apply_retention` re-lists and re-plans before
  sending anything again. Two cases differ because nothing was processed: a 429 (rate
  limiters reject before doing work) IS retried under the same budget, waiting
  ``Retry-After`` when given (else the backoff); a failure to *connect* (refused,
  connect timeout) raises plain :class:`DomoConnectionError`, not retried.

Deadline
--------
Every call (connect, status line, headers, the whole body, and any retries with their
waits) must finish within ``deadline`` seconds (default 60, or ``DOMO_REQUEST_DEADLINE``
in the environment). Socket timeouts bound each read only: a server that sends one byte
every few seconds never trips them. So each socket timeout is at most the time left, the
body is read in chunks with the deadline checked between them, and a watchdog shuts the
connection down when the deadline passes, even in the middle of the headers. A GET then
raises :class:`DeadlineExceededError`; a DELETE that was sent raises
:class:`DeleteOutcomeUnknownError` (it may have been carried out).
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import logging
import math
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import timezone
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import urllib3
import urllib3.connection
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from domo_versions_iac.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DatasetNotFoundError,
    DeadlineExceededError,
    DeleteOutcomeUnknownError,
    DomoConnectionError,
    DomoError,
    InvalidResponseError,
    InvalidTokenError,
    PermissionDeniedError,
    ProtectedVersionError,
    RateLimitedError,
    ServerError,
    redact,
    register_secret,
)
from domo_versions_iac.models import DataVersion, parse_instant, protected_ids, repeated_ids

logger = logging.getLogger("domo_versions_iac.client")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_INSTANCE_NAME = re.compile(rf"^{_LABEL}$")
_DOMO_HOST = re.compile(rf"^{_LABEL}\.domo\.com$")
_ALLOWED_HOST = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
# Letters, digits and what a bare scheme://host[:port] needs: no @ ? # % \ or spaces.
_INSTANCE_CHARS = re.compile(r"^[A-Za-z0-9.:/\[\]-]+$")
_MAX_DETAIL = 300
DEADLINE_ENV = "DOMO_REQUEST_DEADLINE"
DEFAULT_DEADLINE = 60.0
_CHUNK_SIZE = 64 * 1024
_DEADLINE_SLACK = 0.01  # a socket timeout set to the time left ends at the deadline


CA_BUNDLE_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


def _ca_bundle(base_url: str) -> str | None:
    """The CA file named by REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE or SSL_CERT_FILE (first set).

    requests alone reads only the first two, and only with ``trust_env``; naming the file
    explicitly makes all three work for every host. ``None``: the default CA store.
    """
    for name in CA_BUNDLE_ENV:
        path = os.environ.get(name, "").strip()
        if not path:
            continue
        if not os.path.exists(path):
            raise ConfigurationError(
                f"{name} names {path!r}, which does not exist",
                instance=base_url,
                hint=f"Point {name} at a PEM file of CA certificates, or unset it.",
            )
        return path
    return None


def _user_agent() -> str:
    from domo_versions_iac import __version__

    return f"domo-versions-iac/{__version__} python-requests/{requests.__version__}"


def normalize_instance(instance: str, allowed_hosts: Iterable[str] = ()) -> str:
    """``acme`` / ``acme.domo.com`` / ``https://acme.domo.com`` → ``https://acme.domo.com``.

    The token goes wherever this points, so only Domo hosts pass: ``https://NAME.domo.com``;
    a loopback base URL (``http(s)://127.0.0.1:8123``, ``[::1]``, ``localhost``) for the
    emulator and tests; and ``https://HOST[:PORT]`` for a host named exactly in
    ``allowed_hosts`` (an explicit opt-in: ``domo:allowedHosts`` / ``DOMO_ALLOWED_HOSTS``).
    User info, paths, queries and fragments are refused.
    """
    if not isinstance(instance, str):
        raise ConfigurationError(
            f"Domo instance must be a string, not {type(instance).__name__}", hint=_INSTANCE_HINT
        )
    text = instance.strip()
    if text.endswith("/"):
        text = text[:-1]
    if not text:
        raise ConfigurationError("Domo instance is empty", hint=_INSTANCE_HINT)
    if not _INSTANCE_CHARS.match(text):
        raise ConfigurationError(
            f"Domo instance {instance!r} is not a bare host or base URL "
            "(no user info, path, query or fragment)",
            hint=_INSTANCE_HINT,
        )
    if "://" not in text:
        host = text.lower()
        if _INSTANCE_NAME.match(host):
            return f"https://{host}.domo.com"
        if _DOMO_HOST.match(host):
            return f"https://{host}"
        raise ConfigurationError(
            f"Domo instance {instance!r} is not recognised", hint=_INSTANCE_HINT
        )
    scheme, host, port = _split_base_url(instance, text)
    if not _host_accepted(scheme, host, port, allowed_hosts):
        raise ConfigurationError(
            f"Domo instance {instance!r} is not a Domo host", hint=_INSTANCE_HINT
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{scheme}://{netloc}"


def _host_accepted(scheme: str, host: str, port: int | None, allowed: Iterable[str]) -> bool:
    """Loopback (http or https, any port); NAME.domo.com (https, default port); a host
    listed in ``allowed`` (https, any port)."""
    if _is_loopback(host):
        return True
    if scheme != "https":
        return False
    if _DOMO_HOST.match(host) and port is None:
        return True
    return host in {entry.lower() for entry in allowed}


def _split_base_url(instance: str, text: str) -> tuple[str, str, int | None]:
    """(scheme, lower-case host, port) of a bare ``scheme://host[:port]``, else refused."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ConfigurationError(
            f"Domo instance {instance!r} is not a valid URL", hint=_INSTANCE_HINT
        ) from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or parts.path or port == 0:
        raise ConfigurationError(
            f"Domo instance {instance!r} must be a bare base URL such as https://acme.domo.com",
            hint=_INSTANCE_HINT,
        )
    if ":" in host:  # IPv6: one spelling, so equal addresses compare equal
        host = str(ipaddress.ip_address(host)) if _is_ip(host) else host
    return parts.scheme, host, port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1 (the emulator's addresses)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_allowed_hosts(value: object) -> tuple[str, ...]:
    """``"proxy.corp.example, domo.corp.example"`` (or a list) → exact lower-case host names.

    Each entry must be a plain host name: no scheme, port, path or wildcard.
    """
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise ConfigurationError(
                    f"allowed hosts {text!r} is not a JSON list", hint=_ALLOWED_HINT
                ) from None
        else:
            value = re.split(r"[\s,]+", text)
    if not isinstance(value, (list, tuple)):
        raise ConfigurationError(
            f"allowed hosts must be a list of host names, not {type(value).__name__}",
            hint=_ALLOWED_HINT,
        )
    hosts: list[str] = []
    for entry in value:
        host = str(entry).strip().lower()
        if not host:
            continue
        if not _ALLOWED_HOST.match(host):
            raise ConfigurationError(
                f"allowed host {str(entry)!r} is not a plain host name", hint=_ALLOWED_HINT
            )
        hosts.append(host)
    return tuple(dict.fromkeys(hosts))


_INSTANCE_HINT = (
    "The `instance` must be 'acme', 'acme.domo.com' or 'https://acme.domo.com'; for the "
    "emulator and tests, a loopback base URL such as 'http://127.0.0.1:8123'; another host "
    "only as 'https://HOST[:PORT]' with HOST listed in stack config domo:allowedHosts or "
    "DOMO_ALLOWED_HOSTS (see README, Safety)."
)
_ALLOWED_HINT = (
    "List exact host names, separated by commas, e.g. 'domo-proxy.corp.example' "
    "(no scheme, port or wildcard)."
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


_TOKEN_CHARACTERS = re.compile(r"[\x21-\x7e]+")  # visible ASCII, as Domo issues tokens


def _check_token(token: object, base_url: str) -> None:
    """Refuse a token that cannot be what Domo issued, before it reaches a header.

    An HTTP header carries Latin-1 at most (anything else raised UnicodeEncodeError
    deep inside http.client) and a line break would end the header. The message never
    quotes the token or its characters.
    """
    if not isinstance(token, str) or not token.strip():
        raise InvalidTokenError(
            "The Domo developer token is empty or only spaces",
            instance=base_url,
            hint="Set DOMO_DEVELOPER_TOKEN or the domo:token config secret.",
        )
    if any(ch in token for ch in "\r\n"):
        raise InvalidTokenError(
            "The Domo developer token contains a line break",
            instance=base_url,
            hint="Copy the token again without surrounding whitespace.",
        )
    if not _TOKEN_CHARACTERS.fullmatch(token.strip()):
        raise InvalidTokenError(
            "The Domo developer token contains a character that is not plain ASCII "
            "(a space, a control character, an accented letter or a typographic quote)",
            instance=base_url,
            hint="Copy the token again from Domo (Admin > Authentication > Access tokens); "
            "Domo tokens are ASCII letters and digits.",
        )


def _check_ids(ids: Iterable[int]) -> list[int]:
    """Integer ids, deduplicated and sorted; TypeError/ValueError for anything else."""
    if isinstance(ids, (str, bytes)):
        raise TypeError("ids must be an iterable of integers, not a string")
    checked: set[int] = set()
    for item in ids:
        if isinstance(item, bool) or not isinstance(item, int):
            raise TypeError(f"data version ids must be integers, got {item!r}")
        if item < 0:
            raise ValueError(f"data version ids are not negative, got {item}")
        checked.add(int(item))
    return sorted(checked)


def _versions(n: int) -> str:
    """'1 version', '3 versions'."""
    return f"{n} version{'' if n == 1 else 's'}"


def _batches(ids: Sequence[int], size: int) -> list[list[int]]:
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]


class _Secret:
    """Holds the token; its repr (in tracebacks, debuggers, ``vars()``) hides it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<redacted>"

    def __reduce__(self) -> Any:
        raise TypeError("the Domo token is not picklable")


class _Attempt:
    """Bookkeeping for one retried call: attempts made, waiting time used, deadline."""

    def __init__(
        self, max_attempts: int, max_retry_seconds: float, deadline_at: float = math.inf
    ) -> None:
        self.max_attempts = max_attempts
        self.budget = max_retry_seconds
        self.number = 0
        self.waited = 0.0
        self.deadline_at = deadline_at


class _DeadlinePassed(Exception):
    """Internal: the call's deadline passed; ``sent``: the request reached the server."""

    def __init__(self, *, sent: bool) -> None:
        super().__init__("deadline passed")
        self.sent = sent


class _Watchdog:
    """Shuts down the connection of one attempt when the call's deadline passes.

    Socket timeouts bound each read, not their sum; shutting the socket down makes a
    read blocked anywhere (status line, headers, body) return at once.
    """

    def __init__(self, deadline_at: float) -> None:
        self.deadline_at = deadline_at
        self.fired = False
        self.sent = False  # a socket was attached: the request had been sent
        self._done = False
        self._sock: Any = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline_at - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    @property
    def expired(self) -> bool:
        return self.fired or time.monotonic() >= self.deadline_at - _DEADLINE_SLACK

    def attach(self, sock: Any) -> None:
        with self._lock:
            self._sock = sock
            self.sent = True
            if self.fired:
                _shutdown(sock)

    def stop(self) -> None:
        with self._lock:
            self._done = True
            self._sock = None
        self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            if self._sock is not None:
                _shutdown(self._sock)


def _shutdown(sock: Any) -> None:
    """Shut a socket down for reading and writing (the TCP socket under TLS too)."""
    try:
        if isinstance(sock, socket.socket):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        else:
            sock.shutdown(socket.SHUT_RDWR)
    except Exception:  # already closed, or not a socket: nothing to cut
        logger.debug("could not shut down a socket at the deadline", exc_info=True)


_current = threading.local()  # .watch: the _Watchdog of this thread's attempt, if any


def _watch_socket(sock: Any) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None and sock is not None:
        watch.attach(sock)


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _watch_socket(self.sock)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _watch_socket(self.sock)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections let the watchdog see their socket."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(*args, **kwargs)
        manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
        return manager


def _read_body(response: requests.Response, watch: _Watchdog) -> None:
    """Read the whole body now, in chunks, checking the deadline between them."""
    if response._content is not False:  # already buffered (e.g. a test transport)
        return
    body = bytearray()  # grows in place: never the chunks and their join at once
    for chunk in response.iter_content(_CHUNK_SIZE):
        body += chunk
        if watch.expired:
            raise _DeadlinePassed(sent=True)
    response._content = body  # bytes-like; a copy to bytes would double the peak


def _deadline_setting(deadline: float | None, base_url: str) -> float:
    """The deadline in seconds: the argument, else DOMO_REQUEST_DEADLINE, else 60."""
    source = f"deadline={deadline!r}"
    if deadline is None:
        text = os.environ.get(DEADLINE_ENV, "").strip()
        if not text:
            return DEFAULT_DEADLINE
        source = f"{DEADLINE_ENV}={text!r}"
        try:
            deadline = float(text)
        except ValueError:
            deadline = math.nan
    if isinstance(deadline, bool) or not isinstance(deadline, (int, float)):
        deadline = math.nan
    if not 0 < deadline < math.inf:
        raise ConfigurationError(
            f"{source} is not a deadline: give a number of seconds greater than 0",
            instance=base_url,
            hint=f"Unset {DEADLINE_ENV} for the default of {DEFAULT_DEADLINE:g} seconds.",
        )
    return float(deadline)


class DomoClient:
    """List and delete data versions of Domo datasets.

    One ``requests.Session`` (one connection pool) per client; safe to share between
    threads (no per-call state is stored on the client; cookies are refused). The token
    is sent only in ``X-DOMO-Developer-Token`` and never logged, shown or repr'd.
    """

    def __init__(
        self,
        instance: str,
        token: str,
        *,
        timeout: float = 30.0,
        max_attempts: int = 5,
        max_retry_seconds: float = 60.0,
        backoff_base: float = 0.5,
        batch_size: int = 100,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 10,
        allowed_hosts: Iterable[str] = (),
        deadline: float | None = None,
    ) -> None:
        self._base_url = normalize_instance(instance, allowed_hosts)
        _check_token(token, self._base_url)
        register_secret(token.strip())  # from now on no error or CLI line can show it
        self.deadline = _deadline_setting(deadline, self._base_url)
        if timeout <= 0 or max_attempts < 1 or max_retry_seconds < 0 or backoff_base < 0:
            raise ConfigurationError(
                "timeout must be > 0, max_attempts >= 1, max_retry_seconds and backoff_base >= 0",
                instance=self._base_url,
            )
        if batch_size < 1:
            raise ConfigurationError("batch_size must be at least 1", instance=self._base_url)
        self._token = _Secret(token.strip())
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_retry_seconds = max_retry_seconds
        self.backoff_base = backoff_base
        self.batch_size = batch_size
        self._sleep = sleep
        self._random = random.Random()
        self._random_lock = threading.Lock()
        self._user_agent = _user_agent()
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            adapter = _DeadlineAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
            # TLS is always verified; a corporate CA comes from the standard variables.
            session.verify = _ca_bundle(self._base_url) or True
            if _is_loopback(urlsplit(self._base_url).hostname or ""):
                # the emulator: never route loopback traffic through an HTTP(S)_PROXY
                # (trust_env=False also drops REQUESTS_CA_BUNDLE: set above instead)
                session.trust_env = False
        self._session = session

    # -- identity ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``https://acme.domo.com`` (or the emulator's ``http://127.0.0.1:PORT``)."""
        return self._base_url

    @property
    def instance(self) -> str:
        """Display form: host (and port), e.g. ``acme.domo.com`` or ``127.0.0.1:8123``."""
        return urlsplit(self._base_url).netloc

    def __repr__(self) -> str:
        return f"DomoClient({self._base_url!r})"

    def close(self) -> None:
        """Close the connection pool (only if this client created the session)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> DomoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API --------------------------------------------------------------------

    def versions_url(self, dataset_id: str) -> str:
        return f"{self._base_url}/api/data/v2/datasources/{quote(dataset_id, safe='')}/dataversions"

    def list_versions(self, dataset_id: str) -> list[DataVersion]:
        """All data versions of the dataset, in the order Domo returned them (one GET)."""
        dataset_id = self._check_dataset_id(dataset_id)
        response = self._request("GET", dataset_id)
        return self._parse_listing(dataset_id, response)

    def delete_versions(
        self,
        dataset_id: str,
        ids: Iterable[int],
        *,
        index: bool,
        batch_size: int | None = None,
        never_delete: Collection[int] | None = None,
    ) -> list[int]:
        """Delete versions in batches; return the ids sent (sorted, deduplicated).

        ``never_delete``: ids this call refuses to send, as computed by
        :func:`~domo_versions_iac.models.protected_ids` from the caller's latest listing
        (the newest successful version and uploads in processing). When it is not
        given, the dataset is listed first and the protected ids come from that listing.
        Asking for a protected id raises :class:`ProtectedVersionError` before any DELETE.

        Each batch is one DELETE, never repeated when its outcome is unknown (see the
        module docs). Raises on the first failing batch; earlier batches are done
        (:class:`DeleteOutcomeUnknownError` lists them in ``completed_ids``).
        An empty ``ids`` sends nothing. Applying a retention policy safely (re-listing
        and re-planning before every batch) is :func:`domo_versions_iac.deletion.apply_retention`.
        """
        dataset_id = self._check_dataset_id(dataset_id)
        if not isinstance(index, bool):
            raise TypeError("index must be True or False")
        wanted = _check_ids(ids)
        size = self._check_batch_size(batch_size)
        if not wanted:
            return []
        if never_delete is None:
            never_delete = protected_ids(self.list_versions(dataset_id))
        done: list[int] = []
        for batch in _batches(wanted, size):
            try:
                self._delete_batch(dataset_id, batch, index=index, never_delete=never_delete)
            except DeleteOutcomeUnknownError as exc:
                exc.completed_ids = sorted(done)
                raise
            done.extend(batch)
        return wanted

    # -- internals ---------------------------------------------------------------------

    def _check_dataset_id(self, dataset_id: str) -> str:
        if not isinstance(dataset_id, str) or not dataset_id.strip():
            raise ConfigurationError("The dataset id is empty", instance=self._base_url)
        if dataset_id.strip() in (".", ".."):
            # a path segment, not an id: the URL would silently lose it and aim elsewhere
            raise ConfigurationError(
                f"{dataset_id.strip()!r} is not a dataset id", instance=self._base_url
            )
        return dataset_id.strip()

    def _check_batch_size(self, batch_size: int | None) -> int:
        size = self.batch_size if batch_size is None else batch_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError("batch_size must be a positive integer")
        return size

    def _headers(self, *, json_body: bool) -> dict[str, str]:
        headers = {
            "X-DOMO-Developer-Token": self._token.value,
            "Accept": "application/json",
            "User-Agent": self._user_agent,
        }
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def _delete_batch(
        self, dataset_id: str, batch: list[int], *, index: bool, never_delete: Collection[int]
    ) -> None:
        """The lowest delete call: one DELETE; refuses protected ids, whatever the caller said."""
        refused = sorted(set(batch).intersection(never_delete))
        if refused:
            raise ProtectedVersionError(
                f"Refusing to delete version{'s' if len(refused) > 1 else ''} "
                f"{', '.join(map(str, refused))}: the newest successful version and uploads "
                "in processing are never deleted",
                instance=self._base_url,
                dataset_id=dataset_id,
                hint="Nothing was sent to Domo.",
            )
        body = ("[" + ",".join(str(data_id) for data_id in batch) + "]").encode("ascii")
        logger.info(
            "DELETE %d version(s) of dataset %s on %s (index=%s): %s",
            len(batch),
            dataset_id,
            self._base_url,
            str(index).lower(),
            batch,
        )
        self._request("DELETE", dataset_id, body=body, index=index, ids=batch)

    def _backoff(self, attempt: int) -> float:
        with self._random_lock:
            return self._random.uniform(0.0, self.backoff_base * (2 ** (attempt - 1)))

    def _request(
        self,
        method: str,
        dataset_id: str,
        *,
        body: bytes | None = None,
        index: bool | None = None,
        ids: list[int] | None = None,
    ) -> requests.Response:
        """One logical call with the retry policy, all within the deadline; returns a
        2xx response whose body is read, or raises."""
        url = self.versions_url(dataset_id)
        params = {"index": "true" if index else "false"} if method == "DELETE" else None
        deadline_at = time.monotonic() + self.deadline
        state = _Attempt(self.max_attempts, self.max_retry_seconds, deadline_at)
        while True:
            state.number += 1
            try:
                response = self._attempt(method, url, params, body, deadline_at)
            except _DeadlinePassed as passed:
                raise self._deadline_error(passed.sent, method, dataset_id, ids) from None
            except requests.RequestException as exc:
                error = self._transport_error(exc, method, dataset_id, ids)
                if isinstance(error, DomoConnectionError) and method == "GET":
                    delay = self._backoff(state.number)
                    if self._may_retry(state, delay, error, method, dataset_id):
                        continue
                raise error from exc
            status = response.status_code
            if 200 <= status < 300:
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            error = self._status_error(response, method, dataset_id, ids, retry_after)
            retryable = status in RETRY_STATUSES if method == "GET" else status == 429
            if retryable:
                delay = retry_after if retry_after is not None else self._backoff(state.number)
                if self._may_retry(state, delay, error, method, dataset_id):
                    response.close()
                    continue
            raise error

    def _attempt(
        self,
        method: str,
        url: str,
        params: dict[str, str] | None,
        body: bytes | None,
        deadline_at: float,
    ) -> requests.Response:
        """One HTTP exchange, status to last body byte, cut off at ``deadline_at``."""
        left = deadline_at - time.monotonic()
        if left <= 0:
            raise _DeadlinePassed(sent=False)
        per_read = min(self.timeout, left)
        watch = _Watchdog(deadline_at)
        _current.watch = watch
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                data=body,
                headers=self._headers(json_body=body is not None),
                timeout=(per_read, per_read),
                allow_redirects=False,
                stream=True,
            )
            try:
                _read_body(response, watch)
                if watch.fired:  # cut off: what was read (even "complete") is not the answer
                    raise _DeadlinePassed(sent=True)
            except BaseException:
                response.close()
                raise
            return response
        except (requests.RequestException, OSError, urllib3.exceptions.HTTPError) as exc:
            if watch.expired:
                sent = watch.sent or not (
                    isinstance(exc, requests.ConnectTimeout) or _is_connect_failure(exc)
                )
                raise _DeadlinePassed(sent=sent) from exc
            raise
        finally:
            _current.watch = None
            watch.stop()

    def _deadline_error(
        self, sent: bool, method: str, dataset_id: str, ids: list[int] | None
    ) -> DomoError:
        """The deadline passed: outcome unknown for a DELETE that was sent, else a timeout."""
        limit = f"the {self.deadline:g} s deadline"
        logger.warning("%s dataset %s: %s passed", method, dataset_id, limit)
        if method == "DELETE" and sent:
            return DeleteOutcomeUnknownError(
                f"The DELETE of {len(ids or [])} version(s) did not finish within {limit}",
                ids=ids or [],
                instance=self._base_url,
                dataset_id=dataset_id,
                hint=f"{DeleteOutcomeUnknownError.default_hint} To wait longer, set "
                f"{DEADLINE_ENV} to more seconds.",
            )
        return DeadlineExceededError(
            f"Domo did not answer the {method} in full within {limit}",
            instance=self._base_url,
            dataset_id=dataset_id,
        )

    def _may_retry(
        self, state: _Attempt, delay: float, error: DomoError, method: str, dataset_id: str
    ) -> bool:
        if state.number >= state.max_attempts:
            logger.warning(
                "%s dataset %s: giving up after %d attempt(s): %s",
                method,
                dataset_id,
                state.number,
                error.summary,
            )
            self._note_exhausted(error, state, reason=f"after {state.number} attempts")
            return False
        if state.waited + delay > state.budget:
            self._note_exhausted(
                error,
                state,
                reason=(
                    f"after {state.number} attempt(s): waiting {delay:.1f}s more would exceed "
                    f"max_retry_seconds={state.budget:g}"
                ),
            )
            logger.warning("%s dataset %s: retry budget exhausted", method, dataset_id)
            return False
        if time.monotonic() + delay >= state.deadline_at:
            self._note_exhausted(
                error,
                state,
                reason=(
                    f"after {state.number} attempt(s): waiting {delay:.1f}s more would pass "
                    f"the {self.deadline:g} s deadline"
                ),
            )
            return False
        logger.info(
            "%s dataset %s: %s; retrying in %.2fs (attempt %d of %d)",
            method,
            dataset_id,
            error.summary,
            delay,
            state.number + 1,
            state.max_attempts,
        )
        state.waited += delay
        if delay > 0:
            self._sleep(delay)
        return True

    @staticmethod
    def _note_exhausted(error: DomoError, state: _Attempt, *, reason: str) -> None:
        """Say in the error that retries ran out, and why."""
        del state
        error.hint = f"Gave up {reason}. {error.hint}".strip()

    def _transport_error(
        self,
        exc: requests.RequestException,
        method: str,
        dataset_id: str,
        ids: list[int] | None,
    ) -> DomoError:
        kind = _describe_transport(exc)
        not_sent = isinstance(exc, requests.ConnectTimeout) or _is_connect_failure(exc)
        if method == "DELETE" and not not_sent:
            return DeleteOutcomeUnknownError(
                f"The DELETE of {_versions(len(ids or []))} got no answer ({kind})",
                ids=ids or [],
                instance=self._base_url,
                dataset_id=dataset_id,
            )
        if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
            return DomoConnectionError(
                f"Could not reach Domo ({kind})",
                instance=self._base_url,
                dataset_id=dataset_id,
            )
        return DomoConnectionError(
            f"The request to Domo failed ({kind})",
            instance=self._base_url,
            dataset_id=dataset_id,
        )

    def _status_error(
        self,
        response: requests.Response,
        method: str,
        dataset_id: str,
        ids: list[int] | None,
        retry_after: float | None,
    ) -> DomoError:
        status = response.status_code
        domo_message, toe = _error_details(response)
        common: dict[str, Any] = {
            "instance": self._base_url,
            "dataset_id": dataset_id,
            "status": status,
            "domo_message": domo_message,
            "toe": toe,
        }
        if status == 401:
            return AuthenticationError("Domo rejected the developer token", **common)
        if status == 403:
            return PermissionDeniedError(
                "Domo denied access" if method == "GET" else "Domo refused to delete versions",
                **common,
            )
        if status == 404:
            return DatasetNotFoundError("Domo does not know this dataset", **common)
        if status == 429:
            return RateLimitedError(
                "Domo kept rate limiting the request", retry_after=retry_after, **common
            )
        if status >= 500 and method == "DELETE":
            return DeleteOutcomeUnknownError(
                f"The DELETE of {_versions(len(ids or []))} failed on Domo's side",
                ids=ids or [],
                **common,
            )
        if status >= 500:
            return ServerError("Domo failed to answer", **common)
        if 300 <= status < 400:
            return InvalidResponseError(
                "Domo answered with a redirect (not followed) to "
                f"{redact(response.headers.get('Location', '?'))[:_MAX_DETAIL]!r}",
                hint="Check the instance name; Domo should not redirect API calls.",
                **common,
            )
        return BadRequestError(f"Domo rejected the {method} request", **common)

    def _parse_listing(self, dataset_id: str, response: requests.Response) -> list[DataVersion]:
        from domo_versions_iac.schemas import validator

        common: dict[str, Any] = {"instance": self._base_url, "dataset_id": dataset_id}
        content = response.content
        response._content = b""  # the body is held once: as bytes, then as text
        text = ""
        try:
            text = content.decode(json.detect_encoding(content), "surrogatepass")
            content = b""
            # Records become DataVersions as they are decoded, so a listing of 100,000
            # versions never holds 100,000 dicts at once; anything else stays a dict.
            data = json.loads(text, object_hook=_version_or_dict)
        except ValueError:
            text = text or bytes(content).decode("utf-8", "replace")
            snippet = redact(text)[:80].strip()  # redacted before it is cut
            raise InvalidResponseError(
                f"The version listing is not JSON (starts with {snippet!r})", **common
            ) from None
        if not isinstance(data, list):
            kind = "dict" if isinstance(data, (dict, DataVersion)) else type(data).__name__
            raise InvalidResponseError(
                f"The version listing is a JSON {kind}, not an array", **common
            )
        versions: list[DataVersion] = []
        for position, record in enumerate(data):
            if isinstance(record, DataVersion):
                versions.append(record)
                continue
            field_name, detail = _diagnose(record, validator("dataversion"))
            if not field_name:  # valid after all (e.g. 5.0 for an integer)
                versions.append(DataVersion.from_api(record))
                continue
            label = f"record {position}"
            if isinstance(record, dict) and isinstance(record.get("dataId"), int):
                label += f" (dataId {record['dataId']})"
            raise InvalidResponseError(
                f"The version listing's {label} has a bad field {field_name!r}: "
                f"{redact(detail)[:200]}",
                **common,
            )
        repeated = repeated_ids(versions)
        if repeated:
            shown = ", ".join(map(str, repeated[:10])) + (", ..." if len(repeated) > 10 else "")
            raise InvalidResponseError(
                f"The version listing contradicts itself: it repeats dataId {shown}",
                hint=(
                    "A listing like this cannot be trusted to decide deletions, so nothing was "
                    "deleted. Try again later; if it persists, report it to Domo support."
                ),
                **common,
            )
        return versions


_STATUSES = frozenset(("success", "error", "processing"))


def _plainly_valid(record: Any) -> bool:
    """A cheap pre-check that accepts only records the schema also accepts.

    Validating every record with jsonschema dominated the provider's time (profiled in
    bench/). Anything this does not accept is judged by the schema itself, which stays
    the one source of the record's shape; a property test keeps the two in agreement.
    """
    if type(record) is not dict:
        return False
    get = record.get
    data_id = get("dataId")
    if type(data_id) is not int or data_id < 0 or type(get("schemaId")) is not int:
        return False
    status = get("uploadStatus")
    if type(status) is not str or status not in _STATUSES or type(get("recordedDate")) is not str:
        return False
    completed = get("uploadCompletedDate")
    if completed is not None and type(completed) is not str:
        return False
    for key in ("numRows", "numBytes"):
        value = get(key)
        if value is not None and (type(value) is not int or value < 0):
            return False
    return True


def _version_or_dict(record: dict[str, Any]) -> DataVersion | dict[str, Any]:
    """json object_hook: a plainly valid record becomes a DataVersion (dates parsed
    once); anything else is left as a dict for the schema to judge."""
    if _plainly_valid(record):
        try:
            return DataVersion.from_api(record)
        except (KeyError, TypeError, ValueError):
            pass
    return record


def _diagnose(record: Any, check: Any) -> tuple[str, str]:
    """The first problem of a record as (field, detail), or ("", "") if it has none."""
    error = next(iter(sorted(check.iter_errors(record), key=lambda e: e.path)), None)
    if error is not None:
        return _error_field(error), error.message
    field_name, detail = _check_dates(record)
    if field_name:
        return field_name, detail
    try:
        DataVersion.from_api(record)
    except (KeyError, TypeError, ValueError) as exc:
        return "(record)", f"cannot be parsed ({exc})"
    return "", ""


def _check_dates(record: dict[str, Any]) -> tuple[str, str]:
    """The first date field that is not an ISO-8601 instant (the schema's ``format``
    is only checked when optional packages are installed), as (field, detail)."""
    for name in ("recordedDate", "uploadCompletedDate"):
        value = record.get(name)
        if isinstance(value, str):
            try:
                parse_instant(value)
            except ValueError:
                return name, f"{value[:40]!r} is not an ISO-8601 date-time"
    return "", ""


def _error_field(error: Any) -> str:
    path = [str(part) for part in error.path]
    if error.validator == "required":
        match = re.match(r"'([^']+)' is a required property", error.message)
        if match:
            path.append(match.group(1))
    return ".".join(path) or "(record)"


def _error_details(response: requests.Response) -> tuple[str | None, str | None]:
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


def _describe_transport(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.ReadTimeout):
        return "read timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error"
    if isinstance(exc, requests.ConnectionError):
        if _is_connect_failure(exc):
            return "connection refused or host unreachable"
        return "connection closed without a response"
    return type(exc).__name__


__all__ = [
    "DEADLINE_ENV",
    "RETRY_STATUSES",
    "DomoClient",
    "normalize_instance",
    "parse_allowed_hosts",
    "parse_retry_after",
]
