"""Redirects are not followed, TLS is verified, and corporate CA bundles still work.

A loopback HTTPS server with a certificate made for the test (by the `openssl` command)
stands in for a Domo instance behind a corporate CA.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from domo_versions_iac.cli import common as cli_common
from domo_versions_iac.cli.main import cli
from domo_versions_iac.domo.client import CA_BUNDLE_ENV, DomoClient
from domo_versions_iac.domo.errors import (
    ConfigurationError,
    DomoConnectionError,
    InvalidResponseError,
)
from domo_versions_iac.emulator import (
    BUDGET_DATASET_ID,
    EMULATOR_TOKEN,
    EmulatorServer,
    EmulatorStore,
)
from domo_versions_iac.emulator.store import ApiRequest, ApiResponse

TOKEN = "tls-test-token-0123456789"
CORP_HOST = "domo.corp.example"  # resolved to 127.0.0.1 by the test, never by DNS


@pytest.fixture(autouse=True)
def no_ca_or_proxy_from_the_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*CA_BUNDLE_ENV, "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed CA certificate for 127.0.0.1, localhost and CORP_HOST, and its key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=domo-versions-iac test CA",
            "-addext", f"subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:{CORP_HOST}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


@dataclass
class HttpsServer:
    url: str
    port: int
    tokens_seen: list[str | None] = field(default_factory=list)


@pytest.fixture
def https_server(certificate: tuple[Path, Path]) -> Iterator[HttpsServer]:
    """HTTPS on 127.0.0.1: every GET gets an empty version listing."""
    cert, key = certificate
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("X-DOMO-Developer-Token"))
            body = json.dumps([]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    port = int(server.server_address[1])
    try:
        yield HttpsServer(f"https://127.0.0.1:{port}", port, seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_tls_is_verified_and_an_unknown_ca_is_a_clear_error(https_server: HttpsServer) -> None:
    client = DomoClient(https_server.url, TOKEN, max_attempts=1, timeout=5.0)
    with pytest.raises(DomoConnectionError) as caught:
        client.list_versions("abc")
    assert "TLS error" in str(caught.value)
    assert https_server.tokens_seen == [], "the token was never sent"


@pytest.mark.parametrize("variable", CA_BUNDLE_ENV)
def test_a_corporate_ca_bundle_from_the_environment_is_trusted(
    https_server: HttpsServer,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    monkeypatch.setenv(variable, str(certificate[0]))
    client = DomoClient(https_server.url, TOKEN, max_attempts=1, timeout=5.0)
    assert client.list_versions("abc") == []
    assert https_server.tokens_seen == [TOKEN]


def test_a_ca_bundle_that_does_not_exist_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigurationError, match=r"REQUESTS_CA_BUNDLE names .*missing\.pem"):
        DomoClient("acme", TOKEN)


def test_an_allowed_host_over_https_with_the_corporate_ca_via_the_cli(
    https_server: HttpsServer,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_getaddrinfo = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real_getaddrinfo("127.0.0.1" if host == CORP_HOST else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(cli_common, "CLIENT_OPTIONS", {"max_attempts": 1, "timeout": 5.0})
    instance = f"https://{CORP_HOST}:{https_server.port}"
    env = {
        "DOMO_INSTANCE": instance,
        "DOMO_DEVELOPER_TOKEN": TOKEN,
        "REQUESTS_CA_BUNDLE": str(certificate[0]),
        "NO_PROXY": CORP_HOST,
    }
    refused = CliRunner().invoke(cli, ["ls", "abc"], env={**env, "DOMO_ALLOWED_HOSTS": ""})
    assert refused.exit_code == 1
    assert "is not a Domo host" in refused.stderr and "DOMO_ALLOWED_HOSTS" in refused.stderr
    assert https_server.tokens_seen == []

    allowed = CliRunner().invoke(cli, ["ls", "abc"], env={**env, "DOMO_ALLOWED_HOSTS": CORP_HOST})
    assert allowed.exit_code == 0, allowed.output
    assert "total: 0 versions" in allowed.stdout
    assert https_server.tokens_seen == [TOKEN]


def test_redirects_are_not_followed(emulator: EmulatorServer) -> None:
    elsewhere = EmulatorServer(EmulatorStore({"tokens": [], "datasets": {}})).start()
    try:
        target = f"{elsewhere.url}/api/data/v2/datasources/{BUDGET_DATASET_ID}/dataversions"

        def redirect(request: ApiRequest) -> ApiResponse:
            return ApiResponse(307, None, {"Location": target})

        emulator.store.handle = redirect  # type: ignore[method-assign]
        client = DomoClient(emulator.url, EMULATOR_TOKEN, max_attempts=1)
        with pytest.raises(InvalidResponseError, match=r"redirect \(not followed\)"):
            client.list_versions(BUDGET_DATASET_ID)
        with pytest.raises(InvalidResponseError, match="redirect"):
            client.delete_versions(BUDGET_DATASET_ID, [1], index=False)
        assert elsewhere.store.requests == [], "the token never went to the redirect target"
    finally:
        elsewhere.stop()
