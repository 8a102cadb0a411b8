"""The retention policy: its keys, their checks and their canonical JSON form.

The shape of a policy lives in ``schemas/retention-policy.schema.json``; validation
and the error messages' "expected ..." texts both come from it. What the policy
decides is in :mod:`domo_versions_iac.policy.engine`; how it reads in English is
``render.describe_policy``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone, tzinfo
from typing import Any

from domo_versions_iac.domo.models import format_instant
from domo_versions_iac.policy.durations import Duration, parse_duration, parse_instant, zone
from domo_versions_iac.policy.errors import SCHEMA_NAME, PolicyError, key_error
from domo_versions_iac.policy.wording import describe_hold, describe_policy
from domo_versions_iac.schemas import load_schema, validator

KEEP_RULES: tuple[str, ...] = (
    "allowed_versions",
    "keep_last",
    "keep_within",
    "keep_noncurrent_within",
    "keep_since",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
    "keep_yearly",
)


@dataclass(frozen=True)
class Hold:
    """Keep these versions, whatever the rules say, until ``until`` (None: no expiry).

    Like an S3 legal hold: it wins over every rule, and from ``until`` on it keeps
    nothing. ``until`` accepts the same forms as keep_since (a date is midnight UTC).
    """

    versions: tuple[int, ...]
    reason: str
    until: datetime | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        ids = self.versions
        if (
            not isinstance(ids, (list, tuple))
            or not ids
            or any(not _is_int(i) or i < 0 for i in ids)
            or len(set(ids)) != len(ids)
        ):
            raise key_error("holds", ids, "versions: a non-empty list of distinct version ids")
        set_(self, "versions", tuple(sorted(int(i) for i in ids)))
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise key_error("holds", self.reason, "reason: a non-empty text")
        if isinstance(self.until, str):
            set_(self, "until", parse_instant(self.until, "holds"))
        elif self.until is not None:
            if not isinstance(self.until, datetime) or self.until.tzinfo is None:
                raise key_error("holds", self.until, "until: needs an aware datetime")
            set_(self, "until", self.until.astimezone(timezone.utc))

    @classmethod
    def from_value(cls, value: Hold | Mapping[str, Any]) -> Hold:
        """A Hold from itself or from its JSON form."""
        if isinstance(value, Hold):
            return value
        if not isinstance(value, Mapping) or set(value) - {"versions", "reason", "until"}:
            raise key_error("holds", value)
        return cls(
            versions=value.get("versions"),  # type: ignore[arg-type]  # checked above
            reason=value.get("reason"),  # type: ignore[arg-type]
            until=value.get("until"),
        )

    def active(self, now: datetime) -> bool:
        """Whether the hold still keeps its versions at ``now``."""
        return self.until is None or now < self.until

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"versions": list(self.versions), "reason": self.reason}
        if self.until is not None:
            out["until"] = format_instant(self.until)
        return out

    def keep_reason(self) -> str:
        """The reason a held version carries in the plan."""
        expiry = f"until {format_instant(self.until)}" if self.until else "no expiry"
        return f"hold: {self.reason} ({expiry})"

    def english(self) -> str:
        """Plain English, e.g. "versions 3 and 4 (audit) with no expiry"."""
        return describe_hold(self)


@dataclass(frozen=True)
class RetentionPolicy:
    """Which versions of one dataset to keep; see retention-policy.schema.json.

    Construct with :meth:`from_dict` for user input. Direct construction is checked
    too (counts, empty policy, time zone) and normalises ``keep_within``,
    ``keep_noncurrent_within`` and ``keep_since`` strings and ``allowed_versions`` to
    their canonical types.
    """

    allowed_versions: tuple[int, ...] | None = None
    keep_last: int | None = None
    keep_within: Duration | None = None
    keep_noncurrent_within: Duration | None = None
    keep_since: datetime | None = None
    keep_daily: int | None = None
    keep_weekly: int | None = None
    keep_monthly: int | None = None
    keep_yearly: int | None = None
    timezone: str = "UTC"
    protect_latest: int = 1
    protect_processing: bool = True
    delete_failed: bool = True
    max_deletions: int = 1000
    max_deletion_share: float | None = None
    grace: Duration | None = None
    holds: tuple[Hold, ...] = ()

    def __post_init__(self) -> None:
        # Checked in this order, so a policy with several faults names the same one
        # every time: grace and holds, the keep rules, the guards and the budget.
        self._normalise_grace_and_holds()
        self._normalise_keep_rules()
        self._check_guards_and_budget()
        if all(getattr(self, key) is None for key in KEEP_RULES):
            raise PolicyError(
                "policy: empty policy would delete every version; give at least one keep rule "
                f"({', '.join(KEEP_RULES)})"
            )

    def _normalise_grace_and_holds(self) -> None:
        set_ = object.__setattr__  # a frozen dataclass normalising its own fields
        if isinstance(self.grace, str):
            set_(self, "grace", parse_duration(self.grace, "grace"))
        elif self.grace is not None and not (isinstance(self.grace, Duration) and str(self.grace)):
            raise key_error("grace", self.grace)
        if not isinstance(self.holds, (list, tuple)):
            raise key_error("holds", self.holds)
        set_(self, "holds", tuple(Hold.from_value(h) for h in self.holds))

    def _normalise_keep_rules(self) -> None:
        set_ = object.__setattr__
        if self.allowed_versions is not None:
            ids = tuple(self.allowed_versions)
            if any(not _is_int(i) or i < 0 for i in ids) or len(set(ids)) != len(ids):
                raise key_error("allowed_versions", list(ids))
            set_(self, "allowed_versions", tuple(sorted(int(i) for i in ids)))
        for key in ("keep_within", "keep_noncurrent_within"):
            value = getattr(self, key)
            if isinstance(value, str):
                set_(self, key, parse_duration(value, key))
            elif value is not None and not (isinstance(value, Duration) and str(value)):
                raise key_error(key, value)
        if isinstance(self.keep_since, str):
            set_(self, "keep_since", parse_instant(self.keep_since))
        elif self.keep_since is not None:
            if not isinstance(self.keep_since, datetime) or self.keep_since.tzinfo is None:
                raise key_error("keep_since", self.keep_since, "needs an aware datetime")
            set_(self, "keep_since", self.keep_since.astimezone(timezone.utc))
        for key in ("keep_last", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly"):
            value = getattr(self, key)
            if value is not None:
                set_(self, key, _check_int(key, value, 1))

    def _check_guards_and_budget(self) -> None:
        set_ = object.__setattr__
        set_(self, "protect_latest", _check_int("protect_latest", self.protect_latest, 0))
        set_(self, "max_deletions", _check_int("max_deletions", self.max_deletions, 0))
        if self.protect_processing is False:
            raise key_error(
                "protect_processing",
                False,
                "uploads in processing are never deleted; remove the key",
            )
        for key in ("protect_processing", "delete_failed"):
            if not isinstance(getattr(self, key), bool):
                raise key_error(key, getattr(self, key))
        share = self.max_deletion_share
        if share is not None:
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
                raise key_error("max_deletion_share", share)
            set_(self, "max_deletion_share", float(share))
        if not isinstance(self.timezone, str) or not self.timezone:
            raise key_error("timezone", self.timezone)
        zone(self.timezone)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetentionPolicy:
        """Validate user input against the schema, then check what a schema cannot."""
        if not isinstance(data, Mapping):
            raise PolicyError(f"policy: expected an object of policy keys, got {data!r}")
        data = dict(data)
        errors = sorted(validator(SCHEMA_NAME).iter_errors(data), key=_error_sort_key)
        if errors:
            raise _schema_error(errors[0], data)
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Canonical JSON form: only keys that differ from their default."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value == f.default:
                continue
            if f.name == "holds":
                value = [hold.to_dict() for hold in value]
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Duration):
                value = str(value)
            elif isinstance(value, datetime):
                value = format_instant(value)
            out[f.name] = value
        return out

    @property
    def tz(self) -> tzinfo:
        """The policy's time zone as a tzinfo."""
        return zone(self.timezone)

    def __str__(self) -> str:
        """The policy in plain English (worded by render.describe_policy)."""
        return describe_policy(self)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _is_int(value) or value < minimum:
        raise key_error(key, value)
    return int(value)


def _error_sort_key(error: Any) -> tuple[int, str]:
    """Report unknown keys and top-level problems first, then by key: stable messages."""
    path = list(error.absolute_path)
    return (len(path), str(path[0]) if path else "")


def _schema_error(error: Any, data: dict[str, Any]) -> PolicyError:
    path = list(error.absolute_path)
    if not path:
        if error.validator == "additionalProperties":
            known = set(load_schema(SCHEMA_NAME)["properties"])
            unknown = sorted(k for k in data if k not in known)
            return PolicyError(
                f"policy: unknown key {', '.join(map(repr, unknown))}; "
                f"expected one of: {', '.join(sorted(known))}"
            )
        return PolicyError(f"policy: expected an object of policy keys ({error.message})")
    key = str(path[0])
    if key == "holds" and len(path) > 1:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[1:])
        return key_error(key, data.get(key), f"holds{where}: {error.message}")
    if error.validator == "maximum" and key == "allowed_versions":
        # Pulumi passes numbers as floats: a larger id would arrive rounded.
        return key_error(key, data.get(key), f"{error.instance} is above 2^53 - 1")
    return key_error(key, data.get(key))
