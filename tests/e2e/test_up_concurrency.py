"""How many datasets `pulumi up` works on at once, through the real CLI.

Pulumi's Python dynamic-provider host serves 4 calls at a time; the provider widens its
pool (domo_versions_iac/provider/workers.py), so with `--parallel` high enough up to
DOMO_UP_CONCURRENCY datasets' deletions are in flight together. Read from the emulator's
request log (each request records how many were in flight when it arrived), not timed:
DELETEs are slowed down so that those the provider sends together overlap.
"""

from __future__ import annotations

from domo_versions_iac.emulator import EmulatorServer, Fault

from .conftest import StackFactory, calls, make_versions, remaining_ids

PROGRAM = (
    "from domo_versions_iac import DatasetVersionRetention\n"
    "for i in range({n}):\n"
    "    DatasetVersionRetention(f'r{{i}}', dataset_id=f'ds-{{i}}', policy={{'keep_last': 2}})\n"
)


def _fleet(domo: EmulatorServer, n: int, delete_latency: float) -> list[str]:
    """N datasets of 4 versions (2 surplus each), every DELETE answered after a delay."""
    ids = [f"ds-{i}" for i in range(n)]
    for dataset_id in ids:
        domo.store.add_dataset(dataset_id, make_versions(4))
    domo.store.inject_fault(Fault(method="DELETE", latency=delete_latency, count=n))
    return ids


def test_up_deletes_from_more_than_four_datasets_at_once_within_the_bound(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    ids = _fleet(domo, 12, delete_latency=3.0)
    ws = stack_factory(PROGRAM.format(n=12), env={"DOMO_UP_CONCURRENCY": "8"})
    domo.store.clear_requests()

    up = ws.up("--parallel", "16")

    assert "+ 13 created" in up.stdout, up.stdout
    peak = domo.store.max_in_flight("DELETE")
    assert 4 < peak <= 8, f"{peak} DELETEs in flight at most; expected 5 to 8"
    for dataset_id in ids:
        assert remaining_ids(domo, dataset_id) == [3, 4]
        # the program's plan, the gate's listing before the batch, the confirming one
        assert calls(domo, "GET", dataset_id) == 3, dataset_id
        assert calls(domo, "DELETE", dataset_id) == 1, dataset_id
    assert "warning: domo-versions-iac" not in up.output, "the host's pool was widened"


def test_domo_up_concurrency_lowers_the_bound(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    ids = _fleet(domo, 6, delete_latency=1.0)
    ws = stack_factory(PROGRAM.format(n=6), env={"DOMO_UP_CONCURRENCY": "2"})
    domo.store.clear_requests()

    ws.up("--parallel", "16")

    assert 1 <= domo.store.max_in_flight("DELETE") <= 2
    for dataset_id in ids:
        assert remaining_ids(domo, dataset_id) == [3, 4]
        assert calls(domo, "GET", dataset_id) == 3 and calls(domo, "DELETE", dataset_id) == 1


def test_a_bad_domo_up_concurrency_fails_with_one_line_and_deletes_nothing(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    _fleet(domo, 2, delete_latency=0.0)
    ws = stack_factory(PROGRAM.format(n=2))
    # Out of range and not a number; every other bad value is rejected by the same
    # parser, whose unit test (test_provider_workers.py) covers each.
    for value in ("33", "eight"):
        ws.env["DOMO_UP_CONCURRENCY"] = value
        for run in (ws.preview, ws.up):
            result = run(check=False)
            assert result.returncode != 0, result.output
            assert (
                f"DOMO_UP_CONCURRENCY='{value}' is not valid: give a whole number from 1 to 32"
            ) in result.output, result.output
            assert "Traceback" not in result.output
    assert calls(domo, "DELETE") == 0
    assert remaining_ids(domo, "ds-0") == [1, 2, 3, 4]
