"""Building Domo v2 data version records: one place for the seed, the store and tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from domo_versions_iac.domo.models import format_instant


def version_record(
    data_id: int,
    *,
    status: str = "success",
    recorded: datetime,
    rows: int = 0,
    num_bytes: int | None = None,
    schema_id: int = 1,
    upload_duration: timedelta = timedelta(seconds=30),
) -> dict[str, Any]:
    """A record as Domo lists it; failed and in-flight uploads carry no rows or bytes.

    ``num_bytes`` defaults to 120 bytes per row. A ``processing`` upload has no
    ``uploadCompletedDate`` yet.
    """
    record: dict[str, Any] = {
        "schemaId": schema_id,
        "dataId": data_id,
        "uploadStatus": status,
        "recordedDate": format_instant(recorded),
    }
    if status != "processing":
        record["uploadCompletedDate"] = format_instant(recorded + upload_duration)
    counted = status == "success"
    record["numRows"] = rows if counted else 0
    record["numBytes"] = (num_bytes if num_bytes is not None else rows * 120) if counted else 0
    return record
