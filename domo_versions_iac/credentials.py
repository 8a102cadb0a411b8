"""Where the Domo instance and developer token come from, in one place.

The most specific source wins: explicit resource inputs (or CLI flags), then the
Pulumi stack configuration (`domo:instance`, `domo:token`), then the environment
(`DOMO_INSTANCE`, `DOMO_DEVELOPER_TOKEN`). The token is never stored on an object
that is pickled into Pulumi state, and never printed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

INSTANCE_ENV = "DOMO_INSTANCE"
TOKEN_ENV = "DOMO_DEVELOPER_TOKEN"
INSTANCE_CONFIG = "domo:instance"
TOKEN_CONFIG = "domo:token"


class MissingCredentialsError(ValueError):
    """No instance or no token could be found in any source."""

    def __init__(self, missing: str, hint: str) -> None:
        self.missing = missing
        super().__init__(hint)


@dataclass(frozen=True)
class Credentials:
    """An instance and a token; the token stays out of repr."""

    instance: str
    token: str = field(repr=False)


def resolve_credentials(
    *,
    instance: str | None = None,
    token: str | None = None,
    config: Mapping[str, object] | Callable[[str], object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Pick the instance and token from explicit values, stack config, then environment."""
    env = os.environ if environ is None else environ

    def from_config(key: str) -> str | None:
        if config is None:
            return None
        value = config(key) if callable(config) else config.get(key)
        return str(value) if value not in (None, "") else None

    chosen_instance = instance or from_config(INSTANCE_CONFIG) or env.get(INSTANCE_ENV) or None
    chosen_token = token or from_config(TOKEN_CONFIG) or env.get(TOKEN_ENV) or None
    if not chosen_instance:
        raise MissingCredentialsError(
            "instance",
            "no Domo instance given: set stack config `pulumi config set domo:instance acme`, "
            f"or {INSTANCE_ENV}=acme, or the resource's `instance` input",
        )
    if not chosen_token:
        raise MissingCredentialsError(
            "token",
            "no Domo developer token given: set `pulumi config set --secret domo:token ...`, "
            f"or {TOKEN_ENV}, or the resource's `token` input (kept secret)",
        )
    return Credentials(chosen_instance, chosen_token)
