"""The minimal-HTTP baseline for `pulumi up`: only the calls the job needs, no engine.

Per dataset: one GET (the listing), the DELETE batches for the surplus (the oldest
``M - keep_last`` ids, ``batch_size`` ids per DELETE), one confirming GET. Bodies are
parsed with ``json`` only; no schema validation, no policy engine, no Pulumi.

Concurrency: a ThreadPoolExecutor of ``CONCURRENCY = 32`` workers sharing one
``requests.Session`` (keep-alive): what a user's own script would do. (Until issue 24
it was 4, the threads of Pulumi's Python dynamic-provider host, which then bounded the
provider; the provider now works on up to 32 datasets at once, see
domo_versions_iac/provider/workers.py.) ``run_baseline(..., concurrency=4)`` still
measures the old figure.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

from domo_versions_iac.domo.models import DEFAULT_BATCH_SIZE
from domo_versions_iac.emulator import EMULATOR_TOKEN

CONCURRENCY = 32


@dataclass
class BaselineResult:
    seconds: float
    datasets: int
    gets: int
    deletes: int
    deleted: int


def _one(
    session: requests.Session, base: str, dataset_id: str, keep_last: int, batch_size: int
) -> tuple[int, int, int]:
    url = f"{base}/api/data/v2/datasources/{dataset_id}/dataversions"
    headers = {"X-DOMO-Developer-Token": EMULATOR_TOKEN, "Accept": "application/json"}
    listing = session.get(url, headers=headers, timeout=60)
    listing.raise_for_status()
    ids = sorted(record["dataId"] for record in listing.json())
    surplus = ids[: max(0, len(ids) - keep_last)]
    deletes = 0
    for start in range(0, len(surplus), batch_size):
        body = json.dumps(surplus[start : start + batch_size]).encode()
        response = session.delete(
            url,
            params={"index": "false"},
            data=body,
            headers={**headers, "Content-Type": "application/json"},
            timeout=60,
        )
        response.raise_for_status()
        deletes += 1
    confirm = session.get(url, headers=headers, timeout=60)
    confirm.raise_for_status()
    confirm.json()
    return 2, deletes, len(surplus)


def run_baseline(
    base_url: str,
    dataset_ids: list[str],
    keep_last: int,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    concurrency: int = CONCURRENCY,
) -> BaselineResult:
    """Delete the surplus of every dataset with the minimal calls; time it."""
    session = requests.Session()
    session.trust_env = False
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=concurrency, max_retries=0)
    session.mount("http://", adapter)
    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            results = list(
                pool.map(lambda ds: _one(session, base_url, ds, keep_last, batch_size), dataset_ids)
            )
        seconds = time.perf_counter() - start
    finally:
        session.close()
    return BaselineResult(
        seconds=seconds,
        datasets=len(dataset_ids),
        gets=sum(r[0] for r in results),
        deletes=sum(r[1] for r in results),
        deleted=sum(r[2] for r in results),
    )
