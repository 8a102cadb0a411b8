"""Where credentials come from, and that the stack's token never leaves its instance."""

from __future__ import annotations

import pytest

from domo_versions_iac.domo.credentials import (
    MissingCredentialsError,
    TokenNotForInstanceError,
    resolve_credentials,
)
from domo_versions_iac.domo.errors import ConfigurationError

STACK_TOKEN = "stack-token-0123456789"
OWN_TOKEN = "own-token-9876543210"


def test_explicit_values_win_over_config_and_environment() -> None:
    creds = resolve_credentials(
        instance="beta",
        token=OWN_TOKEN,
        config={"domo:instance": "acme", "domo:token": STACK_TOKEN},
        environ={"DOMO_INSTANCE": "gamma", "DOMO_DEVELOPER_TOKEN": "env-token-xyz"},
    )
    assert (creds.instance, creds.token) == ("https://beta.domo.com", OWN_TOKEN)
    assert OWN_TOKEN not in repr(creds)


def test_config_wins_over_environment() -> None:
    creds = resolve_credentials(
        config={"domo:instance": "acme", "domo:token": STACK_TOKEN},
        environ={"DOMO_INSTANCE": "acme", "DOMO_DEVELOPER_TOKEN": "env-token-xyz"},
    )
    assert (creds.instance, creds.token) == ("https://acme.domo.com", STACK_TOKEN)


@pytest.mark.parametrize(
    ("config", "environ"),
    [
        ({"domo:instance": "acme", "domo:token": STACK_TOKEN}, {}),
        ({}, {"DOMO_INSTANCE": "acme", "DOMO_DEVELOPER_TOKEN": STACK_TOKEN}),
        ({"domo:instance": "acme"}, {"DOMO_DEVELOPER_TOKEN": STACK_TOKEN}),
    ],
)
def test_a_resource_on_the_stacks_instance_uses_the_stacks_token(
    config: dict[str, str], environ: dict[str, str]
) -> None:
    # The same instance written another way is the same instance.
    creds = resolve_credentials(instance="https://ACME.domo.com/", config=config, environ=environ)
    assert (creds.instance, creds.token) == ("https://acme.domo.com", STACK_TOKEN)


@pytest.mark.parametrize(
    ("config", "environ"),
    [
        ({"domo:instance": "acme", "domo:token": STACK_TOKEN}, {}),
        ({}, {"DOMO_INSTANCE": "acme", "DOMO_DEVELOPER_TOKEN": STACK_TOKEN}),
        ({"domo:token": STACK_TOKEN}, {}),  # a token with no instance is no one's to lend
        ({}, {"DOMO_DEVELOPER_TOKEN": STACK_TOKEN}),
    ],
)
def test_a_resource_on_another_instance_must_bring_its_own_token(
    config: dict[str, str], environ: dict[str, str]
) -> None:
    with pytest.raises(TokenNotForInstanceError) as caught:
        resolve_credentials(instance="http://127.0.0.1:9", config=config, environ=environ)
    error = caught.value
    assert error.missing == "token"
    assert "`token`" in str(error) and "http://127.0.0.1:9" in str(error)
    assert STACK_TOKEN not in str(error)
    own = resolve_credentials(
        instance="http://127.0.0.1:9", token=OWN_TOKEN, config=config, environ=environ
    )
    assert (own.instance, own.token) == ("http://127.0.0.1:9", OWN_TOKEN)


def test_missing_instance_and_token_name_the_property() -> None:
    with pytest.raises(MissingCredentialsError) as caught:
        resolve_credentials(environ={})
    assert caught.value.missing == "instance"
    with pytest.raises(MissingCredentialsError) as caught:
        resolve_credentials(environ={"DOMO_INSTANCE": "acme"})
    assert caught.value.missing == "token"
    assert not isinstance(caught.value, TokenNotForInstanceError)


def test_an_instance_that_is_not_a_domo_host_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="not a Domo host"):
        resolve_credentials(
            instance="https://evil.example", token=OWN_TOKEN, environ={"DOMO_INSTANCE": "acme"}
        )


@pytest.mark.parametrize(
    ("config", "environ"),
    [
        ({"domo:allowedHosts": "domo.corp.example"}, {}),
        ({}, {"DOMO_ALLOWED_HOSTS": "other.example, domo.corp.example"}),
    ],
)
def test_another_host_is_accepted_when_listed(
    config: dict[str, str], environ: dict[str, str]
) -> None:
    creds = resolve_credentials(
        config={**config, "domo:instance": "https://domo.corp.example", "domo:token": STACK_TOKEN},
        environ=environ,
    )
    assert creds.instance == "https://domo.corp.example"
    assert "domo.corp.example" in creds.allowed_hosts


def test_config_can_be_a_lookup_function() -> None:
    values = {"domo:instance": "acme", "domo:token": STACK_TOKEN}
    creds = resolve_credentials(config=values.get, environ={})
    assert creds.token == STACK_TOKEN


def test_the_provider_reads_allowed_hosts_from_stack_config() -> None:
    from pulumi.dynamic import Config, ConfigureRequest

    from domo_versions_iac.provider.dynamic import DatasetVersionRetentionProvider
    from domo_versions_iac.provider.inputs import InputError, parse_inputs

    provider = DatasetVersionRetentionProvider()
    stack = {"domo:instance": "https://domo.corp.example:8443", "domo:token": STACK_TOKEN}
    inputs = parse_inputs({"dataset_id": "abc", "policy": {"keep_last": 1}})
    provider.configure(ConfigureRequest(Config(stack, "proj")))
    with pytest.raises(InputError) as caught:
        provider._client(inputs)
    assert caught.value.failures[0][0] == "instance"
    assert "not a Domo host" in caught.value.failures[0][1]

    allowed = {**stack, "domo:allowedHosts": "domo.corp.example"}
    provider.configure(ConfigureRequest(Config(allowed, "proj")))
    assert provider._client(inputs).base_url == "https://domo.corp.example:8443"
    other = parse_inputs({"dataset_id": "abc", "policy": {"keep_last": 1}, "instance": "acme"})
    with pytest.raises(InputError) as caught:
        provider._client(other)
    assert caught.value.failures[0][0] == "token"
