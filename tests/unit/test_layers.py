"""Imports flow one way through the package's parts (README, "Where things live").

cli -> provider -> deletion -> policy -> domo, with the emulator beside the policy
(it knows Domo's records, not policies) and the archive beside the deletion path (it
exports and stores versions; the delete loop takes it as a hook, never imports it).
A part may import itself and the parts below it, never one above or beside it;
``domo_versions_iac.schemas`` (data) is open to all, and the package root only for
``__version__``. Read from the source with ``ast``, so a
function-level or ``TYPE_CHECKING`` import counts as much as a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "domo_versions_iac"
ROOT = "domo_versions_iac"

# What each part may import (besides itself and schemas).
MAY_IMPORT: dict[str, frozenset[str]] = {
    "domo": frozenset(),
    "policy": frozenset({"domo"}),
    "emulator": frozenset({"domo"}),
    "deletion": frozenset({"policy", "domo"}),
    "archive": frozenset({"domo"}),
    "provider": frozenset({"deletion", "archive", "policy", "domo"}),
    "cli": frozenset({"provider", "deletion", "archive", "policy", "domo", "emulator"}),
    # Public entry points on top of everything.
    "testing": frozenset({"provider", "deletion", "archive", "policy", "domo", "emulator", "cli"}),
    "__init__": frozenset({"provider", "deletion", "archive", "policy", "domo"}),
}


def part_of(module: str) -> str:
    """``domo_versions_iac.domo.client`` -> ``domo``; the root itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import of the package in one source file."""
    found: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == ROOT or node.module.startswith(ROOT + "."):
                found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend(
                (node.lineno, alias.name, [])
                for alias in node.names
                if alias.name == ROOT or alias.name.startswith(ROOT + ".")
            )
    return found


def wrong_arrows(package: Path) -> list[str]:
    """Every import that runs against the direction, as ``file:line: a -> b``."""
    wrong: list[str] = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package.parent).with_suffix("")
        module = ".".join(relative.parts).removesuffix(".__init__")
        here = part_of(module)
        allowed = MAY_IMPORT[here] | {here, "schemas"}
        for line, target, names in imports_of(path):
            if target == ROOT:
                # `from domo_versions_iac import __version__`, or a part by name.
                parts = [n for n in names if n != "__version__"]
            else:
                parts = [part_of(target)]
            wrong.extend(
                f"{relative}.py:{line}: {here} -> {part}" for part in parts if part not in allowed
            )
    return wrong


def test_every_part_has_a_rule() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert modules | packages == set(MAY_IMPORT)


def test_imports_flow_one_way() -> None:
    assert wrong_arrows(PACKAGE) == []


@pytest.mark.parametrize(
    ("where", "line", "arrow"),
    [
        (
            "domo/models.py",
            "from domo_versions_iac.policy import Plan",
            "domo -> policy",
        ),
        ("policy/engine.py", "from domo_versions_iac.cli import render", "policy -> cli"),
        ("deletion/gate.py", "import domo_versions_iac.provider.dynamic", "deletion -> provider"),
        ("emulator/store.py", "from domo_versions_iac import policy", "emulator -> policy"),
        (
            "deletion/loop.py",
            "from domo_versions_iac.archive import archiver",
            "deletion -> archive",
        ),
        ("archive/store.py", "from domo_versions_iac.policy import Plan", "archive -> policy"),
    ],
)
def test_a_wrong_import_is_caught(tmp_path: Path, where: str, line: str, arrow: str) -> None:
    copy = tmp_path / ROOT
    for path in PACKAGE.rglob("*.py"):
        target = copy / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    edited = copy / where
    edited.write_text(edited.read_text() + f"\n\ndef _late() -> None:\n    {line}\n")
    assert [w.split(": ", 1)[1] for w in wrong_arrows(copy)] == [arrow]


def test_the_public_api_stays_where_users_import_it_from() -> None:
    import domo_versions_iac
    from domo_versions_iac.provider.resource import DatasetVersionRetention

    names = [
        "DatasetVersionRetention",
        "DatasetVersionRetentionArgs",
        "RetentionPolicy",
        "RetentionPolicyArgs",
        "HoldArgs",
        "ArchiveArgs",
        "DomoClient",
        "DataVersion",
        "Plan",
        "plan_retention",
    ]
    found = {name: getattr(domo_versions_iac, name) for name in names}
    assert found["DatasetVersionRetention"] is DatasetVersionRetention
    assert sorted(names) == sorted(n for n in domo_versions_iac.__all__ if n != "__version__")


def test_the_provider_class_keeps_the_module_path_that_pulumi_state_pickles() -> None:
    from domo_versions_iac.provider import DatasetVersionRetentionProvider

    assert DatasetVersionRetentionProvider.__module__ == "domo_versions_iac.provider"
