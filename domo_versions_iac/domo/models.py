"""Data versions as the rest of the package sees them: parsed, typed, immutable.

The client builds a :class:`DataVersion` only from a record that a cheap pre-check
accepts (a subset of what ``schemas/dataversion.schema.json`` accepts); anything else
is judged by that schema and reported, so parsing here can stay simple.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from operator import attrgetter
from typing import Any, Literal, get_args

UploadStatus = Literal["success", "error", "processing"]
"""A version's upload: done, failed, or still in flight (the schema's enum)."""
UPLOAD_STATUSES: tuple[UploadStatus, ...] = get_args(UploadStatus)
# Version ids per DELETE request unless the resource says otherwise. Domo documents no
# limit; 500 ids are a body of a few KB. Every batch needs a fresh listing first (the
# deletion gate), so larger batches mean fewer listings; a 413 answer halves the size
# for the rest of the update (deletion.apply_retention).
DEFAULT_BATCH_SIZE = 500
_BY_NAME: dict[str, UploadStatus] = {status: status for status in UPLOAD_STATUSES}


def parse_upload_status(value: object) -> UploadStatus:
    """``value`` as an :data:`UploadStatus`; ValueError for a status Domo does not document."""
    status = _BY_NAME.get(value) if isinstance(value, str) else None
    if status is None:
        raise ValueError(f"upload status must be one of {', '.join(UPLOAD_STATUSES)}: {value!r}")
    return status


def parse_instant(text: str) -> datetime:
    """Parse an ISO-8601 instant; a missing offset means UTC (Domo's convention)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def format_instant(value: datetime) -> str:
    """Format an aware datetime the way Domo does: ``2023-03-31T14:21:13Z``."""
    utc = value.astimezone(timezone.utc)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class DataVersion:
    """One data version of a dataset, as Domo lists it."""

    data_id: int
    schema_id: int
    upload_status: UploadStatus
    recorded_date: datetime
    upload_completed_date: datetime | None
    num_rows: int
    num_bytes: int

    @classmethod
    def from_api(cls, record: dict[str, Any]) -> DataVersion:
        """Build from one record of the v2 listing (already checked; see the module docstring)."""
        completed = record.get("uploadCompletedDate")
        return cls(
            data_id=int(record["dataId"]),
            schema_id=int(record["schemaId"]),
            upload_status=parse_upload_status(record["uploadStatus"]),
            recorded_date=parse_instant(record["recordedDate"]),
            upload_completed_date=parse_instant(completed) if completed else None,
            num_rows=int(record.get("numRows") or 0),
            num_bytes=int(record.get("numBytes") or 0),
        )

    def to_api(self) -> dict[str, Any]:
        """The record in Domo's v2 JSON shape (camelCase, ``Z`` instants)."""
        return {
            "schemaId": self.schema_id,
            "dataId": self.data_id,
            "uploadStatus": self.upload_status,
            "recordedDate": format_instant(self.recorded_date),
            "uploadCompletedDate": (
                format_instant(self.upload_completed_date) if self.upload_completed_date else None
            ),
            "numRows": self.num_rows,
            "numBytes": self.num_bytes,
        }

    def to_dict(self) -> dict[str, Any]:
        """The record in this package's snake_case shape (plans, outputs, --json)."""
        return {
            "data_id": self.data_id,
            "schema_id": self.schema_id,
            "upload_status": self.upload_status,
            "recorded_date": format_instant(self.recorded_date),
            "upload_completed_date": (
                format_instant(self.upload_completed_date) if self.upload_completed_date else None
            ),
            "num_rows": self.num_rows,
            "num_bytes": self.num_bytes,
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> DataVersion:
        """Inverse of :meth:`to_dict` (used to read provider state back)."""
        completed = record.get("upload_completed_date")
        return cls(
            data_id=int(record["data_id"]),
            schema_id=int(record["schema_id"]),
            upload_status=parse_upload_status(record["upload_status"]),
            recorded_date=parse_instant(record["recorded_date"]),
            upload_completed_date=parse_instant(completed) if completed else None,
            num_rows=int(record.get("num_rows") or 0),
            num_bytes=int(record.get("num_bytes") or 0),
        )


def repeated_ids(listing: Iterable[DataVersion]) -> list[int]:
    """Ids that a listing holds more than once, ascending."""
    counts = Counter(version.data_id for version in listing)
    return sorted(data_id for data_id, n in counts.items() if n > 1)


def protected_ids(listing: Iterable[DataVersion]) -> frozenset[int]:
    """The newest successful version and every upload in processing: never deleted.

    "Newest" is two versions when a clock was wrong, both protected: the successful
    version recorded last (ties broken by the higher id, as in plan_retention), and
    the successful version with the highest id (the latest upload, whatever its date).
    """
    newest: DataVersion | None = None
    highest: int | None = None
    protected: set[int] = set()
    for version in listing:
        if version.upload_status == "success":
            if newest is None or (version.recorded_date, version.data_id) > (
                newest.recorded_date,
                newest.data_id,
            ):
                newest = version
            if highest is None or version.data_id > highest:
                highest = version.data_id
        elif version.upload_status != "error":
            protected.add(version.data_id)
    if newest is not None:
        protected.add(newest.data_id)
    if highest is not None:
        protected.add(highest)
    return frozenset(protected)


def listing_digest(listing: list[DataVersion]) -> str:
    """16 hex digits over every listed version's id and metadata, in id order.

    Refresh compares it to tell drift; the plan fingerprint builds on it, and saved
    plans and state carry it: the bytes hashed must never change (tests/unit/
    test_models.py pins them). Hashed in blocks of joined entries, not one update per
    version (1.23 to 1.14 ms per 1,000 versions), the block bounding what is held."""
    digest = hashlib.sha256()
    ordered = sorted(listing, key=_by_id)
    for start in range(0, len(ordered), _DIGEST_BLOCK):
        digest.update(
            "".join(
                [
                    f"{v.data_id}:{v.schema_id}:{v.upload_status}:{v.recorded_date.timestamp()}:"
                    f"{v.upload_completed_date.timestamp() if v.upload_completed_date else ''}:"
                    f"{v.num_rows}:{v.num_bytes};"
                    for v in ordered[start : start + _DIGEST_BLOCK]
                ]
            ).encode()
        )
    return digest.hexdigest()[:16]


_by_id = attrgetter("data_id")
_DIGEST_BLOCK = 1000  # versions per sha256 update in listing_digest
