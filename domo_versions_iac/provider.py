"""The Pulumi dynamic provider: thin glue between the client, the policy and the engine.

How the engine drives it (see README, "How it works"):
- `check` validates the inputs, lists the dataset once and computes the plan; the ids
  it would delete go into the normally-named input `planned_deletions` so that
  `pulumi preview --diff` shows them, and a summary is printed as a diagnostic so the
  default preview shows it too. Bad input fails here, at preview, naming the property.
- `diff` reports a change when the desired state changed or something is surplus.
- `create`/`update` re-list, delete the planned ids that are still surplus (never a
  version that appeared after the plan), confirm with a listing, and return outputs.
- `read` (refresh) re-lists, so drift shows. `delete` (destroy) deletes no data.

Nothing secret lives on the provider object: it is pickled into the state. Clients
are built per process from stack config, environment or inputs, and cached.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

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

from domo_versions_iac.client import DomoClient
from domo_versions_iac.credentials import MissingCredentialsError, resolve_credentials
from domo_versions_iac.errors import (
    AuthenticationError,
    ConfigurationError,
    DatasetNotFoundError,
    DomoError,
    InvalidTokenError,
    PermissionDeniedError,
)
from domo_versions_iac.inputs import (
    DESIRED_KEYS,
    USER_KEYS,
    InputError,
    RetentionInputs,
    parse_inputs,
)
from domo_versions_iac.models import DataVersion, format_instant
from domo_versions_iac.policy import (
    BudgetExceededError,
    Plan,
    format_bytes,
    format_count,
    newest_first,
    plan_retention,
)

# Inputs that `check` computes (visible in preview) and outputs that apply fills.
PLANNED = "planned_deletions"
PLANNED_DETAILS = "planned_deletion_details"
PLAN_SUMMARY = "plan_summary"
COMPUTED_INPUTS = (PLANNED, PLANNED_DETAILS, PLAN_SUMMARY)
# Every output besides the echoed inputs (schemas/...: $defs/outputs lists the same).
_OUTPUT_KEYS = (
    *COMPUTED_INPUTS,
    "versions",
    "deleted_versions",
    "deleted_rows",
    "deleted_bytes",
    "last_applied_at",
)
# Hidden (engine-internal) marker of the last drift refresh found; see `read` and `diff`.
DRIFT = "__drift"
MAX_DETAIL_LINES = 50  # in the default preview's diagnostics
MAX_DIFF_DETAILS = 1000  # in planned_deletion_details

_clients: dict[tuple[str, str], DomoClient] = {}
_clients_lock = threading.Lock()


def _client_for(instance: str, token: str) -> DomoClient:
    """One client (one connection pool) per instance and token per process."""
    key = (instance, token)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = DomoClient(instance, token)
    return client


def describe_version(version: DataVersion) -> str:
    """One line per version, as shown in previews: id, date, status, rows, bytes."""
    return (
        f"{version.data_id}: recorded {format_instant(version.recorded_date)}, "
        f"{version.upload_status}, {format_count(version.num_rows)} rows, "
        f"{format_bytes(version.num_bytes)}"
    )


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
        self._stack_config = {key: req.config.get(key) for key in ("domo:instance", "domo:token")}

    # -- engine calls ----------------------------------------------------------------

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        if _has_unknowns(news):
            return CheckResult(news, [])  # values known only at `up`; checked then
        try:
            inputs = parse_inputs(news, computed_keys=COMPUTED_INPUTS)
            client = self._client(inputs)
            plan = self._plan(client, inputs)
        except InputError as exc:
            return CheckResult(news, [CheckFailure(p, r) for p, r in exc.failures])
        checked = {key: value for key, value in news.items() if key not in COMPUTED_INPUTS}
        checked.update(_plan_inputs(plan))
        if olds.get(DRIFT):
            checked[DRIFT] = olds[DRIFT]  # drift already recorded by a refresh
        if plan.delete:
            print(_preview_message(inputs.dataset_id, plan))
        for warning in plan.warnings:
            print(f"warning: dataset {inputs.dataset_id}: {warning}")
        return CheckResult(checked, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in DESIRED_KEYS if olds.get(key) != news.get(key)]
        # olds are outputs; they hold the plan the last update carried out. The same plan
        # (same ids and dates) in news is that one, already applied (as during refresh).
        already_applied = news.get(PLANNED_DETAILS) == olds.get(PLANNED_DETAILS) and list(
            news.get(PLANNED) or []
        ) == list(olds.get(PLANNED) or [])
        surplus = (bool(news.get(PLANNED)) and not already_applied) or _has_unknowns(news)
        # During refresh the engine diffs the refreshed outputs against the stored inputs:
        # a new drift marker from `read` is the change to report.
        drifted = olds.get(DRIFT) != news.get(DRIFT)
        replaces = ["dataset_id"] if "dataset_id" in changed else []
        return DiffResult(
            changes=bool(changed) or surplus or drifted,
            replaces=replaces,
            delete_before_replace=False,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._apply(props)
        return CreateResult(id_=f"{outs['dataset_id']}", outs=outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._apply(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: record the versions Domo lists now (drift); the plan is left as applied.

        The next preview plans afresh against what Domo lists; refresh only records drift.
        Inputs are returned as stored (user keys and the applied plan), so a dataset that
        did not drift shows no change.
        """
        inputs = parse_inputs(props, computed_keys=_OUTPUT_KEYS)
        client = self._client(inputs)
        try:
            versions = client.list_versions(inputs.dataset_id)
        except DatasetNotFoundError as exc:
            raise _dataset_gone(exc) from None
        outs = dict(props)
        known = {DataVersion.from_dict(v) for v in props.get("versions") or []}
        drift = _describe_drift(known, set(versions))
        if drift:
            print(f"dataset {inputs.dataset_id}: changed outside Pulumi: {drift}")
            outs["versions"] = _version_dicts(versions)
            outs[DRIFT] = f"{format_instant(_now())} {drift}"
        stored_inputs = {key: props[key] for key in USER_KEYS if props.get(key) is not None}
        stored_inputs.update({key: props[key] for key in COMPUTED_INPUTS if key in props})
        if outs.get(DRIFT):
            stored_inputs[DRIFT] = outs[DRIFT]
        return ReadResult(id_, outs, inputs=stored_inputs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Destroy forgets the resource; it never deletes a data version."""

    # -- glue --------------------------------------------------------------------------

    def _client(self, inputs: RetentionInputs) -> DomoClient:
        try:
            creds = resolve_credentials(
                instance=inputs.instance, token=inputs.token, config=self._stack_config
            )
            return _client_for(creds.instance, creds.token)
        except MissingCredentialsError as exc:
            raise InputError([(exc.missing, str(exc))]) from exc
        except InvalidTokenError as exc:
            raise InputError([("token", str(exc))]) from exc
        except ConfigurationError as exc:
            raise InputError([("instance", str(exc))]) from exc

    def _plan(self, client: DomoClient, inputs: RetentionInputs) -> Plan:
        try:
            versions = client.list_versions(inputs.dataset_id)
            return plan_retention(versions, inputs.policy, _now())
        except BudgetExceededError as exc:
            raise InputError([("policy", f"dataset {inputs.dataset_id}: {exc}")]) from exc
        except DatasetNotFoundError as exc:
            raise InputError([("dataset_id", str(exc))]) from exc
        except (AuthenticationError, PermissionDeniedError) as exc:
            raise InputError([("token", str(exc))]) from exc
        except DomoError as exc:
            raise InputError([("dataset_id", str(exc))]) from exc

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        """Delete what the plan of this update marked, if it is still surplus now."""
        inputs = parse_inputs(props, computed_keys=COMPUTED_INPUTS)
        planned = {int(data_id) for data_id in props.get(PLANNED) or []}
        remaining_versions, deleted = _delete_surplus(self._client(inputs), inputs, planned)
        outs = {key: props[key] for key in DESIRED_KEYS if props.get(key) is not None}
        if inputs.token is not None:
            # Kept so refresh can authenticate; `additional_secret_outputs` encrypts it.
            outs["token"] = inputs.token
        outs.update(
            {
                "versions": _version_dicts(remaining_versions),
                "deleted_versions": _version_dicts(deleted),
                "deleted_rows": sum(v.num_rows for v in deleted),
                "deleted_bytes": sum(v.num_bytes for v in deleted),
                "last_applied_at": format_instant(_now()),
            }
        )
        if props.get(DRIFT):
            outs[DRIFT] = props[DRIFT]
        # The plan this update carried out, exactly as `check` put it in the inputs:
        # refresh compares against it to tell drift from no change.
        outs.update({key: props[key] for key in COMPUTED_INPUTS if key in props})
        return outs


def _delete_surplus(
    client: DomoClient, inputs: RetentionInputs, planned: set[int]
) -> tuple[list[DataVersion], list[DataVersion]]:
    """Re-list, delete planned ids that are still surplus, confirm: (remaining, deleted).

    A function of its own so the full listing and the re-plan are freed before the
    outputs are built (a dataset may hold 100,000 versions).
    """
    current = client.list_versions(inputs.dataset_id)
    replan = plan_retention(current, inputs.policy, _now())
    to_delete = sorted(planned.intersection(replan.delete_ids))
    if not to_delete:
        return current, []
    print(
        f"dataset {inputs.dataset_id}: deleting {len(to_delete)} versions "
        f"in batches of {inputs.batch_size} (index={str(inputs.index).lower()})"
    )
    result = client.delete_versions_verified(
        inputs.dataset_id, to_delete, index=inputs.index, batch_size=inputs.batch_size
    )
    if result.remaining:
        message = (
            f"dataset {inputs.dataset_id}: deleted {len(result.deleted)} of {len(to_delete)} "
            f"planned versions; deleted ids {_ids_text(result.deleted)}; NOT deleted ids "
            f"{_ids_text(result.remaining)}: {result.error}. Nothing else was deleted; run "
            "`pulumi up` again to finish."
        )
        print(f"error: {message}")
        raise DomoError(message)
    gone = set(result.deleted)
    return result.versions, [version for version in current if version.data_id in gone]


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
    """[1, 2, 3] in full, or the first LIMIT ids and how many there are in all."""
    if len(ids) <= limit:
        return str(ids)
    return f"{str(ids[:limit])[:-1]}, ... ({len(ids)} in all)]"


def _describe_drift(known: set[DataVersion], listed: set[DataVersion]) -> str:
    """'removed 2, 3; added 5' for versions that changed since Pulumi last looked."""
    removed = sorted(v.data_id for v in known - listed)
    added = sorted(v.data_id for v in listed - known)
    parts = []
    if removed:
        parts.append("removed " + ", ".join(map(str, removed)))
    if added:
        parts.append("added " + ", ".join(map(str, added)))
    return "; ".join(parts)


def _plan_inputs(plan: Plan) -> dict[str, Any]:
    """The computed inputs that make a plan visible in `pulumi preview --diff`.

    Every id is listed; the one-line details stop at MAX_DIFF_DETAILS so a plan of
    tens of thousands of versions stays readable and light in state.
    """
    lines, more = _deletion_lines(plan, MAX_DIFF_DETAILS, "ids in planned_deletions")
    details = [*lines, *([more] if more else [])]
    return {PLANNED: plan.delete_ids, PLANNED_DETAILS: details, PLAN_SUMMARY: plan.summary()}


def _deletion_lines(plan: Plan, limit: int, where_the_rest_is: str) -> tuple[list[str], str]:
    """At most LIMIT lines, one per version to delete, and '... and N more' (or '')."""
    lines = [describe_version(decision.version) for decision in plan.delete[:limit]]
    hidden = len(plan.delete) - len(lines)
    return lines, (f"... and {hidden} more ({where_the_rest_is})" if hidden else "")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _version_dicts(versions: list[DataVersion]) -> list[dict[str, Any]]:
    return [version.to_dict() for version in newest_first(versions)]


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


def _preview_message(dataset_id: str, plan: Plan) -> str:
    lines, more = _deletion_lines(plan, MAX_DETAIL_LINES, "see `pulumi preview --diff`")
    text = [f"dataset {dataset_id}: {plan.summary()}", *(f"  - {line}" for line in lines)]
    return "\n".join([*text, *([f"  {more}"] if more else [])])
