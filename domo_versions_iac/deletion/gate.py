"""The one rule every DELETE obeys, as small pure functions.

A version id may be sent in a DELETE only if all of these hold (README, "Safety"):

(a) the preview that preceded the update showed it (it is in ``shown``);
(b) it is surplus under the policy against ``listing``, a listing taken just before
    this DELETE, and the deletion budget still holds for this update as a whole;
(c) in that listing it is neither the newest successful version (the latest recorded,
    and the highest successful id: a clock can be wrong) nor an upload in
    processing, whatever the policy says;
(d) when an archive is configured, its archive was written and verified (it is in
    ``archived``; see :mod:`domo_versions_iac.archive.archiver`).

:func:`deletable_ids` answers "which ids may the next batch hold?" and the delete loop
(:mod:`domo_versions_iac.deletion.loop`) calls it before every batch. :func:`protected_ids`
is (c) alone: the client's lowest delete call refuses those ids again, as a last line
of defence (as Iceberg's expire-snapshots re-subtracts protected snapshots at commit).

No I/O, no Pulumi, no HTTP: the clock is an argument.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from domo_versions_iac.domo.models import DataVersion, protected_ids, repeated_ids
from domo_versions_iac.policy import (
    BudgetExceededError,
    RetentionPolicy,
    budget_violation,
    plan_retention,
)

__all__ = ["ContradictoryListingError", "deletable_ids", "protected_ids", "repeated_ids"]


class ContradictoryListingError(ValueError):
    """A listing that contradicts itself (a repeated id): nothing may be decided from it."""


def deletable_ids(
    shown: Collection[int],
    listing: Collection[DataVersion],
    policy: RetentionPolicy,
    now: datetime,
    *,
    already_deleted: int = 0,
    archived: Collection[int] | None = None,
) -> list[int]:
    """The ids the next DELETE batch may hold, ascending: (a) and (b) and (c) and (d).

    ``archived``: ``None`` when no archive is configured; else the ids whose archive
    verified, and only those may go.

    ``already_deleted`` is how many versions this update has deleted so far: the budget
    (``max_deletions``, ``max_deletion_share``) covers the whole update, so it is checked
    for those plus the ids allowed now, against the versions listed before the update.
    Raises ContradictoryListingError for a listing with a repeated id and
    BudgetExceededError when the budget would be broken; in both cases nothing may go.
    """
    repeated = repeated_ids(listing)
    if repeated:
        raise ContradictoryListingError(
            f"the listing repeats version id{'s' if len(repeated) > 1 else ''} "
            f"{', '.join(map(str, repeated))}"
        )
    fresh = plan_retention(listing, policy, now, enforce_budget=False)
    wanted = set(shown)
    never = protected_ids(listing)
    allowed = sorted(i for i in fresh.delete_ids if i in wanted and i not in never)
    would = already_deleted + len(allowed)  # the budget counts what the plan would delete
    over = budget_violation(would, len(listing) + already_deleted, policy)
    if over is not None:
        message, limit = over
        raise BudgetExceededError(message, plan=fresh, would_delete=would, limit=limit)
    if archived is not None:
        proven = set(archived)
        allowed = [i for i in allowed if i in proven]
    return allowed
