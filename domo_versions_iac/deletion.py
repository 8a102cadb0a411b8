"""Carry out a plan: delete, batch by batch, only what the deletion gate allows.

The loop (one dataset, one update)::

    listing = list the dataset
    repeat:
        ids = deletable_ids(shown, listing, policy, now)      # the gate, every time
        drop ids already sent with success or already given up on
        nothing left -> stop
        send one batch (a split half of a failed batch first, if any)
        listing = list the dataset again                      # fresh for the next gate

So a DELETE never goes out on an old listing: every batch after the first, and every
retry after a failed or unknown-outcome request, is re-planned against a listing taken
after the previous request. A failed batch is split in halves and retried (after the
re-listing) so one bad id cannot block the others; an id that fails alone is given up
for this update and named in the error. An id whose DELETE succeeded is never sent
again in the same update, even if a stale listing still shows it.

A 413 (body too large) also halves the batch size for the rest of the update.

Bounded: every request either settles ids (sent or given up) or splits a batch, and
``max_consecutive_failures`` failing requests in a row stop the loop.
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

from domo_versions_iac.deletion_gate import ContradictoryListingError, deletable_ids
from domo_versions_iac.errors import (
    AuthenticationError,
    ConfigurationError,
    DatasetNotFoundError,
    DomoError,
    PermissionDeniedError,
    ProtectedVersionError,
    status_text,
)
from domo_versions_iac.models import DataVersion, protected_ids
from domo_versions_iac.policy import BudgetExceededError, RetentionPolicy, plan_retention

# Errors after which no further DELETE can succeed in this update.
_FATAL: tuple[type[DomoError], ...] = (
    AuthenticationError,
    PermissionDeniedError,
    DatasetNotFoundError,
    ConfigurationError,
    ProtectedVersionError,
)


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

    ``deleted``: versions this update sent a DELETE for and the last listing no longer
    shows. ``not_deleted``: shown ids still listed and still surplus at the end, with
    why each is left. ``last_listing``: the latest listing (``None`` only when no
    listing could be taken after the deletions). ``stopped_by``: why the loop ended
    early (an error message), or ``None``.
    """

    dataset_id: str
    deleted: list[DeletedVersion] = field(default_factory=list)
    not_deleted: dict[int, str] = field(default_factory=dict)
    last_listing: list[DataVersion] | None = None
    stopped_by: str | None = None
    requests: int = 0

    @property
    def complete(self) -> bool:
        return not self.not_deleted and self.stopped_by is None


def max_failures_for(batch_size: int) -> int:
    """Failing requests in a row before giving up: enough to isolate one bad id by halving."""
    return max(3, math.ceil(math.log2(max(batch_size, 1))) + 2)


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
    tried: set[int] = set()  # every id sent, whatever the answer: it may be gone
    sent_ok: set[int] = set()  # Domo answered 2xx: never sent again in this update
    given_up: dict[int, str] = {}  # failed alone: not sent again in this update
    last_error: dict[int, str] = {}
    split: deque[list[int]] = deque()  # halves of failed batches, retried first
    in_a_row = 0
    # The gate's answer for the latest listing: at the end it is also what is left
    # surplus, so the final listing is not planned a second time.
    allowed: list[int] | None = None
    while True:
        present = {version.data_id for version in listing}
        try:
            allowed = deletable_ids(
                shown, listing, policy, clock(), already_deleted=len(tried - present)
            )
        except (BudgetExceededError, ContradictoryListingError) as exc:
            allowed = None
            outcome.stopped_by = outcome.stopped_by or str(exc)
            break
        if outcome.stopped_by is not None:  # stopped after the last re-listing
            break
        candidates = [i for i in allowed if i not in sent_ok and i not in given_up]
        if not candidates:
            break
        outcome.stopped_by = should_stop() if should_stop is not None else None
        if outcome.stopped_by is not None:
            break
        batch = _next_batch(split, candidates, batch_size)
        tried.update(batch)
        outcome.requests += 1
        try:
            store.delete_versions(
                dataset_id,
                batch,
                index=index,
                batch_size=len(batch),
                never_delete=protected_ids(listing),
            )
        except _FATAL as exc:
            outcome.stopped_by = str(exc)
            last_error.update((i, _short(exc)) for i in batch)
            break
        except DomoError as exc:
            in_a_row += 1
            batch_size = _note_failure(exc, batch, batch_size, split, last_error, given_up)
            if in_a_row >= limit:
                outcome.stopped_by = f"Domo failed {in_a_row} DELETE requests in a row"
        else:
            sent_ok.update(batch)
            in_a_row = 0
        listing = []  # freed before the next listing is decoded: one listing in memory at once
        try:
            listing = store.list_versions(dataset_id)
        except DomoError as exc:
            outcome.stopped_by = f"could not list the dataset after deleting: {exc}"
            outcome.deleted = first_seen.deleted(sent_ok)
            outcome.not_deleted = {
                i: f"unknown: {why}" for i, why in last_error.items() if i not in sent_ok
            }
            return outcome
    outcome.last_listing = listing
    present = {version.data_id for version in listing}
    outcome.deleted = first_seen.deleted(tried - present)
    left = allowed if allowed is not None else _still_surplus(shown, listing, policy, clock())
    for data_id in left:
        if data_id in given_up:
            why = given_up[data_id]
        elif data_id in sent_ok:
            why = "Domo accepted the DELETE but still lists it"
        elif data_id in last_error:
            why = last_error[data_id]
        else:
            why = "not attempted: the update stopped first"
        outcome.not_deleted[data_id] = why
    return outcome


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
    text = f"Domo answered {status_text(exc.status)}"
    if exc.domo_message:
        text += f": {exc.domo_message.rstrip('.')}"
    return text
