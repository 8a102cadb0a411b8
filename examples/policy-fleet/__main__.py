"""Several datasets, each with a retention policy, read from stack configuration.

Add a dataset by adding an entry to `datasets` (Pulumi.yaml, or your stack's
Pulumi.<stack>.yaml): no code change needed.
"""

import pulumi

from domo_versions_iac import DatasetVersionRetention

config = pulumi.Config()
# `pulumi config set archive_dir DIR` moves every entry's archive to DIR (the README
# uses a temporary directory); otherwise each entry's `archive.to` applies.
archive_dir = config.get("archive_dir")
fleet = {}
for entry in config.require_object("datasets"):
    archive = entry.get("archive")
    if archive and archive_dir:
        archive = {**archive, "to": archive_dir}
    fleet[entry["name"]] = DatasetVersionRetention(
        entry["name"],
        dataset_id=entry["dataset_id"],
        policy=entry.get("policy"),
        allowed_versions=entry.get("allowed_versions"),
        index=entry.get("index", False),
        archive=archive,  # budget: archived before delete
    )

# Any output may be exported, also under `pulumi up --plan`: `plan_summary` is what the
# preview showed, `applied_summary` what the update did.
pulumi.export("plan", {name: r.plan_summary for name, r in fleet.items()})
pulumi.export("applied", {name: r.applied_summary for name, r in fleet.items()})
pulumi.export("deleted_bytes", {name: r.deleted_bytes for name, r in fleet.items()})
