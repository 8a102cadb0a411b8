"""Every request ends by its deadline, however slowly the server sends.

A loopback server that never answers, or trickles its headers or body one byte at a
time (each byte well inside the socket timeout), must be cut off at the client's
deadline with a clear error. The deadline is short (0.5 s) so the tests are quick;
they assert the error a user gets, never how long anything took.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from domo_versions_iac.domo.client import DomoClient
from domo_versions_iac.domo.errors import (
    ConfigurationError,
    DeadlineExceededError,
    DeleteOutcomeUnknownError,
    DomoConnectionError,
    ServerError,
)
from domo_versions_iac.emulator import BUDGET_DATASET_ID, EMULATOR_TOKEN, EmulatorServer, Fault

DEADLINE = 0.5
BYTE_EVERY = 0.05  # far below the client's 5 s socket timeout
MAX_BYTES = 400  # a trickle stops by itself after 20 s even if nobody cuts it off
LISTING = b"[]"


class SlowServer:
    """A raw HTTP server on 127.0.0.1 that misbehaves for the methods in ``slow``.

    ``mode``: ``"silent"`` reads the request and never answers; ``"headers"`` sends a
    status line, then a header one byte at a time; ``"body"`` sends full headers, then
    the body one byte at a time. Other methods get an empty listing at once.
    ``hung_up`` is set when the client closes the connection before the server is
    done misbehaving (which takes 20 s): the client gave up by itself.
    """

    def __init__(self, mode: str, slow: tuple[str, ...] = ("GET", "DELETE")) -> None:
        self.mode = mode
        self.slow = slow
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.methods: list[str] = []
        self.hung_up = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def close(self) -> None:
        self.stop.set()
        for thread in list(self.threads):
            thread.join(timeout=5)
        self.listener.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1)
            try:
                while not self.stop.is_set():
                    method = self._read_request(conn)
                    if method is None:
                        return
                    self.methods.append(method)
                    if method not in self.slow:
                        conn.sendall(_answer(LISTING))
                        continue
                    self._misbehave(conn)
                    return
            except OSError:
                return  # the client cut the connection: what the tests expect

    def _read_request(self, conn: socket.socket) -> str | None:
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536 and not self.stop.is_set():
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return None
            data += chunk
        return data.split(b" ", 1)[0].decode("ascii", "replace") if data else None

    def _misbehave(self, conn: socket.socket) -> None:
        if self.mode == "silent":
            conn.settimeout(BYTE_EVERY)
            for _ in range(MAX_BYTES):
                if self.stop.is_set():
                    return
                try:
                    if not conn.recv(1):
                        self.hung_up.set()
                        return
                except TimeoutError:
                    continue
            return
        if self.mode == "headers":
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            self._trickle(conn, b"a" * MAX_BYTES)
            return
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {MAX_BYTES + 2}\r\n\r\n[".encode()
        )
        self._trickle(conn, b" " * MAX_BYTES + b"]")

    def _trickle(self, conn: socket.socket, data: bytes) -> None:
        for byte in data:
            if self.stop.wait(BYTE_EVERY):
                return
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                self.hung_up.set()
                return


def _answer(body: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


@pytest.fixture
def slow_server(request: pytest.FixtureRequest) -> Iterator[SlowServer]:
    server = SlowServer(*request.param)
    try:
        yield server
    finally:
        server.close()


def fast_client(url: str, **options: Any) -> DomoClient:
    settings: dict[str, Any] = {"timeout": 5.0, "deadline": DEADLINE, "sleep": lambda _: None}
    settings.update(options)
    return DomoClient(url, "test-token", **settings)


@pytest.mark.parametrize(
    "slow_server", [("silent",), ("headers",), ("body",)], indirect=True, ids=str
)
def test_a_listing_is_cut_off_at_the_deadline(slow_server: SlowServer) -> None:
    with fast_client(slow_server.url) as client, pytest.raises(DeadlineExceededError) as caught:
        client.list_versions("ds-slow")
    text = str(caught.value)
    assert text.startswith("Domo did not answer the GET in full within the 0.5 s deadline")
    assert "for dataset ds-slow on http://127.0.0.1:" in text
    assert "set DOMO_REQUEST_DEADLINE to more seconds" in text
    assert isinstance(caught.value, DomoConnectionError)
    assert slow_server.methods == ["GET"], "no retry once the deadline has passed"
    assert slow_server.hung_up.wait(10), "the client cut the connection off"


@pytest.mark.parametrize(
    "slow_server",
    [("silent", ("DELETE",)), ("headers", ("DELETE",)), ("body", ("DELETE",))],
    indirect=True,
    ids=str,
)
def test_a_delete_cut_off_at_the_deadline_has_an_unknown_outcome(
    slow_server: SlowServer,
) -> None:
    with fast_client(slow_server.url) as client, pytest.raises(DeleteOutcomeUnknownError) as e:
        client.delete_versions("ds-slow", [4, 3], index=False)
    assert e.value.ids == [3, 4], "these may or may not be gone"
    text = str(e.value)
    assert "The DELETE of 2 version(s) did not finish within the 0.5 s deadline" in text
    assert "set DOMO_REQUEST_DEADLINE" in text
    assert slow_server.methods.count("DELETE") == 1, "never re-sent"
    assert slow_server.hung_up.wait(10), "the client cut the connection off"


@pytest.mark.parametrize("slow_server", [("body",)], indirect=True, ids=str)
def test_the_deadline_comes_from_the_environment(
    slow_server: SlowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOMO_REQUEST_DEADLINE", "0.5")
    client = DomoClient(slow_server.url, "test-token", timeout=5.0)
    assert client.deadline == 0.5
    with client, pytest.raises(DeadlineExceededError, match=r"within the 0\.5 s deadline"):
        client.list_versions("ds-slow")


def test_the_default_deadline_is_60_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOMO_REQUEST_DEADLINE", raising=False)
    assert DomoClient("acme", "test-token").deadline == 60.0
    monkeypatch.setenv("DOMO_REQUEST_DEADLINE", " ")
    assert DomoClient("acme", "test-token").deadline == 60.0
    assert DomoClient("acme", "test-token", deadline=5).deadline == 5.0


@pytest.mark.parametrize("value", ["abc", "0", "-1", "inf", "nan", "1e400"])
def test_a_bad_deadline_in_the_environment_is_refused(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOMO_REQUEST_DEADLINE", value)
    with pytest.raises(ConfigurationError) as caught:
        DomoClient("acme", "test-token")
    assert f"DOMO_REQUEST_DEADLINE={value!r} is not a deadline" in str(caught.value)


@pytest.mark.parametrize("value", [0, -1.0, float("inf"), True])
def test_a_bad_deadline_argument_is_refused(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="is not a deadline"):
        DomoClient("acme", "test-token", deadline=value)


def test_retries_never_wait_past_the_deadline(emulator: EmulatorServer) -> None:
    sleeps: list[float] = []
    client = DomoClient(
        emulator.url, EMULATOR_TOKEN, deadline=30, max_retry_seconds=600, sleep=sleeps.append
    )
    emulator.store.inject_fault(Fault(status=503, retry_after="60", count=2))
    with pytest.raises(ServerError) as caught:
        client.list_versions(BUDGET_DATASET_ID)
    assert "waiting 60.0s more would pass the 30 s deadline" in str(caught.value)
    assert sleeps == [] and len(emulator.store.requests) == 1


def test_one_thread_watches_every_deadline_and_ends_when_idle(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from domo_versions_iac.domo import transport

    monkeypatch.setattr(transport._DeadlineThread, "IDLE_SECONDS", 0.2)

    def watchers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "domo-deadlines"]

    client = DomoClient(emulator.url, EMULATOR_TOKEN, sleep=lambda _: None)
    for _ in range(20):
        client.list_versions(BUDGET_DATASET_ID)
    assert len(watchers()) <= 1, "not one timer thread per request"
    for thread in watchers():
        thread.join(timeout=10)
    assert watchers() == [], "the watcher ends by itself once idle"
    # and starts again for the next request, whose deadline still holds
    client.list_versions(BUDGET_DATASET_ID)


def test_a_deadline_passed_while_nothing_could_connect_says_unreachable() -> None:
    # The instance refuses every connection; the wait before the second attempt
    # overshoots the deadline. What failed is reaching Domo, not Domo being slow.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    overshoot = threading.Event()

    def sleep_too_long(_: float) -> None:
        overshoot.wait(0.2)

    client = DomoClient(
        f"http://127.0.0.1:{port}",
        EMULATOR_TOKEN,
        deadline=0.1,
        backoff_base=0.001,
        sleep=sleep_too_long,
    )
    with pytest.raises(DomoConnectionError) as caught:
        client.list_versions("ds")
    assert not isinstance(caught.value, DeadlineExceededError)
    assert "Could not reach Domo (connection refused" in str(caught.value)
