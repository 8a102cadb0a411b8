"""The gated delete loop under seeded races and faults, judged by an independent oracle.

Two modes, one oracle:

* in process: a fake Domo above the HTTP layer (fast: many scenarios, every fault);
* over HTTP: the real :class:`DomoClient` against the emulator on loopback, so the
  client's retry layer is part of what is tested (a 429 with ``Retry-After`` on a
  DELETE, with versions deleted and uploaded elsewhere during the wait).

The oracle does not call ``plan_retention`` or ``deletable_ids``: :class:`Rule` states
directly what each of the suite's policies keeps, and :class:`Oracle` judges every
DELETE against the listing the loop saw last, counting the ids wrongly deleted.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from fractions import Fraction

import pytest

from domo_versions_iac.deletion.loop import DeletionOutcome, apply_retention
from domo_versions_iac.domo.client import DomoClient
from domo_versions_iac.domo.errors import (
    AuthenticationError,
    DatasetNotFoundError,
    DeleteOutcomeUnknownError,
    DomoError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
)
from domo_versions_iac.domo.models import DataVersion, UploadStatus
from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer, EmulatorStore
from domo_versions_iac.emulator.store import ApiRequest, ApiResponse, error_body
from domo_versions_iac.policy import RetentionPolicy, parse_duration

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


# -- the oracle ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One policy of the suite, and what it keeps, stated directly (README, Policies)."""

    keep_last: int | None = None
    keep_within_days: int | None = None
    allowed: tuple[int, ...] | None = None
    protect_latest: int = 1
    delete_failed: bool = True
    max_deletions: int = 10_000
    max_deletion_share: Fraction | None = None

    def policy(self) -> RetentionPolicy:
        within = self.keep_within_days
        return RetentionPolicy(
            keep_last=self.keep_last,
            keep_within=parse_duration(f"{within}d") if within is not None else None,
            allowed_versions=self.allowed,
            protect_latest=self.protect_latest,
            delete_failed=self.delete_failed,
            max_deletions=self.max_deletions,
            max_deletion_share=(
                float(self.max_deletion_share) if self.max_deletion_share is not None else None
            ),
        )

    def surplus(self, listing: Collection[DataVersion]) -> set[int]:
        """The ids no rule and no guard keeps in ``listing``."""
        successes = sorted(
            (v for v in listing if v.upload_status == "success"),
            key=lambda v: (v.recorded_date, v.data_id),
            reverse=True,
        )
        ranked = [v.data_id for v in successes]
        keep = set(ranked[: max(1, self.protect_latest)])  # the newest is never deleted
        keep |= set(sorted(ranked)[-1:])  # nor the latest upload, whatever its date
        keep |= {v.data_id for v in listing if v.upload_status == "processing"}
        if not self.delete_failed:
            keep |= {v.data_id for v in listing if v.upload_status == "error"}
        if self.keep_last:
            keep |= set(ranked[: self.keep_last])
        if self.keep_within_days is not None:
            cutoff = NOW - timedelta(days=self.keep_within_days)
            keep |= {v.data_id for v in listing if v.recorded_date >= cutoff}
        if self.allowed is not None:
            keep |= set(self.allowed)
        return {v.data_id for v in listing} - keep

    def within_budget(self, deleting: int, versions_before: int) -> bool:
        """``deleting`` of ``versions_before`` listed is within max_deletions and the share."""
        if deleting > self.max_deletions:
            return False
        share = self.max_deletion_share
        return share is None or deleting <= share * versions_before


@dataclass
class Oracle:
    """Judges each DELETE when it is sent, against the listing the loop saw last."""

    rule: Rule
    shown: set[int]
    listing: list[DataVersion] = field(default_factory=list)
    deleted: set[int] = field(default_factory=set)  # really removed by the loop's DELETEs
    suspect: set[int] = field(default_factory=set)  # ids sent that the rule kept then
    reasons: list[str] = field(default_factory=list)

    def saw(self, listing: Iterable[DataVersion]) -> None:
        self.listing = list(listing)

    def judge(self, ids: Sequence[int]) -> None:
        """Record every id of this DELETE that the rule did not allow to go."""
        listed = {v.data_id for v in self.listing}
        surplus = self.rule.surplus(self.listing)
        before = len(listed) + len(self.deleted - listed)
        if not self.rule.within_budget(len(self.deleted | set(ids)), before):
            self.reasons.append(f"{sorted(ids)} would break the update's budget")
            self.suspect.update(ids)
        for data_id in ids:
            if data_id not in self.shown:
                self.reasons.append(f"{data_id} was not shown")
                self.suspect.add(data_id)
            elif data_id not in surplus:
                self.reasons.append(f"{data_id} was kept by the rule when its DELETE went out")
                self.suspect.add(data_id)

    def removed(self, ids: Iterable[int]) -> None:
        self.deleted.update(ids)

    @property
    def wrongly_deleted(self) -> set[int]:
        return self.deleted & self.suspect

    def new_update(self, shown: set[int]) -> None:
        """A new preview and update: a new plan and a new budget."""
        self.shown = shown
        self.deleted = set()
        self.suspect = set()
        self.reasons = []


RULES = [
    Rule(keep_last=3),
    Rule(keep_within_days=10),
    Rule(allowed=(2, 5, 8), protect_latest=0),
    Rule(keep_last=2, delete_failed=False),
    Rule(keep_last=1, protect_latest=3),
    Rule(keep_last=1, max_deletions=6),
    Rule(keep_last=1, max_deletions=3),
    Rule(keep_last=1, max_deletion_share=Fraction(3, 5)),
    Rule(keep_within_days=20, max_deletion_share=Fraction(1, 4)),
]
SUCCESS: list[UploadStatus] = ["success"]
STATUSES: list[UploadStatus] = [*SUCCESS * 6, "error", "processing"]


def make_version(data_id: int, days_ago: float, status: UploadStatus = "success") -> DataVersion:
    return DataVersion(
        data_id=data_id,
        schema_id=1,
        upload_status=status,
        recorded_date=NOW - timedelta(days=days_ago, seconds=-data_id),
        upload_completed_date=None,
        num_rows=1,
        num_bytes=1,
    )


def first_versions(rng: random.Random) -> dict[int, DataVersion]:
    count = rng.randint(0, 30)
    return {
        i: make_version(i, rng.uniform(0, 40), rng.choice(STATUSES)) for i in range(1, count + 1)
    }


def shown_for(rng: random.Random, rule: Rule, versions: Collection[DataVersion]) -> set[int]:
    """What the preview showed: the surplus, sometimes with ids it did not show."""
    shown = rule.surplus(versions)
    if rng.random() < 0.3:
        top = len(versions) + 5
        shown |= set(rng.sample(range(1, top), k=min(5, top - 1)))
    return shown


def converges(
    oracle: Oracle, listing: Callable[[], list[DataVersion]], apply: Callable[[], DeletionOutcome]
) -> str | None:
    """With the faults stopped, a new preview and update leave exactly what the rule
    keeps (when the budget allows the whole plan); None, or what went wrong."""
    versions = listing()
    surplus = oracle.rule.surplus(versions)
    oracle.new_update(surplus)
    if not oracle.rule.within_budget(len(surplus), len(versions)):
        return None
    outcome = apply()
    left = {v.data_id for v in listing()}
    if not outcome.complete or left != {v.data_id for v in versions} - surplus:
        return f"did not converge: {outcome}"
    return None


@dataclass
class Tally:
    """What a suite's scenarios did: ids wrongly deleted (seed, id), other problems."""

    wrongly_deleted: set[tuple[int, int]] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    stopped: int = 0
    seen: dict[str, int] = field(default_factory=dict)

    def judged(self, seed: int, oracle: Oracle, problem: str | None = None) -> None:
        self.wrongly_deleted |= {(seed, i) for i in oracle.wrongly_deleted}
        self.problems += [f"seed {seed}: {why}" for why in [*oracle.reasons, problem] if why]

    def report(self) -> str:
        return f"{len(self.wrongly_deleted)} ids wrongly deleted: {sorted(self.wrongly_deleted)}"


# -- in process: a fake Domo above the HTTP layer ------------------------------------------------


@dataclass
class FakeDomo:
    """An in-process Domo for one dataset whose every request may race or fail."""

    rng: random.Random
    oracle: Oracle
    versions: dict[int, DataVersion]
    faults: bool = True
    next_id: int = 0
    body_limit: int | None = None  # more ids than this in one DELETE: 413, whatever else
    throttle_limit: int = 5  # throttled DELETEs in a row before the client gives up
    seen: dict[str, int] = field(default_factory=dict)  # fault name -> how often

    def _count(self, name: str) -> None:
        self.seen[name] = self.seen.get(name, 0) + 1

    def race(self) -> None:
        """Someone else acts: deletes a version, uploads one, or finishes a processing one."""
        if not self.faults or self.rng.random() > 0.3:
            return
        action = self.rng.choice(["delete", "upload", "upload-processing", "finish"])
        if action == "delete" and self.versions:
            self.versions.pop(self.rng.choice(sorted(self.versions)))
        elif action.startswith("upload"):
            self.next_id += 1
            status: UploadStatus = "processing" if action == "upload-processing" else "success"
            self.versions[self.next_id] = make_version(self.next_id, 0, status)
        elif action == "finish":
            processing = [v for v in self.versions.values() if v.upload_status == "processing"]
            if processing:
                v = self.rng.choice(processing)
                self.versions[v.data_id] = make_version(v.data_id, 0, "success")

    def list_versions(self, dataset_id: str) -> list[DataVersion]:
        self.race()
        if self.faults and self.rng.random() < 0.1:
            raise ServerError("Domo failed to answer", dataset_id=dataset_id, status=503)
        listing = list(self.versions.values())
        self.rng.shuffle(listing)
        self.oracle.saw(listing)
        return list(listing)

    def delete_versions(
        self,
        dataset_id: str,
        ids: Sequence[int],
        *,
        index: bool,
        batch_size: int | None = None,
        never_delete: Collection[int] | None = None,
    ) -> list[int]:
        self.oracle.judge(ids)
        if self.body_limit is not None and len(ids) > self.body_limit:
            self._count("413")
            raise DomoError("Request Entity Too Large", dataset_id=dataset_id, status=413)
        self.race()
        fault = self.rng.random() if self.faults else 1.0
        refusal = self._refusal(fault, dataset_id)
        if refusal is not None:
            self._count(type(refusal).__name__)
            raise refusal
        if fault < 0.30:  # accepted, but nothing happens (a stale replica answered)
            self._count("accepted, still listed")
            return sorted(ids)
        done = list(ids)
        if fault < 0.40:  # does part or all of the work, then fails
            done = done[: self.rng.randint(0, len(done))]
        self.oracle.removed(i for i in done if self.versions.pop(i, None) is not None)
        if fault < 0.40:
            self._count("unknown outcome")
            raise DeleteOutcomeUnknownError(
                "The DELETE failed on Domo's side", ids=ids, dataset_id=dataset_id, status=500
            )
        return sorted(ids)

    def _refusal(self, fault: float, dataset_id: str) -> DomoError | None:
        """A DELETE refused before any work: throttles, 401/403/404, 503."""
        if fault < 0.12:
            return RateLimitedError("throttled", status=429, retry_after=1.0)
        if fault < 0.15:
            return RateLimitedError("throttled", status=403, domo_message="API Rate limit reached.")
        if fault < 0.17:
            return ServerError("busy", status=503, dataset_id=dataset_id)
        if fault < 0.18:
            return AuthenticationError("token revoked", status=401, dataset_id=dataset_id)
        if fault < 0.19:
            return PermissionDeniedError("no longer shared", status=403, dataset_id=dataset_id)
        if fault < 0.20:
            return DatasetNotFoundError("dataset gone", status=404, dataset_id=dataset_id)
        return None

    def wait_to_resend(self, error: DomoError, *, attempt: int, waited: float) -> float | None:
        """Like DomoClient's: a bounded number of throttled DELETEs in a row. Others act
        during the wait."""
        if attempt >= self.throttle_limit:
            self._count("throttled too long")
            return None
        self.race()
        return 1.0


def in_process_scenario(seed: int) -> FakeDomo:
    rng = random.Random(seed)
    rule = RULES[seed % len(RULES)]
    versions = first_versions(rng)
    oracle = Oracle(rule, shown_for(rng, rule, versions.values()))
    # some servers refuse large DELETE bodies (413), faults or not: the loop learns the size
    body_limit = rng.choice([None, None, None, 1, 2, 5])
    domo = FakeDomo(rng, oracle, versions, next_id=len(versions), body_limit=body_limit)
    domo.throttle_limit = rng.choice([2, 5])
    return domo


def apply_in(domo: FakeDomo, batch_size: int) -> DeletionOutcome:
    """One update of the fake dataset: the plan it showed, its policy, a fixed clock."""
    return apply_retention(
        domo,
        "ds",
        domo.oracle.shown,
        domo.oracle.rule.policy(),
        index=False,
        batch_size=batch_size,
        clock=lambda: NOW,
    )


IN_PROCESS_SCENARIOS = 1200


def in_process_run(seed: int, tally: Tally) -> None:
    """One scenario: an update with races and faults, then one without."""
    domo = in_process_scenario(seed)
    batch_size = domo.rng.choice([1, 2, 3, 100])
    try:
        tally.stopped += apply_in(domo, batch_size).stopped_by is not None
    except ServerError:
        tally.stopped += 1  # the first listing failed: nothing may have been deleted
        tally.problems += [f"seed {seed}: deleted at a failed first listing"] * bool(
            domo.oracle.deleted
        )
    tally.judged(seed, domo.oracle)
    domo.faults = False
    problem = converges(
        domo.oracle, lambda: list(domo.versions.values()), lambda: apply_in(domo, batch_size)
    )
    tally.judged(seed, domo.oracle, problem)
    for name, n in domo.seen.items():
        tally.seen[name] = tally.seen.get(name, 0) + n


def test_in_process_races_and_faults_never_delete_what_the_rule_keeps() -> None:
    """1,200 seeded scenarios: no id the rule kept is ever deleted; after the faults
    stop, a new update leaves exactly what the rule keeps."""
    tally = Tally()
    for seed in range(IN_PROCESS_SCENARIOS):
        in_process_run(seed, tally)
    assert len(tally.wrongly_deleted) == 0, tally.report()
    assert not tally.problems, tally.problems
    assert tally.stopped > IN_PROCESS_SCENARIOS // 20, "the faults really did stop some updates"
    for name in (
        "413",
        "AuthenticationError",
        "PermissionDeniedError",
        "DatasetNotFoundError",
        "RateLimitedError",
        "throttled too long",
        "accepted, still listed",
        "unknown outcome",
    ):
        assert tally.seen.get(name, 0) > 5, f"the fault {name!r} really happened: {tally.seen}"


# -- over HTTP: the real client against the emulator ------------------------------------------


class HttpRaces:
    """The emulator as a racing, failing Domo for the real client, one dataset at a time.

    Faults come from this handler (not the emulator's fault queue) so that each can do
    part of the work first. Others act on the dataset while the client waits (its
    ``sleep``, for a GET retry or the loop's wait after a throttle) and during requests.
    """

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.store: EmulatorStore = server.store
        self.original = self.store.handle
        self.store.handle = self.handle  # type: ignore[method-assign]
        self.rng = random.Random(0)
        self.oracle = Oracle(RULES[0], set())
        self.faults = True
        self.waits: list[float] = []
        self.seen: dict[str, int] = {}

    def start(self, seed: int) -> None:
        self.rng = random.Random(seed)
        rule = RULES[seed % len(RULES)]
        versions = first_versions(self.rng)
        self.store.add_dataset("ds", [v.to_api() for v in versions.values()])
        self.oracle = Oracle(rule, shown_for(self.rng, rule, versions.values()))
        self.faults = True

    def client(self) -> DomoClient:
        return DomoClient(
            self.server.url, EMULATOR_TOKEN, timeout=5, backoff_base=0.01, sleep=self.sleep
        )

    def listing(self) -> list[DataVersion]:
        return [DataVersion.from_api(r) for r in self.store.list_versions("ds")]

    def sleep(self, seconds: float) -> None:
        """The client waits; others act meanwhile. A DELETE sent after a wait is judged
        against the dataset after the wait: the sender had the time to list it again."""
        self.waits.append(seconds)
        self.race(0.6)
        self.oracle.saw(self.listing())

    def race(self, chance: float) -> None:
        if not self.faults or self.rng.random() > chance:
            return
        action = self.rng.choice(["delete", "upload", "upload-processing"])
        present = [v["dataId"] for v in self.store.list_versions("ds")]
        if action == "delete" and present:
            self.store.delete_versions("ds", [self.rng.choice(present)])
        elif action.startswith("upload"):
            status = "processing" if action == "upload-processing" else "success"
            self.store.add_version("ds", upload_status=status, recorded_date=NOW)

    def _count(self, name: str) -> None:
        self.seen[name] = self.seen.get(name, 0) + 1

    def handle(self, request: ApiRequest) -> ApiResponse:
        self.race(0.2)
        if request.method == "DELETE":
            return self._delete(request)
        if self.faults and self.rng.random() < 0.1:
            self._count("GET 429")
            return throttle(429, "1")
        response = self.original(request)
        listing = response.json()  # a listing comes encoded (ApiResponse.encoded)
        if response.status == 200 and isinstance(listing, list):
            self.oracle.saw(DataVersion.from_api(r) for r in listing)
        return response

    def _delete(self, request: ApiRequest) -> ApiResponse:
        ids = json.loads(request.body)
        self.oracle.judge(ids)
        fault = self.rng.random() if self.faults else 1.0
        if fault < 0.25:
            self._count("DELETE 429")
            return throttle(429, self.rng.choice(["0", "1", "2.5"]))
        if fault < 0.30:
            self._count("DELETE 403 rate limit")
            return throttle(403, "1", "API Rate limit reached.")
        if fault < 0.33:
            self._count("DELETE 503 Retry-After")
            return throttle(503, "1")
        if fault < 0.36:
            status = self.rng.choice([401, 403, 404])
            self._count(f"DELETE {status}")
            return ApiResponse(status, error_body(status, "refused"))
        if fault < 0.40:
            self._count("DELETE accepted, still listed")
            return ApiResponse(200, None)
        before = {v["dataId"] for v in self.store.list_versions("ds")}
        done = ids if fault >= 0.45 else ids[: self.rng.randint(0, len(ids))]
        self.oracle.removed(set(self.store.delete_versions("ds", done)) & before)
        if fault < 0.45:
            self._count("DELETE dropped after part of the work")
            return ApiResponse(drop=True)
        return ApiResponse(200, None)


def throttle(status: int, retry_after: str, message: str = "Too many requests") -> ApiResponse:
    return ApiResponse(status, error_body(status, message), {"Retry-After": retry_after})


HTTP_SCENARIOS = 150


@pytest.fixture
def races(domo: EmulatorServer) -> HttpRaces:
    return HttpRaces(domo)


def http_run(races: HttpRaces, seed: int, tally: Tally) -> None:
    """One scenario through the real client: an update with races and faults, then one
    without."""
    races.start(seed)
    batch_size = races.rng.choice([1, 3, 100])
    with races.client() as client:

        def apply() -> DeletionOutcome:
            return apply_retention(
                client,
                "ds",
                races.oracle.shown,
                races.oracle.rule.policy(),
                index=False,
                batch_size=batch_size,
                clock=lambda: NOW,
            )

        try:
            apply()
        except DomoError:
            tally.problems += [f"seed {seed}: deleted at a failed first listing"] * bool(
                races.oracle.deleted
            )
        tally.judged(seed, races.oracle)
        races.faults = False
        tally.judged(seed, races.oracle, converges(races.oracle, races.listing, apply))


def test_over_http_a_throttled_delete_never_deletes_what_the_rule_keeps(races: HttpRaces) -> None:
    """150 seeded scenarios through the real client: 429/403/503 with Retry-After on
    DELETE while others delete and upload during the wait, 401/403/404, a DELETE
    accepted that did nothing, a dropped connection after part of the work."""
    tally = Tally()
    for seed in range(HTTP_SCENARIOS):
        http_run(races, seed, tally)
    assert len(tally.wrongly_deleted) == 0, tally.report()
    assert not tally.problems, tally.problems
    assert len(races.waits) > HTTP_SCENARIOS, "the client and the loop really waited"
    assert all(races.seen.get(f"DELETE {s}", 0) > 0 for s in (401, 403, 404)), str(races.seen)
    for name in ("DELETE 429", "DELETE 403 rate limit", "DELETE 503 Retry-After"):
        assert races.seen.get(name, 0) > 5, str(races.seen)
