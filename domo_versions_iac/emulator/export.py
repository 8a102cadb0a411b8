"""Synthetic CSV rows of one data version, as the emulator's export serves them.

Deterministic: the same dataset, version, schema and row count give the same bytes on
every call, so a test can compare an archive with what the emulator served. Generated
in blocks of rows as they are sent, so a version of millions of rows is never built
whole. Every seventh row's ``note`` is a quoted field holding a comma, doubled quotes and
a line break: an archive that counted lines instead of CSV records would miscount.

No HTTP here: :mod:`.server` writes these chunks; :mod:`.store` decides what to serve.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

# Column names a schema may have, in order; schema N has the first 2 + N % 4 of them,
# then ``note`` (so every schema has a quoted field with a line break in some rows).
_COLUMNS = ("row_id", "version", "region", "amount", "units")
_REGIONS = ("north", "south", "east", "west", "central")
_BLOCK_ROWS = 2048
_QUOTED_NOTE = '"said ""hi"", then\nleft"'


@dataclass(frozen=True)
class ExportSpec:
    """What one export serves: ``rows`` rows of the version after a header line."""

    dataset_id: str
    version_id: int
    schema_id: int
    rows: int


def columns(schema_id: int) -> tuple[str, ...]:
    """The header of a schema: more columns for some schema ids than others."""
    return (*_COLUMNS[: 2 + schema_id % 4], "note")


def _row(spec: ExportSpec, seed: int, index: int, width: int) -> str:
    values = [
        str(index + 1),
        str(spec.version_id),
        _REGIONS[(seed + index) % len(_REGIONS)],
        f"{((seed ^ index) * 7919) % 1_000_000 / 100:.2f}",
        str((seed + index * 31) % 997),
    ][: width - 1]
    values.append(_QUOTED_NOTE if index % 7 == 3 else f"n{index % 100}")
    return ",".join(values)


def csv_chunks(spec: ExportSpec) -> Iterator[bytes]:
    """The CSV body (UTF-8, ``\\n`` line ends), a block of rows per chunk."""
    header = columns(spec.schema_id)
    width = len(header)
    seed = zlib.crc32(f"{spec.dataset_id}/{spec.version_id}".encode())
    yield (",".join(header) + "\n").encode("utf-8")
    for start in range(0, max(spec.rows, 0), _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, spec.rows)
        block = "\n".join(_row(spec, seed, index, width) for index in range(start, stop))
        yield (block + "\n").encode("utf-8")


def gzip_chunks(chunks: Iterator[bytes], level: int = 6) -> Iterator[bytes]:
    """``chunks`` compressed as one gzip member, as they come (never all at once)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


def export_csv(spec: ExportSpec) -> bytes:
    """The whole CSV at once: for tests that compare an archive with what was served."""
    return b"".join(csv_chunks(spec))


__all__ = ["ExportSpec", "columns", "csv_chunks", "export_csv", "gzip_chunks"]
