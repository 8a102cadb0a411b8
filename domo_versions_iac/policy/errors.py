"""PolicyError and its messages: every one names the key and the form the schema expects."""

from __future__ import annotations

from typing import Any

from domo_versions_iac.schemas import load_schema

SCHEMA_NAME = "retention-policy"


class PolicyError(ValueError):
    """An invalid policy; the message names the key and the expected form."""


def expected(key: str) -> str:
    """The expected form of ``key`` as the schema states it (one source of truth)."""
    prop = load_schema(SCHEMA_NAME)["properties"].get(key, {})
    return str(prop.get("x-expected", "a valid value"))


def key_error(key: str, value: Any, detail: str = "") -> PolicyError:
    """``policy.<key>: expected <form>, got <value> (<detail>)``."""
    suffix = f" ({detail})" if detail else ""
    return PolicyError(f"policy.{key}: expected {expected(key)}, got {value!r}{suffix}")
