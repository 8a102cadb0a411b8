"""``domo-versions``: list data versions, preview a retention plan, run the emulator.

Built on click. Heavy modules (requests, jsonschema, the emulator) are imported inside
the commands, and pulumi never, so ``--help`` starts fast. Exit codes follow
``terraform plan -detailed-exitcode``: 0 success / nothing to delete, 1 error,
2 deletions pending (``plan`` only). Usage errors exit 1 too, so 2 always means
"deletions pending".
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import IO, TYPE_CHECKING, Any, NoReturn

import click

from domo_versions_iac import __version__

if TYPE_CHECKING:
    from domo_versions_iac.client import DomoClient
    from domo_versions_iac.errors import DomoError
    from domo_versions_iac.models import DataVersion
    from domo_versions_iac.policy import Plan

EXIT_OK, EXIT_ERROR, EXIT_PENDING = 0, 1, 2
WORKERS = 8
PROGRESS_DELAY = 0.3
# Extra DomoClient keyword arguments (tests shorten the retry backoff here).
CLIENT_OPTIONS: dict[str, Any] = {}

CREDENTIALS_HELP = (
    "Credentials: the instance comes from --instance or DOMO_INSTANCE (acme, acme.domo.com, "
    "https://acme.domo.com, or the emulator's http://127.0.0.1:PORT); the developer token "
    "only from DOMO_DEVELOPER_TOKEN. There is deliberately no token flag: tokens on command "
    "lines leak into shell history and process lists. The token belongs to DOMO_INSTANCE: "
    "when that is set, --instance must name the same instance. Other hosts than "
    "NAME.domo.com and loopback are refused unless listed in DOMO_ALLOWED_HOSTS."
)


class CliError(Exception):
    """An expected failure: printed as one line ``error: ...``, exit 1."""


class _Group(click.Group):
    """Usage errors exit 1 (not click's 2): 2 is reserved for "deletions pending"."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.ClickException as exc:
            exc.exit_code = EXIT_ERROR  # type: ignore[misc]
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            exc.exit_code = EXIT_ERROR  # type: ignore[misc]
            raise


# --------------------------------------------------------------------------- helpers


def _echo_error(message: str, exc: BaseException | None, verbose: bool) -> None:
    """``error: ...`` (plus the exception chain with --verbose), with any token removed."""
    from domo_versions_iac.errors import redact

    click.echo(redact(f"error: {message}"), err=True)
    if verbose and exc is not None:
        click.echo(redact("".join(traceback.format_exception(exc)).rstrip()), err=True)


def _fail(message: str, exc: BaseException | None, verbose: bool) -> NoReturn:
    """Print one line (plus the traceback/exception chain with --verbose) and exit 1."""
    _echo_error(message, exc, verbose)
    sys.exit(EXIT_ERROR)


@contextmanager
def _errors(verbose: bool) -> Iterator[None]:
    """Turn every expected failure into one line and exit 1; no traceback."""
    from domo_versions_iac.credentials import MissingCredentialsError
    from domo_versions_iac.errors import DomoError

    try:
        yield
    except (CliError, DomoError, MissingCredentialsError) as exc:
        _fail(str(exc), exc, verbose)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: still one line, the traceback with --verbose
        _fail(
            f"unexpected {type(exc).__name__}: {exc} (probably a bug: run again with "
            "--verbose and report the traceback)",
            exc,
            verbose,
        )


@contextmanager
def _logging(verbose: bool) -> Iterator[None]:
    """Client retries are logged to stderr with --verbose; otherwise only errors matter,
    and those are reported once by ``_errors``."""
    logger = logging.getLogger("domo_versions_iac")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(name)s: %(message)s"))
    handler.setLevel(logging.INFO if verbose else logging.CRITICAL)
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.CRITICAL)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


class _RedactingFormatter(logging.Formatter):
    """Log lines (and their tracebacks) with any token in use removed."""

    def format(self, record: logging.LogRecord) -> str:
        from domo_versions_iac.errors import redact

        return redact(super().format(record))


class Progress:
    """``listed 37/120 datasets`` updated in place on stderr.

    Only when the stream is a terminal and there is more than one dataset, and only
    once the work has taken more than ``delay`` seconds; the line is erased at the end.
    """

    def __init__(
        self, total: int, stream: IO[str] | None = None, *, delay: float = PROGRESS_DELAY
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total = total
        self.done = 0
        self.delay = delay
        self.started = time.monotonic()
        try:
            tty = self.stream.isatty()
        except (AttributeError, ValueError):  # a closed or unusual stream: stay silent
            tty = False
        self.enabled = total > 1 and tty
        self._width = 0
        self._shown = ""

    def update(self, done: int | None = None) -> None:
        if done is not None:
            self.done = done
        if not self.enabled or time.monotonic() - self.started < self.delay:
            return
        text = f"listed {self.done}/{self.total} datasets"
        if text == self._shown:
            return
        self._shown = text
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def close(self) -> None:
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def _unique(ids: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(i.strip() for i in ids))


def _client(instance: str | None) -> DomoClient:
    import os

    from domo_versions_iac.client import DomoClient
    from domo_versions_iac.credentials import (
        INSTANCE_ENV,
        TOKEN_ENV,
        MissingCredentialsError,
        TokenNotForInstanceError,
        resolve_credentials,
    )

    environ = dict(os.environ)
    if instance and not environ.get(INSTANCE_ENV):
        # Without DOMO_INSTANCE, --instance says which instance the token is for.
        environ[INSTANCE_ENV], instance = instance, None
    try:
        creds = resolve_credentials(instance=instance or None, token=None, environ=environ)
    except TokenNotForInstanceError as exc:
        raise CliError(
            f"--instance {exc.instance} is not {INSTANCE_ENV} ({exc.stack_instance}), the "
            f"instance {TOKEN_ENV} belongs to; the token is never sent to another instance: "
            f"set {INSTANCE_ENV} and {TOKEN_ENV} for {exc.instance} instead"
        ) from exc
    except MissingCredentialsError as exc:
        if exc.missing == "instance":
            raise CliError(
                f"no Domo instance given: pass --instance acme (or acme.domo.com, "
                f"https://acme.domo.com) or set {INSTANCE_ENV}"
            ) from exc
        raise CliError(
            f"no Domo developer token given: set {TOKEN_ENV} (there is no token flag, "
            "because command lines leak into shell history and process lists)"
        ) from exc
    options = {"pool_size": WORKERS, "allowed_hosts": creds.allowed_hosts, **CLIENT_OPTIONS}
    return DomoClient(creds.instance, creds.token, **options)


def list_datasets(
    client: DomoClient, dataset_ids: list[str], progress: Progress
) -> tuple[dict[str, list[DataVersion]], dict[str, DomoError]]:
    """List every dataset in parallel (one shared client).

    Returns the listings and the errors that concern one dataset (404, 403, a bad
    listing), both in the order given; any other error (401, unreachable, ...) would
    repeat for every dataset, so the first one is raised.
    """
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    from domo_versions_iac.errors import (
        DatasetNotFoundError,
        InvalidResponseError,
        PermissionDeniedError,
    )

    per_dataset = (DatasetNotFoundError, PermissionDeniedError, InvalidResponseError)
    results: dict[str, list[DataVersion]] = {}
    errors: dict[str, DomoError] = {}
    pool = ThreadPoolExecutor(max_workers=min(WORKERS, len(dataset_ids)))
    futures: dict[Future[list[DataVersion]], str] = {
        pool.submit(client.list_versions, ds): ds for ds in dataset_ids
    }
    pending = set(futures)
    try:
        while pending:
            finished, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            for future in finished:
                try:
                    results[futures[future]] = future.result()
                except per_dataset as exc:
                    errors[futures[future]] = exc
            progress.update(len(results) + len(errors))
    finally:
        progress.close()
        pool.shutdown(wait=not pending, cancel_futures=True)
    return (
        {ds: results[ds] for ds in dataset_ids if ds in results},
        {ds: errors[ds] for ds in dataset_ids if ds in errors},
    )


def _report(errors: dict[str, DomoError], verbose: bool) -> None:
    """One line per dataset that failed; exit 1 if any did."""
    for exc in errors.values():
        _echo_error(str(exc), exc, verbose)
    if errors:
        sys.exit(EXIT_ERROR)


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by ``ls`` and ``plan``."""
    func = click.option(
        "-v", "--verbose", is_flag=True, help="On error, also print the exception chain."
    )(func)
    func = click.option("--json", "as_json", is_flag=True, help="Print JSON (see above).")(func)
    func = click.option(
        "--instance",
        metavar="INSTANCE",
        help="Domo instance (default: $DOMO_INSTANCE).",
    )(func)
    return click.argument("dataset_ids", nargs=-1, required=True, metavar="DATASET_ID...")(func)


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


# --------------------------------------------------------------------------- commands


@click.group(
    cls=_Group, epilog=CREDENTIALS_HELP, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, "-V", "--version", prog_name="domo-versions")
def cli() -> None:
    """List Domo dataset data versions and preview what a retention policy deletes.

    The same plan the Pulumi resource DatasetVersionRetention makes; this command
    never deletes anything.

    Exit codes: 0 success (plan: nothing to delete), 1 error (including usage
    errors), 2 plan: deletions pending. Errors are one line on stderr; add
    --verbose to a command for the exception chain.
    """


@cli.command("ls", epilog=CREDENTIALS_HELP)
@_common
def ls_command(
    dataset_ids: tuple[str, ...], instance: str | None, as_json: bool, verbose: bool
) -> None:
    """List the data versions of one or more datasets.

    One table per dataset (id, recorded, status, rows, bytes; newest first) with a
    totals line. Several datasets are listed in parallel.

    --json prints {"format_version": 1, "dataset_id": ..., "versions": [...],
    "totals": {...}} for one dataset, and {"format_version": 1, "datasets":
    {DATASET_ID: {"versions": [...], "totals": {...}}}} for several.

    Exit codes: 0 every dataset listed, 1 error. A dataset Domo does not know or
    denies (404, 403) is one error line and the others are still shown; --json
    prints nothing unless every dataset was listed.
    """
    from domo_versions_iac import render

    ids = _unique(dataset_ids)
    with _logging(verbose), _errors(verbose):
        with _client(instance) as client:
            listings, errors = list_datasets(client, ids, Progress(len(ids)))
        if as_json:
            if not errors:
                _print_json(render.listings_json(listings))
        elif listings:
            blocks = [render.listing_block(ds, versions) for ds, versions in listings.items()]
            if len(listings) > 1:
                blocks.append(render.listings_total(listings))
            click.echo("\n\n".join(blocks))
        _report(errors, verbose)


def _policy_input(
    policy_file: str | None, flags: dict[str, Any], allowed: str | None
) -> tuple[dict[str, Any] | None, list[int] | None]:
    """The resource inputs ``policy`` and ``allowed_versions``; flags override the file."""
    policy: dict[str, Any] | None = None
    if policy_file is not None:
        try:
            with click.open_file(policy_file, encoding="utf-8") as handle:
                loaded = json.load(handle)
        except OSError as exc:
            raise CliError(f"cannot read policy file {policy_file}: {exc.strerror or exc}") from exc
        except ValueError as exc:
            raise CliError(f"policy file {policy_file} is not valid JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise CliError(f"policy file {policy_file} must hold a JSON object of policy keys")
        policy = loaded
    given = {key: value for key, value in flags.items() if value is not None}
    if given:
        policy = {**(policy or {}), **given}
    allowed_ids: list[int] | None = None
    if allowed is not None:
        try:
            allowed_ids = [int(part) for part in allowed.split(",") if part.strip()]
        except ValueError:
            raise CliError(
                f"--allowed-versions: expected version ids separated by commas such as 3,4, "
                f"got {allowed!r}"
            ) from None
        if policy is not None:
            policy.pop("allowed_versions", None)  # the flag overrides the file's key
    if policy is None and allowed_ids is None:
        raise CliError(
            "no retention policy given: pass --policy FILE or a keep rule such as "
            "--keep-last 5, --keep-within 30d or --allowed-versions 3,4"
        )
    return policy, allowed_ids


def _parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(timezone.utc)
    from domo_versions_iac.models import parse_instant

    try:
        return parse_instant(text)
    except ValueError:
        raise CliError(
            f"--now: expected an ISO-8601 instant such as 2024-03-10T12:00:00Z, got {text!r}"
        ) from None


_POLICY_FLAGS = (
    ("--keep-last", "keep_last", int, "N", "Keep the N newest successful versions."),
    ("--keep-within", "keep_within", str, "DURATION", "Keep versions recorded within e.g. 30d."),
    ("--keep-since", "keep_since", str, "INSTANT", "Keep versions since e.g. 2024-01-01."),
    ("--keep-daily", "keep_daily", int, "N", "Keep the newest of each of the last N days."),
    ("--keep-weekly", "keep_weekly", int, "N", "Keep the newest of each of the last N weeks."),
    ("--keep-monthly", "keep_monthly", int, "N", "Keep the newest of each of the last N months."),
    ("--keep-yearly", "keep_yearly", int, "N", "Keep the newest of each of the last N years."),
    ("--timezone", "timezone", str, "ZONE", "IANA zone of the calendar rules (default UTC)."),
    ("--protect-latest", "protect_latest", int, "N", "Never delete the N newest (default 1)."),
    ("--max-deletions", "max_deletions", int, "N", "Budget: at most N deletions (default 1000)."),
    ("--max-deletion-share", "max_deletion_share", float, "SHARE", "Budget: share, 0 < S <= 1."),
)


def _policy_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--protect-processing/--no-protect-processing",
        default=None,
        help="Never delete uploads in processing (policy default: protect).",
    )(func)
    func = click.option(
        "--delete-failed/--keep-failed",
        default=None,
        help="Delete failed uploads no rule keeps, or keep them all (policy default: delete).",
    )(func)
    for flag, key, kind, metavar, text in reversed(_POLICY_FLAGS):
        func = click.option(flag, key, type=kind, metavar=metavar, help=text)(func)
    func = click.option(
        "--allowed-versions",
        metavar="IDS",
        help="Keep exactly these version ids, comma separated (e.g. 3,4).",
    )(func)
    return click.option(
        "--policy",
        "policy_file",
        metavar="FILE",
        help="Policy JSON file (retention-policy.schema.json; '-' for stdin).",
    )(func)


@cli.command("plan", epilog=CREDENTIALS_HELP)
@_common
@_policy_options
@click.option("--now", metavar="INSTANT", help="Plan as of this ISO-8601 instant (default: now).")
def plan_command(
    dataset_ids: tuple[str, ...],
    instance: str | None,
    as_json: bool,
    verbose: bool,
    policy_file: str | None,
    allowed_versions: str | None,
    now: str | None,
    **flags: Any,
) -> None:
    """Show what the retention policy would delete, without deleting anything.

    The same plan the Pulumi resource makes for {dataset_id, policy,
    allowed_versions}: one table per dataset with the reasons for each version and a
    summary line; several datasets end with a combined total. Policy flags override
    the keys of --policy FILE. Over-budget plans (max_deletions,
    max_deletion_share) are shown and reported as an error, as `pulumi preview`
    refuses them.

    --json prints the versioned plan JSON (plan.schema.json) for one dataset, and
    {"format_version": 1, "plans": {DATASET_ID: PLAN}} for several; nothing
    unless every dataset was listed (a 404/403 dataset is one error line, the
    others are still planned in the table output).

    \b
    Exit codes (like terraform plan -detailed-exitcode):
      0  nothing would be deleted
      1  error (bad policy, credentials, Domo error, over budget)
      2  deletions pending in at least one dataset
    """
    from domo_versions_iac import render
    from domo_versions_iac.inputs import InputError, parse_inputs
    from domo_versions_iac.policy import plan_retention

    ids = _unique(dataset_ids)
    with _logging(verbose), _errors(verbose):
        policy, allowed_ids = _policy_input(policy_file, flags, allowed_versions)
        moment = _parse_now(now)
        extra = {} if allowed_ids is None else {"allowed_versions": allowed_ids}
        try:  # as the provider would: every dataset id checked, one effective policy
            checked = [parse_inputs({"dataset_id": ds, "policy": policy, **extra}) for ds in ids]
        except InputError as exc:
            raise CliError(
                "; ".join(
                    reason if reason.startswith(prop) else f"{prop}: {reason}"
                    for prop, reason in exc.failures
                )
            ) from exc
        effective = checked[0].policy
        with _client(instance) as client:
            listings, errors = list_datasets(client, ids, Progress(len(ids)))
        plans: dict[str, Plan] = {
            ds: plan_retention(versions, effective, moment, enforce_budget=False)
            for ds, versions in listings.items()
        }
        if as_json:
            if not errors:
                _print_json(render.plans_json(plans))
        elif plans:
            blocks = [render.plan_block(ds, plan) for ds, plan in plans.items()]
            if len(plans) > 1:
                blocks.append(render.plans_total(plans))
            click.echo("\n\n".join(blocks))
        for ds, plan in plans.items():
            for warning in plan.warnings:
                click.echo(f"warning: dataset {ds}: {warning}", err=True)
        for ds, plan in plans.items():
            if plan.budget_error:
                click.echo(f"error: dataset {ds}: {plan.budget_error}", err=True)
        _report(errors, verbose)
        if any(p.budget_error for p in plans.values()):
            sys.exit(EXIT_ERROR)
    sys.exit(EXIT_PENDING if any(p.delete for p in plans.values()) else EXIT_OK)


@cli.command("emulator")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1 (0: a free port).",
)
@click.option(
    "--seed",
    "seed_path",
    metavar="FILE",
    help="Seed JSON (emulator-seed.schema.json); default: the built-in datasets.",
)
@click.option(
    "--latency",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="SECONDS",
    help="Delay every API answer by this many seconds.",
)
@click.option("-v", "--verbose", is_flag=True, help="On error, also print the exception chain.")
def emulator_command(port: int, seed_path: str | None, latency: float, verbose: bool) -> None:
    """Run the local Domo emulator on 127.0.0.1 until Ctrl-C or SIGTERM.

    Prints the URL it listens on (first line), the token it accepts and its dataset
    ids. Point the other commands at it with DOMO_INSTANCE=URL and
    DOMO_DEVELOPER_TOKEN=TOKEN. Exit codes: 0 stopped cleanly, 1 error (bad seed,
    port in use).
    """
    with _errors(verbose):
        from domo_versions_iac.emulator import SeedError, serve

        try:
            server = serve(port=port, seed_path=seed_path, latency=latency)
        except SeedError as exc:
            raise CliError(str(exc)) from exc
        except OSError as exc:
            raise CliError(
                f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; "
                "choose another --port (0 picks a free one)"
            ) from exc
    stopping: list[int] = []

    def _stop(signum: int, _frame: Any) -> None:
        stopping.append(signum)

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        store = server.store
        tokens = sorted(store.tokens)
        click.echo(f"Domo emulator listening on {server.url}")
        click.echo(f"token: {', '.join(tokens) or '(none: every request gets 401)'}")
        click.echo("datasets:")
        for ds in store.dataset_ids():
            click.echo(f"  {ds}  {len(store.list_versions(ds))} versions")
        token = tokens[0] if tokens else "TOKEN"
        click.echo(f"use: export DOMO_INSTANCE={server.url} DOMO_DEVELOPER_TOKEN={token}")
        click.echo("Press Ctrl-C to stop.")
        while not stopping:
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    click.echo("emulator stopped", err=True)


def main() -> None:
    """Console script entry point."""
    cli(prog_name="domo-versions")


if __name__ == "__main__":  # pragma: no cover
    main()
