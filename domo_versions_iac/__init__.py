"""domo-versions-iac: declare which Domo dataset versions may exist, with Pulumi.

Heavy names (the Pulumi resource, the HTTP client) load on first use so that the
command line and the policy engine start fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "DataVersion": "domo_versions_iac.domo.models",
    "DomoClient": "domo_versions_iac.domo.client",
    "RetentionPolicy": "domo_versions_iac.policy",
    "plan_retention": "domo_versions_iac.policy",
    "Plan": "domo_versions_iac.policy",
    "DatasetVersionRetention": "domo_versions_iac.provider.resource",
    "DatasetVersionRetentionArgs": "domo_versions_iac.provider.resource",
    "ArchiveArgs": "domo_versions_iac.provider.resource",
    "RetentionPolicyArgs": "domo_versions_iac.provider.policy_args",
    "HoldArgs": "domo_versions_iac.provider.policy_args",
}

__all__ = [
    "ArchiveArgs",
    "DataVersion",
    "DatasetVersionRetention",
    "DatasetVersionRetentionArgs",
    "DomoClient",
    "HoldArgs",
    "Plan",
    "RetentionPolicy",
    "RetentionPolicyArgs",
    "__version__",
    "plan_retention",
]

if TYPE_CHECKING:
    from domo_versions_iac.domo.client import DomoClient
    from domo_versions_iac.domo.models import DataVersion
    from domo_versions_iac.policy import Plan, RetentionPolicy, plan_retention
    from domo_versions_iac.provider.policy_args import HoldArgs, RetentionPolicyArgs
    from domo_versions_iac.provider.resource import (
        ArchiveArgs,
        DatasetVersionRetention,
        DatasetVersionRetentionArgs,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'domo_versions_iac' has no attribute {name!r}")
    return getattr(import_module(module), name)
