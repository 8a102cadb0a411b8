"""Listing and planning one dataset, with errors said in terms of the resource's inputs.

Shared by the program side (:mod:`domo_versions_iac.provider.program_plan`, which plans every
resource concurrently at preview) and the provider (which validates in ``check`` and
re-lists in ``update``). No Pulumi here: errors are :class:`InputError` pairs of
(property, reason), which the provider turns into check failures.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from domo_versions_iac.domo.credentials import (
    INSTANCE_CONFIG,
    INSTANCE_ENV,
    Credentials,
    MissingCredentialsError,
    check_token,
    resolve_credentials,
)
from domo_versions_iac.domo.errors import (
    AuthenticationError,
    ConfigurationError,
    DatasetNotFoundError,
    DeadlineExceededError,
    DomoConnectionError,
    DomoError,
    InvalidTokenError,
    PermissionDeniedError,
)
from domo_versions_iac.domo.models import DataVersion, format_instant, listing_digest
from domo_versions_iac.domo.settings import plan_concurrency_or_default
from domo_versions_iac.policy import (
    BudgetExceededError,
    Plan,
    format_bytes,
    format_count,
    plan_retention,
)
from domo_versions_iac.provider.inputs import InputError, RetentionInputs
from domo_versions_iac.provider.workers import MAX_UP_CONCURRENCY

if TYPE_CHECKING:  # the client (and requests) is imported only when one is built
    from domo_versions_iac.domo.client import DomoClient

Config = Mapping[str, object] | Callable[[str], object]

MAX_PREVIEW_LINES = 10  # per resource: a fleet's preview must stay readable (and < 64 KB)
# How many datasets the program lists at once (DOMO_PLAN_CONCURRENCY, 1-64; default 32):
# bounded so a fleet preview does not flood Domo (429s are retried with Retry-After). A
# bad value is reported by compute_plan on every resource, not as an import traceback.
CLIENT_POOL_SIZE = plan_concurrency_or_default()

_clients: dict[tuple[str, str, tuple[str, ...]], DomoClient] = {}
_clients_lock = threading.Lock()


def client_for(creds: Credentials) -> DomoClient:
    """One client (one connection pool) per instance and token per process."""
    from domo_versions_iac.domo.client import DomoClient

    key = (creds.instance, creds.token, creds.allowed_hosts)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = DomoClient(
                creds.instance,
                creds.token,
                allowed_hosts=creds.allowed_hosts,
                # keep-alive connections for the program's plans and the provider's
                # DOMO_UP_CONCURRENCY datasets, whichever is larger (a bound, not a limit)
                pool_size=max(CLIENT_POOL_SIZE, MAX_UP_CONCURRENCY),
            )
    return client


def client_or_input_error(inputs: RetentionInputs, config: Config | None) -> DomoClient:
    """The client for these inputs; credential problems name `instance` or `token`."""
    return client_for(credentials_or_input_error(inputs, config))


def credentials_or_input_error(inputs: RetentionInputs, config: Config | None) -> Credentials:
    """The instance and token for these inputs, checked without a request or a client
    (what `check` needs); problems name `instance` or `token`."""
    try:
        creds = resolve_credentials(instance=inputs.instance, token=inputs.token, config=config)
        check_token(creds.token, creds.instance)
        return creds
    except MissingCredentialsError as exc:  # incl. the stack's token for another instance
        raise InputError([(exc.missing, str(exc))]) from exc
    except InvalidTokenError as exc:
        raise InputError([("token", str(exc))]) from exc
    except ConfigurationError as exc:
        raise InputError([("instance", str(exc))]) from exc


def plan_or_input_error(client: DomoClient, inputs: RetentionInputs, now: datetime) -> Plan:
    """List the dataset and plan; Domo's answers and the budget name the input to fix."""
    try:
        versions = client.list_versions(inputs.dataset_id)
        return plan_retention(versions, inputs.policy, now)
    except BudgetExceededError as exc:
        raise InputError([("policy", f"dataset {inputs.dataset_id}: {exc}")]) from exc
    except DatasetNotFoundError as exc:
        raise InputError([("dataset_id", str(exc))]) from exc
    except (AuthenticationError, PermissionDeniedError) as exc:
        raise InputError([("token", str(exc))]) from exc
    except DeadlineExceededError as exc:  # reached, but too slow for this dataset
        raise InputError([("dataset_id", str(exc))]) from exc
    except DomoConnectionError as exc:  # the instance cannot be reached at all
        raise InputError([_unreachable(inputs, exc)]) from exc
    except DomoError as exc:
        raise InputError([("dataset_id", str(exc))]) from exc


def _unreachable(inputs: RetentionInputs, exc: DomoConnectionError) -> tuple[str, str]:
    """On the `instance` input, or, when the instance came from the stack, on the
    resource as a whole, naming where the instance was set."""
    if inputs.instance:
        return ("instance", str(exc))
    return (
        "",
        f"{exc} (The instance comes from stack config {INSTANCE_CONFIG} or {INSTANCE_ENV}.)",
    )


def plan_basis(plan: Plan) -> str:
    """A short digest of what the plan was made from (the listing) and what it deletes.

    Deterministic, so `pulumi preview --save-plan` and `pulumi up --plan` agree when the
    data did not change; different whenever the listing changed.
    """
    listed = listing_digest([decision.version for decision in plan.decisions])
    deleted = ",".join(map(str, plan.delete_ids))
    return hashlib.sha256(f"{listed};{deleted}".encode()).hexdigest()[:16]


def describe_version(version: DataVersion) -> str:
    """One line per version, as shown in previews: id, date, status, rows, bytes."""
    return (
        f"{version.data_id}: recorded {format_instant(version.recorded_date)}, "
        f"{version.upload_status}, {format_count(version.num_rows)} rows, "
        f"{format_bytes(version.num_bytes)}"
    )


def preview_message(dataset_id: str, plan: Plan, limit: int = MAX_PREVIEW_LINES) -> str:
    """The summary line, then at most ``limit`` versions and how many more there are."""
    lines = [f"dataset {dataset_id}: {plan.summary()}"]
    lines += [f"  - {describe_version(d.version)}" for d in plan.delete[:limit]]
    hidden = len(plan.delete) - limit
    if hidden > 0:
        lines.append(
            f"  ... and {hidden} more (`domo-versions plan {dataset_id}` lists every version)"
        )
    return "\n".join(lines)
