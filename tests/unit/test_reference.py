"""The docs and the code agree with the JSON Schemas: nothing can drift."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from domo_versions_iac.cli.reference import render_reference
from domo_versions_iac.provider.dynamic import _OUTPUT_KEYS
from domo_versions_iac.provider.inputs import USER_KEYS
from domo_versions_iac.provider.policy_args import RetentionPolicyArgs
from domo_versions_iac.provider.resource import DatasetVersionRetentionArgs
from domo_versions_iac.schemas import load_schema

ROOT = Path(__file__).resolve().parents[2]


def test_committed_reference_is_generated_from_the_schemas() -> None:
    committed = (ROOT / "docs/reference.md").read_text()
    assert committed == render_reference(), "docs/reference.md is stale: run `make docs`"


def test_resource_inputs_match_the_schema() -> None:
    schema = load_schema("dataset-version-retention")
    assert set(schema["properties"]) == set(USER_KEYS)
    assert {f.name for f in fields(DatasetVersionRetentionArgs)} == set(USER_KEYS)
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{name} has no description"


def test_resource_outputs_match_the_schema() -> None:
    outputs = load_schema("dataset-version-retention")["$defs"]["outputs"]["properties"]
    assert set(outputs) == set(_OUTPUT_KEYS)


def test_the_resource_declares_exactly_the_outputs_of_the_schema() -> None:
    from domo_versions_iac.provider.program_plan import PLAN_SUMMARY, PLANNED
    from domo_versions_iac.provider.resource import _OUTPUTS

    assert {*_OUTPUTS, PLANNED, PLAN_SUMMARY} == set(_OUTPUT_KEYS)


def test_the_typed_policy_dict_has_every_policy_key() -> None:
    schema = load_schema("retention-policy")
    assert set(RetentionPolicyArgs.__annotations__) == set(schema["properties"])


def test_readme_links_the_reference_and_names_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "docs/reference.md" in readme
    assert "make demo" in readme and "make test" in readme
