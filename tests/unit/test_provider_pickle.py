"""What the provider puts into Pulumi state when the SDK pickles it."""

from __future__ import annotations

import base64

import dill
from pulumi.dynamic.dynamic import serialize_provider

from domo_versions_iac.provider.dynamic import DatasetVersionRetentionProvider
from domo_versions_iac.testing import EchoResource  # noqa: F401  (same SDK patches loaded)


def test_the_pickled_provider_holds_no_configuration() -> None:
    provider = DatasetVersionRetentionProvider()
    provider._stack_config = {"domo:token": "secret-token-value"}
    pickled = base64.b64decode(serialize_provider(provider))
    assert b"secret-token-value" not in pickled
    restored = dill.loads(pickled)
    assert isinstance(restored, DatasetVersionRetentionProvider)
    assert restored._stack_config == {}


def test_a_stack_of_thousands_of_resources_can_be_pickled() -> None:
    # pulumi's serialize_provider stacks a wrapper on pickle internals per call; a
    # provider that pickles a dict hit RecursionError at about 955 resources.
    for _ in range(2500):
        serialize_provider(DatasetVersionRetentionProvider())
