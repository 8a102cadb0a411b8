"""A real S3-compatible HTTP server for tests: moto in server mode, on loopback.

``s3_endpoint`` gives a test ``ThreadedMotoServer`` on 127.0.0.1 and a free port, with
only the bucket ``archive-test``, and points the AWS_* variables at it for the test
(obstore reads them). One server per xdist worker (session scope) serves every test of
that worker: stopping one waits out werkzeug's 0.5 s poll. moto's state is process-wide,
so it is reset before and after each test. tests/conftest.py loads it as a plugin
(pytest_plugins).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

BUCKET = "archive-test"


@dataclass(frozen=True)
class S3Endpoint:
    url: str  # http://127.0.0.1:PORT
    bucket: str
    env: dict[str, str]

    def create_bucket(self, name: str) -> None:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=name)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """One moto server for this worker's session; stopped when the session ends."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_endpoint(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Endpoint]:
    url = moto_url
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": url,
        "AWS_ALLOW_HTTP": "true",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        if name in os.environ:
            monkeypatch.delenv(name)
    endpoint = S3Endpoint(url, BUCKET, env)
    # moto keeps its buckets in process-wide state that outlives a test: start empty
    _reset(url)
    endpoint.create_bucket(BUCKET)
    yield endpoint
    _reset(url)


def _reset(url: str) -> None:
    """Forget every bucket and object (moto's own reset endpoint)."""
    import requests

    requests.post(f"{url}/moto-api/reset", timeout=30).raise_for_status()
