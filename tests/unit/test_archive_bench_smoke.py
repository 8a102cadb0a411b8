"""bench/archive_bench.py runs end to end on a small export (figures are not asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import archive_bench


def test_archive_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "archive.json"
    assert archive_bench.main(["--rows", "3000", "--rounds", "1", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["rows"] == 3000
    assert figures["csv_bytes"] > figures["stored_bytes"] > 0
    assert figures["ratio"] > 0 and figures["archive_peak_rss_mb"] > 0
    assert figures["rounds"]["archive"][0]["rows"] == 3000
