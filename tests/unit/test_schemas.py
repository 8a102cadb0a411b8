"""The JSON Schemas: valid against their metaschema, and compiled once per process."""

from __future__ import annotations

import threading
from importlib import resources

import pytest
from jsonschema import Draft202012Validator

from domo_versions_iac import schemas
from domo_versions_iac.schemas import load_schema, validator

SCHEMA_NAMES = sorted(
    entry.name.removesuffix(".schema.json")
    for entry in resources.files(schemas).iterdir()
    if entry.name.endswith(".schema.json")
)


def test_every_schema_file_is_found() -> None:
    assert "dataset-version-retention" in SCHEMA_NAMES
    assert "dataversion" in SCHEMA_NAMES


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_valid_against_the_metaschema(name: str) -> None:
    # validator() no longer checks this on every start-up; the tests do.
    Draft202012Validator.check_schema(load_schema(name))


def test_concurrent_first_calls_build_one_validator() -> None:
    """The program plans on many threads; they must share one validator, not race to
    build one each (that cost ~0.5 s of CPU per fleet preview)."""
    name = "retention-policy"
    schemas._validators.pop(name, None)
    start = threading.Barrier(16)
    got: list[object] = []

    def first_call() -> None:
        start.wait(timeout=10)
        got.append(validator(name))

    threads = [threading.Thread(target=first_call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(got) == 16
    assert len({id(v) for v in got}) == 1
