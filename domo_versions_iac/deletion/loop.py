"""Carry out a plan: delete, batch by batch, only what the deletion gate allows.

The loop (one dataset, one update)::

    listing = list the dataset
    repeat:
        ids = deletable_ids(shown, listing, policy, now)      # the gate, every time
        drop ids already sent with success or already given up on
        nothing left -> stop
        send one batch (a split half of a failed batch first, if any)
        throttled -> wait as Domo asked (bounded)
        listing = list the dataset again                      # fresh for the next gate

This loop is the only place that decides to send a DELETE: the client never re-sends
one, whatever the answer or failure (a 429, a 5xx, a timeout). So a DELETE never goes
out on an old listing: every batch after the first, and every retry after a failed,
throttled or unknown-outcome request, is re-planned against a listing taken after the
previous request (and after any wait). A failed batch is split in halves and retried
(after the re-listing) so one bad id cannot block the others; an id that fails alone is
given up for this update and named in the error. A throttle (429, Domo's 403 "API Rate
limit reached.", a 503 with Retry-After) says nothing about the ids: the loop waits
(``Retry-After``, else backoff, within the client's attempts and waiting budget), then
re-lists and decides again. An id whose DELETE succeeded is never sent again in the
same update, even if a stale listing still shows it, and counts as deleted.

A 413 (body too large) also halves the batch size for the rest of the update.

With an archive (``archive=``, a hook from :func:`domo_versions_iac.archive.archiver.archive_hook`),
the next batch's candidates are archived and verified before the gate is asked, and the
gate lets only those go (its condition (d)). Archiving takes time, so after it the
dataset is listed again and the gate asked again before the DELETE. A version whose
archive failed is not archived again in this update; it stays, named in
``not_deleted`` with why.

Bounded: every request either settles ids (sent or given up), splits a batch or is a
throttle; ``max_consecutive_failures`` failing requests in a row stop the loop, and so
does a throttle that outlasts the client's attempts or waiting budget.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Protocol

from domo_versions_iac.deletion.gate import ContradictoryListingError, deletable_ids
from domo_versions_iac.domo.errors import (
    AuthenticationError,
    ConfigurationError,
    DatasetNotFoundError,
    DomoError,
    PermissionDeniedError,
    ProtectedVersionError,
    RateLimitedError,
)
from domo_versions_iac.domo.models import DataVersion, protected_ids
from domo_versions_iac.policy import BudgetExceededError, RetentionPolicy, plan_retention

# Errors after which no further DELETE can succeed in this update.
_FATAL: tuple[type[DomoError], ...] = (
    AuthenticationError,
    PermissionDeniedError,
    DatasetNotFoundError,
    ConfigurationError,
    ProtectedVersionError,
)


class ArchiveHook(Protocol):
    """Archives and verifies versions of ``listing`` by id: per id None (verified) or why not."""

    def __call__(
        self, listing: Sequence[DataVersion], ids: Sequence[int]
    ) -> dict[int, str | None]: ...


@dataclass
class _Archived:
    """What the archive hook said in this update: verified ids, and why others failed."""

    ok: set[int] = field(default_factory=set)
    failed: dict[int, str] = field(default_factory=dict)


class VersionStore(Protocol):
    """What the loop needs of a client (DomoClient, or a fake in tests)."""

    def list_versions(self, dataset_id: str) -> list[DataVersion]: ...

    def delete_versions(
        self,
        dataset_id: str,
        ids: Sequence[int],
        *,
        index: bool,
        batch_size: int | None = None,
        never_delete: Collection[int] | None = None,
    ) -> list[int]: ...

    def wait_to_resend(self, error: DomoError, *, attempt: int, waited: float) -> float | None: ...


@dataclass(frozen=True, slots=True)
class DeletedVersion:
    """A version this update deleted: what outputs and messages say of it."""

    data_id: int
    num_rows: int
    num_bytes: int


class _ShownSizes:
    """Rows and bytes of the shown versions in the first listing, by id.

    The loop holds them from the first listing to the end, beside each re-listing and
    the gate's plan of it. As three arrays of 8-byte integers (~24 bytes a version)
    rather than DataVersions (~290 bytes each, plus a dict), they stay small for a
    dataset of 100,000 versions (bench/README.md, item 4).
    """

    def __init__(self, listing: Iterable[DataVersion], shown: Collection[int]) -> None:
        wanted = set(shown)
        chosen = sorted((v for v in listing if v.data_id in wanted), key=lambda v: v.data_id)
        self.ids = _column(v.data_id for v in chosen)
        self.rows = _column(v.num_rows for v in chosen)
        self.bytes = _column(v.num_bytes for v in chosen)

    def deleted(self, ids: Iterable[int]) -> list[DeletedVersion]:
        """The versions of ``ids`` that the first listing showed, ascending."""
        out = []
        for data_id in sorted(ids):
            at = bisect_left(self.ids, data_id)
            if at < len(self.ids) and self.ids[at] == data_id:
                out.append(DeletedVersion(data_id, self.rows[at], self.bytes[at]))
        return out


def _column(values: Iterable[int]) -> Sequence[int]:
    """The values as an array of 8-byte integers, or a list if one does not fit."""
    values = list(values)
    try:
        return array("q", values)
    except OverflowError:
        return values


@dataclass
class DeletionOutcome:
    """What one update did to one dataset.

    ``deleted``: versions this update sent a DELETE for that Domo accepted (2xx) or
    that a later listing no longer showed. ``not_deleted``: shown ids still listed and
    still surplus at the end, not counted as deleted, with why each is left.
    ``unconfirmed``: deleted ids that the last listing still shows: a stale listing, or
    a DELETE Domo accepted that did nothing. ``last_listing``: the
    latest listing (``None`` only when no listing could be taken after the deletions).
    ``stopped_by``: why the loop ended early (an error message), or ``None``.
    """

    dataset_id: str
    deleted: list[DeletedVersion] = field(default_factory=list)
    not_deleted: dict[int, str] = field(default_factory=dict)
    unconfirmed: list[int] = field(default_factory=list)
    last_listing: list[DataVersion] | None = None
    stopped_by: str | None = None
    requests: int = 0

    @property
    def complete(self) -> bool:
        return not self.not_deleted and not self.unconfirmed and self.stopped_by is None


def max_failures_for(batch_size: int) -> int:
    """Failing requests in a row before giving up: enough to isolate one bad id by halving."""
    return max(3, math.ceil(math.log2(max(batch_size, 1))) + 2)


@dataclass
class _Progress:
    """What one update has done so far, id by id, and its failure counters."""

    tried: set[int] = field(default_factory=set)  # sent, and Domo may have acted on it
    sent_ok: set[int] = field(default_factory=set)  # 2xx: never sent again in this update
    gone: set[int] = field(default_factory=set)  # tried, then missing from a later listing
    given_up: dict[int, str] = field(default_factory=dict)  # failed alone: not sent again
    last_error: dict[int, str] = field(default_factory=dict)
    split: deque[list[int]] = field(default_factory=deque)  # halves of failed batches
    in_a_row: int = 0  # failing DELETEs in a row (a success resets it)
    throttled: int = 0  # throttled DELETEs in a row (a success resets it)
    waited: float = 0.0  # seconds waited for them

    def saw(self, present: set[int]) -> None:
        """A listing taken after the DELETEs so far: tried ids it lacks are gone."""
        self.gone.update(self.tried - present)

    def candidates(self, allowed: list[int]) -> list[int]:
        return [i for i in allowed if i not in self.sent_ok and i not in self.given_up]

    def deleted(self) -> set[int]:
        return self.sent_ok | self.gone

    def succeeded(self, batch: list[int]) -> None:
        self.tried.update(batch)
        self.sent_ok.update(batch)
        self.in_a_row = self.throttled = 0
        self.waited = 0.0


def apply_retention(
    store: VersionStore,
    dataset_id: str,
    shown: Collection[int],
    policy: RetentionPolicy,
    *,
    index: bool,
    batch_size: int,
    clock: Callable[[], datetime],
    max_consecutive_failures: int | None = None,
    should_stop: Callable[[], str | None] | None = None,
    archive: ArchiveHook | None = None,
) -> DeletionOutcome:
    """Delete the ids of ``shown`` that the gate allows, batch by batch.

    ``should_stop`` is asked before each batch: a reason (the update was cancelled,
    the engine is gone) ends the loop there, and the outcome says why.

    Errors of the first listing propagate (nothing has been deleted then); every later
    Domo error ends up in the outcome, which says what was and was not deleted.
    """
    outcome = DeletionOutcome(dataset_id)
    limit = max_consecutive_failures or max_failures_for(batch_size)
    listing = store.list_versions(dataset_id)
    # Only the rows and bytes of the shown versions: the first listing is freed.
    first_seen = _ShownSizes(listing, shown)
    progress = _Progress()
    # The gate's answer for the latest listing: at the end it is also what is left
    # surplus, so the final listing is not planned a second time.
    allowed: list[int] | None = None
    archived = _Archived()
    while True:
        present = {version.data_id for version in listing}
        progress.saw(present)
        try:
            allowed, archived_now = _gate(
                shown,
                listing,
                policy,
                clock(),
                len(progress.tried - present),
                (archive, archived, batch_size, progress.sent_ok | set(progress.given_up)),
            )
        except (BudgetExceededError, ContradictoryListingError) as exc:
            allowed = None
            outcome.stopped_by = outcome.stopped_by or str(exc)
            break
        if outcome.stopped_by is not None:  # stopped after the last re-listing
            break
        candidates = progress.candidates(allowed)
        if not candidates:
            break
        outcome.stopped_by = should_stop() if should_stop is not None else None
        if outcome.stopped_by is not None:
            break
        # Archiving took time: no DELETE on that listing; list again and ask the gate again.
        if not archived_now:
            batch = _next_batch(progress.split, candidates, batch_size)
            outcome.requests += 1
            error = _send(store, dataset_id, batch, index=index, never=protected_ids(listing))
            if isinstance(error, _FATAL):
                progress.tried.update(batch)
                progress.last_error.update((i, _short(error)) for i in batch)
                outcome.stopped_by = str(error)
                break
            if error is None:
                progress.succeeded(batch)
            else:
                batch_size, outcome.stopped_by = _after_failure(
                    store, error, batch, batch_size, progress, limit
                )
        listing = []  # freed before the next listing is decoded: one listing in memory at once
        try:
            listing = store.list_versions(dataset_id)
        except DomoError as exc:
            step = "archiving" if archived_now else "deleting"
            outcome.stopped_by = f"could not list the dataset after {step}: {exc}"
            outcome.deleted = first_seen.deleted(progress.deleted())
            outcome.not_deleted = {
                i: f"unknown: {why}"
                for i, why in progress.last_error.items()
                if i not in progress.deleted()
            }
            return outcome
    left = allowed if allowed is not None else _still_surplus(shown, listing, policy, clock())
    _finish(outcome, progress, first_seen, listing, left)
    _note_archive_failures(outcome, archived, {version.data_id for version in listing})
    return outcome


def _send(
    store: VersionStore, dataset_id: str, batch: list[int], *, index: bool, never: Collection[int]
) -> DomoError | None:
    """One DELETE of ``batch``: ``None`` if Domo accepted it, else why not. The client
    never sends it again by itself: only this loop does, after a fresh listing."""
    try:
        store.delete_versions(
            dataset_id, batch, index=index, batch_size=len(batch), never_delete=never
        )
    except DomoError as exc:
        return exc
    return None


def _after_failure(
    store: VersionStore,
    error: DomoError,
    batch: list[int],
    batch_size: int,
    progress: _Progress,
    limit: int,
) -> tuple[int, str | None]:
    """Record a failed DELETE; return the batch size from now on and why to stop, if so.

    A throttle (429, Domo's 403 rate limit, a 503 with Retry-After) says nothing of
    the ids: nothing is split or given up, the loop waits as asked (bounded) and the
    next DELETE is decided after a fresh listing, like any other.
    """
    if _is_throttle(error):
        if not isinstance(error, RateLimitedError):  # a 503 may have done part of it
            progress.tried.update(batch)
        progress.last_error.update((i, _short(error)) for i in batch)
        progress.throttled += 1
        waited = store.wait_to_resend(error, attempt=progress.throttled, waited=progress.waited)
        if waited is None:
            return batch_size, f"Domo kept throttling the DELETE requests: {error}"
        progress.waited += waited
        return batch_size, None
    progress.tried.update(batch)
    progress.in_a_row += 1
    batch_size = _note_failure(
        error, batch, batch_size, progress.split, progress.last_error, progress.given_up
    )
    if progress.in_a_row >= limit:
        return batch_size, f"Domo failed {progress.in_a_row} DELETE requests in a row"
    return batch_size, None


def _is_throttle(error: DomoError) -> bool:
    """Domo asked to come back later, before or instead of doing the work."""
    if isinstance(error, RateLimitedError):
        return True
    return error.status == HTTPStatus.SERVICE_UNAVAILABLE and error.retry_after is not None


def _finish(
    outcome: DeletionOutcome,
    progress: _Progress,
    first_seen: _ShownSizes,
    listing: list[DataVersion],
    left: list[int],
) -> DeletionOutcome:
    """The outcome after the last listing: what was deleted, what is ``left`` (still
    surplus) and why. Deleted ids come from Domo's answers and every later listing,
    not from the last one alone: a stale last listing does not undo them."""
    outcome.last_listing = listing
    deleted = progress.deleted()
    outcome.deleted = first_seen.deleted(deleted)
    outcome.unconfirmed = sorted(i for i in deleted if i in {v.data_id for v in listing})
    for data_id in left:
        if data_id in deleted:
            continue
        if data_id in progress.given_up:
            why = progress.given_up[data_id]
        elif data_id in progress.last_error:
            why = progress.last_error[data_id]
        else:
            why = "not attempted: the update stopped first"
        outcome.not_deleted[data_id] = why
    return outcome


def _gate(
    shown: Collection[int],
    listing: list[DataVersion],
    policy: RetentionPolicy,
    now: datetime,
    already_deleted: int,
    archiving: tuple[ArchiveHook | None, _Archived, int, set[int]],
) -> tuple[list[int], bool]:
    """The gate's answer, and whether versions were archived for it just now.

    With an archive and no verified candidate left to send, the next batch's candidates
    are archived and verified first, and the gate is asked with what is archived (its
    condition (d)).
    """
    archive, archived, batch_size, settled = archiving
    surplus = deletable_ids(shown, listing, policy, now, already_deleted=already_deleted)
    if archive is None:
        return surplus, False
    unsent = [i for i in surplus if i not in settled]
    archived_now = False
    if not any(i in archived.ok for i in unsent):
        waiting = [i for i in unsent if i not in archived.failed]
        # A batch at a time until one is verified or none is left: a batch that failed
        # whole must not hide the surplus after it.
        for start in range(0, len(waiting), batch_size):
            pending = waiting[start : start + batch_size]
            results = archive(listing, pending)
            for data_id in pending:
                why = results.get(data_id, "the archive gave no answer for it")
                if why is None:
                    archived.ok.add(data_id)
                    archived_now = True
                else:
                    archived.failed[data_id] = why
            if archived_now:
                break
    allowed = deletable_ids(
        shown, listing, policy, now, already_deleted=already_deleted, archived=archived.ok
    )
    return allowed, archived_now


def _note_archive_failures(
    outcome: DeletionOutcome, archived: _Archived, present: set[int]
) -> None:
    """Versions still listed whose archive failed: not deleted, and why."""
    for data_id, why in sorted(archived.failed.items()):
        if data_id in present:
            outcome.not_deleted[data_id] = f"not archived, so not deleted: {why}"


def _still_surplus(
    shown: Collection[int], listing: list[DataVersion], policy: RetentionPolicy, now: datetime
) -> list[int]:
    """Shown ids that the policy still finds surplus in ``listing`` (budget aside): what
    the gate would allow, for when the gate refused the listing as a whole."""
    plan = plan_retention(listing, policy, now, enforce_budget=False)
    never = protected_ids(listing)
    wanted = set(shown)
    return [i for i in plan.delete_ids if i in wanted and i not in never]


def _note_failure(
    exc: DomoError,
    batch: list[int],
    batch_size: int,
    split: deque[list[int]],
    last_error: dict[int, str],
    given_up: dict[int, str],
) -> int:
    """Record why ``batch`` failed and queue its halves (or give up its only id);
    return the batch size from now on."""
    why = _short(exc)
    last_error.update((i, why) for i in batch)
    if len(batch) == 1:
        given_up[batch[0]] = why
    else:
        half = (len(batch) + 1) // 2
        split.appendleft(batch[half:])
        split.appendleft(batch[:half])
    if exc.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
        # Domo's body limit is undocumented: learn it, for new batches too.
        return max(1, min(batch_size, len(batch) // 2))
    return batch_size


def _next_batch(split: deque[list[int]], candidates: list[int], size: int) -> list[int]:
    """The first split half that still has candidates (at most ``size`` of them: the
    size may have shrunk since it was split), else the next ``size`` candidates."""
    allowed = set(candidates)
    while split:
        group = [i for i in split.popleft() if i in allowed]
        if len(group) > size:
            split.appendleft(group[size:])
            return group[:size]
        if group:
            return group
    return candidates[:size]


def _short(exc: DomoError) -> str:
    """Why a DELETE failed, the same for every batch it hit (no ids, no dataset, no hint)."""
    if exc.status is None:
        if " got no answer " in exc.summary:  # "The DELETE of 3 versions got no answer (...)"
            return "no answer from Domo " + exc.summary.split(" got no answer ")[-1]
        return exc.summary
    text = f"Domo answered {exc.status_label}"
    if exc.domo_message:
        text += f": {exc.domo_message.rstrip('.')}"
    return text
