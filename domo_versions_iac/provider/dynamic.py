"""The Pulumi dynamic provider: thin glue between the client, the policy and the engine.

How the engine drives it (see README, "How it works"):
- The program lists and plans every dataset (program_plan): the ids a resource may
  delete arrive as its input `planned_deletions`, which `pulumi preview --diff` shows.
- `check` validates the inputs (and reports a planning error on the input at fault),
  without a request. Bad input fails here, at preview, naming the property.
- `diff` reports a change when the desired state changed or something is surplus.
- `create`/`update` re-list, delete the planned ids that are still surplus (never a
  version that appeared after the plan), confirm with a listing, and return outputs.
- `read` (refresh) re-lists, so drift shows. `delete` (destroy) deletes no data.

Nothing secret lives on the provider object: it is pickled into the state. Clients
are built per process from stack config, environment or inputs, and cached.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from domo_versions_iac.archive.archiver import ArchiveOptions, effective_archive
from domo_versions_iac.deletion.id_ranges import format_ranges, parse_ranges
from domo_versions_iac.deletion.loop import DeletedVersion, DeletionOutcome, apply_retention
from domo_versions_iac.domo.credentials import (
    CONFIG_KEYS,
)
from domo_versions_iac.domo.errors import (
    DatasetNotFoundError,
    DomoError,
)
from domo_versions_iac.domo.models import DataVersion, format_instant, listing_digest
from domo_versions_iac.policy import (
    format_bytes,
    format_count,
)
from domo_versions_iac.provider import engine_link
from domo_versions_iac.provider.engine_errors import ApplyError, report_plainly
from domo_versions_iac.provider.inputs import (
    DESIRED_KEYS,
    USER_KEYS,
    InputError,
    RetentionInputs,
    parse_inputs,
)
from domo_versions_iac.provider.planning import client_or_input_error, credentials_or_input_error
from domo_versions_iac.provider.program_plan import PLAN_BASIS, PLAN_ERROR, PLAN_SUMMARY, PLANNED
from domo_versions_iac.provider.workers import configure_provider_process, dataset_slot

if TYPE_CHECKING:  # requests is imported only by an update or refresh, not by preview
    from domo_versions_iac.domo.client import DomoClient

# Inputs the program computes (program_plan: visible in preview) and outputs apply fills.
COMPUTED_INPUTS = (PLANNED, PLAN_SUMMARY)
# What Domo lists after the last update or refresh, and what the last update deleted:
# counts, totals and id ranges, so state does not grow with the number of versions.
# The full list is `domo-versions ls` and the plan JSON (see _listing_outputs).
KEPT_IDS = "kept_ids"
LISTING_DIGEST = "listing_digest"
LISTING_OUTPUTS = (
    "kept_count",
    "kept_rows",
    "kept_bytes",
    KEPT_IDS,
    "newest_kept_id",
    "newest_kept_recorded_date",
    LISTING_DIGEST,
)
DELETED_OUTPUTS = ("deleted_count", "deleted_rows", "deleted_bytes", "deleted_ids")
# What the last update did, and the ids of its plan it left (normally none).
APPLIED_SUMMARY = "applied_summary"
LEFT_IDS = "left_ids"
# Outputs of earlier releases that listed every version with its metadata; `read` and
# `_apply` replace them with the outputs above.
LEGACY_OUTPUTS = ("versions", "deleted_versions")
# Every output besides the echoed inputs (schemas/...: $defs/outputs lists the same).
_OUTPUT_KEYS = (
    *COMPUTED_INPUTS,
    *LISTING_OUTPUTS,
    *DELETED_OUTPUTS,
    APPLIED_SUMMARY,
    LEFT_IDS,
    "last_applied_at",
)
# Hidden (engine-internal) marker of the last drift refresh found; see `read` and `diff`.
DRIFT = "__drift"
# Hidden fingerprint of the listing and plan that `check` saw, and the one the last
# update applied: during refresh the engine diffs refreshed outputs against the stored
# inputs (whose plan was already applied); a new check's plan has a new fingerprint
# whenever the listing changed, so surplus found again is never mistaken for done.
APPLIED_BASIS = "__applied_plan_basis"
UNFINISHED = "unfinished"  # prefix of an APPLIED_BASIS whose plan the update left undone


class DatasetVersionRetentionProvider(ResourceProvider):
    """Applies a DatasetVersionRetention: deletes the surplus versions of one dataset."""

    serialize_as_secret_always = False

    def __init__(self) -> None:
        super().__init__()
        self._stack_config: dict[str, Any] = {}

    def __reduce__(self) -> tuple[type, tuple[()]]:
        # Pickled into the state as "the class, no arguments": stack config (it may hold
        # domo:token) is never stored. No instance dict is pickled at all, which also
        # sidesteps pulumi SDK 3.272's serialize_provider re-wrapping
        # pickle's _batch_setitems on every resource (RecursionError past ~950 resources).
        return (DatasetVersionRetentionProvider, ())

    def configure(self, req: ConfigureRequest) -> None:
        report_plainly()
        configure_provider_process()  # past the host's 4 threads (provider_workers)
        engine_link.install()
        self._stack_config = {key: req.config.get(key) for key in CONFIG_KEYS}

    # -- engine calls ----------------------------------------------------------------

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate only (no request): the program made the plan (program_plan)."""
        planned = news.get(PLANNED)
        error = news.get(PLAN_ERROR)
        if isinstance(error, list) and len(error) == 2:
            return CheckResult(news, [CheckFailure(str(error[0]), str(error[1]))])
        if _has_unknowns(news):
            return CheckResult(news, [CheckFailure("dataset_id", NOT_KNOWN_AT_PREVIEW)])
        try:
            inputs = parse_inputs(news, computed_keys=COMPUTED_INPUTS)
            # credentials and instance, checked without a request (nor requests imported)
            credentials_or_input_error(inputs, self._stack_config)
            effective_archive(inputs.archive, self._stack_config)
        except InputError as exc:
            return CheckResult(news, [CheckFailure(p, r) for p, r in exc.failures])
        except ValueError as exc:  # the archive input or domo:archive
            return CheckResult(news, [CheckFailure("archive", str(exc))])
        shown = None if planned is None else _planned_ids(planned)
        if shown is None:
            return CheckResult(news, [CheckFailure(PLANNED, PLANNED_NOT_FROM_PROGRAM)])
        checked = {key: value for key, value in news.items() if key != PLAN_ERROR}
        checked[PLANNED] = format_ranges(shown)
        if olds.get(DRIFT):
            checked[DRIFT] = olds[DRIFT]  # drift already recorded by a refresh
        return CheckResult(checked, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in DESIRED_KEYS if olds.get(key) != news.get(key)]
        # news hold what `check` found surplus: work to do, unless it is the very plan
        # (same listing, same ids) that the last update applied, as during refresh.
        applied = news.get(PLAN_BASIS) is not None and news.get(PLAN_BASIS) == olds.get(
            APPLIED_BASIS
        )
        surplus = (bool(news.get(PLANNED)) and not applied) or _has_unknowns(news)
        # During refresh the engine diffs the refreshed outputs against the stored inputs:
        # a new drift marker from `read` is the change to report.
        drifted = olds.get(DRIFT) != news.get(DRIFT)
        # State of an earlier release (per-version outputs): the next up rewrites it.
        legacy = any(key in olds for key in LEGACY_OUTPUTS)
        replaces = ["dataset_id"] if "dataset_id" in changed else []
        return DiffResult(
            changes=bool(changed) or surplus or drifted or legacy,
            replaces=replaces,
            delete_before_replace=False,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._apply(props)
        return CreateResult(id_=f"{outs['dataset_id']}", outs=outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._apply(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: record what Domo lists now (drift); the plan is left as applied.

        Drift is found by comparing the stored `kept_ids` and `listing_digest` with a
        fresh listing (state from earlier releases: their `versions` output), and named
        as the ids removed and added. The next preview plans afresh against what Domo
        lists; refresh only records drift. Inputs are returned as stored (user keys and
        the applied plan), so a dataset that did not drift shows no change.
        """
        inputs = parse_inputs(props, computed_keys=(*_OUTPUT_KEYS, *LEGACY_OUTPUTS))
        client = self._client(inputs)
        try:
            with dataset_slot():
                versions = client.list_versions(inputs.dataset_id)
        except DatasetNotFoundError as exc:
            raise ApplyError(str(_dataset_gone(exc))) from None
        except DomoError as exc:
            raise ApplyError(
                f"Refresh could not list the dataset: {exc} Refresh changed nothing."
            ) from None
        outs = _without_legacy_outputs(props)
        drift = _describe_drift(props, versions)
        if drift:
            engine_link.log(f"dataset {inputs.dataset_id}: changed outside Pulumi: {drift}")
            outs[DRIFT] = f"{format_instant(_now())} {drift}"
        unreadable = _unreadable_kept_ids(props)
        if unreadable:
            engine_link.log(
                f"dataset {inputs.dataset_id}: the state's {KEPT_IDS} cannot be read "
                f"({unreadable}): no drift could be found; {KEPT_IDS} is recorded again "
                "from the listing"
            )
        # drifted, state edited by hand, or state from an earlier release
        if drift or unreadable or outs != props:
            outs.update(_listing_outputs(versions))
        del versions
        stored_inputs = {key: props[key] for key in USER_KEYS if props.get(key) is not None}
        stored_inputs.update({key: props[key] for key in COMPUTED_INPUTS if key in props})
        if outs.get(DRIFT):
            stored_inputs[DRIFT] = outs[DRIFT]
        if props.get(APPLIED_BASIS):
            stored_inputs[PLAN_BASIS] = props[APPLIED_BASIS]
        return ReadResult(id_, outs, inputs=stored_inputs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Destroy forgets the resource; it never deletes a data version (and says so).

        Runs on the provider unpickled from the old state: nothing here may fail.
        """
        dataset = props.get("dataset_id") if isinstance(props, dict) else None
        engine_link.log(
            f"forgets the retention of dataset {dataset or _id}; deletes no data version"
        )

    # -- glue --------------------------------------------------------------------------

    def _client(self, inputs: RetentionInputs) -> DomoClient:
        return client_or_input_error(inputs, self._stack_config)

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        """Delete what this update's preview showed, where the gate still allows it.

        `planned_deletions` and `plan_summary` keep what the preview showed: they were
        inputs at preview, so a saved plan (`up --plan`) pins every output of the stack
        that comes from them. What the update did goes to outputs unknown at preview
        (`applied_summary`, `left_ids`, `deleted_*`, `kept_*`).
        """
        inputs = parse_inputs(props, computed_keys=COMPUTED_INPUTS)
        shown = set(_planned_ids(props.get(PLANNED) or "") or ())
        archive = effective_archive(inputs.archive, self._stack_config)
        with dataset_slot():  # at most DOMO_UP_CONCURRENCY datasets at once
            outcome = _delete_surplus(self._client(inputs), inputs, shown, archive)
        outs = {key: props[key] for key in DESIRED_KEYS if props.get(key) is not None}
        if inputs.token is not None:
            # Kept so refresh can authenticate; `additional_secret_outputs` encrypts it.
            outs["token"] = inputs.token
        outs.update(_listing_outputs(outcome.last_listing or []))
        outs.update(_deleted_outputs(outcome.deleted))
        left = _left_ids(shown, outcome)
        outs.update(
            {
                "last_applied_at": format_instant(_now()),
                PLANNED: format_ranges(shown),
                PLAN_SUMMARY: str(props.get(PLAN_SUMMARY) or ""),
                APPLIED_SUMMARY: _done_summary(outcome, left),
                LEFT_IDS: format_ranges(left),
            }
        )
        engine_link.log(f"dataset {inputs.dataset_id}: {_done_summary(outcome, left)}")
        if left:
            engine_link.log(f"dataset {inputs.dataset_id}: {_left_message(left)}", warning=True)
        if props.get(DRIFT):
            outs[DRIFT] = props[DRIFT]
        if props.get(PLAN_BASIS):
            # A plan with shown versions still listed is not done: a later preview of
            # the same listing must report the change again, not "unchanged".
            basis = str(props[PLAN_BASIS])
            outs[APPLIED_BASIS] = basis if not left else f"{UNFINISHED} {basis}"
        return outs


def _left_ids(shown: set[int], outcome: DeletionOutcome) -> list[int]:
    """Shown ids the last listing still holds: the part of the plan this update left."""
    listed = {version.data_id for version in outcome.last_listing or []}
    return sorted(shown & listed)


def _left_message(left: list[int]) -> str:
    return (
        f"left {_count(len(left), 'version')} the preview showed ({_ids_text(left)}): the "
        "listing taken before deleting kept them (a version may have been missing from "
        "it, or the data changed); the plan is recorded as not done, so the next preview "
        "plans them again"
    )


def _delete_surplus(
    client: DomoClient,
    inputs: RetentionInputs,
    shown: set[int],
    archive: ArchiveOptions | None = None,
) -> DeletionOutcome:
    """Run the gated delete loop; fail the update with one clear message if it fell short."""
    if not shown:
        versions = _listing_or_input_error(client, inputs)
        return DeletionOutcome(inputs.dataset_id, last_listing=versions)
    engine_link.log(
        f"dataset {inputs.dataset_id}: deleting up to {_count(len(shown), 'version')} "
        f"in batches of {inputs.batch_size} (index={str(inputs.index).lower()})"
        + (f", each archived first to {archive.to}" if archive else "")
    )
    try:
        hook = _archive_hook(client, inputs.dataset_id, archive)
        outcome = apply_retention(
            client,
            inputs.dataset_id,
            shown,
            inputs.policy,
            index=inputs.index,
            batch_size=inputs.batch_size,
            clock=_now,
            should_stop=engine_link.stop_reason,
            archive=hook,
        )
    except DomoError as exc:
        raise ApplyError(f"{exc} Nothing was deleted.") from None
    if not outcome.complete:
        raise ApplyError(_shortfall_message(client, inputs.dataset_id, outcome))
    return outcome


def _archive_hook(client: DomoClient, dataset_id: str, archive: ArchiveOptions | None) -> Any:
    """The delete loop's archive hook, or None without an archive (imported only then)."""
    if archive is None:
        return None
    from domo_versions_iac.archive.archiver import Archiver, archive_hook

    return archive_hook(Archiver(client, archive, archived_by="pulumi up"), dataset_id)


def _listing_or_input_error(client: DomoClient, inputs: RetentionInputs) -> list[DataVersion]:
    try:
        return client.list_versions(inputs.dataset_id)
    except DomoError as exc:
        raise ApplyError(f"{exc} Nothing was deleted.") from None


def _shortfall_message(client: DomoClient, dataset_id: str, outcome: DeletionOutcome) -> str:
    """One paragraph: what was deleted, what was not and why, what to do."""
    deleted = [v.data_id for v in outcome.deleted]
    done = f"deleted {_count(len(deleted), 'version')}"
    parts = [f"dataset {dataset_id} on {client.instance}: {done}"]
    if deleted:
        parts[0] += f" ({_ids_text(deleted)})"
    if outcome.unconfirmed:
        parts.append(
            f"Domo still lists {_ids_text(outcome.unconfirmed)} that this update deleted "
            "(a stale listing, or a DELETE Domo accepted that did nothing; the next preview "
            "shows which)"
        )
    if outcome.not_deleted:
        by_reason: dict[str, list[int]] = {}
        for data_id, why in outcome.not_deleted.items():
            by_reason.setdefault(why, []).append(data_id)
        for why, ids in by_reason.items():
            parts.append(f"not deleted: {_ids_text(sorted(ids))}: {why.rstrip('.')}")
    if outcome.stopped_by:
        parts.append(f"stopped because {outcome.stopped_by.rstrip('.')}")
    parts.append(
        "nothing outside this update's plan was touched; fix the cause and run `pulumi up` "
        "again to finish (it re-plans from a fresh listing)"
    )
    return "; ".join(parts) + "."


def _done_summary(outcome: DeletionOutcome, left: list[int]) -> str:
    """What the last update did, for the `applied_summary` output."""
    kept = len(outcome.last_listing or [])
    deleted = outcome.deleted
    text = f"deleted nothing; {_count(kept, 'version')} listed"
    if deleted:
        text = (
            f"deleted {_count(len(deleted), 'version')}, "
            f"{format_bytes(sum(v.num_bytes for v in deleted))}, "
            f"{format_count(sum(v.num_rows for v in deleted))} rows; {kept} listed"
        )
    if left:
        text += f"; left {len(left)} the preview showed: {format_ranges(left)}"
    return text


def _count(n: int, noun: str) -> str:
    """'1 version', '2 versions'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _dataset_gone(exc: DatasetNotFoundError) -> DatasetNotFoundError:
    """The 404 a refresh got, said as what it means for the stack and what to do."""
    return DatasetNotFoundError(
        "Refresh cannot read the dataset's versions: Domo says the dataset does not exist",
        instance=exc.instance,
        dataset_id=exc.dataset_id,
        status=exc.status,
        domo_message=exc.domo_message,
        toe=exc.toe,
        hint=(
            "Refresh changed nothing. If the dataset was deleted in Domo on purpose, remove "
            "its DatasetVersionRetention from the program and run `pulumi up` (that deletes "
            "no data), or drop it from the stack with `pulumi state delete <urn>` (`pulumi "
            "stack --show-urns` lists the urns). Otherwise check dataset_id and the instance."
        ),
    )


def _ids_text(ids: list[int], limit: int = 100) -> str:
    """'ids 1, 2, 3' in full, or the first LIMIT ids and how many there are in all."""
    shown = ", ".join(map(str, ids[:limit]))
    more = f", ... ({len(ids)} in all)" if len(ids) > limit else ""
    return f"id{'s' if len(ids) != 1 else ''} {shown}{more}"


def _describe_drift(props: dict[str, Any], listed: list[DataVersion]) -> str:
    """'removed 2-3; added 5' for versions that changed since Pulumi last looked.

    The ids come from the stored `kept_ids` (or, in state from earlier releases, the
    `versions` output); a change of a version's status, dates, rows or bytes shows only
    in the digest, so it is reported without ids.
    """
    known_ids, known_digest = _known_listing(props)
    if known_ids is None:
        return ""  # nothing recorded to compare with
    listed_ids = {version.data_id for version in listed}
    removed = known_ids - listed_ids
    added = listed_ids - known_ids
    parts = []
    if removed:
        parts.append("removed " + format_ranges(removed))
    if added:
        parts.append("added " + format_ranges(added))
    if not parts and known_digest is not None and known_digest != listing_digest(listed):
        parts.append("status, dates, rows or bytes of listed versions changed")
    return "; ".join(parts)


def _known_listing(props: dict[str, Any]) -> tuple[set[int] | None, str | None]:
    """The ids and digest of the listing the state recorded (None where it has none)."""
    if isinstance(props.get(KEPT_IDS), str):
        try:
            ids = set(parse_ranges(props[KEPT_IDS]))
        except ValueError:
            return None, None  # edited by hand: the refresh rewrites it
        digest = props.get(LISTING_DIGEST)
        return ids, digest if isinstance(digest, str) else None
    legacy = props.get("versions")
    if isinstance(legacy, list):
        versions = [DataVersion.from_dict(record) for record in legacy]
        return {version.data_id for version in versions}, listing_digest(versions)
    return None, None


def _unreadable_kept_ids(props: dict[str, Any]) -> str:
    """Why the stored `kept_ids` cannot be read (a hand-edited state), or ""."""
    value = props.get(KEPT_IDS)
    if value is None:
        return ""
    if not isinstance(value, str):
        return f"not a text of id ranges: {type(value).__name__}"
    try:
        parse_ranges(value)
    except ValueError as exc:
        return str(exc)
    return ""


def _without_legacy_outputs(props: dict[str, Any]) -> dict[str, Any]:
    """Stored outputs minus the per-version lists of earlier releases, summarised instead."""
    outs = {key: value for key, value in props.items() if key not in LEGACY_OUTPUTS}
    legacy_deleted = props.get("deleted_versions")
    if isinstance(legacy_deleted, list) and "deleted_ids" not in props:
        deleted = [DataVersion.from_dict(v) for v in legacy_deleted]
        outs.update(
            _deleted_outputs([DeletedVersion(v.data_id, v.num_rows, v.num_bytes) for v in deleted])
        )
    return outs


def _listing_outputs(listing: list[DataVersion]) -> dict[str, Any]:
    """What Domo lists, in a size that does not grow with the number of versions.

    Counts and totals, the ids as compact ranges ('1-7, 9'), the newest version (by
    recorded date, ties to the higher id, any status), and a digest that changes when
    any listed version's metadata does.
    """
    newest = max(listing, key=lambda v: (v.recorded_date, v.data_id), default=None)
    return {
        "kept_count": len(listing),
        "kept_rows": sum(v.num_rows for v in listing),
        "kept_bytes": sum(v.num_bytes for v in listing),
        KEPT_IDS: format_ranges(v.data_id for v in listing),
        "newest_kept_id": newest.data_id if newest else None,
        "newest_kept_recorded_date": format_instant(newest.recorded_date) if newest else None,
        LISTING_DIGEST: listing_digest(listing),
    }


def _deleted_outputs(deleted: list[DeletedVersion]) -> dict[str, Any]:
    """What the last update deleted: how many, rows, bytes and the ids as ranges."""
    return {
        "deleted_count": len(deleted),
        "deleted_rows": sum(v.num_rows for v in deleted),
        "deleted_bytes": sum(v.num_bytes for v in deleted),
        "deleted_ids": format_ranges(v.data_id for v in deleted),
    }


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _has_unknowns(props: dict[str, Any]) -> bool:
    from pulumi.output import Unknown

    def unknown(value: Any) -> bool:
        if isinstance(value, Unknown):  # how the SDK hands check/diff an unknown value
            return True
        if isinstance(value, dict):
            return any(unknown(v) for v in value.values())
        if isinstance(value, list):
            return any(unknown(v) for v in value)
        return False

    return any(unknown(v) for k, v in props.items() if not k.startswith("__"))


def _planned_ids(value: Any) -> list[int] | None:
    """The ids of a ``planned_deletions`` value: ranges ('1-7, 9'; the program's form) or,
    from state of an earlier release, a list of numbers; None if it is neither."""
    if isinstance(value, str):
        try:
            return parse_ranges(value)
        except ValueError:
            return None
    if _is_id_list(value):
        return sorted({int(data_id) for data_id in value})
    return None


def _is_id_list(value: Any) -> bool:
    """A list of non-negative integral numbers (Pulumi sends numbers as floats)."""
    return isinstance(value, list) and all(
        isinstance(item, (int, float))
        and not isinstance(item, bool)
        and float(item).is_integer()
        and item >= 0
        for item in value
    )


NOT_KNOWN_AT_PREVIEW = (
    "an input is not known at preview, so no preview could show what `pulumi up` would "
    "delete; give dataset_id, policy and the other inputs as values known when the "
    "program starts (strings, stack config, StackReference outputs)"
)
PLANNED_NOT_FROM_PROGRAM = (
    "the plan is made by DatasetVersionRetention in the program; use that class rather "
    "than the provider directly"
)
