"""Archive before delete: export a version, store it, prove it, then let it go.

For one version, in this order (README, "Archive before delete")::

    export (DomoClient.export_version, streamed)
      -> gzip (a gzip body is kept as Domo sent it; a plain one is compressed as it streams)
      -> store (ArchiveStore.put_stream: multipart, atomic) at
         <prefix>/<instance>/<dataset id>/<version id>.csv.gz
      -> read back: the stored size (head) and the sha256 of the stored bytes (re-read)
         equal what was sent
      -> the CSV's records, less its header, equal the listing's numRows
      -> write the manifest beside it, <version id>.manifest.json

Only a version whose manifest was written is "archived and verified", and only such a
version may be deleted when an archive is configured (the deletion gate's ``archived``).
A manifest that exists and still verifies (the object's size and sha256, its rows
against the listing) means the version is not exported again: a rerun after a crash
costs a read of the archive, not an export.

Memory is bounded whatever the version's size: chunks of 64 KiB from Domo, parts of
8 MiB to the store, a few versions at a time (``DOMO_ARCHIVE_CONCURRENCY``, default 4,
for the whole process: every dataset shares it).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from domo_versions_iac.archive.store import (
    ArchiveStore,
    ArchiveStoreError,
    default_concurrency,
    normalize_url,
)
from domo_versions_iac.domo.errors import ConfigurationError, DomoError
from domo_versions_iac.domo.models import DataVersion, format_instant

MANIFEST_FORMAT = 1
_DELETE_COUNT = re.compile(r"\bdelete \d+ of \d+ versions?\b")
_LOCK = threading.Lock()
_SLOTS: dict[int, threading.BoundedSemaphore] = {}


class ArchiveError(Exception):
    """One version could not be archived and verified; the message says why."""


class Exporter(Protocol):
    """What archiving needs of a client (DomoClient)."""

    @property
    def instance(self) -> str: ...

    def export_version(
        self,
        dataset_id: str,
        version_id: int,
        consume: Any,
        *,
        exclude_appended_data: bool = True,
        row_limit: int | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class ArchiveOptions:
    """The ``archive`` input: where to, and the export's parameters."""

    to: str
    exclude_appended_data: bool = True

    @classmethod
    def from_value(cls, value: Any) -> ArchiveOptions | None:
        """From the input (a dict, or a URL string); None when not configured."""
        if value is None or value == {} or value == "":
            return None
        if isinstance(value, str):
            return cls(to=value)
        if not isinstance(value, dict):
            raise ValueError("archive must be an object such as {'to': 's3://bucket/prefix'}")
        unknown = sorted(set(value) - {"to", "exclude_appended_data"})
        if unknown:
            raise ValueError(f"archive: unknown key(s) {', '.join(unknown)}")
        to = value.get("to")
        if not isinstance(to, str) or not to.strip():
            raise ValueError("archive.to must be a URL such as s3://bucket/prefix or file:///dir")
        exclude = value.get("exclude_appended_data", True)
        if not isinstance(exclude, bool):
            raise ValueError("archive.exclude_appended_data must be true or false")
        return cls(to=to.strip(), exclude_appended_data=exclude)

    def to_dict(self) -> dict[str, Any]:
        return {"to": self.to, "exclude_appended_data": self.exclude_appended_data}


def effective_archive(given: Any, config: Any) -> ArchiveOptions | None:
    """The archive of one resource: its ``archive`` input, else the stack config
    ``domo:archive`` (a JSON object like the input, or a URL alone), else none.

    Raises ValueError naming the source when the one that applies is malformed.
    """
    if given:
        return ArchiveOptions.from_value(given)
    text = config.get("domo:archive") if isinstance(config, dict) else None
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    value: Any = text
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"stack config domo:archive is not valid JSON: {exc}") from None
    try:
        options = ArchiveOptions.from_value(value)
        if options is not None:
            normalize_url(options.to)
    except (ValueError, ConfigurationError) as exc:
        raise ValueError(f"stack config domo:archive: {exc}") from None
    return options


def with_archive(summary: str, options: ArchiveOptions | None) -> str:
    """A plan's summary line saying where the versions go first:
    "delete 8 of 12 versions (archived first to s3://...), 47.9 MB, 341.8 k rows"."""
    if options is None:
        return summary
    return _DELETE_COUNT.sub(
        lambda match: f"{match.group(0)} (archived first to {options.to})", summary, count=1
    )


def instance_dir(instance: str) -> str:
    """The instance as a path segment: ``acme.domo.com``, ``127.0.0.1_8123``."""
    return instance.replace(":", "_").replace("/", "_")


def object_key(instance: str, dataset_id: str, version_id: int) -> str:
    return f"{instance_dir(instance)}/{dataset_id}/{version_id}.csv.gz"


def manifest_key(instance: str, dataset_id: str, version_id: int) -> str:
    return f"{instance_dir(instance)}/{dataset_id}/{version_id}.manifest.json"


class CsvRecords:
    """Counts CSV records (RFC 4180) as bytes stream past: a line break inside a quoted
    field is not a record, a last line without a line break is."""

    def __init__(self) -> None:
        self.breaks = 0
        self.in_quotes = False
        self._last = b""

    def feed(self, data: bytes) -> None:
        if not data:
            return
        if not self.in_quotes and b'"' not in data:
            self.breaks += data.count(b"\n")
        else:
            # Between quotes k and k+1 (split's part k+1) is inside a field when k is
            # even, counting the chunk's start as inside if a field was open. ("" in a
            # field toggles twice.) Joining those parts keeps the work in C.
            parts = data.split(b'"')
            inside = b"".join(parts[0 if self.in_quotes else 1 :: 2]).count(b"\n")
            self.breaks += data.count(b"\n") - inside
            if len(parts) % 2 == 0:  # an odd number of quotes: the state flips
                self.in_quotes = not self.in_quotes
        self._last = data[-1:]

    @property
    def records(self) -> int:
        return self.breaks + (1 if self._last not in (b"", b"\n") else 0)


class _Sent:
    """What one export attempt sent to the store: bytes, sha256, CSV records."""

    def __init__(self) -> None:
        self.size = 0
        self.digest = hashlib.sha256()
        self.csv = CsvRecords()
        self.source_encoding = ""


def _gzip_stream(body: Any, sent: _Sent) -> Iterator[bytes]:
    """The export as gzip bytes for the store, counting and hashing on the way."""
    encoding = body.content_encoding or "identity"
    sent.source_encoding = encoding
    if encoding == "gzip":
        gunzip = Gunzip()
        for chunk in body:
            for plain in gunzip.feed(chunk):
                sent.csv.feed(plain)
            yield _count(sent, chunk)
        if not gunzip.complete:
            raise ArchiveError("the export's gzip body ended before its end (cut short)")
        return
    if encoding != "identity":
        raise ArchiveError(f"the export came with Content-Encoding {encoding!r}, not gzip or none")
    deflate = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    for chunk in body:
        sent.csv.feed(chunk)
        out = deflate.compress(chunk)
        if out:
            yield _count(sent, out)
    yield _count(sent, deflate.flush())


class Gunzip:
    """Decompresses a gzip stream of one or more members as it arrives, in pieces of at
    most 1 MiB: a highly compressible chunk never expands whole in memory."""

    PIECE = 1024 * 1024

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self._inflate.eof:  # the next member
                self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
            piece = self._inflate.decompress(data, self.PIECE)
            if piece:
                yield piece
            while len(piece) == self.PIECE and not self._inflate.unconsumed_tail:
                piece = self._inflate.decompress(b"", self.PIECE)  # output still held back
                if piece:
                    yield piece
            data = self._inflate.unused_data if self._inflate.eof else self._inflate.unconsumed_tail

    @property
    def complete(self) -> bool:
        """At the end of a member (a cut stream is not)."""
        return bool(self._inflate.eof)


def _count(sent: _Sent, data: bytes) -> bytes:
    sent.size += len(data)
    sent.digest.update(data)
    return data


def _slots(limit: int) -> threading.BoundedSemaphore:
    """One semaphore per limit for the process: every dataset's archiving shares it."""
    with _LOCK:
        if limit not in _SLOTS:
            _SLOTS[limit] = threading.BoundedSemaphore(limit)
        return _SLOTS[limit]


class Archiver:
    """Archives versions of one instance to one target, and proves each archive."""

    def __init__(
        self,
        client: Exporter,
        options: ArchiveOptions,
        *,
        archived_by: str = "domo-versions",
        store: ArchiveStore | None = None,
        concurrency: int | None = None,
        now: Any = None,
    ) -> None:
        self.client = client
        self.options = options
        self.store = store if store is not None else ArchiveStore(options.to)
        self.archived_by = archived_by
        self.run_id = uuid.uuid4().hex[:12]
        self.concurrency = concurrency or default_concurrency()
        self._now = now or (lambda: datetime.now(timezone.utc))

    # -- many versions ---------------------------------------------------------------

    def archive(self, dataset_id: str, versions: Sequence[DataVersion]) -> dict[int, str | None]:
        """Archive and verify each version; per id None (verified) or why it failed."""
        if not versions:
            return {}
        slots = _slots(self.concurrency)

        def one(version: DataVersion) -> str | None:
            with slots:
                try:
                    self.archive_version(dataset_id, version)
                except (ArchiveError, ArchiveStoreError, DomoError) as exc:
                    return str(exc)
                except Exception as exc:  # never let one version stop the others
                    return f"{type(exc).__name__}: {exc}"
            return None

        workers = min(self.concurrency, len(versions))
        with ThreadPoolExecutor(workers, thread_name_prefix="domo-archive") as pool:
            results = list(pool.map(one, versions))
        return {version.data_id: why for version, why in zip(versions, results, strict=True)}

    # -- one version -----------------------------------------------------------------

    def archive_version(self, dataset_id: str, version: DataVersion) -> dict[str, Any]:
        """Export, store, read back, check rows, write the manifest; return it.

        An existing manifest that verifies is returned as it is (nothing exported).
        Raises ArchiveError (or the store's or Domo's error) when it cannot be proven.
        """
        instance = self.client.instance
        key = object_key(instance, dataset_id, version.data_id)
        existing = read_manifest(self.store, manifest_key(instance, dataset_id, version.data_id))
        if existing is not None and not verify_manifest(self.store, existing, version):
            return existing
        sent = self._export_and_store(dataset_id, version.data_id, key)
        stored = self.store.head(key)
        if stored is None or stored.size != sent.size:
            raise ArchiveError(
                f"version {version.data_id}: the store holds "
                f"{'nothing' if stored is None else f'{stored.size} bytes'} at {key}, "
                f"{sent.size} bytes were sent"
            )
        size, sha256 = self.store.sha256(key)
        if size != sent.size or sha256 != sent.digest.hexdigest():
            raise ArchiveError(
                f"version {version.data_id}: the stored object reads back differently "
                f"({size} bytes, sha256 {sha256[:12]}...) from what was sent"
            )
        rows = max(sent.csv.records - 1, 0)  # less the header line
        if rows != version.num_rows:
            self.store.delete(key)  # not a faithful copy: leave nothing that looks like one
            raise ArchiveError(
                f"version {version.data_id}: the export holds {rows} rows, "
                f"the listing says {version.num_rows}"
            )
        manifest = self._manifest(dataset_id, version, key, size, sha256, sent)
        body = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        self.store.put_bytes(manifest_key(instance, dataset_id, version.data_id), body)
        return manifest

    def _export_and_store(self, dataset_id: str, version_id: int, key: str) -> _Sent:
        attempts: list[_Sent] = []

        def consume(body: Any) -> None:
            sent = _Sent()
            attempts.append(sent)  # each retried export starts over
            self.store.put_stream(key, _gzip_stream(body, sent))

        self.client.export_version(
            dataset_id,
            version_id,
            consume,
            exclude_appended_data=self.options.exclude_appended_data,
        )
        if not attempts:
            raise ArchiveError(f"version {version_id}: the export returned no body")
        return attempts[-1]

    def _manifest(
        self,
        dataset_id: str,
        version: DataVersion,
        key: str,
        size: int,
        sha256: str,
        sent: _Sent,
    ) -> dict[str, Any]:
        return {
            "format_version": MANIFEST_FORMAT,
            "instance": self.client.instance,
            "dataset_id": dataset_id,
            "version_id": version.data_id,
            "recorded_date": format_instant(version.recorded_date),
            "upload_status": version.upload_status,
            "rows": version.num_rows,
            "bytes": version.num_bytes,
            "schema_id": version.schema_id,
            "object": {
                "key": key,
                "size": size,
                "sha256": sha256,
                "compression": "gzip",
                "export_content_encoding": sent.source_encoding,
            },
            "archived_at": format_instant(self._now()),
            "archived_by": {"update": self.archived_by, "run": self.run_id},
            "export": {
                "exclude_appended_data": self.options.exclude_appended_data,
                "row_limit": None,
            },
        }


def read_manifest(store: ArchiveStore, key: str) -> dict[str, Any] | None:
    """The manifest at ``key``; None if there is none or it is not a manifest."""
    data = store.read_bytes(key)
    if data is None:
        return None
    try:
        manifest = json.loads(data)
    except ValueError:
        return None
    return manifest if isinstance(manifest, dict) and "object" in manifest else None


def verify_manifest(
    store: ArchiveStore, manifest: dict[str, Any], version: DataVersion | None = None
) -> str | None:
    """Why the archive a manifest describes does not verify, or None if it does.

    The stored object must exist with the manifest's size and sha256 (its bytes read
    back and hashed); given the listed ``version``, the manifest's rows and schema must
    be that version's.
    """
    try:
        key = str(manifest["object"]["key"])
        size = int(manifest["object"]["size"])
        sha256 = str(manifest["object"]["sha256"])
    except (KeyError, TypeError, ValueError):
        return "the manifest is malformed"
    if version is not None and (
        manifest.get("rows") != version.num_rows or manifest.get("schema_id") != version.schema_id
    ):
        return "the manifest's rows or schema differ from the listing"
    stored = store.head(key)
    if stored is None:
        return f"{key} is missing"
    if stored.size != size:
        return f"{key} holds {stored.size} bytes, the manifest says {size}"
    got_size, got_sha = store.sha256(key)
    if got_size != size or got_sha != sha256:
        return f"{key}: sha256 {got_sha[:12]}... differs from the manifest's {sha256[:12]}..."
    return None


def archive_hook(archiver: Archiver, dataset_id: str) -> Any:
    """The delete loop's ``archive`` hook for one dataset (see deletion.apply_retention)."""

    def hook(listing: Sequence[DataVersion], ids: Sequence[int]) -> dict[int, str | None]:
        wanted = set(ids)
        versions = [v for v in listing if v.data_id in wanted]
        results = archiver.archive(dataset_id, versions)
        for data_id in wanted - set(results):
            results[data_id] = "not in the listing taken before archiving"
        return results

    return hook


__all__ = [
    "MANIFEST_FORMAT",
    "ArchiveError",
    "ArchiveOptions",
    "Archiver",
    "CsvRecords",
    "Gunzip",
    "archive_hook",
    "effective_archive",
    "instance_dir",
    "manifest_key",
    "object_key",
    "read_manifest",
    "verify_manifest",
    "with_archive",
]
