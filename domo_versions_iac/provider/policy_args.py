"""`RetentionPolicyArgs`: the `policy=` input as a typed dict, so editors complete its keys
and type checkers catch typos (`keep_lats`), as pulumi-aws does for nested inputs.

Every key is optional; each mirrors schemas/retention-policy.schema.json (a test keeps the
two in step). Values may be Pulumi Inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import pulumi


class HoldArgs(TypedDict, total=False):
    """Versions kept whatever the rules say, with why and (optionally) until when."""

    versions: pulumi.Input[Sequence[pulumi.Input[int]]]
    """The held version ids (required)."""
    reason: pulumi.Input[str]
    """Why they are held, e.g. "audit FY25" (required)."""
    until: pulumi.Input[str]
    """When the hold ends (an instant or a date); no expiry when absent."""


class RetentionPolicyArgs(TypedDict, total=False):
    """A retention policy: a version is kept if any keep rule keeps it or a guard protects it."""

    allowed_versions: pulumi.Input[Sequence[pulumi.Input[int]]]
    """Keep exactly these version ids."""
    keep_last: pulumi.Input[int]
    """Keep the N newest successful versions."""
    keep_within: pulumi.Input[str]
    """Keep every version recorded within this duration before now, e.g. "30d", "1y2m"."""
    keep_noncurrent_within: pulumi.Input[str]
    """Keep the newest successful version and each one replaced within this duration, e.g. "30d"."""
    keep_since: pulumi.Input[str]
    """Keep every version recorded at or after this instant, e.g. "2024-01-01"."""
    keep_daily: pulumi.Input[int]
    """Keep the newest successful version of each of the last N days with versions."""
    keep_weekly: pulumi.Input[int]
    """Keep the newest successful version of each of the last N ISO weeks with versions."""
    keep_monthly: pulumi.Input[int]
    """Keep the newest successful version of each of the last N months with versions."""
    keep_yearly: pulumi.Input[int]
    """Keep the newest successful version of each of the last N years with versions."""
    timezone: pulumi.Input[str]
    """IANA time zone of the calendar rules (default UTC)."""
    protect_latest: pulumi.Input[int]
    """Never delete the N newest successful versions (default 1; the newest is always kept)."""
    protect_processing: pulumi.Input[bool]
    """Uploads in processing are never deleted; only true is accepted."""
    delete_failed: pulumi.Input[bool]
    """False keeps every failed upload (default true)."""
    max_deletions: pulumi.Input[int]
    """Deletion budget: at most this many versions per update (default 1000)."""
    max_deletion_share: pulumi.Input[float]
    """Deletion budget: at most this share of the listed versions, e.g. 0.5."""
    grace: pulumi.Input[str]
    """Delete only what was already surplus this long ago too, e.g. "7d"."""
    holds: pulumi.Input[Sequence[pulumi.Input[HoldArgs]]]
    """Holds: versions kept whatever the rules say, each with a reason and optional until."""
