"""Where the Domo instance and developer token come from, in one place.

The most specific source wins: explicit resource inputs (or CLI flags), then the
Pulumi stack configuration (`domo:instance`, `domo:token`), then the environment
(`DOMO_INSTANCE`, `DOMO_DEVELOPER_TOKEN`). The token is never stored on an object
that is pickled into Pulumi state, and never printed.

A token is bound to its instance: the stack's token (`domo:token` or
`DOMO_DEVELOPER_TOKEN`) belongs to the stack's instance (`domo:instance`, else
`DOMO_INSTANCE`) and is never sent anywhere else. A resource whose `instance` input
names another instance (compared as normalized base URLs) must give its own `token`,
so a program that mixes instances, or an input someone else controls, cannot send the
stack's secret away. Hosts other than Domo's and loopback are refused unless listed in
`domo:allowedHosts` (else `DOMO_ALLOWED_HOSTS`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from domo_versions_iac.domo.errors import InvalidTokenError
from domo_versions_iac.domo.instance import normalize_instance, parse_allowed_hosts

INSTANCE_ENV = "DOMO_INSTANCE"
TOKEN_ENV = "DOMO_DEVELOPER_TOKEN"
ALLOWED_HOSTS_ENV = "DOMO_ALLOWED_HOSTS"
INSTANCE_CONFIG = "domo:instance"
TOKEN_CONFIG = "domo:token"
ALLOWED_HOSTS_CONFIG = "domo:allowedHosts"
ARCHIVE_CONFIG = "domo:archive"  # where archives go (README, "Archive before delete")
CONFIG_KEYS = (INSTANCE_CONFIG, TOKEN_CONFIG, ALLOWED_HOSTS_CONFIG, ARCHIVE_CONFIG)


class MissingCredentialsError(ValueError):
    """No instance or no token could be found in any source."""

    def __init__(self, missing: str, hint: str) -> None:
        self.missing = missing
        super().__init__(hint)


class TokenNotForInstanceError(MissingCredentialsError):
    """Only the stack's token is at hand, and it belongs to another instance."""

    def __init__(self, hint: str, *, instance: str, stack_instance: str | None) -> None:
        self.instance = instance
        self.stack_instance = stack_instance
        super().__init__("token", hint)


@dataclass(frozen=True)
class Credentials:
    """An instance (normalized base URL) and a token; the token stays out of repr."""

    instance: str
    token: str = field(repr=False)
    allowed_hosts: tuple[str, ...] = ()


def resolve_credentials(
    *,
    instance: str | None = None,
    token: str | None = None,
    config: Mapping[str, object] | Callable[[str], object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Pick the instance and token from explicit values, stack config, then environment.

    Raises MissingCredentialsError (``.missing`` names the property: ``instance`` or
    ``token``; TokenNotForInstanceError when the stack's token would leave the stack's
    instance) or ConfigurationError (an instance that is not an accepted host).
    """
    env = os.environ if environ is None else environ

    def from_config(key: str) -> str | None:
        if config is None:
            return None
        value = config(key) if callable(config) else config.get(key)
        return str(value) if value not in (None, "") else None

    allowed = parse_allowed_hosts(
        from_config(ALLOWED_HOSTS_CONFIG) or env.get(ALLOWED_HOSTS_ENV) or None
    )
    stack_instance = from_config(INSTANCE_CONFIG) or env.get(INSTANCE_ENV) or None
    chosen_instance = instance or stack_instance
    if not chosen_instance:
        raise MissingCredentialsError(
            "instance",
            "no Domo instance given: set stack config `pulumi config set domo:instance acme`, "
            f"or {INSTANCE_ENV}=acme, or the resource's `instance` input",
        )
    base_url = normalize_instance(chosen_instance, allowed)
    if token:
        return Credentials(base_url, token, allowed)
    stack_token = from_config(TOKEN_CONFIG) or env.get(TOKEN_ENV) or None
    if not stack_token:
        raise MissingCredentialsError(
            "token",
            "no Domo developer token given: set `pulumi config set --secret domo:token ...`, "
            f"or {TOKEN_ENV}, or the resource's `token` input (kept secret)",
        )
    home = normalize_instance(stack_instance, allowed) if stack_instance else None
    if base_url != home:
        raise TokenNotForInstanceError(
            f"the `instance` {base_url} is not the stack's instance "
            f"({home or f'none set in {INSTANCE_CONFIG} or {INSTANCE_ENV}'}), and the "
            f"stack's token ({TOKEN_CONFIG} / {TOKEN_ENV}) is only ever sent to the stack's "
            f"instance: give this resource its own `token` input (a secret) for {base_url}",
            instance=base_url,
            stack_instance=home,
        )
    return Credentials(base_url, stack_token, allowed)


TOKEN_CHARACTERS = re.compile(r"[\x21-\x7e]+")  # visible ASCII, as Domo issues tokens


def check_token(token: object, base_url: str) -> None:
    """Refuse a token that cannot be what Domo issued, before it reaches a header.

    An HTTP header carries Latin-1 at most (anything else raised UnicodeEncodeError
    deep inside http.client) and a line break would end the header. The message never
    quotes the token or its characters.
    """
    if not isinstance(token, str) or not token.strip():
        raise InvalidTokenError(
            "The Domo developer token is empty or only spaces",
            instance=base_url,
            hint="Set DOMO_DEVELOPER_TOKEN or the domo:token config secret.",
        )
    if any(ch in token for ch in "\r\n"):
        raise InvalidTokenError(
            "The Domo developer token contains a line break",
            instance=base_url,
            hint="Copy the token again without surrounding whitespace.",
        )
    if not TOKEN_CHARACTERS.fullmatch(token.strip()):
        raise InvalidTokenError(
            "The Domo developer token contains a character that is not plain ASCII "
            "(a space, a control character, an accented letter or a typographic quote)",
            instance=base_url,
            hint="Copy the token again from Domo (Admin > Authentication > Access tokens); "
            "Domo tokens are ASCII letters and digits.",
        )
