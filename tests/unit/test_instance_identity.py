"""The one-owner rule compares the server an instance reaches, not how it is spelt."""

from __future__ import annotations

import pytest

from domo_versions_iac.domo.instance import instance_identity, normalize_instance


@pytest.mark.parametrize(
    "spellings",
    [
        ["acme", "acme.domo.com", "https://acme.domo.com", "ACME.domo.com/"],
        ["http://127.0.0.1:8123", "http://localhost:8123", "https://[::1]:8123"],
        ["https://proxy.corp.example", "https://proxy.corp.example:443"],
    ],
)
def test_spellings_of_one_instance_are_one(spellings: list[str]) -> None:
    allowed = ["proxy.corp.example"]
    assert len({instance_identity(normalize_instance(s, allowed)) for s in spellings}) == 1


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("acme", "other"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8124"),
        ("https://proxy.corp.example", "https://proxy.corp.example:8443"),
    ],
)
def test_different_instances_stay_different(one: str, other: str) -> None:
    allowed = ["proxy.corp.example"]
    first = instance_identity(normalize_instance(one, allowed))
    assert first != instance_identity(normalize_instance(other, allowed))
