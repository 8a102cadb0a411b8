"""models.UploadStatus is the one list of upload statuses; the schema agrees with it."""

from __future__ import annotations

import pytest

from domo_versions_iac.domo.models import UPLOAD_STATUSES, DataVersion, parse_upload_status
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
