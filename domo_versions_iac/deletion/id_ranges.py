"""Version ids as compact ranges: ``[1, 2, 3, 4, 5, 6, 7, 9]`` <-> ``"1-7, 9"``.

Stack outputs hold the ids a dataset keeps and the ids an update deleted in this form,
so state grows with the number of gaps between ids, not with the number of versions
(Domo numbers versions in upload order, so a retention plan leaves few gaps).

Why ours stays: no well-kept library parses "1-7, 9" with the limits this input needs
(ASCII digits only, a cap on how many ids a range may expand to); it is 60 lines.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_IDS = 1_000_000
"""The most ids a range text may name. Ranges are read from state and saved plans,
which a person can edit; no listing holds more versions (a listing of 100,000 is
~20 MB of JSON), and expanding "0-9999999999" would exhaust memory."""


def format_ranges(ids: Iterable[int]) -> str:
    """Sorted, de-duplicated, runs of consecutive ids as 'first-last': '1-7, 9'."""
    ordered = sorted(set(ids))
    parts: list[str] = []
    start = 0
    for i in range(1, len(ordered) + 1):
        if i == len(ordered) or ordered[i] != ordered[i - 1] + 1:
            first, last = ordered[start], ordered[i - 1]
            parts.append(str(first) if first == last else f"{first}-{last}")
            start = i
    return ", ".join(parts)


def parse_ranges(text: str, *, limit: int = MAX_IDS) -> list[int]:
    """Inverse of :func:`format_ranges`: '1-7, 9' -> [1, ..., 7, 9], sorted, unique.

    Raises ValueError naming the part it cannot read ('3-1', 'x', '-2', '٣': ASCII
    digits only), or saying that the text names more than ``limit`` ids (counted
    before any range is expanded).
    """
    ids: set[int] = set()
    named = 0
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        first_text, dash, last_text = part.partition("-")
        try:
            first = _non_negative(first_text)
            last = _non_negative(last_text) if dash else first
        except ValueError:
            raise ValueError(f"not an id or id range: {part!r}") from None
        if last < first:
            raise ValueError(f"range runs backwards: {part!r}")
        named += last - first + 1
        if named > limit:
            raise ValueError(
                f"too many ids: {part!r} brings the count past {limit:,}, more than a listing holds"
            )
        ids.update(range(first, last + 1))
    return sorted(ids)


def _non_negative(text: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        raise ValueError(text)
    return int(text)
