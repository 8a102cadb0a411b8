"""``domo-versions archive``: archive versions without deleting, list, verify, get back.

::

    domo-versions archive DATASET_ID [--versions 1-7] --to URL
    domo-versions archive ls URL [DATASET_ID]
    domo-versions archive verify URL
    domo-versions archive get URL DATASET_ID VERSION_ID [-o FILE]

The archive's order and proof are :mod:`domo_versions_iac.archive.archiver`'s; this module only
parses, prints and sets exit codes (0 success, 1 error or anything not verified).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from typing import IO, Any

import click

from domo_versions_iac.cli.common import (
    CREDENTIALS_HELP,
    EXIT_ERROR,
    CliError,
    _client,
    _errors,
    _global_options,
    _globals,
    _Group,
    _logging,
    _print_json,
)


class _ArchiveGroup(_Group):
    """``archive DATASET_ID ...`` archives; ``archive ls|verify|get ...`` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = next((a for a in args if not a.startswith("-")), None)
        if first is not None and first not in self.commands and "--help" not in args[:1]:
            args = ["dataset", *args]
        return super().parse_args(ctx, args)


@click.group("archive", cls=_ArchiveGroup, epilog=CREDENTIALS_HELP)
def archive_command() -> None:
    """Archive data versions (CSV, gzip, with a verified manifest), list, verify, get.

    \b
    domo-versions archive DATASET_ID [--versions 1-7] --to URL
        export and store versions without deleting anything
    domo-versions archive ls URL [DATASET_ID]     what is archived, sizes and dates
    domo-versions archive verify URL              re-check every archive's sha256
    domo-versions archive get URL DATASET_ID VERSION_ID [-o FILE]
        write one archived version's CSV to stdout or FILE

    URL: file:///a/directory (or a path), s3://bucket/prefix, gs://..., az://...;
    storage credentials from the environment (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL,
    AWS_ALLOW_HTTP=true for a local http endpoint, ...). Needs the archive extra:
    pip install 'domo-versions-iac[archive]'.
    """


@archive_command.command("dataset", hidden=True, epilog=CREDENTIALS_HELP)
@click.argument("dataset_id", metavar="DATASET_ID")
@click.option("--to", "url", required=True, metavar="URL", help="Where archives go.")
@click.option(
    "--versions",
    metavar="RANGES",
    help="Version ids as ranges (1-7, 9); default: every version not in processing.",
)
@click.option(
    "--include-appended-data",
    is_flag=True,
    help="Send excludeAppendedData=false (default true: the version's own rows).",
)
@_global_options
def archive_dataset_command(
    dataset_id: str, url: str, versions: str | None, include_appended_data: bool
) -> None:
    """Export and store versions of DATASET_ID, verified; deletes nothing."""
    from domo_versions_iac.archive.archiver import ArchiveOptions, Archiver
    from domo_versions_iac.deletion.id_ranges import parse_ranges

    options = _globals()
    with _logging(options.verbose), _errors(options.verbose):
        try:
            wanted = None if versions is None else set(parse_ranges(versions))
        except ValueError as exc:
            raise CliError(f"--versions {versions!r}: {exc}") from exc
        archive = ArchiveOptions(url, exclude_appended_data=not include_appended_data)
        with _client(options.instance) as client:
            listing = client.list_versions(dataset_id)
            chosen = [
                v
                for v in listing
                if (wanted is None and v.upload_status != "processing")
                or (wanted is not None and v.data_id in wanted)
            ]
            missing = sorted((wanted or set()) - {v.data_id for v in listing})
            if missing:
                raise CliError(
                    f"dataset {dataset_id} lists no version {', '.join(map(str, missing))}"
                )
            archiver = Archiver(client, archive, archived_by="domo-versions archive")
            results = archiver.archive(dataset_id, chosen)
        _print_results(archiver, dataset_id, chosen, results, options.as_json)


def _print_results(
    archiver: Any, dataset_id: str, chosen: list[Any], results: dict[int, str | None], as_json: bool
) -> None:
    from domo_versions_iac.archive.archiver import manifest_key, object_key

    instance = archiver.client.instance
    if as_json:
        _print_json(
            {
                "format_version": 1,
                "target": archiver.store.url,
                "dataset_id": dataset_id,
                "versions": {
                    str(v.data_id): {
                        "verified": results[v.data_id] is None,
                        "error": results[v.data_id],
                        "object": object_key(instance, dataset_id, v.data_id),
                        "manifest": manifest_key(instance, dataset_id, v.data_id),
                    }
                    for v in chosen
                },
            }
        )
    else:
        for version in chosen:
            why = results[version.data_id]
            where = archiver.store.location(object_key(instance, dataset_id, version.data_id))
            if why is None:
                click.echo(f"archived and verified {version.data_id}: {where}")
            else:
                click.echo(f"error: version {version.data_id} not archived: {why}", err=True)
        ok = sum(1 for why in results.values() if why is None)
        click.echo(f"dataset {dataset_id}: {ok} of {len(chosen)} versions archived and verified")
    if any(why is not None for why in results.values()):
        sys.exit(EXIT_ERROR)


def _store(url: str) -> Any:
    from domo_versions_iac.archive.store import ArchiveStore

    return ArchiveStore(url)


def _manifests(store: Any, dataset_id: str | None = None) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(store, manifest) for every manifest in ``store`` (of ``dataset_id`` if given)."""
    from domo_versions_iac.archive.archiver import read_manifest

    for obj in sorted(store.objects(), key=lambda o: o.key):
        if not obj.key.endswith(".manifest.json"):
            continue
        if dataset_id is not None and obj.key.split("/")[-2:-1] != [dataset_id]:
            continue
        manifest = read_manifest(store, obj.key)
        if manifest is not None:
            yield store, manifest


@archive_command.command("ls")
@click.argument("url", metavar="URL")
@click.argument("dataset_id", metavar="DATASET_ID", required=False)
@_global_options
def archive_ls_command(url: str, dataset_id: str | None) -> None:
    """List the archived versions under URL (of DATASET_ID), with sizes and dates."""
    from domo_versions_iac.policy.wording import format_bytes, format_count

    options = _globals()
    with _logging(options.verbose), _errors(options.verbose):
        found = [manifest for _, manifest in _manifests(_store(url), dataset_id)]
        if options.as_json:
            _print_json({"format_version": 1, "target": url, "archives": found})
            return
        header = f"{'instance':<22} {'dataset':<38} {'id':>6} {'recorded':<20} "
        click.echo(header + f"{'rows':>9} {'stored':>10} archived")
        for m in found:
            click.echo(
                f"{m['instance']:<22} {m['dataset_id']:<38} {m['version_id']:>6} "
                f"{m['recorded_date']:<20} {format_count(int(m['rows'])):>9} "
                f"{format_bytes(int(m['object']['size'])):>10} {m['archived_at']}"
            )
        total = sum(int(m["object"]["size"]) for m in found)
        click.echo(f"{len(found)} archived versions, {format_bytes(total)} stored")


@archive_command.command("verify")
@click.argument("url", metavar="URL")
@_global_options
def archive_verify_command(url: str) -> None:
    """Re-read every archive under URL and check its size and sha256 against its manifest.

    Also reports a stored CSV without a manifest (an archive that never verified).
    Exit 1 if anything does not verify.
    """
    from domo_versions_iac.archive.archiver import verify_manifest

    options = _globals()
    with _logging(options.verbose), _errors(options.verbose):
        problems = 0
        checked = 0
        described: set[str] = set()
        store = _store(url)
        for _, manifest in _manifests(store):
            checked += 1
            key = str(manifest.get("object", {}).get("key", ""))
            described.add(key)
            why = verify_manifest(store, manifest)
            if why is None:
                click.echo(f"ok {key}")
            else:
                problems += 1
                click.echo(f"FAILED {key}: {why}")
        for obj in store.objects():
            if obj.key.endswith(".csv.gz") and obj.key not in described:
                problems += 1
                click.echo(f"FAILED {obj.key}: no manifest (never verified)")
        click.echo(f"{checked} archives checked, {problems} problems")
        if problems:
            sys.exit(EXIT_ERROR)


@archive_command.command("get")
@click.argument("url", metavar="URL")
@click.argument("dataset_id", metavar="DATASET_ID")
@click.argument("version_id", metavar="VERSION_ID", type=click.IntRange(min=0))
@click.option("-o", "--output", metavar="FILE", help="Write the CSV to FILE (default: stdout).")
@_global_options
def archive_get_command(url: str, dataset_id: str, version_id: int, output: str | None) -> None:
    """Write one archived version's CSV (decompressed) to stdout or FILE.

    The stored bytes are hashed as they are read: if they do not match the manifest's
    sha256 the command fails (and FILE is not written).
    """
    options = _globals()
    with _logging(options.verbose), _errors(options.verbose):
        matches = [
            (store, m)
            for store, m in _manifests(_store(url), dataset_id)
            if m.get("version_id") == version_id
            and (options.instance is None or options.instance in str(m.get("instance")))
        ]
        if not matches:
            raise CliError(f"no archive of dataset {dataset_id} version {version_id} under {url}")
        if len(matches) > 1:
            raise CliError(
                f"dataset {dataset_id} version {version_id} is archived for several instances "
                f"({', '.join(str(m['instance']) for _, m in matches)}): pick one with --instance"
            )
        store, manifest = matches[0]
        if output is None:
            try:
                _copy_csv(store, manifest, sys.stdout.buffer)
            except BrokenPipeError:  # `... | head`: the reader has seen enough
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            return
        directory = os.path.dirname(os.path.abspath(output))
        with tempfile.NamedTemporaryFile("wb", dir=directory, delete=False) as tmp:
            try:
                _copy_csv(store, manifest, tmp)
            except BaseException:
                tmp.close()
                os.unlink(tmp.name)
                raise
        os.replace(tmp.name, output)
        click.echo(f"wrote {output}", err=True)


def _copy_csv(store: Any, manifest: dict[str, Any], out: IO[bytes]) -> None:
    """Decompress the stored object into ``out``, checking its sha256 at the end."""
    import hashlib

    from domo_versions_iac.archive.archiver import Gunzip

    digest = hashlib.sha256()
    gunzip = Gunzip()
    key = str(manifest["object"]["key"])
    for chunk in store.read(key):
        digest.update(chunk)
        for piece in gunzip.feed(chunk):
            out.write(piece)
    out.flush()
    if digest.hexdigest() != manifest["object"]["sha256"]:
        raise CliError(f"{key} does not match its manifest's sha256: run archive verify")
    if not gunzip.complete:
        raise CliError(f"{key} is not a whole gzip stream: run archive verify")


__all__ = ["archive_command"]
