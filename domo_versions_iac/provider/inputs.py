"""The resource's inputs, validated against ``schemas/dataset-version-retention.schema.json``.

Pure: no HTTP, no Pulumi. Turns the property bag Pulumi hands the provider into a
typed `RetentionInputs`, or into a list of (property, reason) failures that the
provider reports from `check`, so bad input fails at `pulumi preview`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domo_versions_iac.domo.models import DEFAULT_BATCH_SIZE
from domo_versions_iac.policy import PolicyError, RetentionPolicy
from domo_versions_iac.schemas import validator

SCHEMA_NAME = "dataset-version-retention"

# Keys the user sets; everything else in the property bag is computed by the provider.
USER_KEYS = (
    "dataset_id",
    "allowed_versions",
    "policy",
    "index",
    "batch_size",
    "instance",
    "token",
    "archive",
)
# Keys whose change alters what the resource manages (compared in `diff`): all but the
# token, which says who asks, not what is kept.
DESIRED_KEYS = tuple(key for key in USER_KEYS if key != "token")
_ARCHIVE_KEYS = ("to", "exclude_appended_data")


@dataclass(frozen=True)
class RetentionInputs:
    """What one DatasetVersionRetention declares."""

    dataset_id: str
    policy: RetentionPolicy
    """The effective policy: the `policy` input with `allowed_versions` merged in."""
    index: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    instance: str | None = None
    token: str | None = field(default=None, repr=False)
    archive: dict[str, Any] | None = None
    """The ``archive`` input as given (``to``, ``exclude_appended_data``); the stack
    config ``domo:archive`` applies when it is not given (archive.effective_archive)."""


class InputError(ValueError):
    """Inputs that fail validation; `failures` are (property, reason) pairs."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.failures = failures
        super().__init__("; ".join(f"{prop}: {reason}" for prop, reason in failures))


def parse_inputs(
    props: Mapping[str, Any], *, computed_keys: tuple[str, ...] = ()
) -> RetentionInputs:
    """Validate the user's inputs and build the effective policy, or raise InputError."""
    given = {
        key: _integral(value)
        for key, value in props.items()
        if not key.startswith("__") and key not in computed_keys and value is not None
    }
    failures: list[tuple[str, str]] = []
    for error in sorted(validator(SCHEMA_NAME).iter_errors(given), key=lambda e: list(e.path)):
        failures.append(_schema_failure(error, given))
    if failures:
        raise InputError(failures)

    allowed = given.get("allowed_versions")
    policy_dict = dict(given.get("policy") or {})
    if allowed is not None:
        if "allowed_versions" in policy_dict:
            raise InputError(
                [("policy.allowed_versions", "give allowed_versions once, as the resource input")]
            )
        policy_dict["allowed_versions"] = list(allowed)
    try:
        policy = RetentionPolicy.from_dict(policy_dict)
    except PolicyError as exc:
        raise InputError([("policy", str(exc))]) from exc
    return RetentionInputs(
        dataset_id=given["dataset_id"],
        policy=policy,
        index=bool(given.get("index", False)),
        batch_size=int(given.get("batch_size", DEFAULT_BATCH_SIZE)),
        instance=given.get("instance"),
        token=given.get("token"),
        archive=given.get("archive"),
    )


_TOO_LARGE = (
    "version id {} is above 2^53 - 1 (9007199254740991), the largest integer Pulumi can "
    "pass exactly (it sends numbers as floats, so the id may already be rounded)"
)


def _integral(value: Any) -> Any:
    """Pulumi sends every number as a float: turn 3.0 back into 3, recursively."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    return value


def _schema_failure(error: Any, given: Mapping[str, Any]) -> tuple[str, str]:
    """One jsonschema error as (property, reason) in the user's terms."""
    path = ".".join(str(part) for part in error.path)
    if path.startswith("archive"):
        return _archive_failure(error, path)
    if error.validator == "additionalProperties":
        unknown = sorted(set(given) - set(error.schema.get("properties", {})))
        known = ", ".join(USER_KEYS)
        return (unknown[0] if unknown else "inputs", f"unknown input; expected one of: {known}")
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "inputs"
        return (missing, "is required")
    if error.validator == "anyOf" and not path:
        return (
            "policy",
            "give allowed_versions, a policy, or both (an empty desired state "
            "would delete every version)",
        )
    described = {
        "type": f"expected {error.schema.get('type')}, got {type(error.instance).__name__} "
        f"{error.instance!r}",
        "minimum": f"must be >= {error.schema.get('minimum')}, got {error.instance!r}",
        "maximum": f"must be <= {error.schema.get('maximum')}, got {error.instance!r}",
        "uniqueItems": "must not repeat a version id",
        "minLength": "must not be empty",
        "pattern": f"{error.instance!r} is not a Domo dataset id: use letters, digits and "
        "- _ . : only (no spaces or line breaks, and not . or ..)",
    }
    if error.validator == "maximum" and path.startswith("allowed_versions"):
        return (path, _TOO_LARGE.format(error.instance))
    return (path or "inputs", described.get(error.validator, error.message))


def _archive_failure(error: Any, path: str) -> tuple[str, str]:
    """A schema error inside ``archive``, in the user's terms."""
    if error.validator == "additionalProperties":
        return (path, f"unknown key; expected one of: {', '.join(_ARCHIVE_KEYS)}")
    if error.validator == "required":
        return ("archive.to", "is required: where archives go, e.g. s3://bucket/prefix")
    if error.validator == "pattern":
        return (
            path,
            f"{error.instance!r} is not an archive URL: use file:///a/directory, "
            "s3://bucket/prefix, gs://bucket/prefix or az://account/container/prefix",
        )
    return (path, error.message)
