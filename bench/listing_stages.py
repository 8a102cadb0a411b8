"""Where a preview's CPU goes for one dataset of M versions, stage by stage, in-process.

The program plans each dataset: the emulator lists it (in the bench, on the same
cores), the client decodes the body (``ListingBody``), ``plan_retention`` decides,
``plan_basis`` digests the listing, ``preview_message`` renders the summary. Each
stage is timed alone on the same records (best of 5 x 20 calls), with the decoder
also timed the way it was before msgspec (``json`` + the pre-check + ``from_api``).

    .venv/bin/python bench/listing_stages.py [--m 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import seeds
from domo_versions_iac.domo.listing import ListingBody, _version_or_dict
from domo_versions_iac.domo.models import listing_digest
from domo_versions_iac.emulator import EMULATOR_TOKEN
from domo_versions_iac.emulator.store import ApiRequest
from domo_versions_iac.policy.engine import plan_retention
from domo_versions_iac.provider.inputs import parse_inputs
from domo_versions_iac.provider.planning import plan_basis, preview_message


def best_ms(fn: Callable[[], Any]) -> float:
    return min(timeit.repeat(fn, number=20, repeat=5)) / 20 * 1000


def stages(m: int) -> dict[str, float]:
    store = seeds.new_store()
    (dataset_id,) = seeds.seed_grid(store, 1, m)
    body = json.dumps(store.list_versions(dataset_id)).encode()
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]

    def decode() -> Any:
        received = ListingBody()
        received(iter(chunks))
        return received.versions(dataset_id, instance="https://acme.domo.com")

    def decode_json_module() -> Any:  # the per-record work before msgspec, whole body
        return json.loads(body, object_hook=_version_or_dict)

    versions = decode()
    policy = parse_inputs(
        {
            "dataset_id": dataset_id,
            "policy": {"keep_last": m // 2, "max_deletions": m},
            "instance": "https://acme.domo.com",
            "token": "emulator-token-0123456789",
        }
    ).policy
    now = datetime.now(timezone.utc)
    get = ApiRequest("GET", f"/{dataset_id}", dataset_id, EMULATOR_TOKEN)
    plan = plan_retention(versions, policy, now)
    return {
        "emulator: list the records (copies)": best_ms(lambda: store.list_versions(dataset_id)),
        "emulator: list + json.dumps": best_ms(
            lambda: json.dumps(store.list_versions(dataset_id)).encode()
        ),
        "emulator: the GET as served (JSON kept per dataset)": best_ms(
            lambda: store.handle(get).encoded
        ),
        "decode (ListingBody, msgspec)": best_ms(decode),
        "json.loads + pre-check + from_api (no windows)": best_ms(decode_json_module),
        "plan_retention": best_ms(lambda: plan_retention(versions, policy, now)),
        "plan_basis (listing_digest)": best_ms(lambda: plan_basis(plan)),
        "listing_digest alone": best_ms(lambda: listing_digest(versions)),
        "summary + preview_message": best_ms(
            lambda: (plan.summary(), preview_message(dataset_id, plan))
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=1000)
    args = parser.parse_args(argv)
    print(f"one dataset of {args.m:,} versions, ms per call (best of 5 x 20)")
    for name, ms in stages(args.m).items():
        print(f"  {name:<50}{ms:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
