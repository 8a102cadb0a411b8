"""A local Domo data versions API for tests and demos (loopback only).

>>> with EmulatorServer() as emulator:              # default seed, free port
...     client = DomoClient(emulator.url, EMULATOR_TOKEN)

The default seed (:func:`default_seed`) accepts the token ``emulator-token`` (not a
secret) and holds four datasets (see :mod:`.seed` for their ids). State and Domo's
behaviour live in :class:`EmulatorStore` (no HTTP); :class:`EmulatorServer` is the
thin HTTP layer; :class:`EmulatorControl` drives the test controls over HTTP.
"""

from __future__ import annotations

from domo_versions_iac.emulator.control import EmulatorControl
from domo_versions_iac.emulator.seed import (
    BUDGET_DATASET_ID,
    DEFAULT_DATASET_IDS,
    EMULATOR_TOKEN,
    EVENTS_DATASET_ID,
    INVENTORY_DATASET_ID,
    SALES_DATASET_ID,
    SeedError,
    default_seed,
    load_seed,
    validate_seed,
)
from domo_versions_iac.emulator.server import EmulatorServer
from domo_versions_iac.emulator.store import (
    ApiRequest,
    ApiResponse,
    EmulatorStore,
    Fault,
    RequestRecord,
)


def serve(port: int = 0, seed_path: str | None = None, latency: float = 0.0) -> EmulatorServer:
    """Start an emulator on 127.0.0.1 (``port=0``: a free port) and return it running.

    ``seed_path`` is a JSON seed file (validated; :class:`SeedError` if bad); ``None``
    uses the default seed. Prints nothing; the caller stops it with ``.stop()``.
    """
    store = EmulatorStore(load_seed(seed_path))
    return EmulatorServer(store, port=port, latency=latency).start()


__all__ = [
    "BUDGET_DATASET_ID",
    "DEFAULT_DATASET_IDS",
    "EMULATOR_TOKEN",
    "EVENTS_DATASET_ID",
    "INVENTORY_DATASET_ID",
    "SALES_DATASET_ID",
    "ApiRequest",
    "ApiResponse",
    "EmulatorControl",
    "EmulatorServer",
    "EmulatorStore",
    "Fault",
    "RequestRecord",
    "SeedError",
    "default_seed",
    "load_seed",
    "serve",
    "validate_seed",
]
