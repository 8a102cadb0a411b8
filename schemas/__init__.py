"""The project's JSON Schemas, one per shape, used for validation and for docs.

This folder ships inside the wheel as ``domo_versions_iac.schemas``; load a schema
with :func:`load_schema` (cached: each file is read and checked once per process).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema ``NAME.schema.json`` as a dict."""
    text = resources.files(__name__).joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def validator(name: str) -> Draft202012Validator:
    """A compiled validator for ``NAME.schema.json`` (built once per process)."""
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
