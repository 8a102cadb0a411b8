"""DatasetVersionRetention: which data versions of one Domo dataset may exist.

    DatasetVersionRetention("sales", dataset_id="abc", allowed_versions=[3, 4])
    DatasetVersionRetention("events", dataset_id="def",
                            policy={"keep_last": 10, "keep_within": "30d"}, index=True)

`pulumi preview` lists the versions that would be deleted; `pulumi up` deletes them;
`pulumi destroy` forgets the resource and deletes no data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from domo_versions_iac.provider import DatasetVersionRetentionProvider


@dataclass
class DatasetVersionRetentionArgs:
    """The inputs of DatasetVersionRetention (each may be a Pulumi Output).

    dataset_id: the Domo dataset id. allowed_versions: version ids that may exist.
    policy: a retention policy dict (schemas/retention-policy.schema.json).
    index: also remove deleted versions from Adrenaline (Domo's `index=true`).
    batch_size: version ids per DELETE request. instance / token: override the stack
    config `domo:instance` / `domo:token` and DOMO_INSTANCE / DOMO_DEVELOPER_TOKEN; the
    stack's token is only sent to the stack's instance, so another instance needs `token`.
    """

    dataset_id: pulumi.Input[str]
    allowed_versions: pulumi.Input[Sequence[pulumi.Input[int]]] | None = None
    policy: pulumi.Input[Mapping[str, Any]] | None = None
    index: pulumi.Input[bool] | None = None
    batch_size: pulumi.Input[int] | None = None
    instance: pulumi.Input[str] | None = None
    token: pulumi.Input[str] | None = None

    def to_props(self) -> dict[str, Any]:
        """The property bag sent to the provider; the token always as a secret."""
        props: dict[str, Any] = {
            "dataset_id": self.dataset_id,
            "allowed_versions": self.allowed_versions,
            "policy": self.policy,
            "index": self.index,
            "batch_size": self.batch_size,
            "instance": self.instance,
            "token": pulumi.Output.secret(self.token) if self.token is not None else None,
        }
        for output in (
            "kept_count",
            "kept_rows",
            "kept_bytes",
            "kept_ids",
            "newest_kept_id",
            "newest_kept_recorded_date",
            "listing_digest",
            "deleted_count",
            "deleted_rows",
            "deleted_bytes",
            "deleted_ids",
            "planned_deletions",
            "planned_deletion_details",
            "plan_summary",
            "last_applied_at",
        ):
            props[output] = None
        return props


_ARG_NAMES = tuple(f.name for f in fields(DatasetVersionRetentionArgs))


class DatasetVersionRetention(Resource, module="domo", name="DatasetVersionRetention"):
    """Declares which data versions of a Domo dataset may exist; the rest are deleted."""

    dataset_id: pulumi.Output[str]
    # Sizes that do not grow with the number of versions; the full list of versions is
    # `domo-versions ls` (and the plan JSON of `domo-versions plan`).
    kept_count: pulumi.Output[int]
    """How many versions Domo lists after the last update or refresh."""
    kept_rows: pulumi.Output[int]
    kept_bytes: pulumi.Output[int]
    kept_ids: pulumi.Output[str]
    """The ids Domo lists after the last update or refresh, as ranges: '1-7, 9'."""
    newest_kept_id: pulumi.Output[int | None]
    newest_kept_recorded_date: pulumi.Output[str | None]
    listing_digest: pulumi.Output[str]
    """Changes whenever a listed version is added, removed or its metadata changes."""
    deleted_count: pulumi.Output[int]
    deleted_rows: pulumi.Output[int]
    deleted_bytes: pulumi.Output[int]
    deleted_ids: pulumi.Output[str]
    """The ids the last update deleted, as ranges: '1-500'."""
    planned_deletions: pulumi.Output[list[int]]
    """Version ids that are surplus (before an update: what it will delete)."""
    plan_summary: pulumi.Output[str]
    last_applied_at: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        args: DatasetVersionRetentionArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Any,
    ) -> None:
        if args is None:
            unknown = sorted(set(kwargs) - set(_ARG_NAMES))
            if unknown or "dataset_id" not in kwargs:
                # RunError: Pulumi shows the message alone, without a Python traceback.
                problem = (
                    f"unknown input {', '.join(unknown)}" if unknown else "dataset_id is required"
                )
                raise pulumi.RunError(
                    f"DatasetVersionRetention {resource_name!r}: {problem}; "
                    f"expected inputs: {', '.join(_ARG_NAMES)}"
                )
            args = DatasetVersionRetentionArgs(**kwargs)
        elif kwargs:
            raise pulumi.RunError(
                f"DatasetVersionRetention {resource_name!r}: give either args or keyword "
                f"inputs, not both (got {sorted(kwargs)})"
            )
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["token"])
        )
        super().__init__(DatasetVersionRetentionProvider(), resource_name, args.to_props(), opts)
