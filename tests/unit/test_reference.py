"""The docs and the code agree with the JSON Schemas: nothing can drift."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from domo_versions_iac.inputs import USER_KEYS
from domo_versions_iac.provider import _OUTPUT_KEYS, PLANNED_DETAILS
from domo_versions_iac.reference import render_reference
from domo_versions_iac.resource import DatasetVersionRetentionArgs
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
    assert PLANNED_DETAILS in outputs
    # the resource asks the engine for exactly these outputs
    props = DatasetVersionRetentionArgs(dataset_id="ds").to_props()
    assert set(props) - set(USER_KEYS) == set(_OUTPUT_KEYS)


def test_readme_links_the_reference_and_names_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "docs/reference.md" in readme
    assert "make demo" in readme and "make test" in readme
