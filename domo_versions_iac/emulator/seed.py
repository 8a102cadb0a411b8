"""The emulator's default seed, generated deterministically from a small spec.

The versions' ids, statuses, rows and bytes are the same on every run (a fixed random
seed). Their dates are relative to *now* at generation time (the newest upload of each
dataset is minutes to hours old), so retention rules such as "keep within 30 days"
behave in demos as they would against a live instance. Pass ``now=`` for fully
reproducible output (tests do).

The token ``emulator-token`` (:data:`EMULATOR_TOKEN`) is accepted. It is not a secret:
it only opens the local emulator.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from domo_versions_iac.emulator.records import version_record

EMULATOR_TOKEN = "emulator-token"
"""The developer token the default seed accepts (documented, not a secret)."""

SALES_DATASET_ID = "5a1e5da7-0000-4000-a000-000000000001"
"""Replace-style daily dataset: ~400 versions over ~13 months, a few failed uploads."""

EVENTS_DATASET_ID = "e7e275da-0000-4000-a000-000000000002"
"""Hourly-ish dataset: ~200 versions over ~9 days."""

INVENTORY_DATASET_ID = "1a7e27da-0000-4000-a000-000000000003"
"""Small dataset: 12 versions, the newest still ``processing``."""

BUDGET_DATASET_ID = "b0d9e7da-0000-4000-a000-000000000004"
"""Small dataset: 5 versions, all successful."""

DEFAULT_DATASET_IDS: tuple[str, ...] = (
    SALES_DATASET_ID,
    EVENTS_DATASET_ID,
    INVENTORY_DATASET_ID,
    BUDGET_DATASET_ID,
)

_RANDOM_SEED = 20230331


def _record(
    data_id: int,
    schema_id: int,
    status: str,
    recorded: datetime,
    duration: timedelta,
    rows: int,
    bytes_per_row: int,
) -> dict[str, Any]:
    return version_record(
        data_id,
        status=status,
        recorded=recorded,
        rows=rows,
        num_bytes=rows * bytes_per_row,
        schema_id=schema_id,
        upload_duration=duration,
    )


def _daily_sales(rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    """~400 daily replace uploads over ~13 months; failed uploads retried the same day."""
    versions: list[dict[str, Any]] = []
    data_id = 1
    schema_id = 3
    rows = 1_200_000
    start_day = (now - timedelta(days=394)).replace(hour=0, minute=0, second=0, microsecond=0)
    failed_days = {37, 121, 122, 250, 333, 389}
    for day in range(395):
        when = start_day + timedelta(days=day, hours=6, minutes=rng.randint(0, 40))
        if when > now - timedelta(minutes=30):
            break
        if day in (160, 300):
            schema_id += 1  # a column was added
        rows += rng.randint(-2_000, 6_000)
        if day in failed_days:
            versions.append(
                _record(
                    data_id,
                    schema_id,
                    "error",
                    when,
                    timedelta(seconds=rng.randint(5, 90)),
                    0,
                    0,
                )
            )
            data_id += 1
            when += timedelta(hours=1, minutes=rng.randint(0, 20))
        versions.append(
            _record(
                data_id,
                schema_id,
                "success",
                when,
                timedelta(seconds=rng.randint(60, 400)),
                rows,
                rng.randint(140, 180),
            )
        )
        data_id += 1
    return versions


def _hourly_events(rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    """~200 hourly uploads (a few hours skipped); ids start high, old ones already purged."""
    versions: list[dict[str, Any]] = []
    data_id = 5_000
    start = (now - timedelta(hours=214)).replace(minute=0, second=0, microsecond=0)
    for hour in range(214):
        data_id += 1
        if hour % 23 == 7:
            continue  # a skipped run: no version, but the id was used by a purged one
        when = start + timedelta(hours=hour, minutes=5, seconds=rng.randint(0, 59))
        status = "error" if hour in (44, 45, 170) else "success"
        versions.append(
            _record(
                data_id,
                12,
                status,
                when,
                timedelta(seconds=rng.randint(10, 120)),
                rng.randint(8_000, 60_000),
                rng.randint(60, 90),
            )
        )
    return versions


def _inventory(rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    """12 versions every 2 days; the newest is an upload still ``processing``."""
    versions: list[dict[str, Any]] = []
    for index in range(12):
        when = now - timedelta(days=2 * (11 - index), minutes=10 + rng.randint(0, 30))
        status = "processing" if index == 11 else "success"
        versions.append(
            _record(
                index + 1,
                2,
                status,
                when,
                timedelta(seconds=rng.randint(30, 200)),
                rng.randint(40_000, 45_000),
                rng.randint(100, 200),
            )
        )
    return versions


def _budget(rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    """5 monthly-ish versions, all successful."""
    versions: list[dict[str, Any]] = []
    for index in range(5):
        when = now - timedelta(days=30 * (4 - index), hours=3, minutes=rng.randint(0, 59))
        versions.append(
            _record(
                index + 1,
                1,
                "success",
                when,
                timedelta(seconds=rng.randint(5, 30)),
                rng.randint(2_000, 2_500),
                rng.randint(180, 200),
            )
        )
    return versions


def default_seed(now: datetime | None = None) -> dict[str, Any]:
    """The built-in seed (same ids/rows/statuses every time; dates relative to ``now``)."""
    if now is None:
        now = datetime.now(timezone.utc)
    now = now.astimezone(timezone.utc).replace(microsecond=0)
    rng = random.Random(_RANDOM_SEED)
    return {
        "tokens": [EMULATOR_TOKEN],
        "datasets": {
            SALES_DATASET_ID: {"name": "Sales (daily replace)", "versions": _daily_sales(rng, now)},
            EVENTS_DATASET_ID: {
                "name": "Web events (hourly)",
                "versions": _hourly_events(rng, now),
            },
            INVENTORY_DATASET_ID: {
                "name": "Inventory snapshot (upload in progress)",
                "versions": _inventory(rng, now),
            },
            BUDGET_DATASET_ID: {"name": "Budget (monthly)", "versions": _budget(rng, now)},
        },
    }


class SeedError(ValueError):
    """A seed file is missing, not JSON, or does not match emulator-seed.schema.json."""


def validate_seed(seed: Any, *, source: str = "seed") -> dict[str, Any]:
    """Check ``seed`` against ``schemas/emulator-seed.schema.json``; return it."""
    from domo_versions_iac.schemas import validator

    errors = sorted(validator("emulator-seed").iter_errors(seed), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(part) for part in first.absolute_path) or "(top level)"
        raise SeedError(f"{source} is not a valid emulator seed at {where}: {first.message}")
    for dataset_id, dataset in seed["datasets"].items():
        ids = [version["dataId"] for version in dataset["versions"]]
        if len(ids) != len(set(ids)):
            raise SeedError(f"{source}: dataset {dataset_id} has duplicate dataId values")
    result: dict[str, Any] = seed
    return result


def load_seed(path: str | Path | None = None) -> dict[str, Any]:
    """Read and validate a seed JSON file; ``None`` gives :func:`default_seed`."""
    if path is None:
        return default_seed()
    file = Path(path)
    try:
        text = file.read_text("utf-8")
    except OSError as exc:
        raise SeedError(f"cannot read emulator seed {file}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeedError(f"emulator seed {file} is not JSON: {exc}") from exc
    return validate_seed(data, source=f"emulator seed {file}")
