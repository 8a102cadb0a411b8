"""Compact id ranges ('1-7, 9'): the form kept and deleted ids take in stack outputs."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domo_versions_iac.id_ranges import format_ranges, parse_ranges


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


@pytest.mark.parametrize("text", ["x", "3-1", "-2", "1-", "1.5", "1-2-3", "²"])
def test_unreadable_parts_are_refused_by_name(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_ranges(f"1, {text}")


@given(st.sets(st.integers(min_value=0, max_value=10_000), max_size=200))
def test_parse_inverts_format(ids: set[int]) -> None:
    assert parse_ranges(format_ranges(ids)) == sorted(ids)
