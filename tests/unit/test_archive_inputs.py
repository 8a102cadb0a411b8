"""The `archive` input and stack config `domo:archive`: validated at preview, resource wins."""

from __future__ import annotations

from typing import Any

import pytest

from domo_versions_iac.archive.archiver import ArchiveOptions, effective_archive, with_archive
from domo_versions_iac.emulator import EMULATOR_TOKEN, SALES_DATASET_ID, EmulatorServer
from domo_versions_iac.provider.dynamic import DatasetVersionRetentionProvider
from domo_versions_iac.provider.inputs import InputError, parse_inputs
from domo_versions_iac.provider.program_plan import PLAN_ERROR, PLAN_SUMMARY, compute_plan

BASE = {"dataset_id": "ds", "policy": {"keep_last": 2}}


def failures(**archive: Any) -> list[tuple[str, str]]:
    with pytest.raises(InputError) as caught:
        parse_inputs({**BASE, "archive": archive})
    return caught.value.failures


def test_the_archive_input_is_parsed_and_checked() -> None:
    inputs = parse_inputs({**BASE, "archive": {"to": "s3://b/p", "exclude_appended_data": False}})
    assert inputs.archive == {"to": "s3://b/p", "exclude_appended_data": False}
    assert parse_inputs(BASE).archive is None
    assert failures(to="ftp://x") == [
        (
            "archive.to",
            "'ftp://x' is not an archive URL: use file:///a/directory, s3://bucket/prefix, "
            "gs://bucket/prefix or az://account/container/prefix",
        )
    ]
    assert failures(to="s3://b", bucket="x") == [
        ("archive", "unknown key; expected one of: to, exclude_appended_data")
    ]
    assert failures(exclude_appended_data=True)[0][0] == "archive.to"


def test_the_resource_input_wins_over_the_stack_config() -> None:
    config = {"domo:archive": '{"to": "s3://stack/prefix", "exclude_appended_data": false}'}
    assert effective_archive({"to": "s3://mine/x"}, config) == ArchiveOptions("s3://mine/x")
    assert effective_archive(None, config) == ArchiveOptions("s3://stack/prefix", False)
    assert effective_archive(None, {"domo:archive": "gs://b/p"}) == ArchiveOptions("gs://b/p")
    assert effective_archive(None, {"domo:archive": None}) is None
    with pytest.raises(ValueError, match="domo:archive is not valid JSON"):
        effective_archive(None, {"domo:archive": "{to: x}"})
    with pytest.raises(ValueError, match=r"domo:archive.*ftp"):
        effective_archive(None, {"domo:archive": "ftp://nope"})


def test_the_summary_says_where_versions_go_first() -> None:
    options = ArchiveOptions("s3://b/p")
    assert (
        with_archive("delete 8 of 12 versions, 47.9 MB, 341.8 k rows", options)
        == "delete 8 of 12 versions (archived first to s3://b/p), 47.9 MB, 341.8 k rows"
    )
    assert with_archive("nothing to delete: 3 versions kept", options).startswith("nothing")
    assert with_archive("delete 1 of 2 versions, 1 B, 1 rows", None).endswith("1 rows")


def test_preview_plan_carries_the_archive(emulator: EmulatorServer) -> None:
    values = {
        "dataset_id": SALES_DATASET_ID,
        "policy": {"keep_last": 2},
        "instance": emulator.url,
        "token": EMULATOR_TOKEN,
        "archive": {"to": "s3://bucket/domo-versions/"},
    }
    plan = compute_plan("sales", values, {})
    assert " versions (archived first to s3://bucket/domo-versions/), " in plan.props[PLAN_SUMMARY]
    first_line = plan.message.splitlines()[0]
    assert first_line.startswith(f"dataset {SALES_DATASET_ID}: delete ")
    assert "(archived first to s3://bucket/domo-versions/)" in first_line
    bad = compute_plan("sales", {**values, "archive": None}, {"domo:archive": "{"})
    assert bad.props[PLAN_ERROR][0] == "archive"


def test_check_refuses_a_bad_stack_archive(emulator: EmulatorServer) -> None:
    provider = DatasetVersionRetentionProvider()
    provider._stack_config = {"domo:archive": "ftp://nope"}
    news = {
        "dataset_id": SALES_DATASET_ID,
        "allowed_versions": [1.0],
        "instance": emulator.url,
        "token": EMULATOR_TOKEN,
        "planned_deletions": "",
    }
    result = provider.check({}, news)
    assert [(f.property, f.reason) for f in result.failures or []] == [
        (
            "archive",
            "stack config domo:archive: archive target 'ftp://nope': the scheme "
            "ftp:// is not supported. Use file:///a/directory, s3://bucket/prefix, "
            "gs://bucket/prefix or az://...",
        )
    ]
