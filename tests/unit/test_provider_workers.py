"""provider_workers: the DOMO_UP_CONCURRENCY setting, the SDK guard, widening a pool.

The end-to-end proof (more than 4 DELETEs in flight through the real CLI, and the
bound) is tests/e2e/test_up_concurrency.py.
"""

from __future__ import annotations

import sys
import threading
import types
from concurrent.futures import ThreadPoolExecutor

import pytest

from domo_versions_iac.provider import workers as pw


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, 32),
        ({"DOMO_UP_CONCURRENCY": " "}, 32),
        ({"DOMO_UP_CONCURRENCY": "1"}, 1),
        ({"DOMO_UP_CONCURRENCY": " 32 "}, 32),
        ({"DOMO_UP_CONCURRENCY": "8"}, 8),
    ],
)
def test_up_concurrency_reads_the_setting(environ: dict[str, str], expected: int) -> None:
    assert pw.up_concurrency(environ) == expected


@pytest.mark.parametrize("value", ["0", "33", "-1", "8.5", "eight", "1e3", "²", "١٢"])
def test_a_bad_setting_is_one_line_naming_the_variable_and_the_accepted_values(
    value: str,
) -> None:
    with pytest.raises(pw.ConcurrencySettingError) as caught:
        pw.up_concurrency({"DOMO_UP_CONCURRENCY": value})
    message = str(caught.value)
    assert message.startswith(f"DOMO_UP_CONCURRENCY='{value}' is not valid: give a whole number")
    assert "from 1 to 32" in message and "\n" not in message


@pytest.mark.parametrize(
    ("version", "supported"),
    [
        ("3.200.0", True),  # the lowest pulumi the package allows
        ("3.272.0", True),  # the highest released when this was written
        ("3.273.0a1700000000+dev", True),
        ("3.199.0", False),
        ("4.0.0", False),
        ("unknown", False),
    ],
)
def test_the_sdk_guard_knows_the_package_range(version: str, supported: bool) -> None:
    assert pw.sdk_supported(version) is supported


def test_the_installed_sdk_is_within_the_guard() -> None:
    # Run under the lowest and the highest pulumi SDK (bench/README.md says how).
    assert pw.sdk_supported(pw.sdk_version()), pw.sdk_version()


def test_a_widened_pool_runs_more_calls_at_once() -> None:
    """ThreadPoolExecutor reads _max_workers at each submit: raising it from a worker
    thread (as the provider does inside the host) lets later calls run together."""
    pool = ThreadPoolExecutor(max_workers=4)
    try:
        found = pool.submit(pw.serving_executor).result(timeout=10)
        assert found is pool
        assert pw.widen(pool, 12) is True
        assert pw.widen(pool, 8) is False, "never narrowed"
        together = threading.Barrier(10)  # 10 calls that wait for each other
        futures = [pool.submit(together.wait, 30) for _ in range(10)]
        for future in futures:
            future.result(timeout=60)  # BrokenBarrierError if fewer than 10 ran at once
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def test_no_pool_is_found_off_a_pool_thread() -> None:
    assert pw.serving_executor(attempts=2) is None


def test_nothing_is_widened_outside_the_provider_host() -> None:
    assert pw.widen_host_pool(36) == ""  # pytest's __main__ is not pulumi.dynamic's


def _as_host(monkeypatch: pytest.MonkeyPatch) -> None:
    host = types.ModuleType("__main__")
    host.__spec__ = types.SimpleNamespace(name=pw.HOST_MODULE)  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "__main__", host)


def test_in_the_host_on_an_unknown_sdk_it_keeps_four_threads_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _as_host(monkeypatch)
    monkeypatch.setattr(pw, "sdk_version", lambda: "4.1.0")
    pool = ThreadPoolExecutor(max_workers=4)
    try:
        warning = pool.submit(pw.widen_host_pool, 36).result(timeout=10)
        assert "pulumi SDK 4.1.0 is outside the versions" in warning
        assert "at most 4 datasets at a time" in warning
        assert pool._max_workers == 4
    finally:
        pool.shutdown()


def test_in_the_host_on_a_known_sdk_the_serving_pool_is_widened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _as_host(monkeypatch)
    monkeypatch.setattr(pw, "sdk_version", lambda: "3.200.0")
    pool = ThreadPoolExecutor(max_workers=4)
    try:
        assert pool.submit(pw.widen_host_pool, 36).result(timeout=10) == ""
        assert pool._max_workers == 36
        # off the pool's threads there is nothing to widen: a warning, nothing changed
        assert "was not found" in pw.widen_host_pool(40)
    finally:
        pool.shutdown()


def test_dataset_slot_is_a_no_op_until_configured() -> None:
    with pw.dataset_slot():
        pass
