"""The Pulumi side: the DatasetVersionRetention resource and its dynamic provider.

``resource`` (what users declare), ``program_plan`` + ``planning`` (planning in the
program at preview), ``inputs`` + ``policy_args`` (the inputs, checked and typed),
``dynamic`` (the provider: thin glue over the deletion loop), ``workers`` (past the
dynamic-provider host's 4 threads), ``preview_stash`` (a ``pulumi up``'s preview step to
its update step), ``engine_link`` (cancel, a dead engine, messages under the resource)
and ``engine_errors``.

``DatasetVersionRetentionProvider`` is re-exported here and keeps the module path
``domo_versions_iac.provider``: Pulumi state pickles the provider class by that path,
so stacks written before this package existed (when it was ``provider.py``) still load.
"""

from domo_versions_iac.provider.dynamic import DatasetVersionRetentionProvider

DatasetVersionRetentionProvider.__module__ = __name__

__all__ = ["DatasetVersionRetentionProvider"]
