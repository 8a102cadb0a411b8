"""Archive throughput against a plain download of the same export, and peak memory.

    .venv/bin/python bench/archive_bench.py               # 1,000,000 rows, 5 rounds
    .venv/bin/python bench/archive_bench.py --rows 20000 --rounds 1   # smoke

The emulator runs in its own process and serves one version of ``--rows`` rows (gzip,
chunked, generated as it is sent). Each round runs two fresh processes, in turn:

* baseline: one GET of the export, its bytes streamed as they come into a file
  (requests, no decoding): the least any archive must do;
* archive: ``Archiver.archive_version`` into a new ``file://`` directory: the export
  streamed, rows counted, hashed and stored, the stored object read back and hashed,
  the manifest written (the whole order and proof).

Throughput is CSV bytes per second of each (the same export, so the ratio is that of
the times). The two of a round run back to back (which goes first alternates), and
the figure is the median over rounds of each round's ratio: on a shared machine a
lone fast or slow run moves a best-of or a mean, less so a median of pairs. Peak RSS
is the archive process's ``ru_maxrss``. Targets (issue 23): ratio >= 0.8, peak RSS
<= 150 MB. Nothing is asserted: the figures are printed with their targets, and
written as JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DATASET = "bench-archive-0000-4000-a000-000000000001"
TOKEN = "emulator-token"
RATIO_TARGET = 0.8
RSS_TARGET_MB = 150.0
DEFAULT_JSON = REPO / "bench" / "results" / "archive.json"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _seed(rows: int) -> dict[str, Any]:
    version = {
        "schemaId": 3,
        "dataId": 1,
        "uploadStatus": "success",
        "recordedDate": "2026-01-01T00:00:00Z",
        "uploadCompletedDate": "2026-01-01T00:05:00Z",
        "numRows": rows,
        "numBytes": rows * 45,
    }
    return {"tokens": [TOKEN], "datasets": {DATASET: {"versions": [version]}}}


def child_baseline(url: str, out_dir: str) -> dict[str, Any]:
    import requests

    started = time.perf_counter()
    target = Path(out_dir) / "export.csv.gz"
    with (
        requests.get(
            f"{url}/api/data/v2/datasources/{DATASET}/dataversions/1",
            params={"excludeAppendedData": "true"},
            headers={"X-DOMO-Developer-Token": TOKEN, "Accept": "text/csv"},
            stream=True,
            timeout=60,
        ) as response,
        target.open("wb") as out,
    ):
        response.raise_for_status()
        for chunk in response.raw.stream(64 * 1024, decode_content=False):
            out.write(chunk)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "stored_bytes": target.stat().st_size, "peak_mb": _peak_mb()}


def child_archive(url: str, out_dir: str) -> dict[str, Any]:
    from domo_versions_iac.archive.archiver import ArchiveOptions, Archiver
    from domo_versions_iac.domo.client import DomoClient

    with DomoClient(url, TOKEN) as client:
        version = client.list_versions(DATASET)[0]
        archiver = Archiver(client, ArchiveOptions(Path(out_dir).as_uri()))
        started = time.perf_counter()
        manifest = archiver.archive_version(DATASET, version)
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "stored_bytes": manifest["object"]["size"],
        "rows": manifest["rows"],
        "peak_mb": _peak_mb(),
    }


def _csv_bytes(gzip_file: Path) -> int:
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
    total = 0
    with gzip_file.open("rb") as data:
        while chunk := data.read(1 << 20):
            total += len(inflate.decompress(chunk))
    return total


def _run_child(mode: str, url: str, out_dir: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, url, out_dir],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _start_emulator(seed_file: Path) -> tuple[subprocess.Popen[str], str]:
    code = (
        "import sys\n"
        "from domo_versions_iac.emulator import serve\n"
        "server = serve(0, sys.argv[1])\n"
        "print(server.url, flush=True)\n"
        "sys.stdin.read()\n"  # until the parent closes stdin
        "server.stop()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(seed_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def measure(rows: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="archive-bench-") as tmp:
        seed_file = Path(tmp) / "seed.json"
        seed_file.write_text(json.dumps(_seed(rows)))
        emulator, url = _start_emulator(seed_file)
        try:
            baselines: list[dict[str, Any]] = []
            archives: list[dict[str, Any]] = []
            for number in range(rounds):
                order = [("baseline", baselines), ("archive", archives)]
                for mode, runs in order if number % 2 == 0 else order[::-1]:
                    out_dir = Path(tmp) / f"{mode}-{number}"
                    out_dir.mkdir()
                    runs.append(_run_child(mode, url, str(out_dir)))
                    print(f"  round {number + 1} {mode}: {runs[-1]['seconds']:.2f} s", flush=True)
            csv_bytes = _csv_bytes(Path(tmp) / "baseline-0" / "export.csv.gz")
        finally:
            assert emulator.stdin is not None
            emulator.stdin.close()
            try:
                emulator.wait(timeout=10)
            except subprocess.TimeoutExpired:
                emulator.kill()
                emulator.wait()
    base = statistics.median(r["seconds"] for r in baselines)
    arch = statistics.median(r["seconds"] for r in archives)
    ratio = statistics.median(
        b["seconds"] / a["seconds"] for b, a in zip(baselines, archives, strict=True)
    )
    peak = max(r["peak_mb"] for r in archives)
    return {
        "rows": rows,
        "csv_bytes": csv_bytes,
        "stored_bytes": archives[0]["stored_bytes"],
        "baseline_seconds": base,
        "archive_seconds": arch,
        "baseline_mb_per_s": csv_bytes / base / 1e6,
        "archive_mb_per_s": csv_bytes / arch / 1e6,
        "ratio": ratio,
        "ratio_target": RATIO_TARGET,
        "archive_peak_rss_mb": peak,
        "baseline_peak_rss_mb": max(r["peak_mb"] for r in baselines),
        "rss_target_mb": RSS_TARGET_MB,
        "rounds": {"baseline": baselines, "archive": archives},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "URL", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, url, out_dir = args.child
        run = child_baseline if mode == "baseline" else child_archive
        print(json.dumps(run(url, out_dir)))
        return 0
    print(f"archive benchmark: one version of {args.rows:,} rows, {args.rounds} rounds")
    figures = measure(args.rows, args.rounds)
    ratio_met = figures["ratio"] >= RATIO_TARGET
    rss_met = figures["archive_peak_rss_mb"] <= RSS_TARGET_MB
    print(
        f"export: {figures['csv_bytes'] / 1e6:.1f} MB of CSV, "
        f"{figures['stored_bytes'] / 1e6:.1f} MB stored (gzip)\n"
        f"baseline (stream to a file), median: {figures['baseline_seconds']:.2f} s, "
        f"{figures['baseline_mb_per_s']:.1f} MB/s\n"
        f"archive (export, store, read back, verify), median: "
        f"{figures['archive_seconds']:.2f} s, "
        f"{figures['archive_mb_per_s']:.1f} MB/s\n"
        f"throughput ratio, median of rounds: {figures['ratio']:.2f} (target >= {RATIO_TARGET}): "
        f"{'met' if ratio_met else 'NOT met'}\n"
        f"archive peak RSS {figures['archive_peak_rss_mb']:.0f} MB "
        f"(target <= {RSS_TARGET_MB:.0f}; baseline process "
        f"{figures['baseline_peak_rss_mb']:.0f} MB): {'met' if rss_met else 'NOT met'}"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
