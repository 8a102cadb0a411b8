"""The project's JSON Schemas, one per shape, used for validation and for docs.

This folder ships inside the wheel as ``domo_versions_iac.schemas``; load a schema
with :func:`load_schema` (cached: each file is read and checked once per process).
"""

from __future__ import annotations

import json
import threading
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema ``NAME.schema.json`` as a dict."""
    text = resources.files(__name__).joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


_validators: dict[str, Draft202012Validator] = {}
_validators_lock = threading.Lock()


def _format_checker(kind: Any) -> Any:
    """jsonschema's format checks, less ``date-time``.

    jsonschema checks ``date-time`` only when the optional rfc3339-validator package
    happens to be installed (moto's server extra brings it), so the same record was
    valid in one environment and not in another. Dates are judged by the code that
    parses them (models.parse_instant), the same everywhere.
    """
    from jsonschema import Draft202012Validator

    checker = kind()
    checker.checkers = {
        name: check
        for name, check in Draft202012Validator.FORMAT_CHECKER.checkers.items()
        if name != "date-time"
    }
    return checker


def validator(name: str) -> Draft202012Validator:
    """A compiled validator for ``NAME.schema.json``, built once per process.

    Under a lock: the program plans on up to 32 threads at once, and an unlocked cache
    let each of them build (and check) the same validator, which cost the program
    about 0.5 s of CPU per preview of 100 datasets. jsonschema is imported here, on
    first use, so that importing the package stays cheap. The schema files themselves
    are checked against the metaschema by the tests, not on every start-up.
    """
    found = _validators.get(name)
    if found is not None:
        return found
    with _validators_lock:
        found = _validators.get(name)
        if found is None:
            from jsonschema import Draft202012Validator, FormatChecker

            schema = load_schema(name)
            found = Draft202012Validator(schema, format_checker=_format_checker(FormatChecker))
            _validators[name] = found
    return found
