"""Decoding a version listing: Domo's JSON array into ``DataVersion`` records, or a clear error.

One place decides whether a listing can be trusted to plan deletions: a cheap pre-check
turns plainly valid records into ``DataVersion`` while the JSON is decoded; anything
else is judged by the JSON Schema (the one source of the record's shape) and refused
with the first bad field; a listing that repeats a ``dataId`` is refused whole.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests

from domo_versions_iac.errors import InvalidResponseError, redact
from domo_versions_iac.models import UPLOAD_STATUSES, DataVersion, parse_instant, repeated_ids


def parse_listing(
    dataset_id: str, response: requests.Response, *, instance: str
) -> list[DataVersion]:
    """The versions in a 2xx listing response, in Domo's order; InvalidResponseError if
    the body is not a JSON array of valid, distinct records."""
    from domo_versions_iac.schemas import validator

    common: dict[str, Any] = {"instance": instance, "dataset_id": dataset_id}
    content = response.content
    response._content = b""  # the body is held once: as bytes, then as text
    text = ""
    try:
        text = content.decode(json.detect_encoding(content), "surrogatepass")
        content = b""
        # Records become DataVersions as they are decoded, so a listing of 100,000
        # versions never holds 100,000 dicts at once; anything else stays a dict.
        data = json.loads(text, object_hook=_version_or_dict)
    except ValueError:
        text = text or bytes(content).decode("utf-8", "replace")
        snippet = redact(text)[:80].strip()  # redacted before it is cut
        raise InvalidResponseError(
            f"The version listing is not JSON (starts with {snippet!r})", **common
        ) from None
    if not isinstance(data, list):
        kind = "dict" if isinstance(data, (dict, DataVersion)) else type(data).__name__
        raise InvalidResponseError(f"The version listing is a JSON {kind}, not an array", **common)
    versions: list[DataVersion] = []
    for position, record in enumerate(data):
        if isinstance(record, DataVersion):
            versions.append(record)
            continue
        field_name, detail = _diagnose(record, validator("dataversion"))
        if not field_name:  # valid after all (e.g. 5.0 for an integer)
            versions.append(DataVersion.from_api(record))
            continue
        label = f"record {position}"
        if isinstance(record, dict) and isinstance(record.get("dataId"), int):
            label += f" (dataId {record['dataId']})"
        raise InvalidResponseError(
            f"The version listing's {label} has a bad field {field_name!r}: {redact(detail)[:200]}",
            **common,
        )
    repeated = repeated_ids(versions)
    if repeated:
        shown = ", ".join(map(str, repeated[:10])) + (", ..." if len(repeated) > 10 else "")
        raise InvalidResponseError(
            f"The version listing contradicts itself: it repeats dataId {shown}",
            hint=(
                "A listing like this cannot be trusted to decide deletions, so nothing was "
                "deleted. Try again later; if it persists, report it to Domo support."
            ),
            **common,
        )
    return versions


_STATUSES = frozenset(UPLOAD_STATUSES)


def _plainly_valid(record: Any) -> bool:
    """A cheap pre-check that accepts only records the schema also accepts.

    Validating every record with jsonschema dominated the provider's time (profiled in
    bench/). Anything this does not accept is judged by the schema itself, which stays
    the one source of the record's shape; a property test keeps the two in agreement.
    """
    if type(record) is not dict:
        return False
    get = record.get
    data_id = get("dataId")
    if type(data_id) is not int or data_id < 0 or type(get("schemaId")) is not int:
        return False
    status = get("uploadStatus")
    if type(status) is not str or status not in _STATUSES or type(get("recordedDate")) is not str:
        return False
    completed = get("uploadCompletedDate")
    if completed is not None and type(completed) is not str:
        return False
    for key in ("numRows", "numBytes"):
        value = get(key)
        if value is not None and (type(value) is not int or value < 0):
            return False
    return True


def _version_or_dict(record: dict[str, Any]) -> DataVersion | dict[str, Any]:
    """json object_hook: a plainly valid record becomes a DataVersion (dates parsed
    once); anything else is left as a dict for the schema to judge."""
    if _plainly_valid(record):
        try:
            return DataVersion.from_api(record)
        except (KeyError, TypeError, ValueError):
            pass
    return record


def _diagnose(record: Any, check: Any) -> tuple[str, str]:
    """The first problem of a record as (field, detail), or ("", "") if it has none."""
    error = next(iter(sorted(check.iter_errors(record), key=lambda e: e.path)), None)
    if error is not None:
        return _error_field(error), error.message
    field_name, detail = _check_dates(record)
    if field_name:
        return field_name, detail
    try:
        DataVersion.from_api(record)
    except (KeyError, TypeError, ValueError) as exc:
        return "(record)", f"cannot be parsed ({exc})"
    return "", ""


def _check_dates(record: dict[str, Any]) -> tuple[str, str]:
    """The first date field that is not an ISO-8601 instant (the schema's ``format``
    is only checked when optional packages are installed), as (field, detail)."""
    for name in ("recordedDate", "uploadCompletedDate"):
        value = record.get(name)
        if isinstance(value, str):
            try:
                parse_instant(value)
            except ValueError:
                return name, f"{value[:40]!r} is not an ISO-8601 date-time"
    return "", ""


def _error_field(error: Any) -> str:
    path = [str(part) for part in error.path]
    if error.validator == "required":
        match = re.match(r"'([^']+)' is a required property", error.message)
        if match:
            path.append(match.group(1))
    return ".".join(path) or "(record)"


__all__ = ["parse_listing"]
