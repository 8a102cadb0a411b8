"""What every ``domo-versions`` command shares: the global options, the one error path
(CliError, exit codes, --verbose), logging with secrets redacted, the Domo client, JSON.

Own module so that command modules (``main``, ``archive``) import it and not each other.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from domo_versions_iac.domo.client import DomoClient

EXIT_OK, EXIT_ERROR, EXIT_PENDING = 0, 1, 2

WORKERS = 8
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


@dataclass
class GlobalOptions:
    """Options accepted before or after the command name; given twice, the later wins."""

    instance: str | None = None
    as_json: bool = False
    verbose: bool = False


def _remember_global(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Store a global option on the context object the group and its commands share."""
    options = ctx.ensure_object(GlobalOptions)
    if param.name == "instance":
        if value is not None:
            options.instance = value
    elif value and param.name is not None:
        setattr(options, param.name, True)
    return value


_VERBOSE_OPTION = click.option(
    "-v",
    "--verbose",
    is_flag=True,
    expose_value=False,
    callback=_remember_global,
    help="On error, also print the exception chain.",
)


def _global_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--instance``, ``--json``, ``--verbose`` on the group and on each command, so
    ``domo-versions --instance X ls ID`` and ``domo-versions ls ID --instance X`` agree."""
    func = _VERBOSE_OPTION(func)
    func = click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        callback=_remember_global,
        help="Print JSON (see the command's help).",
    )(func)
    return click.option(
        "--instance",
        metavar="INSTANCE",
        expose_value=False,
        callback=_remember_global,
        help="Domo instance (default: $DOMO_INSTANCE).",
    )(func)


def _globals() -> GlobalOptions:
    return click.get_current_context().ensure_object(GlobalOptions)


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


def _echo_error(message: str, exc: BaseException | None, verbose: bool) -> None:
    """``error: ...`` (plus the exception chain with --verbose), with any token removed."""
    from domo_versions_iac.domo.errors import redact

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
    from domo_versions_iac.domo.credentials import MissingCredentialsError
    from domo_versions_iac.domo.errors import DomoError

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
        from domo_versions_iac.domo.errors import redact

        return redact(super().format(record))


def _client(instance: str | None) -> DomoClient:

    from domo_versions_iac.domo.client import DomoClient
    from domo_versions_iac.domo.credentials import (
        INSTANCE_ENV,
        TOKEN_ENV,
        MissingCredentialsError,
        TokenNotForInstanceError,
        resolve_credentials,
    )
    from domo_versions_iac.domo.settings import check_environment

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
    check_environment()  # the settings pulumi reads too: a bad one is one line here as well
    return DomoClient(creds.instance, creds.token, **options)


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))
