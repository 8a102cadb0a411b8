"""One dataset, an explicit set of allowed versions.

Versions 9 and 10 may stay; every other version is surplus, except what the guards
always protect: the newest successful version and uploads still in processing.
"""

import pulumi

from domo_versions_iac import DatasetVersionRetention

config = pulumi.Config()

inventory = DatasetVersionRetention(
    "inventory",
    dataset_id=config.require("dataset_id"),
    allowed_versions=[9, 10],
)

pulumi.export("kept_ids", inventory.kept_ids)  # the ids that remain, as ranges: "9-12"
pulumi.export("deleted_rows", inventory.deleted_rows)
pulumi.export("deleted_bytes", inventory.deleted_bytes)
