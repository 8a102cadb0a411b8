"""A real S3-compatible HTTP server for tests: moto in server mode, on loopback.

``s3_endpoint`` gives a test ``ThreadedMotoServer`` on 127.0.0.1 and a free port, with
only the bucket ``archive-test``, and points the AWS_* variables at it for the test
(obstore reads them). One server per xdist worker (session scope) serves every test of
that worker: stopping one waits out werkzeug's 0.5 s poll. moto's state is process-wide;
its S3 side is reset before and after each test.

``kms_secrets`` is a KMS key on the same server, for the end-to-end tests' stacks
(``pulumi stack init --secrets-provider awskms://...``): the passphrase provider derives
its key with 1,000,000 rounds of PBKDF2 in every command, ~0.16 CPU-s each, and the
suite runs ~200 commands. Secrets are still encrypted in the state, by a real KMS API on
loopback. The README's walkthroughs keep the passphrase, as a user runs them.

tests/conftest.py loads this file as a plugin (pytest_plugins).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

BUCKET = "archive-test"


AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
}


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
    env = {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": url, "AWS_ALLOW_HTTP": "true"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        if name in os.environ:
            monkeypatch.delenv(name)
    endpoint = S3Endpoint(url, BUCKET, env)
    # moto keeps its buckets in process-wide state that outlives a test: start empty
    _reset_s3()
    endpoint.create_bucket(BUCKET)
    yield endpoint
    _reset_s3()


def _reset_s3() -> None:
    """Forget every bucket and object, and nothing else: the KMS key stays.

    The server runs in this process (ThreadedMotoServer), so its S3 backends are reset
    directly; moto's /moto-api/reset would forget every service's state.
    """
    from moto.s3.models import s3_backends

    for account in s3_backends.values():
        for backend in account.values():
            backend.reset()


@dataclass(frozen=True)
class KmsSecrets:
    """A KMS key for `pulumi stack init --secrets-provider`, and the env to reach it."""

    secrets_provider: str  # awskms://KEY-ID?region=us-east-1
    env: dict[str, str]


@pytest.fixture(scope="session")
def kms_secrets(moto_url: str) -> KmsSecrets:
    """One key per worker on its moto server (the engine calls it to unwrap the data key)."""
    import boto3

    kms = boto3.client(
        "kms",
        endpoint_url=moto_url,
        aws_access_key_id=AWS_TEST_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=AWS_TEST_ENV["AWS_REGION"],
    )
    key_id = kms.create_key(Description="pulumi stack secrets")["KeyMetadata"]["KeyId"]
    region = AWS_TEST_ENV["AWS_REGION"]
    return KmsSecrets(
        secrets_provider=f"awskms://{key_id}?region={region}",
        env={**AWS_TEST_ENV, "AWS_ENDPOINT_URL_KMS": moto_url},
    )
