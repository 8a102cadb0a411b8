"""Gap mode of the race suite: what each way of applying deletes that a preview did not show.

For each seed: a dataset of random versions and a random `keep_last`; a separate
`pulumi preview --save-plan` of the program; then random changes (uploads, deletions
elsewhere) before the apply, and, for plain `pulumi up`, more random changes between
its own preview step and its update step. Each path runs on a fresh copy of the same
scenario, through the real Pulumi CLI against the emulator:

- `up`: `pulumi up --yes` (with its preview step). Must delete 0 ids its own preview
  step did not show. Also reported: ids the earlier separate preview did not show
  (allowed: that preview binds nothing).
- `up --plan`: `pulumi up --yes --skip-preview --plan plan.json`. Must delete 0 ids
  the saved preview did not show, or be refused (then deletes nothing).
- `up --skip-preview`: no preview step; reported for information (its own plan is
  all there is, README "The preview is the contract").

Slow (about 10 s a seed on 2 cores): not part of `make test`.

    .venv/bin/python bench/gap_mode.py --seeds 10
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from domo_versions_iac.domo.models import DataVersion
from domo_versions_iac.emulator import EMULATOR_TOKEN, EmulatorServer
from domo_versions_iac.emulator.records import version_record
from domo_versions_iac.emulator.store import ApiRequest, ApiResponse
from domo_versions_iac.policy import RetentionPolicy, plan_retention
from domo_versions_iac.testing import PulumiWorkspace

PROGRAM = """\
import pulumi
from domo_versions_iac import DatasetVersionRetention
DatasetVersionRetention("a", dataset_id="ds", policy={{"keep_last": {keep}}})
"""


@dataclass
class Scenario:
    versions: int
    keep: int
    before_up: list[tuple[str, int]]  # ("upload", 0) or ("delete", id) after the preview
    between_steps: list[tuple[str, int]]  # the same, between up's preview and update steps

    @classmethod
    def random(cls, rng: random.Random) -> Scenario:
        versions = rng.randint(6, 16)
        keep = rng.randint(1, 5)

        def changes() -> list[tuple[str, int]]:
            out: list[tuple[str, int]] = []
            for _ in range(rng.randint(0, 3)):
                if rng.random() < 0.6:
                    out.append(("upload", 0))
                else:
                    out.append(("delete", rng.randint(1, versions)))
            return out

        return cls(versions, keep, changes(), changes())


@dataclass
class PathResult:
    refused: bool = False
    deleted: list[int] = field(default_factory=list)
    not_in_separate_preview: list[int] = field(default_factory=list)
    not_in_own_preview: list[int] = field(default_factory=list)


def _apply_changes(server: EmulatorServer, changes: list[tuple[str, int]]) -> None:
    for kind, data_id in changes:
        if kind == "upload":
            server.store.add_version("ds")
        else:
            server.store.delete_versions("ds", [data_id])


def _shown(listing: list[dict[str, Any]], keep: int) -> set[int]:
    versions = [DataVersion.from_api(record) for record in listing]
    plan = plan_retention(versions, RetentionPolicy(keep_last=keep), datetime.now(timezone.utc))
    return set(plan.delete_ids)


def _deleted(server: EmulatorServer) -> list[int]:
    return sorted(
        data_id
        for record in server.store.requests
        if record.method == "DELETE" and record.status == 200
        for data_id in record.body_ids or []
    )


def _hook_between_steps(
    server: EmulatorServer, changes: list[tuple[str, int]], keep: int
) -> Callable[[], set[int]]:
    """Apply ``changes`` right after up's first listing (its preview step's); return a
    getter of what that preview step showed."""
    store = server.store
    original = store.handle
    seen: list[set[int]] = []

    def handle(request: ApiRequest) -> ApiResponse:
        response = original(request)
        if request.method == "GET" and not seen and response.status == 200:
            seen.append(_shown(response.body, keep))
            _apply_changes(server, changes)
        return response

    store.handle = handle  # type: ignore[method-assign]
    return lambda: seen[0] if seen else set()


def run_path(path: str, scenario: Scenario, root: Path) -> PathResult:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    server = EmulatorServer().start()
    try:
        records = [
            version_record(i, recorded=now - timedelta(hours=1, days=scenario.versions - i))
            for i in range(1, scenario.versions + 1)
        ]
        server.store.add_dataset("ds", records)
        env = {"DOMO_INSTANCE": server.url, "DOMO_DEVELOPER_TOKEN": EMULATOR_TOKEN}
        ws = PulumiWorkspace(
            root / path.replace(" ", "_"), PROGRAM.format(keep=scenario.keep), env=env
        )
        ws.init_stack()
        plan_file = ws.root / "plan.json"
        separate = _shown(server.store.list_versions("ds"), scenario.keep)
        ws.preview("--save-plan", str(plan_file))
        _apply_changes(server, scenario.before_up)
        server.store.clear_requests()
        own: Callable[[], set[int]] = lambda: separate  # noqa: E731
        if path == "up":
            own = _hook_between_steps(server, scenario.between_steps, scenario.keep)
            result = ws.run("up", "--yes", check=False)
        elif path == "up --plan":
            result = ws.run("up", "--yes", "--skip-preview", "--plan", str(plan_file), check=False)
        else:
            result = ws.run("up", "--yes", "--skip-preview", check=False)
        deleted = _deleted(server)
        out = PathResult(refused=result.returncode != 0, deleted=deleted)
        out.not_in_separate_preview = [i for i in deleted if i not in separate]
        out.not_in_own_preview = [i for i in deleted if i not in own()]
        if path == "up --skip-preview":
            out.not_in_own_preview = []  # it has no preview step
        return out
    finally:
        server.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    paths = ("up", "up --plan", "up --skip-preview")
    totals = {p: {"runs": 0, "refused": 0, "deleted": 0, "not_own": 0, "not_sep": 0} for p in paths}
    rows = []
    with tempfile.TemporaryDirectory(prefix="gap-mode-") as tmp:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            scenario = Scenario.random(random.Random(seed))
            for path in paths:
                result = run_path(path, scenario, Path(tmp) / f"s{seed}")
                total = totals[path]
                total["runs"] += 1
                total["refused"] += int(result.refused and not result.deleted)
                total["deleted"] += len(result.deleted)
                total["not_own"] += len(result.not_in_own_preview)
                total["not_sep"] += len(result.not_in_separate_preview)
                rows.append({"seed": seed, "path": path, **result.__dict__})
    print(
        f"{'path':<18} {'runs':>4} {'refused':>7} {'deleted':>7} "
        f"{'not shown by own preview':>24} {'not shown by separate preview':>29}"
    )
    for path, t in totals.items():
        own = "n/a (no preview step)" if path == "up --skip-preview" else t["not_own"]
        print(
            f"{path:<18} {t['runs']:>4} {t['refused']:>7} {t['deleted']:>7} "
            f"{own!s:>24} {t['not_sep']:>29}"
        )
    if args.json:
        args.json.write_text(json.dumps({"totals": totals, "runs": rows}, indent=1))
    bad = totals["up"]["not_own"] + totals["up --plan"]["not_sep"]
    print("contract held" if bad == 0 else f"CONTRACT BROKEN: {bad} ids")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
