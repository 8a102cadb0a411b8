"""Version ids as compact ranges: ``[1, 2, 3, 4, 5, 6, 7, 9]`` <-> ``"1-7, 9"``.

Stack outputs hold the ids a dataset keeps and the ids an update deleted in this form,
so state grows with the number of gaps between ids, not with the number of versions
(Domo numbers versions in upload order, so a retention plan leaves few gaps).
"""

from __future__ import annotations

from collections.abc import Iterable


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


def parse_ranges(text: str) -> list[int]:
    """Inverse of :func:`format_ranges`: '1-7, 9' -> [1, ..., 7, 9], sorted, unique.

    Raises ValueError naming the part it cannot read ('3-1', 'x', '-2').
    """
    ids: set[int] = set()
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
        ids.update(range(first, last + 1))
    return sorted(ids)


def _non_negative(text: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        raise ValueError(text)
    return int(text)
