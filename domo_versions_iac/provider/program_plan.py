"""Planning in the Pulumi program: every dataset listed concurrently, reported under its resource.

Why not in the provider's ``check``: the engine calls ``check`` one resource at a time,
so listing there costs N x Domo's latency per preview, and a dynamic provider cannot log
against a resource. The program registers resources concurrently and can: each
DatasetVersionRetention lists its dataset on a shared bounded pool (the client honours
429 and Retry-After), puts the plan into its ``planned_deletions`` input (what
``pulumi preview --diff`` shows and what ``pulumi up`` may delete at most) and logs the
summary under its own name. ``check`` then validates without a request, and the update
still re-lists and applies the deletion gate before every batch.

A plan that cannot be known at preview is refused (``__plan_error``, reported by
``check`` on the input at fault): an input taken from another resource's output could be
unknown at preview yet known at update, and then `up` would delete what no preview
showed. StackReference outputs are allowed: they are read at preview.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Coroutine, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import pulumi

from domo_versions_iac.archive.archiver import effective_archive, with_archive
from domo_versions_iac.deletion.id_ranges import format_ranges, parse_ranges
from domo_versions_iac.domo.credentials import (
    ALLOWED_HOSTS_CONFIG,
    ALLOWED_HOSTS_ENV,
    CONFIG_KEYS,
    INSTANCE_CONFIG,
    INSTANCE_ENV,
)
from domo_versions_iac.domo.errors import ConfigurationError
from domo_versions_iac.domo.instance import (
    instance_identity,
    normalize_instance,
    parse_allowed_hosts,
)
from domo_versions_iac.domo.settings import check_environment
from domo_versions_iac.provider import preview_stash
from domo_versions_iac.provider.inputs import InputError, parse_inputs
from domo_versions_iac.provider.planning import (
    CLIENT_POOL_SIZE,
    client_or_input_error,
    plan_basis,
    plan_or_input_error,
    preview_message,
)

PLANNED = "planned_deletions"
PLAN_SUMMARY = "plan_summary"
PLAN_BASIS = "__plan_basis"
PLAN_ERROR = "__plan_error"

_pool = ThreadPoolExecutor(max_workers=CLIENT_POOL_SIZE, thread_name_prefix="domo-plan")
# (event loop = one program run, instance, dataset) -> the resources that manage it
_owners: dict[tuple[int, str, str], list[str]] = {}
_owners_lock = threading.Lock()


@dataclass(frozen=True)
class ProgramPlan:
    """The computed inputs for one resource, and what to tell the user about it."""

    props: dict[str, Any]
    message: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # (program run, instance, dataset) and "dataset X on Y": who else manages it is
    # decided when the plan is reported (see _report), once every claim is in.
    owner_key: tuple[int, str, str] | None = None
    owner_label: str = ""


def _failed(prop: str, reason: str) -> ProgramPlan:
    """No plan: `check` reports ``reason`` on ``prop`` and the preview fails there."""
    return ProgramPlan({PLANNED: "", PLAN_SUMMARY: "", PLAN_ERROR: [prop, reason]})


def _deferred() -> ProgramPlan:
    """No plan because an input is invalid: `check` validates and names it."""
    return ProgramPlan({PLANNED: "", PLAN_SUMMARY: ""})


def plan_outputs(
    resource: pulumi.Resource, resource_name: str, inputs: Mapping[str, Any]
) -> pulumi.Output[dict[str, Any]]:
    """The computed inputs of one resource, as an Output resolved off the event loop.

    When every input is a plain value (the usual case) the listing starts at once, on
    the pool, while the program goes on declaring the other resources; otherwise it
    starts once the Outputs among the inputs have been checked and resolved.
    """
    if all(_plain(value) for value in inputs.values()):
        values = {key: value for key, value in inputs.items() if value is not None}
        started = _pool.submit(
            compute_plan,
            resource_name,
            values,
            _stack_config(),
            id(asyncio.get_event_loop()),
            step=_program_step(),
        )
        return _tracked(_report_when_done(resource, started))
    return _tracked(_plan(resource, resource_name, dict(inputs)))


def _tracked(plan: Coroutine[Any, Any, dict[str, Any]]) -> pulumi.Output[dict[str, Any]]:
    """The plan as an Output, and counted as an RPC in flight until it is done.

    Why: the SDK's ``wait_for_rpcs`` (3.272) checks for RPCs in flight as soon as the
    program returns, before the resources' registrations (tasks not yet started) have
    counted themselves; finding none, it waits on every pending Output at once, and again
    after each completes: ~33 Outputs per resource, all pending until the plans are done,
    so each plan that completed cost a pass over ~3,300 tasks at 100 resources (a quarter
    of the program's time in a preview of 100 x 10). Counted here, synchronously, the
    first check finds this plan and waits for the RPCs one by one as for any program.
    Only waited on, never raised: an error reaches the user through the Output.
    """
    task = asyncio.ensure_future(plan)
    try:
        from pulumi.runtime.settings import _get_rpc_manager

        _get_rpc_manager().rpcs.append(asyncio.ensure_future(asyncio.wait({task})))
    except (ImportError, AttributeError):  # another SDK: only the speed-up is lost
        pass
    return pulumi.Output.from_input(task)


def _plain(value: Any) -> bool:
    """A JSON-like value with no Output or awaitable anywhere inside."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return all(_plain(item) for item in value)
    return False


def _stack_config() -> dict[str, Any]:
    # Read on the program's thread: the stack config lives in a context variable that
    # the pool's threads do not see.
    return {key: pulumi.runtime.get_config(key) for key in CONFIG_KEYS}


@dataclass(frozen=True)
class ProgramStep:
    """Which run of the program this is: a preview (dry run) or an update, of which stack."""

    dry_run: bool
    stack: str


def _program_step() -> ProgramStep:
    # Read on the program's thread, like the stack config.
    return ProgramStep(pulumi.runtime.is_dry_run(), pulumi.get_stack())


async def _report_when_done(
    resource: pulumi.Resource, started: Future[ProgramPlan]
) -> dict[str, Any]:
    return _report(resource, await asyncio.wrap_future(started))


async def _plan(
    resource: pulumi.Resource, resource_name: str, inputs: dict[str, Any]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in inputs.items():
        if value is None:
            continue
        output = pulumi.Output.from_input(value)
        problem = await _not_known_at_preview(key, output)
        if problem:
            return _report(resource, _failed(key, problem))
        values[key] = await output.future()
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(
        _pool,
        functools.partial(compute_plan, step=_program_step()),
        resource_name,
        values,
        _stack_config(),
        id(loop),
    )
    return _report(resource, result)


def _report(resource: pulumi.Resource, result: ProgramPlan) -> dict[str, Any]:
    """Log the plan under the resource's own name (on the event loop, as pulumi.log needs).

    The one-owner check is made here, not when the plan was computed: a plan of plain
    inputs starts while the program is still declaring resources, and only once the
    program has declared them all (before any of these reports runs) is every claim on
    a dataset known, so that both resources on one dataset fail, not just the later one.
    """
    if result.owner_key is not None:
        owners = _claim(result.owner_key, None)
        if len(owners) > 1:
            result = _owner_conflict(owners, result.owner_label)
    if result.message:
        pulumi.log.info(result.message, resource=resource)
    for warning in result.warnings:
        pulumi.log.warn(warning, resource=resource)
    return result.props


async def _not_known_at_preview(key: str, output: pulumi.Output[Any]) -> str:
    """Why ``output`` cannot be used to plan at preview, or ""."""
    sources = [r for r in await output.resources() if not isinstance(r, pulumi.StackReference)]
    if sources:
        return (
            f"comes from another resource's output, so it may be unknown at preview and then "
            f"`pulumi up` would delete versions no preview showed. Give `{key}` as a plain "
            "value: a string, stack config (`pulumi.Config().require(...)`) or a "
            "StackReference output"
        )
    if not await output.is_known():
        return (
            f"is not known at preview, so no preview could show what `pulumi up` would "
            f"delete. Give `{key}` as a value known when the program starts"
        )
    return ""


def compute_plan(
    resource_name: str,
    values: dict[str, Any],
    config: Any,
    run_id: int = 0,
    now: datetime | None = None,
    *,
    step: ProgramStep | None = None,
) -> ProgramPlan:
    """List and plan one dataset (blocking; runs on the shared pool).

    With ``step`` (the program's run, as Pulumi runs it), a preview step records its
    plan and the update step of the same `pulumi up` applies that plan (preview_stash).
    """
    try:
        check_environment()  # a bad DOMO_* setting: one line on every resource
    except ConfigurationError as exc:
        return _failed("", str(exc))
    try:
        inputs = parse_inputs(values)
        client = client_or_input_error(inputs, config)
    except InputError:
        return _deferred()
    # Claimed here too, for a dataset id that was an Output; _report decides.
    owner_key = (run_id, instance_identity(client.base_url), inputs.dataset_id)
    _claim(owner_key, resource_name)
    owner_label = f"dataset {inputs.dataset_id} on {client.instance}"
    try:
        archive = effective_archive(inputs.archive, config)
    except ValueError as exc:
        return replace(_failed("archive", str(exc)), owner_key=owner_key, owner_label=owner_label)
    try:
        plan = plan_or_input_error(client, inputs, now or datetime.now(timezone.utc))
    except InputError as exc:
        prop, reason = exc.failures[0]
        return replace(_failed(prop, reason), owner_key=owner_key, owner_label=owner_label)
    # As ranges ("1-500"): every id the update may delete, in a few bytes of state, and
    # no per-id work in the SDK (a list of 500 ids cost the program ~15 ms a resource).
    props = {
        PLANNED: format_ranges(plan.delete_ids),
        PLAN_SUMMARY: with_archive(plan.summary(), archive),
        PLAN_BASIS: plan_basis(plan),
    }
    warnings = tuple(f"dataset {inputs.dataset_id}: {w}" for w in plan.warnings)
    message = preview_message(inputs.dataset_id, plan)
    if archive is not None:  # "delete 8 of 12 versions (archived first to s3://...), ..."
        first, _, rest = message.partition("\n")
        message = "\n".join(filter(None, (with_archive(first, archive), rest)))
    if step is not None:
        try:
            props, message = _bind_to_preview_step(
                step, client.base_url, inputs.dataset_id, props, message, plan.delete_ids
            )
        except preview_stash.StashError as exc:
            failed = _failed("dataset_id", f"dataset {inputs.dataset_id}: {exc}")
            return replace(failed, owner_key=owner_key, owner_label=owner_label)
    return ProgramPlan(props, message, warnings, owner_key, owner_label)


def _bind_to_preview_step(
    step: ProgramStep,
    base_url: str,
    dataset_id: str,
    props: dict[str, Any],
    message: str,
    surplus_now: list[int],
) -> tuple[dict[str, Any], str]:
    """A preview step records its plan; an update step takes the one its preview showed.

    Returns the inputs to pass and the message to log under the resource. In an update
    step without a preview step (`up --skip-preview`, the Automation API's `up()`), the
    update's own plan is all there is, and it is returned unchanged.
    """
    if step.dry_run:
        preview_stash.record(step.stack, base_url, dataset_id, props)
        return props, message
    try:
        shown_props = preview_stash.recall(step.stack, base_url, dataset_id)
    except preview_stash.NoPreviewStep:
        return props, message
    if shown_props is None:
        summary = "nothing: this `pulumi up`'s preview step did not plan this dataset"
        return {PLANNED: "", PLAN_SUMMARY: summary}, f"dataset {dataset_id}: deletes {summary}"
    # What the provider deletes it says itself, under this resource; here only what
    # the preview step did not show.
    try:
        shown = set(parse_ranges(str(shown_props.get(PLANNED) or "")))
    except ValueError:  # a damaged record: nothing was shown that could be trusted
        shown_props, shown = {PLANNED: "", PLAN_SUMMARY: "nothing: the record was damaged"}, set()
    late = [i for i in surplus_now if i not in shown]
    message = ""
    if late:
        message = (
            f"dataset {dataset_id}: {len(late)} version{'s' if len(late) != 1 else ''} became "
            f"surplus after the preview and {'were' if len(late) != 1 else 'was'} left: "
            f"{_id_list(late)}; the next preview shows them"
        )
    return dict(shown_props), message


def _id_list(ids: list[int], limit: int = 20) -> str:
    """'8, 9' or the first ``limit`` ids and how many in all."""
    text = ", ".join(map(str, ids[:limit]))
    return text if len(ids) <= limit else f"{text}, ... ({len(ids)} in all)"


def _owner_conflict(owners: list[str], owner_label: str) -> ProgramPlan:
    return _failed(
        "dataset_id",
        f"resources {_join(owners)} both manage {owner_label}: their rules would combine "
        "into neither's intent. Give each dataset one DatasetVersionRetention (merge the "
        "rules into one policy)",
    )


def register_owner(resource_name: str, dataset_id: Any, instance: Any) -> None:
    """Claim the dataset while the program registers resources (called from __init__).

    With plain values every claim is made before any plan is computed, so each of two
    resources on one dataset sees the other and both fail: neither applies its plan.
    (A dataset id given as an Output is claimed when it resolves, in compute_plan.)
    """
    if not isinstance(dataset_id, str) or not (instance is None or isinstance(instance, str)):
        return
    config = pulumi.runtime.get_config
    try:
        allowed = parse_allowed_hosts(
            config(ALLOWED_HOSTS_CONFIG) or os.environ.get(ALLOWED_HOSTS_ENV) or None
        )
        chosen = instance or config(INSTANCE_CONFIG) or os.environ.get(INSTANCE_ENV) or ""
        base_url = normalize_instance(str(chosen), allowed)
    except (ConfigurationError, ValueError):
        return  # check reports the instance
    # Compared as the server they reach: localhost and 127.0.0.1 are one owner's.
    owner_key = (id(asyncio.get_event_loop()), instance_identity(base_url), dataset_id.strip())
    _claim(owner_key, resource_name)


def _claim(key: tuple[int, str, str], resource_name: str | None) -> list[str]:
    """Record ``resource_name`` (if any) as a manager of the dataset; return every manager."""
    with _owners_lock:
        names = _owners.setdefault(key, [])
        if resource_name is not None and resource_name not in names:
            names.append(resource_name)
        return list(names)


def _join(names: list[str]) -> str:
    quoted = [repr(name) for name in names]
    return ", ".join(quoted[:-1]) + f" and {quoted[-1]}"
