"""A listing is decoded from its bytes a window at a time: the same records, the same errors.

The reference is how listings were decoded before (the whole body as text, then
``json.loads``). The first 4,096 bytes are read whole (they are the error message's
"starts with"), so window edges come after them: bodies are padded past that, and
windows of a few bytes then put every element, number and separator on an edge.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from domo_versions_iac.domo import client as client_module
from domo_versions_iac.domo.client import DomoClient
from domo_versions_iac.domo.errors import InvalidResponseError
from domo_versions_iac.domo.listing import _HEAD, ListingBody, _version_or_dict, decode_json
from domo_versions_iac.emulator import EmulatorServer

RECORD = {
    "schemaId": 1,
    "dataId": 7,
    "uploadStatus": "success",
    "recordedDate": "2024-01-02T03:04:05Z",
    "uploadCompletedDate": "2024-01-02T03:05:00Z",
    "numRows": 10,
    "numBytes": 2048,
}


def whole_text_decode(body: bytes) -> tuple[str, Any]:
    """How a listing was decoded before: ("ok", value) or ("error", start of the text)."""
    text = ""
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
        return "ok", json.loads(text, object_hook=_version_or_dict)
    except ValueError:
        return "error", (text or body.decode("utf-8", "replace"))[:80]


def chunked(body: bytes, size: int) -> list[bytes]:
    """The body as it might arrive: chunks of ``size`` bytes."""
    return [body[i : i + size] for i in range(0, len(body), size)]


def windowed_decode(body: bytes, window: int) -> tuple[str, Any]:
    try:
        return "ok", decode_json(chunked(body, window), window=window)
    except ValueError as exc:
        return "error", getattr(exc, "start", "")[:80]


def same(body: bytes, window: int) -> None:
    old_kind, old = whole_text_decode(body)
    new_kind, new = windowed_decode(body, window)
    assert (new_kind, repr(new)) == (old_kind, repr(old)), body[:200]


EDGE_CASES = [
    b"[]",
    b" \r\n\t[ \n ] \n",
    b"[1,2]",
    b"[12345678901234567890, 3.25e-7, -0.0, true, false, null, NaN, -Infinity]",
    b'["a\\u00e9\\ud83d\\ude00", "\\"", {"k": [1, {"x": {}}]}]',
    json.dumps([RECORD, {**RECORD, "dataId": 8}, {**RECORD, "dataId": "bad"}]).encode(),
    json.dumps([RECORD] * 3, indent=4).encode(),
    '["caf\u00e9 \u2603", "\U0001f600"]'.encode(),
    b"[1,]",
    b"[1 2]",
    b"[1,,2]",
    b"[1",
    b"[1,",
    b"[",
    b"[] x",
    b"[][]",
    b'[{"a": 1]',
    b'["unterminated',
    b"[1]\xff",
    b'["\xff\xfe"]',
    b'["\xe2\x98"]',
    b"<html>oops</html>",
    b'{"items": []}',
    b"12",
    b"",
    b"   ",
    b"\xef\xbb\xbf[1, 2]",
    "[1, 2]".encode("utf-16"),
    "[1, 2]".encode("utf-32-le"),
    b"[" + b" " * 5000 + b"1]",
    # once flaky: a body ending in a cut character, shown as U+FFFD at the excerpt's end
    b'[null, 6.4307115394625e+84, {"0": [], "\xc2',
    b"[" + b" " * 5000 + b'"\xc2',
]


@pytest.mark.parametrize("window", [1, 2, 3, 7, 64, 65536])
@pytest.mark.parametrize("body", EDGE_CASES)
def test_edge_cases_decode_as_before(body: bytes, window: int) -> None:
    same(body, window)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.just(RECORD)
    | st.builds(lambda i: {**RECORD, "dataId": i}, st.integers(-2, 10**6)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    value=st.lists(json_values, max_size=6),
    indent=st.sampled_from([None, 0, 2]),
    ascii_only=st.booleans(),
    window=st.integers(1, 40),
    pad=st.none() | st.integers(_HEAD - 60, _HEAD + 20),
    cut=st.none() | st.integers(0, 400),
    insert=st.sampled_from([b"", b",", b"]", b"x", b"\xff", b" ", b"{"]),
)
@example(  # once flaky: b'[null, 6.4307115394625e+84, {"0": [], "\xc2' (a cut character)
    value=[None, 6.4307115394625e84, {"0": [], "\u00a9": 0}],
    indent=None,
    ascii_only=False,
    window=1,
    pad=None,
    cut=40,
    insert=b"",
)
def test_any_array_decodes_as_before(
    value: list[Any],
    indent: int | None,
    ascii_only: bool,
    window: int,
    pad: int | None,
    cut: int | None,
    insert: bytes,
) -> None:
    if pad is not None:  # a first element that ends near the first window's edge
        value = ["p" * pad, *value]
    body = json.dumps(value, indent=indent, ensure_ascii=ascii_only).encode()
    if cut is not None:  # damage it: cut it short or put a byte in
        at = min(cut + (pad or 0), len(body))
        body = body[:at] + insert if not insert else body[:at] + insert + body[at:]
    same(body, window)


# Values that may be cut anywhere; numbers are the tricky ones ("1.5" cut as "1." is a
# valid number, and so is "12" of "123").
CUTTABLE = [
    b"12345678901234567890",
    b"-0.000123e-45",
    b"1.5E+300",
    b"7",
    b"-0",
    b"3.25",
    b"-Infinity",
    b"NaN",
    b"true",
    b"null",
    b'"caf\xc3\xa9 \\u00e9 \xe2\x98\x83"',
    b'{"dataId": 12345, "numRows": 67.5}',
]


def test_values_cut_at_every_edge_of_4096_byte_windows_decode_as_before() -> None:
    """Bodies of several 4,096-byte windows, shifted one byte at a time: every byte of
    every value lands on a window's edge in one of them."""
    elements = b", ".join(CUTTABLE)
    repeats = 2 * _HEAD // len(elements) + 2
    for shift in range(len(elements) + 2):
        body = b"[" + b" " * shift + b",\n".join([elements] * repeats) + b"]"
        assert len(body) > 2 * _HEAD
        same(body, _HEAD)


@pytest.mark.parametrize("window", [1, 3])
@pytest.mark.parametrize("shift", [0, 1, 2])
def test_values_cut_at_every_byte_after_the_first_window_decode_as_before(
    window: int, shift: int
) -> None:
    """Past the first 4,096 bytes (read whole), windows of a few bytes cut every value."""
    elements = b", ".join(CUTTABLE)
    body = b"[" + b" " * (_HEAD - 4 + shift) + b",\n".join([elements] * 2) + b"]"
    same(body, window)


def test_a_negative_data_id_is_refused_by_name() -> None:
    body = json.dumps([RECORD, {**RECORD, "dataId": -1}]).encode()
    received = ListingBody()
    received(iter([body]))
    with pytest.raises(InvalidResponseError) as caught:
        received.versions("ds", instance="https://acme.domo.com")
    assert "The version listing's record 1 (dataId -1) has a bad field 'dataId'" in str(
        caught.value
    )


def test_a_long_listing_is_decoded_as_it_arrives(
    client: DomoClient, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [{**RECORD, "dataId": i, "numRows": i * 3} for i in range(1, 3001)]
    emulator.store.add_dataset("long", records)
    received: list[int] = []

    class Recording(ListingBody):
        def __call__(self, chunks: Iterator[bytes]) -> None:
            def recorded() -> Iterator[bytes]:
                for chunk in chunks:
                    received.append(len(chunk))
                    yield chunk

            super().__call__(recorded())

    monkeypatch.setattr(client_module, "ListingBody", Recording)
    versions = client.list_versions("long")
    assert [v.to_api() for v in versions] == emulator.store.list_versions("long")
    # ~550 KB handed over in pieces as they were read: never the whole body at once
    assert len(received) > 4 and max(received) <= 64 * 1024


def test_a_damaged_listing_names_its_start() -> None:
    body = json.dumps([RECORD] * 2000).encode()[:-5]
    received = ListingBody()
    received(iter([body[i : i + 4096] for i in range(0, len(body), 4096)]))
    with pytest.raises(InvalidResponseError) as caught:
        received.versions("ds", instance="https://acme.domo.com")
    assert 'The version listing is not JSON (starts with \'[{"schemaId": 1' in str(caught.value)


# Records that msgspec's fast path must either decode exactly as before or hand to the
# slow path: dates it might read apart from parse_instant (7+ fraction digits round in
# msgspec, truncate in fromisoformat), no offset, nulls, floats and bools for integers,
# strings holding braces, nested values, unknown fields.
record_variants = st.sampled_from(
    [
        {},
        {"recordedDate": "2024-01-02T03:04:05.9999995Z"},
        {"recordedDate": "2024-12-31T23:59:59.1234567+00:00"},
        {"recordedDate": "2024-01-02T03:04:05.12Z"},
        {"recordedDate": "2024-01-02T03:04:05.123Z"},
        {"recordedDate": "2024-01-02T03:04:05.123456-05:30"},
        {"recordedDate": "2024-01-02T03:04:05"},
        {"recordedDate": "2024-01-02 03:04:05z"},
        {"recordedDate": "2024-01-02"},
        {"recordedDate": "not a date"},
        {"uploadCompletedDate": ""},
        {"uploadCompletedDate": None},
        {"numRows": None},
        {"numRows": 5.0},
        {"numBytes": True},
        {"dataId": 2**70},
        {"schemaId": -3},
        {"uploadStatus": "queued"},
        {"note": "} , {", "x": '\\"}'},
        {"nested": {"a": [1, {"b": "}"}]}},
        {"extra": 1.5e300, "tag": "caf\u00e9 \u2603"},
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    variants=st.lists(record_variants, min_size=1, max_size=60),
    others=st.lists(st.none() | st.integers() | st.text(max_size=3), max_size=3),
    indent=st.sampled_from([None, 1]),
    window=st.sampled_from([1, 37, 200, 4096]),
)
def test_listings_through_the_fast_path_decode_as_before(
    variants: list[dict[str, Any]], others: list[Any], indent: int | None, window: int
) -> None:
    """Past the first 4,096 bytes, records in windows that cut anywhere: each run of
    records msgspec takes must give the DataVersions the json path gives."""
    records: list[Any] = [{**RECORD, "dataId": i, **variant} for i, variant in enumerate(variants)]
    body = json.dumps(["p" * _HEAD, *records, *others], indent=indent).encode()
    same(body, window)


def test_a_fraction_msgspec_would_round_is_read_as_parse_instant_reads_it() -> None:
    """msgspec rounds 7 fraction digits up to the next second; parse_instant truncates."""
    records = [{**RECORD, "dataId": i} for i in range(200)]
    records[150]["recordedDate"] = "2024-12-31T23:59:59.9999999Z"
    received = ListingBody()
    received(iter([json.dumps(records).encode()]))
    versions = received.versions("ds", instance="https://acme.domo.com")
    assert versions[150].recorded_date.isoformat() == "2024-12-31T23:59:59.999999+00:00"
