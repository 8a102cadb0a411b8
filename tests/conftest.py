"""Shared fixtures: a fresh emulator per test and a fast client for it.

``emulator`` yields a started :class:`EmulatorServer` on 127.0.0.1 (free port) with a
fresh default-seed store (``emulator.store`` for in-process controls); it is stopped
after the test. ``client`` is a :class:`DomoClient` for it whose retries do not really
sleep: the requested delays are recorded in the ``sleeps`` fixture's list.

Every test under tests/e2e gets the ``e2e`` marker (it needs the real Pulumi engine),
so ``pytest -m "not e2e"`` is the fast loop that runs without one.

Hypothesis: the ``ci`` profile (chosen when ``$CI`` is set, or ``--hypothesis-profile
ci``) is derandomized and keeps no example database, so a CI run cannot flake on an
example found by chance; each test's own ``max_examples`` bounds the work. Locally the
``default`` profile explores new examples on every run and replays saved failures.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from domo_versions_iac.domo.client import DomoClient
from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer, EmulatorStore

E2E_DIR = Path(__file__).resolve().parent / "e2e"

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
# s3_endpoint: a real S3 server (moto) on loopback, for the archive's tests.
pytest_plugins = ["s3_server"]


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker per core, plus one.

    End-to-end tests spend part of their time waiting (Domo latency and faults, a
    command's timeout, a stopped update), and one more worker fills that time: on
    2 cores a warm run took 2 min 17 s with 2 workers, 2 min 5 s with 3 (4: 2 min 7 s).
    """
    del config
    return (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e with ``e2e``."""
    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def emulator_store() -> EmulatorStore:
    """A fresh store with the default seed (not served)."""
    return EmulatorStore()


@pytest.fixture
def emulator(emulator_store: EmulatorStore) -> Iterator[EmulatorServer]:
    """A running emulator (default seed, free loopback port), stopped after the test."""
    server = EmulatorServer(emulator_store).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def domo() -> Iterator[EmulatorServer]:
    """A running emulator with no datasets yet (tests add their own), stopped after."""
    store = EmulatorStore({"tokens": [EMULATOR_TOKEN], "datasets": {}})
    server = EmulatorServer(store).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sleeps() -> list[float]:
    """Delays the ``client`` fixture asked to sleep (it does not actually sleep)."""
    return []


@pytest.fixture
def client(emulator: EmulatorServer, sleeps: list[float]) -> Iterator[DomoClient]:
    """A client for ``emulator`` with the emulator token, short timeout, no real sleeping."""
    domo = DomoClient(
        emulator.url,
        EMULATOR_TOKEN,
        timeout=5.0,
        max_attempts=5,
        max_retry_seconds=60.0,
        backoff_base=0.01,
        sleep=sleeps.append,
    )
    try:
        yield domo
    finally:
        domo.close()
