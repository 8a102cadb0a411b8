"""DatasetVersionRetention through the real Pulumi CLI against the emulator.

Each test reads what a user sees (CLI output, stack outputs, state) and what Domo
saw (the emulator's request log and remaining versions).
"""

from __future__ import annotations

import json
import re

from domo_versions_iac.emulator import EmulatorServer, Fault
from domo_versions_iac.emulator.store import ApiRequest, ApiResponse

from .conftest import (
    RESOURCE_TYPE,
    StackFactory,
    calls,
    deleted_ids_sent,
    make_versions,
    remaining_ids,
)

HEADER = "import pulumi\nfrom domo_versions_iac import DatasetVersionRetention\n"


def program(*lines: str) -> str:
    return HEADER + "\n".join(lines) + "\n"


def retention(name: str, dataset_id: str, **inputs: object) -> str:
    args = ", ".join(f"{key}={value!r}" for key, value in inputs.items())
    return (
        f"{name} = DatasetVersionRetention({name!r}, dataset_id={dataset_id!r}, {args})\n"
        f"pulumi.export({name + '_deleted'!r}, "
        f"{name}.deleted_ids)"
    )


def test_preview_lists_versions_to_remove_and_deletes_nothing(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(10))
    ws = stack_factory(program(retention("a", "ds-a", policy={"keep_last": 3})))

    preview = ws.preview()
    # Default output: the summary with count, rows and bytes, and one line per version.
    assert "dataset ds-a: delete 7 of 10 versions, 2.8 MB, 28.0 k rows" in preview.stdout
    for data_id in range(1, 8):
        line = re.search(
            rf"- {data_id}: recorded (\S+), success, ([\d.]+ k) rows, (\S+ \S+)", preview.stdout
        )
        assert line, f"version {data_id} missing from the preview:\n{preview.stdout}"
        assert line.group(2) == f"{data_id}.0 k"
    for kept in (8, 9, 10):
        assert f"- {kept}: recorded" not in preview.stdout
    # --diff: the ids as a property of the resource.
    diff = ws.preview("--diff")
    assert re.search(r'planned_deletions\s*: "1-7"', diff.stdout), diff.stdout
    assert '"delete 7 of 10 versions, 2.8 MB, 28.0 k rows"' in diff.stdout
    assert calls(domo, "DELETE") == 0
    assert calls(domo, "GET") == 2, "one GET per dataset per preview"
    assert remaining_ids(domo, "ds-a") == list(range(1, 11))


def test_up_deletes_exactly_the_surplus_then_converges(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(10))
    ws = stack_factory(program(retention("a", "ds-a", policy={"keep_last": 3}, batch_size=3)))
    domo.store.clear_requests()

    up = ws.up()
    assert "+ 2 created" in up.stdout
    assert remaining_ids(domo, "ds-a") == [8, 9, 10]
    assert sorted(deleted_ids_sent(domo)) == list(range(1, 8))
    assert calls(domo, "DELETE") == 3, "7 ids in batches of 3"
    # the plan (check), a listing before the first batch, one after each batch (the
    # next batch's gate, and finally the confirmation)
    assert calls(domo, "GET") == 5
    assert ws.outputs()["a_deleted"] == "1-7"
    [resource] = ws.resources(RESOURCE_TYPE)
    outs = resource["outputs"]
    assert (outs["kept_ids"], outs["kept_count"], outs["newest_kept_id"]) == ("8-10", 3, 10)
    assert (outs["deleted_ids"], outs["deleted_count"]) == ("1-7", 7)
    assert "versions" not in outs and "deleted_versions" not in outs, "no per-version lists"
    assert outs["deleted_rows"] == sum(1000 * i for i in range(1, 8))
    assert outs["deleted_bytes"] == sum(100_000 * i for i in range(1, 8))
    assert outs["planned_deletions"] == "1-7", "what the preview showed, as it showed it"
    assert outs["plan_summary"].startswith("delete 7 of 10 versions")
    assert outs["applied_summary"] == "deleted 7 versions, 2.8 MB, 28.0 k rows; 3 listed"
    assert outs["left_ids"] == "", "nothing of the plan left"
    assert outs["last_applied_at"].endswith("Z")

    domo.store.clear_requests()
    again = ws.up()
    assert "2 unchanged" in again.stdout
    assert calls(domo, "DELETE") == 0
    ws.preview("--expect-no-changes")
    assert remaining_ids(domo, "ds-a") == [8, 9, 10]


def test_new_uploads_between_runs_are_protected_and_shift_the_plan(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(6))
    ws = stack_factory(program(retention("a", "ds-a", policy={"keep_last": 2})))
    ws.up()
    assert remaining_ids(domo, "ds-a") == [5, 6]

    domo.store.add_version("ds-a", num_rows=5)  # id 7, newest
    domo.store.add_version("ds-a", upload_status="processing")  # id 8, in flight
    preview = ws.preview()
    assert "dataset ds-a: delete 1 of 4 versions" in preview.stdout
    assert "- 5: recorded" in preview.stdout
    assert "- 7:" not in preview.stdout and "- 8:" not in preview.stdout
    assert "~ 1 to update" in preview.stdout

    ws.up()
    assert remaining_ids(domo, "ds-a") == [6, 7, 8]


def test_a_version_uploaded_during_the_update_is_never_deleted(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    # Only allowed_versions and no protection of the newest: the replan made just
    # before deleting WOULD delete a new upload; the update must not.
    domo.store.add_dataset("ds-a", make_versions(5))
    policy = {"protect_latest": 0}
    ws = stack_factory(program(retention("a", "ds-a", allowed_versions=[4, 5], policy=policy)))
    store = domo.store
    original_handle = store.handle
    gets = 0

    def upload_after_the_plan(request: ApiRequest) -> ApiResponse:
        nonlocal gets
        response = original_handle(request)
        if request.method == "GET":
            gets += 1
            if gets == 1:  # the plan of this update has been made: an upload lands
                store.add_version("ds-a", num_rows=42)
        return response

    store.handle = upload_after_the_plan  # type: ignore[method-assign]
    ws.up()
    assert remaining_ids(domo, "ds-a") == [4, 5, 6]
    assert sorted(deleted_ids_sent(domo)) == [1, 2, 3]
    store.handle = original_handle  # type: ignore[method-assign]

    # 6 is now the newest successful version: never deleted, whatever the policy says
    preview = ws.preview("--expect-no-changes")
    assert "- 6: recorded" not in preview.stdout


def test_a_delete_failing_halfway_says_what_was_deleted_and_the_next_up_converges(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(10))
    domo.store.add_dataset("ds-b", make_versions(5))
    ws = stack_factory(
        program(
            retention("a", "ds-a", policy={"keep_last": 4}, batch_size=10),
            retention("b", "ds-b", policy={"keep_last": 4}),
        )
    )
    domo.store.inject_fault(
        Fault(kind="partial_delete", partial=2, status=500, dataset_id="ds-a", method="DELETE")
    )
    domo.store.inject_fault(Fault(status=503, count=10, dataset_id="ds-a", method="DELETE"))

    failed = ws.up(check=False)
    assert failed.returncode != 0
    port = domo.port
    assert (
        f"error: dataset ds-a on 127.0.0.1:{port}: deleted 2 versions (ids 1, 2); "
        "not deleted: ids 3, 4, 5, 6: Domo answered 503 Service Unavailable: Injected fault; "
        "stopped because Domo failed 6 DELETE requests in a row; nothing outside this "
        "update's plan was touched; fix the cause and run `pulumi up` again to finish "
        "(it re-plans from a fresh listing)."
    ) in failed.output, failed.output
    assert "Traceback" not in failed.output
    assert remaining_ids(domo, "ds-a") == [3, 4, 5, 6, 7, 8, 9, 10]
    assert remaining_ids(domo, "ds-b") == [2, 3, 4, 5], "the healthy dataset is applied"

    domo.store.clear_faults()
    ws.up()
    assert remaining_ids(domo, "ds-a") == [7, 8, 9, 10]
    assert set(deleted_ids_sent(domo, "ds-a")) == {1, 2, 3, 4, 5, 6}
    assert deleted_ids_sent(domo, "ds-b") == [1]
    ws.preview("--expect-no-changes")


def test_refresh_shows_versions_added_or_removed_outside_pulumi(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(4))
    domo.store.add_dataset("ds-b", make_versions(4))
    ws = stack_factory(
        program(
            retention("a", "ds-a", policy={"keep_last": 3}),
            retention("b", "ds-b", policy={"keep_last": 3}),
        )
    )
    ws.up()
    domo.store.delete_versions("ds-a", [2])  # someone deleted a version by hand
    domo.store.add_version("ds-a")  # and an upload arrived: id 5

    refresh = ws.refresh("--diff")
    assert "~ 1 updated" in refresh.stdout and "2 unchanged" in refresh.stdout
    assert "changed outside Pulumi: removed 2; added 5" in refresh.output
    assert re.search(r"kept_ids\s*: \"2-4\" => \"3-5\"", refresh.stdout), refresh.stdout
    outputs = {r["inputs"]["dataset_id"]: r["outputs"] for r in ws.resources(RESOURCE_TYPE)}
    assert outputs["ds-a"]["kept_ids"] == "3-5" and outputs["ds-a"]["newest_kept_id"] == 5
    assert outputs["ds-b"]["kept_ids"] == "2-4"
    assert calls(domo, "DELETE") == 2, "refresh deletes nothing (one DELETE per up)"
    assert "3 unchanged" in ws.refresh().stdout, "nothing drifted since the last refresh"
    ws.preview("--expect-no-changes")  # [3, 4, 5] is what keep_last 3 keeps


def test_destroy_forgets_the_resource_and_deletes_no_data(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(5))
    domo.store.add_dataset("ds-b", make_versions(3))
    ws = stack_factory(
        program(
            retention("a", "ds-a", policy={"keep_last": 2}),
            retention("b", "ds-b", allowed_versions=[1]),
        )
    )
    ws.up()
    assert remaining_ids(domo, "ds-a") == [4, 5] and remaining_ids(domo, "ds-b") == [1, 3]
    domo.store.clear_requests()

    destroy = ws.destroy()
    assert "- 3 deleted" in destroy.stdout
    assert ws.resources(RESOURCE_TYPE) == []
    assert remaining_ids(domo, "ds-a") == [4, 5] and remaining_ids(domo, "ds-b") == [1, 3]
    assert calls(domo, "DELETE") == 0


def test_the_token_never_appears_in_state_or_output(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    token = "s3cr3t-token-in-config"
    explicit = "s3cr3t-token-explicit"
    for accepted in (token, explicit):
        domo.store.add_token(accepted)
    domo.store.add_dataset("ds-a", make_versions(4))
    domo.store.add_dataset("ds-b", make_versions(4))
    ws = stack_factory(
        program(
            retention("a", "ds-a", policy={"keep_last": 2}),
            retention("b", "ds-b", policy={"keep_last": 2}, token=explicit),
        ),
        env={"DOMO_DEVELOPER_TOKEN": ""},
        secrets={"domo:token": token},
    )
    outputs = [ws.preview("--diff"), ws.up(), ws.preview("--diff"), ws.refresh()]
    state = json.dumps(ws.export_state())
    assert remaining_ids(domo, "ds-a") == [3, 4] and remaining_ids(domo, "ds-b") == [3, 4]
    for secret in (token, explicit):
        assert secret not in state
        for result in outputs:
            assert secret not in result.output
    [b] = [r for r in ws.resources(RESOURCE_TYPE) if r["inputs"]["dataset_id"] == "ds-b"]
    assert "ciphertext" in json.dumps(b["inputs"]["token"]), "explicit token stored encrypted"


def test_changing_the_policy_changes_the_preview_and_a_budget_stops_preview_and_apply(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(10))
    ws = stack_factory(program(retention("a", "ds-a", policy={"keep_last": 8})))
    ws.up()
    assert remaining_ids(domo, "ds-a") == list(range(3, 11))

    ws.write_program(program(retention("a", "ds-a", policy={"keep_last": 5})))
    preview = ws.preview()
    assert "dataset ds-a: delete 3 of 8 versions" in preview.stdout

    ws.write_program(program(retention("a", "ds-a", policy={"keep_last": 5, "max_deletions": 2})))
    domo.store.clear_requests()
    # README, Safety: "A plan above the budget fails at `pulumi preview`", on `policy`
    refused = ws.preview(check=False)
    assert refused.returncode != 0, refused.output
    assert re.search(r"property policy value .* has a problem: dataset ds-a: ", refused.stdout)
    assert (
        "dataset ds-a: plan would delete 3 of 8 dataset versions, above max_deletions 2; raise "
        "max_deletions (or max_deletion_share) in the policy to allow it. Nothing was deleted."
    ) in refused.stdout
    failed = ws.up(check=False)
    assert failed.returncode != 0
    assert "max_deletions" in failed.output and "3" in failed.output
    assert calls(domo, "DELETE") == 0
    assert remaining_ids(domo, "ds-a") == list(range(3, 11))


def test_several_datasets_in_one_stack_are_applied_in_parallel(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    datasets = {f"ds-{n}": make_versions(6 + n) for n in range(6)}
    for dataset_id, versions in datasets.items():
        domo.store.add_dataset(dataset_id, versions)
    lines = [retention(f"r{n}", f"ds-{n}", policy={"keep_last": 2 + n % 2}) for n in range(6)]
    ws = stack_factory(program(*lines))
    domo.store.clear_requests()

    preview = ws.preview()
    for n in range(6):
        keep = 2 + n % 2
        assert f"dataset ds-{n}: delete {6 + n - keep} of {6 + n} versions" in preview.stdout
        assert calls(domo, "GET", f"ds-{n}") == 1
    domo.store.clear_requests()

    ws.up("--parallel", "6")
    for n in range(6):
        keep = 2 + n % 2
        assert remaining_ids(domo, f"ds-{n}") == list(range(6 + n - keep + 1, 6 + n + 1))
        assert calls(domo, "GET", f"ds-{n}") <= 3
        assert calls(domo, "DELETE", f"ds-{n}") == 1
    ws.preview("--expect-no-changes")


def test_bad_inputs_fail_at_preview_naming_the_property_and_delete_nothing(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(5))
    ws = stack_factory(program(retention("a", "ds-a", policy={"keep_last": 2})))
    cases = {
        "unknown input": (
            retention("a", "ds-a", keep_lats=2),
            ["unexpected keyword argument 'keep_lats'"],
            {},
        ),
        "wrong type": (
            retention("a", "ds-a", policy={"keep_last": 2}, index="yes"),
            ["index", "expected boolean"],
            {},
        ),
        "no dataset id": (retention("a", "", policy={"keep_last": 2}), ["dataset_id"], {}),
        "no policy at all": (retention("a", "ds-a"), ["allowed_versions, a policy"], {}),
        "invalid policy": (
            retention("a", "ds-a", policy={"keep_within": "30 days"}),
            ["keep_within", "30 days"],
            {},
        ),
        "unknown policy key": (
            retention("a", "ds-a", policy={"keep_forever": True}),
            ["keep_forever"],
            {},
        ),
        "unknown dataset": (
            retention("a", "ds-missing", policy={"keep_last": 2}),
            ["dataset_id", "ds-missing", "404"],
            {},
        ),
        "revoked token": (
            retention("a", "ds-a", policy={"keep_last": 2}),
            ["token", "401"],
            {"DOMO_DEVELOPER_TOKEN": "revoked-token"},
        ),
        "no credentials": (
            retention("a", "ds-a", policy={"keep_last": 2}),
            ["token", "no Domo developer token"],
            {"DOMO_DEVELOPER_TOKEN": ""},
        ),
    }
    for case, (resource, expected, env) in cases.items():
        ws.write_program(program(resource))
        ws.env.update({"DOMO_DEVELOPER_TOKEN": "emulator-token", **env})
        result = ws.preview(check=False)
        assert result.returncode != 0, f"{case}: preview should fail\n{result.output}"
        for text in expected:
            assert text in result.output, f"{case}: {text!r} not in\n{result.output}"
        if case != "unknown input":  # Python's own TypeError (typed keywords; mypy flags it)
            assert "Traceback" not in result.output, f"{case}: a traceback is not an error"
    assert calls(domo, "DELETE") == 0
    assert remaining_ids(domo, "ds-a") == [1, 2, 3, 4, 5]


def test_inputs_from_other_resources_fail_at_preview_and_delete_nothing(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    # An input taken from another resource's output may be unknown at preview and known
    # at update: then `up` would delete what no preview showed. Refused at preview,
    # naming the input; plain values and config-derived Outputs are fine.
    domo.store.add_dataset("ds-a", make_versions(5))
    domo.store.add_dataset("ds-b", make_versions(4))
    ws = stack_factory(
        HEADER
        + "from domo_versions_iac.testing import EchoResource\n"
        + "source = EchoResource('dataset-id', value='ds-a')\n"
        + "policy = pulumi.Output.from_input({'keep_last': 2})\n"
        + "DatasetVersionRetention('a', dataset_id=source.value, policy=policy)\n"
        + "unknown_until_up = source.id.apply(lambda _: 'ds-b')\n"
        + "DatasetVersionRetention('b', dataset_id=unknown_until_up, policy=policy)\n"
    )
    for run in (ws.preview, ws.up):
        result = run(check=False)
        assert result.returncode != 0
        # the engine stops at the first resource whose check fails: a or b
        assert re.search(
            r"DatasetVersionRetention \([ab]\):\n\s+error: .*property dataset_id .*"
            r"comes from another resource's output",
            result.output,
        ), result.output
        assert "Give `dataset_id` as a plain value" in result.output
    assert calls(domo, "GET") == 0 and calls(domo, "DELETE") == 0
    assert remaining_ids(domo, "ds-a") == [1, 2, 3, 4, 5]

    ws.write_program(program(retention("a", "ds-a", policy={"keep_last": 2})))
    ws.up()
    assert remaining_ids(domo, "ds-a") == [4, 5], "a plain dataset id plans and applies"
