"""Compact id ranges ('1-7, 9'): the form kept and deleted ids take in stack outputs."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domo_versions_iac.deletion.id_ranges import MAX_IDS, format_ranges, parse_ranges


@pytest.mark.parametrize(
    ("ids", "text"),
    [
        ([], ""),
        ([5], "5"),
        ([1, 2, 3, 4, 5, 6, 7, 9], "1-7, 9"),
        ([9, 1, 3, 2, 2], "1-3, 9"),
        ([0, 1, 3, 5, 6], "0-1, 3, 5-6"),
        ([2**53 - 2, 2**53 - 1], "9007199254740990-9007199254740991"),
    ],
)
def test_runs_of_consecutive_ids_become_ranges(ids: list[int], text: str) -> None:
    assert format_ranges(ids) == text
    assert parse_ranges(text) == sorted(set(ids))


def test_a_thousand_consecutive_ids_take_one_short_string() -> None:
    assert format_ranges(range(501, 1001)) == "501-1000"
    assert len(parse_ranges("501-1000")) == 500


def test_parsing_tolerates_spacing_and_order() -> None:
    assert parse_ranges(" 9 ,1-3,, 2-4 ") == [1, 2, 3, 4, 9]


# "²" is no int() at all; Arabic-Indic three and fullwidth three are, but a state or a
# plan holds ASCII digits only: anything else was not written by this package.
ARABIC_3, ARABIC_0, FULLWIDTH_3 = "\u0663", "\u0660", "\uff13"


NOT_ASCII = [ARABIC_3, FULLWIDTH_3, f"1-{ARABIC_3}", f"{ARABIC_3}-5", f"1{ARABIC_0}"]


@pytest.mark.parametrize("text", ["x", "3-1", "-2", "1-", "1.5", "1-2-3", "²", *NOT_ASCII])
def test_unreadable_parts_are_refused_by_name(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_ranges(f"1, {text}")


@given(st.sets(st.integers(min_value=0, max_value=10_000), max_size=200))
def test_parse_inverts_format(ids: set[int]) -> None:
    assert parse_ranges(format_ranges(ids)) == sorted(ids)


def test_a_range_naming_more_ids_than_a_listing_holds_is_refused_before_expanding() -> None:
    # 10 billion ids would take ~600 GB as a set: refused by counting, not by MemoryError
    too_many = "too many ids: '0-9999999999' brings the count past 1,000,000"
    with pytest.raises(ValueError, match=too_many):
        parse_ranges("0-9999999999")
    # the count is over the whole text, not per part
    with pytest.raises(ValueError, match="'11-16' brings the count past 10,"):
        parse_ranges("1-6, 11-16", limit=10)
    assert len(parse_ranges(f"1-{MAX_IDS}")) == MAX_IDS
