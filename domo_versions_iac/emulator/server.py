"""A thin HTTP layer over :class:`EmulatorStore`, on loopback only.

API (same paths, parameters, statuses and JSON as Domo's v2 data versions API)::

    GET    /api/data/v2/datasources/{id}/dataversions
    DELETE /api/data/v2/datasources/{id}/dataversions?index=true|false   body: [1, 2]
    GET    /api/data/v2/datasources/{id}/dataversions/{versionId}
           ?excludeAppendedData=true|false&rowLimit=N
           one version's rows as CSV, chunked, gzip if Accept-Encoding allows it

Test controls (no token needed; the server only listens on loopback)::

    GET    /_emulator/health                     {"ok": true, "datasets": [...], "url_file": ...}
    POST   /_emulator/reset                      back to the seed
    GET    /_emulator/requests                   the request log (JSON list)
    DELETE /_emulator/requests                   clear the log
    POST   /_emulator/faults                     body: a Fault as JSON
    DELETE /_emulator/faults                     clear pending faults
    POST   /_emulator/datasets/{id}/versions     body: add_version fields; returns the record
    POST   /_emulator/latency                    body: {"seconds": 0.2}
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from domo_versions_iac.emulator.store import (
    ApiRequest,
    ApiResponse,
    EmulatorStore,
    Fault,
    error_body,
)

_API_PATH = re.compile(r"^/api/data/v2/datasources/(?P<id>[^/]+)/dataversions/?$")
_EXPORT_PATH = re.compile(
    r"^/api/data/v2/datasources/(?P<id>[^/]+)/dataversions/(?P<version>[^/]+)/?$"
)
_ADD_VERSION_PATH = re.compile(r"^/_emulator/datasets/(?P<id>[^/]+)/versions/?$")
_MAX_BODY = 8 * 1024 * 1024
_ADD_VERSION_FIELDS = {"upload_status", "num_rows", "num_bytes", "recorded_date", "schema_id"}


def _loopback_host(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"the emulator only listens on loopback addresses, not {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"the emulator only listens on loopback addresses, not {host!r}")
    return host


def _accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (``gzip`` or ``*``, q not 0)."""
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            quality = params.strip().lower().removeprefix("q=").strip() or "1"
            try:
                return float(quality) > 0
            except ValueError:
                return False
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a burst of 32 new connections (the
    # provider's first wave) would see SYNs dropped and retried a second later.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: EmulatorServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.emulator = emulator
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY the body waits for
    # the client's delayed ACK (~40 ms per request on loopback), unlike a real server.
    disable_nagle_algorithm = True
    server_version = "DomoEmulator/1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def setup(self) -> None:
        super().setup()
        self.server.emulator._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.emulator._track(self.connection, add=False)

    # -- plumbing ----------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        length_text = self.headers.get("Content-Length")
        if not length_text:
            return b""
        try:
            length = int(length_text)
        except ValueError:
            return None
        if length < 0 or length > _MAX_BODY:
            return None
        return self.rfile.read(length)

    def _send_json(
        self,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        encoded: bytes | None = None,
    ) -> None:
        """``body`` as JSON, or ``encoded`` when the body is already JSON bytes."""
        if encoded is None:
            encoded = None if body is None else json.dumps(body).encode("utf-8")
        payload = encoded or b""
        self.send_response(status)
        if encoded is not None:
            self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def _send_stream(self, response: ApiResponse) -> None:
        """A streamed body, chunked; cut (connection closed) after ``cut_after`` bytes."""
        assert response.stream is not None
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        left = response.cut_after
        stopping = self.server.emulator._stopping
        for chunk in response.stream:
            if not chunk:
                continue
            if response.chunk_delay > 0 and stopping.wait(response.chunk_delay):
                self._drop()
                return
            if left is not None and len(chunk) >= left:
                self.wfile.write(b"%x\r\n" % len(chunk) + chunk[:left])
                self.wfile.flush()
                self._drop()
                return
            if left is not None:
                left -= len(chunk)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path
        body = self._read_body()
        if body is None:
            self._send_json(413, error_body(413, "Request body too large or malformed length"))
            self.close_connection = True
            return
        if path.startswith("/_emulator/"):
            self._control(method, path, body)
            return
        request = self._api_request(method, url.path, url.query, body)
        if request is None:
            self._send_json(404, error_body(404, f"No resource at {path}"))
            return
        store = self.server.emulator.store
        with store.serving(method):
            response = store.handle(request)
            if response.delay > 0 and self.server.emulator._stopping.wait(response.delay):
                self._drop()
                return
            if response.drop:
                self._drop()
                return
            if response.stream is not None:
                try:
                    self._send_stream(response)
                except OSError:  # the client went away mid-body
                    self.close_connection = True
                return
            self._send_json(response.status, response.body, response.headers, response.encoded)

    def _api_request(self, method: str, path: str, query: str, body: bytes) -> ApiRequest | None:
        """The API request of this path (the listing/DELETE or an export), or None."""
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        token = self.headers.get("X-DOMO-Developer-Token")
        match = _API_PATH.match(path)
        if match is not None:
            return ApiRequest(
                method=method,
                path=path,
                dataset_id=unquote(match.group("id")),
                token=token,
                index=params.get("index"),
                body=body,
            )
        match = _EXPORT_PATH.match(path)
        if match is None or not match.group("version").isdigit():
            return None
        return ApiRequest(
            method=method,
            path=path,
            dataset_id=unquote(match.group("id")),
            token=token,
            body=body,
            version_id=int(match.group("version")),
            query={k: v for k, v in params.items() if k in ("excludeAppendedData", "rowLimit")},
            accept_gzip=_accepts_gzip(self.headers.get("Accept-Encoding", "")),
        )

    def _control(self, method: str, path: str, body: bytes) -> None:
        store = self.server.emulator.store
        try:
            data = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._send_json(400, error_body(400, "control request body must be JSON"))
            return
        try:
            if method == "GET" and path == "/_emulator/health":
                url_file = self.server.emulator.url_file
                self._send_json(
                    200, {"ok": True, "datasets": store.dataset_ids(), "url_file": url_file}
                )
            elif method == "POST" and path == "/_emulator/reset":
                store.reset()
                self._send_json(200, {"ok": True})
            elif method == "GET" and path == "/_emulator/requests":
                self._send_json(200, [record.to_dict() for record in store.requests])
            elif method == "DELETE" and path == "/_emulator/requests":
                store.clear_requests()
                self._send_json(200, {"ok": True})
            elif method == "POST" and path == "/_emulator/faults":
                if not isinstance(data, dict):
                    raise ValueError("a fault must be a JSON object")
                fault = Fault.from_dict(data)
                store.inject_fault(fault)
                self._send_json(200, fault.to_dict())
            elif method == "DELETE" and path == "/_emulator/faults":
                store.clear_faults()
                self._send_json(200, {"ok": True})
            elif method == "POST" and path == "/_emulator/latency":
                if not isinstance(data, dict) or "seconds" not in data:
                    raise ValueError('latency body must be {"seconds": <number>}')
                store.set_latency(float(data["seconds"]))
                self._send_json(200, {"seconds": store.latency})
            elif method == "POST" and (match := _ADD_VERSION_PATH.match(path)):
                self._add_version(unquote(match.group("id")), data)
            else:
                self._send_json(404, error_body(404, f"No control endpoint {method} {path}"))
        except (TypeError, ValueError) as exc:
            self._send_json(400, error_body(400, str(exc)))

    def _add_version(self, dataset_id: str, data: Any) -> None:
        """``POST /_emulator/datasets/{id}/versions``; ValueError/TypeError mean 400."""
        if not isinstance(data, dict):
            raise ValueError("version fields must be a JSON object")
        unknown = sorted(set(data) - _ADD_VERSION_FIELDS)
        if unknown:
            raise ValueError(f"unknown version field(s): {', '.join(unknown)}")
        store = self.server.emulator.store
        if not store.has_dataset(dataset_id):
            self._send_json(404, error_body(404, f"DataSource {dataset_id} not found"))
            return
        self._send_json(200, store.add_version(dataset_id, **data))

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")


class EmulatorServer:
    """The emulator on ``http://127.0.0.1:PORT``: ``start()``, ``stop()``, or ``with``.

    ``port=0`` picks a free port (see :attr:`url` after start). Requests are served on
    daemon threads; ``stop()`` closes open connections and returns promptly even if a
    request is sleeping in injected latency.
    """

    def __init__(
        self,
        store: EmulatorStore | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
    ) -> None:
        self.host = _loopback_host(host)
        self.port = port
        self.store = store if store is not None else EmulatorStore()
        if latency:
            self.store.set_latency(latency)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self.url_file: str | None = None
        """The file this emulator wrote its URL to (``emulator --url-file``): ``status
        --url-file`` checks it, so it knows it talks to the emulator it waited for."""

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8123`` (pass it to ``DomoClient``)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> EmulatorServer:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self.host, self.port), self)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            # stop() waits for the loop to see the request: up to one poll_interval.
            # 10 ms keeps that short (tests start and stop thousands) at ~100 cheap
            # wake-ups a second while idle.
            kwargs={"poll_interval": 0.01},
            name=f"domo-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.url if self._server is not None else "stopped"
        return f"EmulatorServer({state})"
