"""One HTTP exchange within a deadline, and the session it travels on.

Socket timeouts bound each read only: a server that sends one byte every few seconds
never trips them. So each socket timeout is at most the time left, the body is read in
chunks with the deadline checked between them, and a watchdog shuts the connection
down when the deadline passes, even in the middle of the headers. The session's
adapter hands each connection's socket to that watchdog. What the caller makes of a
passed deadline (a timeout, or a DELETE with an unknown outcome) is not decided here:
:class:`DeadlinePassed` only says whether the request had been sent.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
import urllib3.connection
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from domo_versions_iac.domo.errors import ConfigurationError
from domo_versions_iac.domo.http_errors import never_connected
from domo_versions_iac.domo.instance import is_loopback

logger = logging.getLogger(__name__)

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


def new_session(base_url: str, pool_size: int) -> requests.Session:
    """A session for one client: watched connections, no retries below the client's own,
    no cookies, TLS verified, no proxy for loopback."""
    session = requests.Session()
    adapter = _DeadlineAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    # TLS is always verified; a corporate CA comes from the standard variables.
    session.verify = _ca_bundle(base_url) or True
    if is_loopback(urlsplit(base_url).hostname or ""):
        # the emulator: never route loopback traffic through an HTTP(S)_PROXY
        # (trust_env=False also drops REQUESTS_CA_BUNDLE: set above instead)
        session.trust_env = False
    return session


def exchange(
    session: requests.Session,
    method: str,
    url: str,
    *,
    params: dict[str, str] | None,
    body: bytes | None,
    headers: dict[str, str],
    timeout: float,
    deadline_at: float,
    stream_to: Callable[[Iterator[bytes]], None] | None = None,
    raw: bool = False,
) -> requests.Response:
    """One HTTP exchange, status to last body byte, cut off at ``deadline_at``.

    ``stream_to``: for a 2xx answer, called with the body's chunks as they arrive
    (the response then holds no body): a listing is decoded as it is read.
    ``raw``: hand ``stream_to`` a :class:`RawBody`, the bytes as sent (a gzip body
    stays compressed: an export is archived as it came), with its Content-Encoding.
    """
    left = deadline_at - time.monotonic()
    if left <= 0:
        raise DeadlinePassed(sent=False)
    per_read = min(timeout, left)
    watch = _Watchdog(deadline_at)
    _current.watch = watch
    try:
        response = session.request(
            method,
            url,
            params=params,
            data=body,
            headers=headers,
            timeout=(per_read, per_read),
            allow_redirects=False,
            stream=True,
        )
        try:
            if stream_to is not None and 200 <= response.status_code < 300:
                _stream_body(response, watch, stream_to, raw=raw)
            else:
                _read_body(response, watch)
            if watch.fired:  # cut off: what was read (even "complete") is not the answer
                raise DeadlinePassed(sent=True)
        except BaseException:
            response.close()
            raise
        return response
    except (requests.RequestException, OSError, urllib3.exceptions.HTTPError) as exc:
        if watch.expired:
            sent = watch.sent or not never_connected(exc)
            raise DeadlinePassed(sent=sent) from exc
        raise
    finally:
        _current.watch = None
        watch.stop()


class DeadlinePassed(Exception):
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
        _deadlines.watch(self)

    @property
    def expired(self) -> bool:
        return self.fired or time.monotonic() >= self.deadline_at - _DEADLINE_SLACK

    def attach(self, sock: Any) -> None:
        with self._lock:
            self._sock = sock
            self.sent = True
            if self.fired:
                _shutdown(sock)

    @property
    def done(self) -> bool:
        return self._done

    def stop(self) -> None:
        with self._lock:
            self._done = True
            self._sock = None

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            if self._sock is not None:
                _shutdown(self._sock)


class _DeadlineThread:
    """One daemon thread fires every watchdog whose deadline passed.

    A timer thread per request cost its start-up on every request (and, with the
    program's 32 planning threads, a wait for the GIL before the request could go
    out). Stopped watchdogs are dropped when they reach the front (looked at least
    every ``IDLE_SECONDS``); the thread ends by itself once none is left for that long.
    """

    IDLE_SECONDS = 30.0

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watchdog]] = []
        self._order = itertools.count()
        self._running = False

    def watch(self, watchdog: _Watchdog) -> None:
        with self._cond:
            heapq.heappush(self._heap, (watchdog.deadline_at, next(self._order), watchdog))
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="domo-deadlines", daemon=True).start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                due = self._next_due()
                if due is None:
                    return
            due._fire()

    def _next_due(self) -> _Watchdog | None:
        """Wait (holding the condition) for the next live watchdog to expire; None: idle."""
        while True:
            while self._heap and self._heap[0][2].done:
                heapq.heappop(self._heap)
            if not self._heap:
                if not self._cond.wait(timeout=self.IDLE_SECONDS) and not self._heap:
                    self._running = False
                    return None
                continue
            deadline_at, _, watchdog = self._heap[0]
            left = deadline_at - time.monotonic()
            if left <= 0:
                heapq.heappop(self._heap)
                return watchdog
            # Not notified when a watchdog stops: look again at least every idle period.
            self._cond.wait(timeout=min(left, self.IDLE_SECONDS))


_deadlines = _DeadlineThread()


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
    buffered: object = response._content  # the stubs say bytes | None; False = not read yet
    if buffered is not False:  # already buffered (e.g. a test transport)
        return
    body = bytearray()  # grows in place: never the chunks and their join at once
    for chunk in response.iter_content(_CHUNK_SIZE):
        body += chunk
        if watch.expired:
            raise DeadlinePassed(sent=True)
    response._content = body  # type: ignore[assignment]  # bytes-like; bytes() would copy


def _stream_body(
    response: requests.Response,
    watch: _Watchdog,
    consume: Callable[[Iterator[bytes]], None],
    *,
    raw: bool = False,
) -> None:
    """Hand the body to ``consume`` in chunks as they arrive, checking the deadline
    between them; the response keeps no body."""
    buffered: object = response._content
    if raw:
        consume(RawBody(response, watch))
    elif buffered is not False:  # already buffered (e.g. a test transport)
        consume(iter((bytes(buffered or b""),)))  # type: ignore[call-overload]
    else:
        consume(_chunks(response, watch))
    response._content = b""


class RawBody(Iterator[bytes]):
    """A 2xx body's bytes as sent (not decoded), in chunks, within the deadline.

    ``content_encoding``: the answer's Content-Encoding, lower case (``""`` if none).
    urllib3's errors become requests' (as ``iter_content`` does), so the client's retry
    rules see a cut body as the dropped connection it is.
    """

    def __init__(self, response: requests.Response, watch: _Watchdog) -> None:
        self.content_encoding = response.headers.get("Content-Encoding", "").strip().lower()
        self._chunks = response.raw.stream(_CHUNK_SIZE, decode_content=False)
        self._watch = watch

    def __next__(self) -> bytes:
        if self._watch.expired:
            raise DeadlinePassed(sent=True)
        try:
            chunk: bytes = next(self._chunks)
        except urllib3.exceptions.ProtocolError as exc:
            raise requests.exceptions.ChunkedEncodingError(exc) from exc
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise requests.exceptions.ConnectionError(exc) from exc
        except urllib3.exceptions.SSLError as exc:
            raise requests.exceptions.SSLError(exc) from exc
        return chunk


def _chunks(response: requests.Response, watch: _Watchdog) -> Iterator[bytes]:
    for chunk in response.iter_content(_CHUNK_SIZE):
        yield chunk
        if watch.expired:
            raise DeadlinePassed(sent=True)


__all__ = ["CA_BUNDLE_ENV", "DeadlinePassed", "RawBody", "exchange", "new_session"]
