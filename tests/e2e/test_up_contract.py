"""Plain `pulumi up` (with its own preview step) deletes only what that preview step showed.

`pulumi up` without `--skip-preview` runs the program twice in one CLI process: the
preview step, whose plan the user confirms, and the update step. Uploads that land in
between must not widen what the update deletes (issue 21, item 1).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from domo_versions_iac.emulator import EmulatorServer, Fault
from domo_versions_iac.emulator.store import ApiRequest, ApiResponse

from .conftest import StackFactory, deleted_ids_sent, make_versions, remaining_ids
from .test_retention import program, retention


def upload_after_first_listing(domo: EmulatorServer, dataset_id: str, uploads: int) -> list[int]:
    """Once the first listing of ``dataset_id`` has been answered, add ``uploads`` versions.

    The first listing is the preview step's: the uploads land between the preview step
    and the update step. Returns the list the new ids are appended to.
    """
    store = domo.store
    original: Callable[[ApiRequest], ApiResponse] = store.handle
    added: list[int] = []

    def handle(request: ApiRequest) -> ApiResponse:
        response = original(request)
        if request.method == "GET" and request.dataset_id == dataset_id and not added:
            for _ in range(uploads):
                added.append(store.add_version(dataset_id)["dataId"])
        return response

    store.handle = handle  # type: ignore[method-assign]
    return added


@pytest.mark.parametrize("experimental", [False, True], ids=["default", "PULUMI_EXPERIMENTAL"])
def test_up_deletes_only_what_its_preview_step_showed(
    domo: EmulatorServer, stack_factory: StackFactory, experimental: bool
) -> None:
    domo.store.add_dataset("ds-a", make_versions(10))
    env = {"PULUMI_EXPERIMENTAL": "1"} if experimental else {}
    ws = stack_factory(program(retention("a", "ds-a", policy={"keep_last": 3})), env=env)
    added = upload_after_first_listing(domo, "ds-a", 2)

    up = ws.run("up", "--yes")  # a preview step, then the update step

    assert added == [11, 12]
    assert "dataset ds-a: delete 7 of 10 versions" in up.stdout, "the preview step's plan"
    assert sorted(deleted_ids_sent(domo, "ds-a")) == [1, 2, 3, 4, 5, 6, 7]
    assert remaining_ids(domo, "ds-a") == [8, 9, 10, 11, 12]
    assert (
        "dataset ds-a: 2 versions became surplus after the preview and were left: 8, 9; "
        "the next preview shows them" in up.stdout
    ), up.stdout
    assert ws.outputs()["a_deleted"] == "1-7"
    # the next preview shows them, and the next `up` deletes them
    assert "dataset ds-a: delete 2 of 5 versions" in ws.preview().stdout
    ws.run("up", "--yes")
    assert remaining_ids(domo, "ds-a") == [10, 11, 12]


def test_up_skip_preview_has_only_its_own_plan(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    """No preview step: the update's own plan is all there is (README, the contract)."""
    domo.store.add_dataset("ds-a", make_versions(10))
    ws = stack_factory(program(retention("a", "ds-a", policy={"keep_last": 3})))
    ws.preview()  # a separate preview binds nothing; only `up --plan` would
    domo.store.add_version("ds-a")
    ws.up()
    assert remaining_ids(domo, "ds-a") == [9, 10, 11]


def test_a_plan_the_update_could_not_finish_is_not_recorded_as_done(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    """Replica lag: the provider's first listing lacks the newest version once."""
    domo.store.add_dataset("ds-a", make_versions(5))
    ws = stack_factory(program(retention("a", "ds-a", policy={"keep_last": 4})))
    # the program's listing is fresh; the provider's first one lacks version 5, so
    # version 1 looks like one of the 4 newest and the gate lets nothing go
    domo.store.inject_fault(Fault(kind="stale_listing", method="GET", dataset_id="ds-a", skip=1))
    up = ws.up()
    assert remaining_ids(domo, "ds-a") == [1, 2, 3, 4, 5]
    assert "left 1 version the preview showed (id 1)" in up.output, up.output
    [state] = ws.resources("domo:DatasetVersionRetention")
    assert state["outputs"]["left_ids"] == "1"
    assert state["outputs"]["applied_summary"].endswith("left 1 the preview showed: 1")

    preview = ws.preview()
    assert "dataset ds-a: delete 1 of 5 versions" in preview.stdout
    assert "1 to update" in preview.stdout, "the plan is still to do, not 'unchanged'"
    ws.up()
    assert remaining_ids(domo, "ds-a") == [2, 3, 4, 5]
    ws.preview("--expect-no-changes")


def _diagnostics(output: str) -> dict[str, str]:
    """The last Diagnostics section of a CLI run (the update step's): text by heading."""
    section = output.rsplit("Diagnostics:", 1)[1].split("\nResources:", 1)[0]
    blocks: dict[str, str] = {}
    heading = ""
    for line in section.splitlines():
        if line.startswith("  ") and not line.startswith("    ") and line.rstrip().endswith(":"):
            heading = line.strip()
            blocks[heading] = ""
        elif heading:
            blocks[heading] += line.strip() + "\n"
    return blocks


def test_what_the_provider_did_is_said_under_its_resource_one_line_each(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(10))
    domo.store.add_dataset("ds-b", make_versions(6))
    ws = stack_factory(
        program(
            retention("a", "ds-a", policy={"keep_last": 3}),
            retention("b", "ds-b", policy={"keep_last": 2}),
        )
    )
    up = ws.run("up", "--yes")
    blocks = _diagnostics(up.stdout)
    a = blocks["pulumi-python:dynamic/domo:DatasetVersionRetention (a):"]
    b = blocks["pulumi-python:dynamic/domo:DatasetVersionRetention (b):"]
    assert "dataset ds-a: deleting up to 7 versions in batches of 500 (index=false)\n" in a
    assert "dataset ds-a: deleted 7 versions, 2.8 MB, 28.0 k rows; 3 listed\n" in a
    assert "dataset ds-b: deleted 4 versions" in b and "ds-a" not in b
    assert not any(key.startswith("pulumi:pulumi:Stack") for key in blocks), up.stdout

    domo.store.delete_versions("ds-a", [9])
    refresh = ws.refresh()
    a = _diagnostics(refresh.stdout)["pulumi-python:dynamic/domo:DatasetVersionRetention (a):"]
    assert "dataset ds-a: changed outside Pulumi: removed 9\n" in a

    destroy = ws.destroy()
    blocks = _diagnostics(destroy.stdout)
    for name, dataset in (("a", "ds-a"), ("b", "ds-b")):
        text = blocks[f"pulumi-python:dynamic/domo:DatasetVersionRetention ({name}):"]
        assert f"forgets the retention of dataset {dataset}; deletes no data version" in text
    assert remaining_ids(domo, "ds-a") == [8, 10]
