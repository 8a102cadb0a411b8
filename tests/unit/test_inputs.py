"""Input glitches: each is refused at preview, naming the property the user must fix."""

from __future__ import annotations

from typing import Any

import pytest

from domo_versions_iac.domo.client import DomoClient
from domo_versions_iac.domo.errors import ConfigurationError, InvalidTokenError
from domo_versions_iac.emulator import EMULATOR_TOKEN, SALES_DATASET_ID, EmulatorServer
from domo_versions_iac.provider.dynamic import DatasetVersionRetentionProvider
from domo_versions_iac.provider.engine_errors import ApplyError
from domo_versions_iac.provider.inputs import InputError, parse_inputs

MAX_EXACT = 2**53 - 1  # the largest integer a float (how Pulumi sends numbers) holds exactly


def failures(props: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InputError) as caught:
        parse_inputs(props)
    return caught.value.failures


def check(emulator: EmulatorServer, **props: Any) -> list[tuple[str, str]]:
    """What `pulumi preview` reports for these inputs: (property, reason) pairs."""
    news = {"dataset_id": SALES_DATASET_ID, "allowed_versions": [1.0], "instance": emulator.url}
    news.update(props)
    result = DatasetVersionRetentionProvider().check({}, news)
    return [(failure.property, failure.reason) for failure in result.failures or []]


# --------------------------------------------------------------------------- token


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("   ", "empty or only spaces"),
        ("\t", "empty or only spaces"),
        ("abc\r\ndef", "line break"),
        ("abc\n", "line break"),
        ("t\u00f6ken", "not plain ASCII"),  # Latin-1, still never a Domo token
        ("\u201ctoken\u201d", "not plain ASCII"),  # typographic quotes, not Latin-1
        ("tok\u20acn", "not plain ASCII"),
        ("tok en", "not plain ASCII"),
        ("tok\x00en", "not plain ASCII"),
    ],
)
def test_a_bad_token_is_blamed_on_token_not_instance(
    emulator: EmulatorServer, token: str, why: str
) -> None:
    [(prop, reason)] = check(emulator, token=token)
    assert prop == "token"
    assert f"The Domo developer token {'is' if 'empty' in why else 'contains'}" in reason
    assert why in reason
    assert token.strip() not in reason or not token.strip()
    assert emulator.store.requests == [], "nothing was sent"


def test_a_blank_token_from_the_environment_is_blamed_on_token(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOMO_INSTANCE", emulator.url)  # the environment's token is for it
    monkeypatch.setenv("DOMO_DEVELOPER_TOKEN", "  \n")
    [(prop, reason)] = check(emulator)
    assert prop == "token"
    assert "empty or only spaces" in reason


@pytest.mark.parametrize("token", ["tok\u20acn", "t\u00f6ken", "abc\r\n"])
def test_the_client_refuses_a_token_it_cannot_send(token: str) -> None:
    with pytest.raises(InvalidTokenError) as caught:
        DomoClient("http://127.0.0.1:9", token)
    assert isinstance(caught.value, ConfigurationError)
    assert "developer token" in str(caught.value)


def test_a_good_token_with_surrounding_spaces_still_works(emulator: EmulatorServer) -> None:
    with DomoClient(emulator.url, f"  {EMULATOR_TOKEN}  ") as client:
        assert client.list_versions(SALES_DATASET_ID)


# --------------------------------------------------------------------------- dataset_id


@pytest.mark.parametrize("dataset_id", ["ds\n", ".", "..", "..\n", " ds", "ds ds", "ds/x", "a\nb"])
def test_dataset_ids_that_are_not_whole_ids_are_refused(dataset_id: str) -> None:
    [(prop, reason)] = failures({"dataset_id": dataset_id, "allowed_versions": [1]})
    assert prop == "dataset_id"
    assert f"{dataset_id!r} is not a Domo dataset id" in reason


@pytest.mark.parametrize(
    "dataset_id", ["a1b2c3d4-0000-4000-8000-000000000001", "a.b", "...", "x:y_z"]
)
def test_dataset_ids_of_the_allowed_characters_pass(dataset_id: str) -> None:
    assert (
        parse_inputs({"dataset_id": dataset_id, "allowed_versions": [1]}).dataset_id == dataset_id
    )


@pytest.mark.parametrize("dataset_id", [".", "..", " .. "])
def test_the_client_never_builds_a_url_from_a_dot_segment(
    client: DomoClient, emulator: EmulatorServer, dataset_id: str
) -> None:
    with pytest.raises(ConfigurationError, match="is not a dataset id"):
        client.list_versions(dataset_id)
    with pytest.raises(ConfigurationError, match="is not a dataset id"):
        client.delete_versions(dataset_id, [1], index=False)
    assert emulator.store.requests == []


# --------------------------------------------------------------------------- allowed_versions


def test_version_ids_pulumi_cannot_pass_exactly_are_refused() -> None:
    # 2**53 + 1 leaves the program as the float 2**53: refuse rather than round.
    [(prop, reason)] = failures({"dataset_id": "ds", "allowed_versions": [3.0, float(2**53 + 1)]})
    assert prop == "allowed_versions.1"
    assert "version id 9007199254740992 is above 2^53 - 1 (9007199254740991)" in reason
    assert "floats" in reason


def test_version_ids_in_the_policy_above_2_53_are_refused() -> None:
    [(prop, reason)] = failures({"dataset_id": "ds", "policy": {"allowed_versions": [2.0**60]}})
    assert prop == "policy"
    assert f"{2**60} is above 2^53 - 1" in reason


def test_the_largest_exact_version_id_is_accepted() -> None:
    inputs = parse_inputs({"dataset_id": "ds", "allowed_versions": [float(MAX_EXACT)]})
    assert inputs.policy.allowed_versions == (MAX_EXACT,)


# --------------------------------------------------------------------------- refresh


def test_refresh_of_a_dataset_deleted_in_domo_says_so_and_what_to_do(
    emulator: EmulatorServer,
) -> None:
    props = {
        "dataset_id": "gone-0000",
        "allowed_versions": [1.0],
        "instance": emulator.url,
        "token": EMULATOR_TOKEN,
        "versions": [],
    }
    with pytest.raises(ApplyError) as caught:
        DatasetVersionRetentionProvider().read("gone-0000", props)
    text = str(caught.value)
    assert text.startswith(
        "Refresh cannot read the dataset's versions: Domo says the dataset does not exist "
        "(404 Not Found) for dataset gone-0000 on "
    )
    assert "Refresh changed nothing." in text
    assert "remove its DatasetVersionRetention from the program and run `pulumi up`" in text
    assert "`pulumi state delete <urn>`" in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
