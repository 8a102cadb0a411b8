"""``domo-versions``: list data versions, preview a retention plan, run the emulator.

Built on click. Heavy modules (requests, jsonschema, the emulator) are imported inside
the commands, and pulumi never, so ``--help`` starts fast. Exit codes: 0 success, 1
error; ``plan --detailed-exitcode`` adds 2 "deletions pending", as ``terraform plan
-detailed-exitcode`` does. Usage errors exit 1 too, so 2 always means "deletions
pending". The global options (``--instance``, ``--json``, ``--verbose``) are accepted
before or after the command name.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from domo_versions_iac import __version__
from domo_versions_iac.cli.archive import archive_command
from domo_versions_iac.cli.common import (
    _VERBOSE_OPTION,
    CREDENTIALS_HELP,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PENDING,
    WORKERS,
    CliError,
    _client,
    _echo_error,
    _errors,
    _global_options,
    _globals,
    _Group,
    _logging,
    _print_json,
)
from domo_versions_iac.domo.models import UPLOAD_STATUSES

if TYPE_CHECKING:
    from domo_versions_iac.cli.report import Report
    from domo_versions_iac.domo.client import DomoClient
    from domo_versions_iac.domo.errors import DomoError
    from domo_versions_iac.domo.models import DataVersion
    from domo_versions_iac.policy import Plan, RetentionPolicy


PROGRESS_DELAY = 0.3


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


def list_datasets(
    client: DomoClient, dataset_ids: list[str], progress: Progress
) -> tuple[dict[str, list[DataVersion]], dict[str, DomoError]]:
    """List every dataset in parallel (one shared client).

    Returns the listings and the errors that concern one dataset (404, 403, a bad
    listing), both in the order given; any other error (401, unreachable, ...) would
    repeat for every dataset, so the first one is raised.
    """
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    from domo_versions_iac.domo.errors import (
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
    """Arguments and options shared by ``ls`` and ``plan``."""
    func = _global_options(func)
    return click.argument("dataset_ids", nargs=-1, required=True, metavar="DATASET_ID...")(func)


@click.group(
    cls=_Group, epilog=CREDENTIALS_HELP, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, "-V", "--version", prog_name="domo-versions")
@_global_options
def cli() -> None:
    """List Domo dataset data versions and preview what a retention policy deletes.

    The same plan the Pulumi resource DatasetVersionRetention makes; this command
    never deletes anything.

    The options below may also follow the command name (domo-versions ls ID
    --instance acme). Exit codes: 0 success, 1 error (including usage errors);
    with plan --detailed-exitcode, 2 when deletions are pending. Errors are one
    line on stderr; --verbose adds the exception chain.
    """


@cli.command("ls", epilog=CREDENTIALS_HELP)
@_common
def ls_command(dataset_ids: tuple[str, ...]) -> None:
    """List the data versions of one or more datasets.

    One table per dataset (id, recorded, status, rows, bytes; newest first) with a
    totals line. Several datasets are listed in parallel.

    --json prints one shape whatever the number of datasets: {"format_version":
    2, "datasets": {DATASET_ID: {"versions": [...], "totals": {...}}}}; a dataset
    that could not be listed holds {"error": {"type", "status", "message"}}
    instead.

    Exit codes: 0 every dataset listed, 1 error. A dataset Domo does not know or
    denies (404, 403) is one error line (and an "error" entry with --json); the
    others are still shown. An error that concerns every dataset (token,
    instance) prints nothing on stdout.
    """
    from domo_versions_iac.cli import render

    ids = _unique(dataset_ids)
    options = _globals()
    verbose = options.verbose
    with _logging(verbose), _errors(verbose):
        with _client(options.instance) as client:
            listings, errors = list_datasets(client, ids, Progress(len(ids)))
        if options.as_json:
            _print_json(render.listings_json(listings, errors, ids))
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
    allowed_ids = None if allowed is None else _parse_allowed(allowed)
    if allowed_ids is not None and policy is not None:
        policy.pop("allowed_versions", None)  # the flag overrides the file's key
    if policy is None and allowed_ids is None:
        raise CliError(
            "no retention policy given: pass --policy FILE or a keep rule such as "
            "--keep-last 5, --keep-within 30d or --allowed-versions 3,4"
        )
    return policy, allowed_ids


_HOLD_UNTIL = re.compile(r"(?P<reason>.*?)(?::(?P<until>[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt].*)?))?")


def _parse_hold(text: str) -> dict[str, Any]:
    """``3,4:audit FY25:2027-01-31`` -> a hold of the policy. The reason may hold colons;
    a last part that starts with a date (YYYY-MM-DD) is the expiry."""
    ids, sep, rest = text.partition(":")
    match = _HOLD_UNTIL.fullmatch(rest)
    if not sep or match is None or not match["reason"].strip():
        raise CliError(
            "--hold: expected IDS:REASON or IDS:REASON:UNTIL such as "
            f"'3,4:audit FY25:2027-01-31', got {text!r}"
        )
    hold: dict[str, Any] = {"versions": _parse_ids("--hold", ids), "reason": match["reason"]}
    if match["until"]:
        hold["until"] = match["until"]
    return hold


def _parse_allowed(text: str) -> list[int]:
    """``3,4`` -> [3, 4]. Blank (``''``, `` , ``) or an empty item is an error: a stray
    comma must not silently become "allow no version by id"."""
    return _parse_ids("--allowed-versions", text)


def _parse_ids(flag: str, text: str) -> list[int]:
    parts = [part.strip() for part in text.split(",")]
    try:
        if not all(parts):
            raise ValueError(text)
        return [int(part) for part in parts]
    except ValueError:
        raise CliError(
            f"{flag}: expected version ids separated by commas such as 3,4, got {text!r}"
        ) from None


def _parse_now(text: str | None) -> datetime:
    """``--now``; an instant without an offset is read as UTC, and a note says so."""
    if text is None:
        return datetime.now(timezone.utc)
    from domo_versions_iac.domo.models import format_instant, parse_instant

    try:
        moment = parse_instant(text)
        naive = datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is None
    except ValueError:
        raise CliError(
            f"--now: expected an ISO-8601 instant such as 2024-03-10T12:00:00Z, got {text!r}"
        ) from None
    if naive:
        click.echo(
            f"note: --now {text} has no UTC offset; assumed UTC ({format_instant(moment)}). "
            "Add Z or an offset such as +01:00 to say otherwise.",
            err=True,
        )
    return moment


_POLICY_FLAGS = (
    ("--keep-last", "keep_last", int, "N", "Keep the N newest successful versions."),
    ("--keep-within", "keep_within", str, "DURATION", "Keep versions recorded within e.g. 30d."),
    (
        "--keep-noncurrent-within",
        "keep_noncurrent_within",
        str,
        "DURATION",
        "Keep the newest and every version replaced within e.g. 30d.",
    ),
    ("--keep-since", "keep_since", str, "INSTANT", "Keep versions since e.g. 2024-01-01."),
    ("--keep-daily", "keep_daily", int, "N", "Keep the newest of each of the last N days."),
    ("--keep-weekly", "keep_weekly", int, "N", "Keep the newest of each of the last N weeks."),
    ("--keep-monthly", "keep_monthly", int, "N", "Keep the newest of each of the last N months."),
    ("--keep-yearly", "keep_yearly", int, "N", "Keep the newest of each of the last N years."),
    ("--timezone", "timezone", str, "ZONE", "IANA zone of the calendar rules (default UTC)."),
    ("--protect-latest", "protect_latest", int, "N", "Never delete the N newest (default 1)."),
    ("--max-deletions", "max_deletions", int, "N", "Budget: at most N deletions (default 1000)."),
    ("--max-deletion-share", "max_deletion_share", float, "SHARE", "Budget: share, 0 < S <= 1."),
    (
        "--grace",
        "grace",
        str,
        "DURATION",
        "Delete only versions that were already surplus DURATION ago too (e.g. 7d).",
    ),
)


_now_option = click.option(
    "--now",
    metavar="INSTANT",
    help="Plan as of this ISO-8601 instant (default: now; no offset means UTC).",
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
    func = click.option(
        "--hold",
        "holds",
        multiple=True,
        metavar="IDS:REASON[:UNTIL]",
        help="Keep these ids whatever the rules say, until UNTIL if given (e.g. "
        "'3,4:audit FY25:2027-01-31'); repeatable; replaces the file's holds.",
    )(func)
    return click.option(
        "--policy",
        "policy_file",
        metavar="FILE",
        help="Policy JSON file (retention-policy.schema.json; '-' for stdin).",
    )(func)


def _effective_policy(
    ids: list[str],
    policy_file: str | None,
    flags: dict[str, Any],
    allowed_versions: str | None,
    holds: tuple[str, ...],
) -> RetentionPolicy:
    """The one policy ``plan`` and ``report`` apply, checked as the provider would check
    each dataset's inputs; flags override the file."""
    from domo_versions_iac.provider.inputs import InputError, parse_inputs

    if holds:
        flags["holds"] = [_parse_hold(text) for text in holds]
    policy, allowed_ids = _policy_input(policy_file, flags, allowed_versions)
    extra = {} if allowed_ids is None else {"allowed_versions": allowed_ids}
    try:
        checked = [parse_inputs({"dataset_id": ds, "policy": policy, **extra}) for ds in ids]
    except InputError as exc:
        raise CliError(
            "; ".join(
                reason if reason.startswith(prop) else f"{prop}: {reason}"
                for prop, reason in exc.failures
            )
        ) from exc
    return checked[0].policy


def _plan_datasets(
    ids: list[str], policy: RetentionPolicy, moment: datetime, instance: str | None
) -> tuple[dict[str, Plan], dict[str, DomoError]]:
    """List every dataset concurrently and plan each (the budget reported, not raised)."""
    from domo_versions_iac.policy import plan_retention

    with _client(instance) as client:
        listings, errors = list_datasets(client, ids, Progress(len(ids)))
    plans = {
        ds: plan_retention(versions, policy, moment, enforce_budget=False)
        for ds, versions in listings.items()
    }
    return plans, errors


def _echo_warnings(plans: dict[str, Plan]) -> None:
    for ds, plan in plans.items():
        for warning in plan.warnings:
            click.echo(f"warning: dataset {ds}: {warning}", err=True)


@cli.command("plan", epilog=CREDENTIALS_HELP)
@_common
@_policy_options
@_now_option
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when deletions are pending (0 only when nothing would be deleted).",
)
@click.option(
    "--forecast",
    "forecast_days",
    type=click.IntRange(1, 3660),
    metavar="DAYS",
    help="Also show what the policy deletes on each of the next DAYS days if nothing new "
    "is uploaded, with bytes.",
)
@click.option(
    "--archive",
    "archive_to",
    metavar="URL",
    help="Say (and put in the JSON) that each version is archived first to URL, as the "
    "resource's archive input would (archive before delete); nothing is archived here.",
)
def plan_command(
    dataset_ids: tuple[str, ...],
    policy_file: str | None,
    allowed_versions: str | None,
    holds: tuple[str, ...],
    now: str | None,
    detailed_exitcode: bool,
    forecast_days: int | None,
    archive_to: str | None = None,
    **flags: Any,
) -> None:
    """Show what the retention policy would delete, without deleting anything.

    The same plan the Pulumi resource makes for {dataset_id, policy,
    allowed_versions}: one table per dataset with the reasons for each version and a
    summary line; several datasets end with a combined total. Policy flags override
    the keys of --policy FILE. Over-budget plans (max_deletions,
    max_deletion_share) are shown and reported as an error, as `pulumi preview`
    refuses them. The eligible_at column says when time alone makes a kept
    version surplus ("new-upload": only a new upload can); --forecast DAYS adds,
    per day, what would be deleted if nothing new is uploaded.

    --json prints one shape whatever the number of datasets: {"format_version":
    2, "datasets": {DATASET_ID: PLAN}}, each PLAN the versioned plan JSON
    (plan.schema.json, with "forecast" when asked), or {"error": {"type",
    "status", "message"}} for a dataset
    that could not be listed (404, 403); the others are still planned.

    \b
    Exit codes:
      0  success (with --detailed-exitcode: nothing would be deleted)
      1  error (bad policy, credentials, a dataset not listed, over budget)
      2  only with --detailed-exitcode: deletions pending in at least one
         dataset (as terraform plan -detailed-exitcode)
    """
    from domo_versions_iac.cli import render

    ids = _unique(dataset_ids)
    options = _globals()
    verbose = options.verbose
    with _logging(verbose), _errors(verbose):
        effective = _effective_policy(ids, policy_file, flags, allowed_versions, holds)
        moment = _parse_now(now)
        plans, errors = _plan_datasets(ids, effective, moment, options.instance)
        archive = _archive_option(archive_to)
        if options.as_json:
            found = render.plans_json(plans, errors, ids, forecast_days=forecast_days)
            _print_json(_with_archive_json(found, archive))
        elif plans:
            blocks = [
                _with_archive_text(
                    render.plan_block(ds, plan, forecast_days=forecast_days), archive
                )
                for ds, plan in plans.items()
            ]
            if len(plans) > 1:
                blocks.append(render.plans_total(plans))
            click.echo("\n\n".join(blocks))
        _echo_warnings(plans)
        for ds, plan in plans.items():
            if plan.budget_error:
                click.echo(f"error: dataset {ds}: {plan.budget_error}", err=True)
        _report(errors, verbose)
        if any(p.budget_error for p in plans.values()):
            sys.exit(EXIT_ERROR)
    pending = any(p.delete for p in plans.values())
    sys.exit(EXIT_PENDING if detailed_exitcode and pending else EXIT_OK)


@cli.command("report", epilog=CREDENTIALS_HELP)
@_common
@_policy_options
@_now_option
@click.option(
    "--markdown",
    "markdown_path",
    metavar="FILE",
    help="Also write the report as Markdown (totals, then the table) for a CI job summary "
    "or a pull request comment.",
)
@click.option(
    "--svg",
    "svg_path",
    metavar="FILE",
    help="Also write a chart (reclaimable vs kept bytes per dataset, and the bytes deleted "
    "over the next 90 days) as SVG; needs pip install 'domo-versions-iac[report]'.",
)
def report_command(
    dataset_ids: tuple[str, ...],
    policy_file: str | None,
    allowed_versions: str | None,
    holds: tuple[str, ...],
    now: str | None,
    markdown_path: str | None,
    svg_path: str | None,
    **flags: Any,
) -> None:
    """Show what one policy keeps and reclaims across datasets, without deleting anything.

    Lists every dataset concurrently, plans each as `plan` does, and prints one
    table sorted by reclaimable bytes: dataset, versions, kept, deletable, bytes
    kept, bytes reclaimable, oldest and newest version; then the totals, with what
    the next 90 days delete if nothing new is uploaded. A plan above the deletion
    budget is marked "(over budget)" and warned about (pulumi preview refuses it).

    --json prints {"format_version": 2, "datasets": {DATASET_ID: {...}}}, or
    {"error": {"type", "status", "message"}} for a dataset that could not be listed.

    \b
    Exit codes:
      0  every dataset listed
      1  error (bad policy, credentials, a dataset not listed: its error row is
         shown and the others are still reported)
    """
    from domo_versions_iac.cli import report as report_module

    ids = _unique(dataset_ids)
    options = _globals()
    verbose = options.verbose
    with _logging(verbose), _errors(verbose):
        if svg_path is not None:
            _require_chart()
        effective = _effective_policy(ids, policy_file, flags, allowed_versions, holds)
        moment = _parse_now(now)
        plans, errors = _plan_datasets(ids, effective, moment, options.instance)
        report = report_module.build_report(plans, errors, policy=effective, now=moment)
        if markdown_path is not None:
            _write_output(markdown_path, "--markdown", report_module.report_markdown(report))
        if svg_path is not None:
            _write_chart(svg_path, report)
        if options.as_json:
            _print_json(report_module.report_json(report, ids))
        else:
            click.echo(report_module.report_text(report))
        _echo_warnings(plans)
        for ds, plan in plans.items():
            if plan.budget_error:
                click.echo(f"warning: dataset {ds}: {plan.budget_error}", err=True)
        _report(errors, verbose)


def _require_chart() -> None:
    from domo_versions_iac.cli.report_chart import ChartUnavailableError, require_matplotlib

    try:
        require_matplotlib()
    except ChartUnavailableError as exc:
        raise CliError(str(exc)) from exc


def _write_output(path: str, flag: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise CliError(f"{flag}: cannot write {path}: {exc.strerror or exc}") from exc


def _write_chart(path: str, report: Report) -> None:
    from domo_versions_iac.cli.report_chart import write_svg

    try:
        with open(path, "wb") as handle:
            write_svg(report, handle)
    except OSError as exc:
        raise CliError(f"--svg: cannot write {path}: {exc.strerror or exc}") from exc


def _archive_option(url: str | None) -> Any:
    """``plan --archive URL`` as the resource's archive options (checked), or None."""
    if url is None:
        return None
    from domo_versions_iac.archive.archiver import effective_archive

    try:
        return effective_archive(None, {"domo:archive": url})
    except ValueError as exc:
        raise CliError(f"--archive: {exc}") from exc


def _with_archive_json(found: dict[str, Any], archive: Any) -> dict[str, Any]:
    """Each dataset's plan JSON with its ``archive`` target (plan.schema.json)."""
    if archive is not None:
        for plan in found["datasets"].values():
            if "error" not in plan:
                plan["archive"] = archive.to_dict()
    return found


def _with_archive_text(block: str, archive: Any) -> str:
    if archive is None:
        return block
    from domo_versions_iac.archive.archiver import with_archive

    return with_archive(block, archive)


@cli.group("emulator", cls=_Group, invoke_without_command=True)
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
@click.option(
    "--url-file",
    metavar="FILE",
    help="Write the URL to FILE once listening (removed when it stops); "
    "`emulator status --url-file FILE` waits for it.",
)
@_VERBOSE_OPTION
@click.pass_context
def emulator_command(
    ctx: click.Context, port: int, seed_path: str | None, latency: float, url_file: str | None
) -> None:
    """Run the local Domo emulator on 127.0.0.1 until Ctrl-C or SIGTERM.

    Prints the URL it listens on (first line), the token it accepts and its dataset
    ids; with --url-file, also writes the URL to FILE. Point the other commands at it
    with DOMO_INSTANCE=URL and DOMO_DEVELOPER_TOKEN=TOKEN. Exit codes: 0 stopped
    cleanly, 1 error (bad seed, port in use).

    The subcommands talk to an emulator that is already running (its URL from
    --url or DOMO_INSTANCE): add-version simulates an upload, status says whether
    it is up (and can wait for it, given --url-file, for this very emulator).
    """
    if ctx.invoked_subcommand is not None:
        return
    verbose = _globals().verbose
    url_path = Path(url_file).resolve() if url_file else None
    with _errors(verbose):
        from domo_versions_iac.emulator import SeedError, serve

        if url_path is not None:  # a stale file must not point `status` at another server
            url_path.unlink(missing_ok=True)
        try:
            server = serve(port=port, seed_path=seed_path, latency=latency)
        except SeedError as exc:
            raise CliError(str(exc)) from exc
        except OSError as exc:
            raise CliError(
                f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; "
                "choose another --port (0 picks a free one)"
            ) from exc
        if url_path is not None:
            server.url_file = str(url_path)
            partial = url_path.with_name(url_path.name + ".partial")
            partial.write_text(server.url + "\n")
            partial.replace(url_path)  # whole or absent: never half a URL
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
        if url_path is not None:
            url_path.unlink(missing_ok=True)
    click.echo("emulator stopped", err=True)


def _emulator_url(url: str | None) -> str:
    """The running emulator's base URL: --url, else --instance, else DOMO_INSTANCE."""
    chosen = url or _globals().instance or os.environ.get("DOMO_INSTANCE", "").strip()
    if not chosen:
        raise CliError(
            "no emulator URL given: pass --url http://127.0.0.1:PORT (printed by "
            "`domo-versions emulator`) or set DOMO_INSTANCE"
        )
    if not chosen.startswith(("http://", "https://")):
        raise CliError(
            f"--url: expected the emulator's URL such as http://127.0.0.1:8123, got {chosen!r}"
        )
    return chosen.rstrip("/")


def _unreachable(url: str) -> CliError:
    return CliError(
        f"no emulator answers at {url}: start one with `domo-versions emulator --port PORT` "
        "and pass its URL"
    )


_URL_OPTION = click.option(
    "--url",
    metavar="URL",
    help="The running emulator, e.g. http://127.0.0.1:8123 (default: $DOMO_INSTANCE).",
)


@emulator_command.command("add-version")
@click.argument("dataset_id", metavar="DATASET_ID")
@click.option(
    "--status",
    type=click.Choice(UPLOAD_STATUSES),
    default="success",
    show_default=True,
    help="The upload's status.",
)
@click.option("--rows", type=click.IntRange(min=0), default=10_000, show_default=True, help="Rows.")
@click.option(
    "--bytes",
    "num_bytes",
    type=click.IntRange(min=0),
    metavar="N",
    help="Bytes (default: 120 per row).",
)
@click.option(
    "--recorded",
    metavar="INSTANT",
    help="When it was recorded, ISO-8601 (default: now).",
)
@_URL_OPTION
@_global_options
def add_version_command(
    dataset_id: str,
    status: str,
    rows: int,
    num_bytes: int | None,
    recorded: str | None,
    url: str | None,
) -> None:
    """Simulate an upload: add a version (the next id) to a dataset of a running emulator.

    Prints the new version; --json prints its record as Domo lists it. Exit codes:
    0 added, 1 error (no emulator at the URL, unknown dataset, bad value).
    """
    options = _globals()
    with _errors(options.verbose):
        import requests

        from domo_versions_iac.domo.models import DataVersion, format_instant
        from domo_versions_iac.emulator.control import EmulatorControl, EmulatorControlError
        from domo_versions_iac.policy import format_bytes, format_count

        base = _emulator_url(url)
        fields: dict[str, Any] = {"upload_status": status, "num_rows": rows}
        if num_bytes is not None:
            fields["num_bytes"] = num_bytes
        if recorded is not None:
            fields["recorded_date"] = recorded
        try:
            with EmulatorControl(base) as control:
                record = control.add_version(dataset_id, **fields)
        except requests.RequestException as exc:
            raise _unreachable(base) from exc
        except EmulatorControlError as exc:
            if exc.status == 404:
                raise CliError(f"the emulator at {base} has no dataset {dataset_id}") from exc
            raise CliError(str(exc)) from exc
        if options.as_json:
            _print_json(record)
            return
        version = DataVersion.from_api(record)
        click.echo(
            f"added version {version.data_id} to dataset {dataset_id}: {version.upload_status}, "
            f"recorded {format_instant(version.recorded_date)}, "
            f"{format_count(version.num_rows)} rows, {format_bytes(version.num_bytes)}"
        )


@emulator_command.command("status")
@_URL_OPTION
@click.option(
    "--url-file",
    metavar="FILE",
    help="The URL from the file `emulator --url-file FILE` writes; status also checks that "
    "the emulator answering there is the one that wrote FILE.",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="SECONDS",
    help="Wait up to this long for the emulator to answer (e.g. just after starting it).",
)
@_global_options
def status_command(url: str | None, url_file: str | None, wait: float) -> None:
    """Say whether an emulator answers at the URL, and list its datasets.

    With --url-file FILE it waits for FILE, and succeeds only if the emulator that
    answers is the one that wrote FILE (not another process that held the port).
    Exit codes: 0 it answers, 1 it does not (within --wait seconds).
    """
    options = _globals()
    with _errors(options.verbose):
        if url is not None and url_file is not None:
            raise CliError("give --url or --url-file, not both")
        deadline = time.monotonic() + wait
        if url_file is not None:
            base, health = _wait_for_url_file(Path(url_file).resolve(), deadline)
        else:
            base = _emulator_url(url)
            health = _wait_for_health(base, deadline)
        if options.as_json:
            _print_json({"url": base, **health})
            return
        datasets = health.get("datasets", [])
        click.echo(f"emulator at {base} is up: {len(datasets)} datasets")
        for dataset_id in datasets:
            click.echo(f"  {dataset_id}")


def _health(base: str) -> dict[str, Any] | None:
    """The emulator's health answer at ``base``; None if nothing answers there."""
    import requests

    from domo_versions_iac.emulator.control import EmulatorControl, EmulatorControlError

    with EmulatorControl(base, timeout=2.0) as control:
        try:
            return control.health()
        except EmulatorControlError as exc:
            raise CliError(f"{base} answers, but not as the emulator: {exc}") from exc
        except requests.RequestException:
            return None


def _wait_for_health(base: str, deadline: float) -> dict[str, Any]:
    """The emulator's health answer at ``base``, polled until ``deadline``."""
    while (health := _health(base)) is None:
        if time.monotonic() >= deadline:
            raise _unreachable(base)
        time.sleep(0.1)
    return health


def _wait_for_url_file(path: Path, deadline: float) -> tuple[str, dict[str, Any]]:
    """The URL in ``path`` and the health of the emulator that wrote it, polled until
    ``deadline``: an answer from any other server at that URL is refused."""
    while True:
        base = path.read_text().strip() if path.is_file() else ""
        health = _health(base) if base else None
        if health is not None and health.get("url_file") == str(path):
            return base, health
        if health is not None:
            problem = (
                f"the emulator at {base} did not write {path} (the file is stale, or another "
                f"emulator holds the port): start one with `domo-versions emulator "
                f"--url-file {path}`"
            )
        elif base:
            problem = f"no emulator answers at {base}, the URL in {path}"
        else:
            problem = (
                f"no emulator wrote its URL to {path}: did `domo-versions emulator "
                f"--url-file {path}` start? (it says why not)"
            )
        if time.monotonic() >= deadline:
            raise CliError(problem)
        time.sleep(0.1)


cli.add_command(archive_command)


def main() -> None:
    """Console script entry point."""
    cli(prog_name="domo-versions")


if __name__ == "__main__":  # pragma: no cover
    main()
