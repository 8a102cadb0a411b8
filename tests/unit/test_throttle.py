"""A 429 pauses every thread of a client: the Throttle, and the client through the emulator."""

from __future__ import annotations

import threading

from domo_versions_iac.domo.client import DomoClient
from domo_versions_iac.domo.throttle import Throttle
from domo_versions_iac.emulator import EMULATOR_TOKEN, SALES_DATASET_ID, EmulatorServer, Fault


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _in_thread(fn: object) -> None:
    thread = threading.Thread(target=fn)  # type: ignore[arg-type]
    thread.start()
    thread.join(timeout=10)


def test_a_pause_holds_the_other_threads_until_it_ends() -> None:
    fake = FakeTime()
    throttle = Throttle(clock=lambda: fake.now, sleep=fake.sleep)
    assert throttle.wait() == 0.0, "no pause yet"
    _in_thread(lambda: throttle.pause(5.0))  # another thread got a 429, Retry-After 5
    fake.now += 1.0
    assert throttle.wait() == 4.0
    assert throttle.wait() == 0.0, "over"


def test_pauses_only_lengthen_and_never_pass_the_deadline() -> None:
    fake = FakeTime()
    throttle = Throttle(clock=lambda: fake.now, sleep=fake.sleep)
    _in_thread(lambda: throttle.pause(10.0))
    _in_thread(lambda: throttle.pause(2.0))  # a shorter one does not shorten it
    assert throttle.wait(deadline_at=fake.now + 3.0) == 3.0
    assert throttle.wait() == 7.0


def test_the_thread_that_got_the_429_does_not_wait_twice() -> None:
    fake = FakeTime()
    throttle = Throttle(clock=lambda: fake.now, sleep=fake.sleep)
    throttle.pause(5.0)  # this thread waits its Retry-After itself (the client's retry)
    assert throttle.wait() == 0.0
    assert fake.slept == []


def test_a_429_to_one_dataset_holds_the_next_request_for_another(
    emulator: EmulatorServer,
) -> None:
    """Thread A gets 429 with Retry-After: 30 and waits it; meanwhile B, on another
    dataset with the same client, waits for the same pause before sending anything."""
    other = next(d for d in emulator.store.dataset_ids() if d != SALES_DATASET_ID)
    emulator.store.inject_fault(
        Fault(status=429, retry_after="30", method="GET", dataset_id=SALES_DATASET_ID)
    )
    a_waiting, release_a = threading.Event(), threading.Event()
    slept: dict[str, list[float]] = {"a": [], "b": []}

    def sleep(seconds: float) -> None:  # records; only A really waits (for the test)
        name = threading.current_thread().name
        slept[name].append(seconds)
        if name == "a":
            a_waiting.set()
            release_a.wait(timeout=30)

    client = DomoClient(emulator.url, EMULATOR_TOKEN, timeout=5.0, sleep=sleep)
    try:
        a = threading.Thread(target=client.list_versions, args=(SALES_DATASET_ID,), name="a")
        a.start()
        assert a_waiting.wait(timeout=10), "A got its 429 and is waiting Retry-After"
        b = threading.Thread(target=client.list_versions, args=(other,), name="b")
        b.start()
        b.join(timeout=10)
        release_a.set()
        a.join(timeout=10)
    finally:
        release_a.set()
        client.close()
    assert slept["a"] == [30.0]
    [held] = slept["b"]
    assert 25.0 < held <= 30.0, "B waited for the pause A's 429 started"
    log = [(r.dataset_id, r.status) for r in emulator.store.requests]
    assert log == [(SALES_DATASET_ID, 429), (other, 200), (SALES_DATASET_ID, 200)]
