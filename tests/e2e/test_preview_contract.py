"""The preview is the contract: what the real engine shows, per resource, and what it keeps.

Planning happens in the program (program_plan): each resource's plan is logged under
its own name; `check` makes no request; one dataset has one owner; a saved plan
(`--save-plan` / `--plan`) is applied only while the data still matches it.
"""

from __future__ import annotations

import re

from domo_versions_iac.emulator import EmulatorServer

from .conftest import StackFactory, calls, make_versions, remaining_ids
from .test_retention import program, retention


def test_each_plan_is_reported_under_its_resource_and_check_lists_nothing(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(30))
    domo.store.add_dataset("ds-b", make_versions(3))
    ws = stack_factory(
        program(
            retention("sales", "ds-a", policy={"keep_last": 2}),
            retention("budget", "ds-b", policy={"keep_last": 3}),
        )
    )
    domo.store.clear_requests()
    preview = ws.preview()
    sales = preview.stdout.split("DatasetVersionRetention (sales):")[1]
    assert sales.splitlines()[1].strip() == (
        "dataset ds-a: delete 28 of 30 versions, 40.6 MB, 406.0 k rows"
    )
    # at most 10 version lines per resource, then how many more and where to see them
    assert len(re.findall(r"^\s+- \d+: recorded", sales.split("\n\n")[0], re.M)) == 10
    assert "... and 18 more (`domo-versions plan ds-a` lists every version)" in sales
    budget = preview.stdout.split("DatasetVersionRetention (budget):")[1]
    assert "dataset ds-b: nothing to delete: 3 versions kept" in budget
    assert "pulumi:pulumi:Stack (" not in preview.stdout.split("Diagnostics:")[1].split("\n\n")[0]
    assert calls(domo, "GET") == 2, "one GET per dataset, from the program; none in check"

    diff = ws.preview("--diff")
    assert diff.stdout.count("planned_deletions") == 2, "the ids once per resource"
    assert "see `pulumi preview --diff`" not in diff.stdout
    assert "planned_deletion_details" not in diff.stdout


def test_two_resources_on_one_dataset_fail_at_preview_naming_both(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(6))
    ws = stack_factory(
        program(
            retention("pinned", "ds-a", allowed_versions=[1, 2, 3]),
            retention("recent", "ds-a", policy={"keep_last": 3}),
        )
    )
    for run in (ws.preview, ws.up):
        result = run(check=False)
        assert result.returncode != 0
        assert re.search(
            r"resources 'pinned' and 'recent' both manage dataset ds-a on 127\.0\.0\.1:\d+",
            result.output,
        ), result.output
        assert "Give each dataset one DatasetVersionRetention" in result.output
    assert calls(domo, "DELETE") == 0
    assert remaining_ids(domo, "ds-a") == [1, 2, 3, 4, 5, 6]


def test_a_saved_plan_applies_while_the_data_matches_and_refuses_after_an_upload(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(6))
    domo.store.add_dataset("ds-b", make_versions(6))
    ws = stack_factory(program(retention("a", "ds-a", policy={"keep_last": 3})))

    # reviewed, nothing changed: `up --plan` applies exactly the reviewed plan
    plan = ws.project_dir / "reviewed.json"
    ws.preview("--save-plan", str(plan))
    ws.run("up", "--yes", "--skip-preview", "--plan", str(plan))
    assert remaining_ids(domo, "ds-a") == [4, 5, 6]

    # reviewed, then two uploads: the plan no longer matches; `up --plan` refuses
    ws.write_program(program(retention("b", "ds-b", policy={"keep_last": 3})))
    ws.preview("--save-plan", str(plan))
    domo.store.add_version("ds-b")
    domo.store.add_version("ds-b")
    refused = ws.run("up", "--yes", "--skip-preview", "--plan", str(plan), check=False)
    assert refused.returncode != 0
    assert "violates plan" in refused.output
    assert remaining_ids(domo, "ds-b") == [1, 2, 3, 4, 5, 6, 7, 8], "nothing deleted"
    assert calls(domo, "DELETE", "ds-b") == 0

    # preview again, review, apply
    ws.preview("--save-plan", str(plan))
    ws.run("up", "--yes", "--skip-preview", "--plan", str(plan))
    assert remaining_ids(domo, "ds-b") == [6, 7, 8]


def test_pulumi_import_fails_before_the_provider_loads_and_deletes_nothing(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    # Python dynamic providers cannot be imported (the engine reads the provider from
    # the resource's state, which an import has not got): README says to declare the
    # resource instead. What matters here: nothing is listed or deleted.
    domo.store.add_dataset("ds-a", make_versions(4))
    ws = stack_factory(program(retention("a", "ds-a", policy={"keep_last": 2})))
    domo.store.clear_requests()
    kind = "pulumi-python:dynamic/domo:DatasetVersionRetention"
    result = ws.run("import", kind, "imported", "ds-a", "--yes", check=False)
    assert result.returncode != 0
    assert "KeyError: '__provider'" in result.output
    assert calls(domo, "DELETE") == 0
    assert remaining_ids(domo, "ds-a") == [1, 2, 3, 4]
