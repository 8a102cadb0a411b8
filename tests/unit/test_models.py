"""models.UploadStatus is the one list of upload statuses; the schema agrees with it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from domo_versions_iac.domo.models import (
    UPLOAD_STATUSES,
    DataVersion,
    listing_digest,
    parse_instant,
    parse_upload_status,
)
from domo_versions_iac.schemas import load_schema

RECORD = {"schemaId": 1, "dataId": 7, "recordedDate": "2026-01-02T03:04:05Z"}


def test_the_schema_enum_is_the_upload_status_type() -> None:
    enum = load_schema("dataversion")["properties"]["uploadStatus"]["enum"]
    assert tuple(enum) == UPLOAD_STATUSES == ("success", "error", "processing")


@pytest.mark.parametrize("status", UPLOAD_STATUSES)
def test_each_status_round_trips(status: str) -> None:
    version = DataVersion.from_api({**RECORD, "uploadStatus": status})
    assert version.upload_status == status
    assert DataVersion.from_dict(version.to_dict()) == version


@pytest.mark.parametrize("value", ["queued", "SUCCESS", "", None, 1])
def test_an_undocumented_status_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="upload status must be one of success, error, processing"):
        parse_upload_status(value)
    with pytest.raises(ValueError, match="upload status"):
        DataVersion.from_api({**RECORD, "uploadStatus": value})


def _version(
    data_id: int,
    status: str = "success",
    recorded: str = "2023-03-31T14:21:13Z",
    completed: str | None = "2023-03-31T14:21:43.5Z",
    rows: int = 10,
    num_bytes: int = 1200,
    schema_id: int = 1,
) -> DataVersion:
    return DataVersion(
        data_id,
        schema_id,
        parse_upload_status(status),
        parse_instant(recorded),
        parse_instant(completed) if completed else None,
        rows,
        num_bytes,
    )


def test_the_listing_digest_is_the_one_saved_plans_and_state_carry() -> None:
    """Pinned: a preview's plan basis and the state's listing_digest are compared with
    digests made by earlier releases, so the bytes hashed must never change."""
    mixed = [
        _version(7, "processing", completed=None, rows=0, num_bytes=0),
        _version(2, "error", recorded="2021-01-01T00:00:00.123456+02:00", rows=0, num_bytes=0),
        _version(
            5,
            schema_id=3,
            recorded="1969-12-31T23:59:59.5Z",
            completed="1970-01-01T00:00:00.00001Z",
        ),
    ]
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    big = [  # more than one block of the digest, given newest first
        _version(
            i,
            recorded=(start + timedelta(minutes=7 * i, microseconds=i)).isoformat(),
            rows=i,
            num_bytes=i * 120,
        )
        for i in range(2500, 0, -1)
    ]
    assert listing_digest([]) == "e3b0c44298fc1c14"
    assert listing_digest([_version(1)]) == "172993f8e87d4107"
    assert listing_digest(mixed) == "7978cb1a5bfdb3e9"
    assert listing_digest(big) == "0f197af165d80c15"
