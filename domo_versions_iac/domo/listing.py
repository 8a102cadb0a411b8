"""Decoding a version listing: Domo's JSON array into ``DataVersion`` records, or a clear error.

One place decides whether a listing can be trusted to plan deletions: a cheap pre-check
turns plainly valid records into ``DataVersion`` while the JSON is decoded; anything
else is judged by the JSON Schema (the one source of the record's shape) and refused
with the first bad field; a listing that repeats a ``dataId`` is refused whole.

Why msgspec: it decodes runs of records straight into ``DataVersion`` (a 1,000-record,
182 KB body through ``ListingBody``: 0.9 ms, against 5.3 ms with ``json``, the Python
pre-check and ``DataVersion.from_api``; orjson gives dicts, 2.5 ms with from_api). Ours
stays around it: the window loop (neither library decodes part of a body), the
pre-check, the schema and ``json`` for whatever msgspec is not sure of.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Annotated, Any

import msgspec

from domo_versions_iac.domo.errors import InvalidResponseError, redact
from domo_versions_iac.domo.models import (
    UPLOAD_STATUSES,
    DataVersion,
    UploadStatus,
    parse_instant,
    repeated_ids,
)


class ListingBody:
    """A 2xx listing's body, decoded as it arrives: the transport calls this object
    with the body's chunks (``exchange(stream_to=...)``), once per attempt.

    A listing of 100,000 versions is ~20 MB of JSON; decoded a window at a time it is
    never held whole, as bytes or as text (bench/README.md, item 4).
    """

    def __init__(self) -> None:
        self._data: Any = None
        self._error: _NotJSON | None = None

    def __call__(self, chunks: Iterator[bytes]) -> None:
        self._data, self._error = None, None
        try:
            self._data = decode_json(chunks)
        except _NotJSON as exc:
            self._error = exc
            for _ in chunks:  # read to the end: a transport error or the deadline comes first
                pass

    def versions(self, dataset_id: str, *, instance: str) -> list[DataVersion]:
        """The versions received, in Domo's order; InvalidResponseError if the body is
        not a JSON array of valid, distinct records."""
        from domo_versions_iac.schemas import validator

        common: dict[str, Any] = {"instance": instance, "dataset_id": dataset_id}
        if self._error is not None:
            snippet = redact(self._error.start)[:80].strip()  # redacted before it is cut
            raise InvalidResponseError(
                f"The version listing is not JSON (starts with {snippet!r})", **common
            )
        data, self._data = self._data, None
        if not isinstance(data, list):
            kind = "dict" if isinstance(data, (dict, DataVersion)) else type(data).__name__
            raise InvalidResponseError(
                f"The version listing is a JSON {kind}, not an array", **common
            )
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
                f"The version listing's {label} has a bad field {field_name!r}: "
                f"{redact(detail)[:200]}",
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


class _NotJSON(ValueError):
    """A body json.loads would refuse, with the start of its text for the message."""

    def __init__(self, start: str) -> None:
        super().__init__("not JSON")
        self.start = start


_WINDOW = 64 * 1024  # bytes decoded to text at a time
_HEAD = 4096  # bytes kept for the error message's "starts with ..."
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_ARRAY_START = re.compile(rb"[ \t\n\r]*\[")
_NUMBER_CHARS = frozenset("0123456789.eE+-")  # what may go on a number cut at the edge


def decode_json(chunks: Iterable[bytes], *, window: int = _WINDOW) -> Any:
    """``json.loads`` of the bytes in ``chunks``, plainly valid records as DataVersions:
    the same result, or _NotJSON (with the start of the text) where json.loads (or
    decoding the text) would raise ValueError.

    A UTF-8 JSON array, the shape of every listing, is decoded element by element from
    windows of at least ``window`` bytes. Anything else (another encoding, not an
    array: an error page) is joined and decoded whole, as json.loads does.
    """
    source = iter(chunks)
    head = _first_bytes(source, _HEAD)
    try:
        encoding = json.detect_encoding(head)
        if encoding == "utf-8" and _ARRAY_START.match(head):
            return _TextWindow(head, source, window).array()
        text = b"".join((head, *source)).decode(encoding, "surrogatepass")
        return json.loads(text, object_hook=_version_or_dict)
    except ValueError:
        raise _NotJSON(_start_of(head[:_HEAD], whole=len(head) < _HEAD)) from None


def _first_bytes(source: Iterator[bytes], size: int) -> bytes:
    """Chunks from ``source`` joined until there are at least ``size`` bytes (or no more)."""
    parts: list[bytes] = []
    got = 0
    while got < size:
        chunk = next(source, None)
        if chunk is None:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _start_of(head: bytes, *, whole: bool) -> str:
    """The start of the body as text: in its encoding, else UTF-8 with replacements.

    A character cut at the end of ``head`` is left out when the body goes on past it;
    when ``head`` is the ``whole`` body, a cut character is a broken one, shown as
    U+FFFD as when the body is decoded whole.
    """
    try:
        encoding = json.detect_encoding(head)
        decoder = codecs.getincrementaldecoder(encoding)("surrogatepass")
        return decoder.decode(head, final=whole)
    except ValueError:
        return head.decode("utf-8", "replace")


class _TextWindow:
    """A UTF-8 JSON array, decoded one window of text at a time as its bytes arrive.

    ``text[pos:]`` is decoded but not yet consumed. When an element runs past the end
    of the window, the next window is appended (at least doubling what is pending, so
    one huge element still costs linear time) and the element is decoded again. An
    element is taken only when a character that cannot go on a number follows it (or
    the body is exhausted), so a number cut at a window's edge is never taken short.
    """

    def __init__(self, first: bytes, rest: Iterator[bytes], window: int) -> None:
        self.first = first  # bytes read but not yet decoded
        self.rest = rest
        self.window = window
        self.done = False  # the whole body is decoded
        self.utf8 = codecs.getincrementaldecoder("utf-8")("surrogatepass")
        self.text = ""
        self.pos = 0
        self.decoder = json.JSONDecoder(object_hook=_version_or_dict)
        self.slow_until = 0  # records before this position failed the fast path

    def more(self) -> bool:
        """Append the next window to the pending text; False once the body is exhausted."""
        if self.done:
            return False
        wanted = max(self.window, len(self.text) - self.pos)
        parts, self.first = [self.first], b""
        got = len(parts[0])
        while got < wanted:
            chunk = next(self.rest, None)
            if chunk is None:
                self.done = True
                break
            parts.append(chunk)
            got += len(chunk)
        data = b"".join(parts)
        self.text = self.text[self.pos :] + self.utf8.decode(data, final=self.done)
        self.slow_until = max(0, self.slow_until - self.pos)
        self.pos = 0
        return True

    def peek(self) -> str:
        """Skip JSON whitespace; the next character, or "" at the end of the body."""
        while True:
            space = _JSON_SPACE.match(self.text, self.pos)
            self.pos = space.end() if space else self.pos
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.more():
                return ""

    def value(self) -> Any:
        """The JSON value at ``pos`` (json.JSONDecodeError if there is none)."""
        while True:
            try:
                value, end = self.decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError:
                if self.more():
                    continue
                raise
            if self.done or (end < len(self.text) and self.text[end] not in _NUMBER_CHARS):
                self.pos = end
                return value
            self.more()  # it may go on in the next window ("1.5" cut as "1."): decode again

    def records(self) -> list[DataVersion]:
        """The records from ``pos`` to the last "}" of the window as DataVersions, decoded
        by msgspec; [] (``pos`` unchanged) if msgspec is not sure of every one of them.

        msgspec accepts ``[`` + that text + ``]`` only if every "}" it ends on closes an
        element of the listing: one inside a string or a nested value leaves the text
        unbalanced. Otherwise each element up to there goes the slow way."""
        if self.pos < self.slow_until or not self.text.startswith("{", self.pos):
            return []
        end = self.text.rfind("}", self.pos) + 1
        versions = _fast_versions(self.text[self.pos : end]) if end else None
        if versions is None:
            self.slow_until = end
            return []
        self.pos = end
        return versions

    def array(self) -> list[Any]:
        """The elements of the array that starts the body; ValueError as json.loads."""
        self.peek()
        self.pos += 1  # "[" (the caller checked)
        items: list[Any] = []
        if self.peek() == "]":
            self.pos += 1
        else:
            while True:
                self.peek()
                fast = self.records()
                if fast:
                    items.extend(fast)
                else:
                    items.append(self.value())
                separator = self.peek()
                self.pos += 1
                if separator == "]":
                    break
                if separator != ",":
                    raise ValueError("expecting ',' or ']' after an element of the array")
        if self.peek() != "":
            raise ValueError("extra data after the array")
        return items


_STATUSES = frozenset(UPLOAD_STATUSES)

# Fractional seconds other than 3 or 6 digits: msgspec rounds past 6 digits where
# datetime.fromisoformat truncates, and Python 3.10 refuses any other count, so a run
# that has one is decoded the slow way (by parse_instant).
_ODD_FRACTION = re.compile(r"\.(?<=\d:\d\d\.)(?!(?:\d{3}|\d{6})(?!\d))")
_NonNegative = Annotated[int, msgspec.Meta(ge=0)]
_Instant = Annotated[datetime, msgspec.Meta(tz=True)]


class _Record(msgspec.Struct, rename="camel"):
    """What ``_plainly_valid`` accepts, as msgspec types: the same names as DataVersion's
    fields, so msgspec.convert builds DataVersions from these in C. Null counts, empty
    or offset-less dates, floats for integers: refused here, left to the slow path."""

    schema_id: int
    data_id: _NonNegative
    upload_status: UploadStatus
    recorded_date: _Instant
    upload_completed_date: _Instant | None = None
    num_rows: _NonNegative = 0
    num_bytes: _NonNegative = 0


_RECORDS = msgspec.json.Decoder(list[_Record])


def _fast_versions(run: str) -> list[DataVersion] | None:
    """The elements of ``run`` (the inside of a JSON array) as DataVersions, or None if
    it is not such a run, or any element is not plainly valid, or has a date that
    msgspec and parse_instant might read apart."""
    if _ODD_FRACTION.search(run):
        return None
    try:
        records = _RECORDS.decode(f"[{run}]")
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeEncodeError):
        return None
    return msgspec.convert(records, list[DataVersion], from_attributes=True)


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


__all__ = ["ListingBody", "decode_json"]
