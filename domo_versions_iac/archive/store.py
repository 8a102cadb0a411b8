"""Where archives go: a local directory or object storage, behind one small interface.

Built on obstore (https://developmentseed.org/obstore/), Python bindings of the Rust
``object_store`` crate, rather than fsspec with s3fs, because:

* uploads stream with bounded memory: :func:`obstore.put` takes an iterator of chunks
  and sends it as a multipart upload (parts of ``PART_SIZE``, at most ``PART_CONCURRENCY``
  in flight), atomic: a failed or abandoned upload leaves no object behind;
* ``head`` reads back the stored size (and ETag), ``get`` streams the stored bytes back
  to hash them;
* ``file://`` (a local directory, the default that needs no account), ``s3://``,
  ``gs://`` and ``az://`` come from one URL parser, with credentials from the usual
  environment variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
  ``AWS_REGION``, ``AWS_ENDPOINT_URL``, ``AWS_ALLOW_HTTP``; ``GOOGLE_*``; ``AZURE_*``):
  nothing secret goes into the Pulumi state;
* one compiled wheel with no dependency tree (s3fs brings aiobotocore, botocore and
  aiohttp, with tight pins that clash with boto3), typed (mypy --strict sees it).

It is an optional extra (``pip install 'domo-versions-iac[archive]'``): a program without
``archive`` never imports it, and one with it says which extra to install.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from domo_versions_iac.domo.errors import ConfigurationError

if TYPE_CHECKING:
    from obstore.store import ObjectStore

EXTRA_HINT = "pip install 'domo-versions-iac[archive]'"
SCHEMES = ("file", "s3", "gs", "az")
PART_SIZE = 8 * 1024 * 1024  # S3's smallest part is 5 MiB
PART_CONCURRENCY = 2  # parts in flight per upload: memory ~ PART_SIZE * (this + 1)
READ_CHUNK = 1024 * 1024


class ArchiveStoreError(Exception):
    """Storing, reading or listing failed; the message says what and where."""


@dataclass(frozen=True)
class StoredObject:
    """What the store says of an object: its key, size and ETag."""

    key: str
    size: int
    e_tag: str | None


def _obstore() -> Any:
    try:
        import obstore
        import obstore.store
    except ImportError:
        raise ConfigurationError(
            "archiving needs the obstore package, which is not installed",
            hint=f"Install the archive extra: {EXTRA_HINT}",
        ) from None
    return obstore


def normalize_url(url: str) -> str:
    """``s3://bucket/prefix``, ``gs://...``, ``az://...`` or ``file:///abs/dir``; a plain
    path is a local directory. Raises ConfigurationError for anything else."""
    text = str(url).strip()
    if not text:
        raise ConfigurationError("the archive target is empty", hint="Give e.g. s3://bucket/prefix")
    parts = urlsplit(text)
    if not parts.scheme or len(parts.scheme) == 1:  # a path (or a Windows drive letter)
        return Path(text).expanduser().resolve().as_uri()
    if parts.scheme not in SCHEMES:
        raise ConfigurationError(
            f"archive target {text!r}: the scheme {parts.scheme}:// is not supported",
            hint="Use file:///a/directory, s3://bucket/prefix, gs://bucket/prefix or az://...",
        )
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ConfigurationError(f"archive target {text!r}: file:// URLs name a local path")
        return Path(unquote(parts.path)).resolve().as_uri()
    if not parts.netloc:
        raise ConfigurationError(f"archive target {text!r} names no bucket")
    return text.rstrip("/")


class ArchiveStore:
    """One archive target: keys relative to its prefix. Thread-safe (obstore's stores are)."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        obs = _obstore()
        try:
            if self.url.startswith("file://"):
                self._store: ObjectStore = obs.store.from_url(self.url, mkdir=True)
            else:
                self._store = obs.store.from_url(self.url)
        except Exception as exc:
            raise ConfigurationError(
                f"archive target {self.url}: {exc}",
                hint="Check the URL and the storage's environment variables (AWS_*, ...).",
            ) from exc
        self._obs = obs

    def __repr__(self) -> str:
        return f"ArchiveStore({self.url!r})"

    def location(self, key: str) -> str:
        return f"{self.url}/{key}"

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> None:
        """Upload ``chunks`` as the object ``key``, streaming (multipart), atomically.

        An exception raised by ``chunks`` propagates as it is (the upload is abandoned);
        a failure of the store raises ArchiveStoreError.
        """
        source = _Guarded(chunks)
        try:
            self._obs.put(
                self._store,
                key,
                source,
                chunk_size=PART_SIZE,
                max_concurrency=PART_CONCURRENCY,
            )
        except Exception as exc:
            if source.error is not None:
                raise source.error from None
            raise ArchiveStoreError(f"could not store {self.location(key)}: {exc}") from exc

    def put_bytes(self, key: str, data: bytes) -> None:
        try:
            self._obs.put(self._store, key, data, use_multipart=False)
        except Exception as exc:
            raise ArchiveStoreError(f"could not store {self.location(key)}: {exc}") from exc

    def head(self, key: str) -> StoredObject | None:
        """The stored object's size and ETag; None if there is none."""
        try:
            meta = self._obs.head(self._store, key)
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise ArchiveStoreError(f"could not read {self.location(key)}: {exc}") from exc
        return StoredObject(key, int(meta["size"]), meta.get("e_tag"))

    def read(self, key: str) -> Iterator[bytes]:
        """The stored bytes, in chunks (streamed, never whole)."""
        try:
            result = self._obs.get(self._store, key)
            for chunk in result.stream(READ_CHUNK):
                yield bytes(chunk)
        except FileNotFoundError:
            raise ArchiveStoreError(f"{self.location(key)} does not exist") from None
        except ArchiveStoreError:
            raise
        except Exception as exc:
            raise ArchiveStoreError(f"could not read {self.location(key)}: {exc}") from exc

    def read_bytes(self, key: str) -> bytes | None:
        """A small object whole (a manifest); None if there is none."""
        try:
            return bytes(self._obs.get(self._store, key).bytes())
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise ArchiveStoreError(f"could not read {self.location(key)}: {exc}") from exc

    def sha256(self, key: str) -> tuple[int, str]:
        """Size and sha256 of the stored bytes, read back from the store."""
        digest = hashlib.sha256()
        size = 0
        for chunk in self.read(key):
            digest.update(chunk)
            size += len(chunk)
        return size, digest.hexdigest()

    def objects(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every object under ``prefix`` (relative to the target)."""
        try:
            for batch in self._obs.list(self._store, prefix=prefix or None):
                for meta in batch:
                    yield StoredObject(str(meta["path"]), int(meta["size"]), meta.get("e_tag"))
        except Exception as exc:
            raise ArchiveStoreError(f"could not list {self.location(prefix)}: {exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self._obs.delete(self._store, key)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise ArchiveStoreError(f"could not delete {self.location(key)}: {exc}") from exc


class _Guarded(Iterator[bytes]):
    """Remembers the exception its source raised, so the caller re-raises that one (a
    cut export stays a cut export, retried as such) rather than the store's wrapper."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self.error: BaseException | None = None

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except StopIteration:
            raise
        except BaseException as exc:
            self.error = exc
            raise


def default_concurrency() -> int:
    """Versions archived at once in this process (``DOMO_ARCHIVE_CONCURRENCY``, default 4)."""
    text = os.environ.get("DOMO_ARCHIVE_CONCURRENCY", "").strip()
    try:
        value = int(text) if text else 4
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigurationError(
            f"DOMO_ARCHIVE_CONCURRENCY={text!r} is not a positive integer",
            hint="Unset it for the default of 4.",
        )
    return value


__all__ = [
    "EXTRA_HINT",
    "ArchiveStore",
    "ArchiveStoreError",
    "StoredObject",
    "default_concurrency",
    "normalize_url",
]
