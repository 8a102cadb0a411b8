"""The configuration reference (docs/reference.md), generated from the JSON Schemas.

The schemas are the one source of each shape; `make docs` rewrites the reference and
a test fails when the committed file differs, so the docs cannot drift.
"""

from __future__ import annotations

import json
from typing import Any

from domo_versions_iac.policy import policy_reference
from domo_versions_iac.schemas import load_schema

HEADER = """\
# Configuration reference

Generated from `schemas/` by `make docs`; do not edit by hand.
"""


def _type_of(prop: dict[str, Any]) -> str:
    kind = prop.get("type", "")
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def _table(properties: dict[str, Any], required: list[str]) -> list[str]:
    lines = ["| name | type | default | meaning |", "|---|---|---|---|"]
    for name, prop in properties.items():
        default = json.dumps(prop["default"]) if "default" in prop else ""
        flag = " (required)" if name in required else ""
        lines.append(f"| `{name}`{flag} | {_type_of(prop)} | {default} | {prop['description']} |")
    return lines


def render_reference() -> str:
    """The whole reference as Markdown."""
    resource = load_schema("dataset-version-retention")
    outputs = resource["$defs"]["outputs"]
    record = load_schema("dataversion")
    parts = [
        HEADER,
        "## DatasetVersionRetention inputs",
        "",
        resource["description"],
        "",
        *_table(resource["properties"], resource.get("required", [])),
        "",
        "## DatasetVersionRetention outputs",
        "",
        outputs["description"],
        "",
        *_table(outputs["properties"], []),
        "",
        "## Archive before delete (`archive`, stack config `domo:archive`)",
        "",
        resource["properties"]["archive"]["description"],
        "",
        *_table(
            resource["properties"]["archive"]["properties"],
            resource["properties"]["archive"]["required"],
        ),
        "",
        "## Retention policy (`policy`)",
        "",
        policy_reference(),
        "",
        "## Domo data version records (API v2)",
        "",
        record["description"],
        "",
        *_table(record["properties"], record.get("required", [])),
        "",
    ]
    return "\n".join(parts)


if __name__ == "__main__":
    print(render_reference(), end="")
