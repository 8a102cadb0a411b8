"""The client's cheap pre-check never accepts a record the JSON Schema rejects."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domo_versions_iac.domo.listing import _plainly_valid
from domo_versions_iac.schemas import validator

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["success", "error", "processing", "done", "2024-01-01T00:00:00Z", ""]),
    st.lists(st.integers(), max_size=2),
)
KEYS = [
    "schemaId",
    "dataId",
    "uploadStatus",
    "recordedDate",
    "uploadCompletedDate",
    "numRows",
    "numBytes",
    "extra",
]
records = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), values),
    st.fixed_dictionaries(
        {
            "schemaId": st.integers(0, 9),
            "dataId": st.integers(-1, 10**6),
            "uploadStatus": st.sampled_from(["success", "error", "processing", "bogus"]),
            "recordedDate": st.just("2024-03-01T10:00:00Z"),
        },
        optional={"numRows": values, "numBytes": values, "uploadCompletedDate": values},
    ),
    values,
)


@settings(max_examples=400, deadline=None)
@given(records)
def test_plainly_valid_implies_schema_valid(record: Any) -> None:
    if _plainly_valid(record):
        assert list(validator("dataversion").iter_errors(record)) == []


def test_a_typical_record_takes_the_fast_path() -> None:
    record = {
        "schemaId": 5,
        "dataId": 3,
        "uploadStatus": "success",
        "recordedDate": "2023-03-31T14:21:13Z",
        "uploadCompletedDate": "2023-03-31T14:21:13Z",
        "numRows": 18,
        "numBytes": 458,
    }
    assert _plainly_valid(record)
    assert not _plainly_valid({**record, "dataId": True})
    assert not _plainly_valid({**record, "dataId": -1})
    assert not _plainly_valid({**record, "numRows": -1})
