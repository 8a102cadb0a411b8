"""The token never shows, even when a server (a proxy, a firewall) echoes it back.

A loopback server answers with bodies that quote the request's ``X-DOMO-Developer-Token``
header; every error, log line and CLI line must show ``<redacted>`` instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
import requests
from click.testing import CliRunner
from requests.adapters import HTTPAdapter

from domo_versions_iac.cli import common as cli_common
from domo_versions_iac.cli.main import cli
from domo_versions_iac.domo.client import DomoClient
from domo_versions_iac.domo.errors import (
    REDACTED,
    BadRequestError,
    DomoError,
    InvalidResponseError,
    ServerError,
    redact,
)
from domo_versions_iac.emulator import BUDGET_DATASET_ID, EmulatorServer
from domo_versions_iac.emulator.store import ApiRequest, ApiResponse

TOKEN = "scrub-me-0123456789abcdef"

Answer = Callable[[str], ApiResponse]
RECORD = {
    "dataId": 1,
    "schemaId": 1,
    "uploadStatus": "success",
    "recordedDate": "2024-03-01T00:00:00Z",
}


def echoing(emulator: EmulatorServer, answer: Answer, methods: tuple[str, ...] = ("GET",)) -> None:
    """Answer API requests of ``methods`` with ``answer(token the request carried)``."""
    original = emulator.store.handle

    def handle(request: ApiRequest) -> ApiResponse:
        if request.method in methods:
            return answer(request.token or "")
        return original(request)

    emulator.store.handle = handle  # type: ignore[method-assign]


def json_400(token: str) -> ApiResponse:
    headers = f"Accept: application/json, X-DOMO-Developer-Token: {token}"
    return ApiResponse(400, {"message": f"Bad Request; request headers: {headers}", "toe": token})


def client_for(emulator: EmulatorServer, **kwargs: Any) -> DomoClient:
    emulator.store.add_token(TOKEN)
    return DomoClient(emulator.url, TOKEN, sleep=lambda _: None, backoff_base=0.0, **kwargs)


def assert_clean(text: str) -> None:
    assert TOKEN not in text
    assert TOKEN[:8] not in text, "not even a cut-off part of it"


@pytest.mark.parametrize(
    ("answer", "error_type"),
    [
        (json_400, BadRequestError),
        (lambda t: ApiResponse(400, f"denied header X-DOMO-Developer-Token={t}"), BadRequestError),
        (lambda t: ApiResponse(400, {"error": quote(t, safe="")}), BadRequestError),
        (lambda t: ApiResponse(400, {"message": "x" * 290 + t}), BadRequestError),  # cut at 300
        (lambda t: ApiResponse(302, None, {"Location": f"https://evil.example/?t={t}"}), None),
        (lambda t: ApiResponse(200, [{**RECORD, "uploadStatus": t}]), InvalidResponseError),
        (lambda t: ApiResponse(503, {"message": t}), ServerError),
    ],
)
def test_errors_from_echoing_answers_never_carry_the_token(
    emulator: EmulatorServer,
    caplog: pytest.LogCaptureFixture,
    answer: Answer,
    error_type: type[DomoError] | None,
) -> None:
    caplog.set_level(logging.DEBUG)
    echoing(emulator, answer)
    client = client_for(emulator, max_attempts=2)
    with pytest.raises(error_type or InvalidResponseError) as caught:
        client.list_versions(BUDGET_DATASET_ID)
    error = caught.value
    for text in (str(error), repr(error), repr(vars(error)), str(error.args), caplog.text):
        assert_clean(text)
    assert REDACTED in str(error) or error.status == 503


class RawAnswer(HTTPAdapter):
    """A transport answering every request with one raw (non-JSON) body."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__()
        self.status, self.body = status, body

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = requests.Response()
        response.status_code, response._content = self.status, self.body
        response.url, response.request = request.url or "", request
        return response


@pytest.mark.parametrize(
    ("status", "error_type"), [(200, InvalidResponseError), (400, BadRequestError)]
)
def test_raw_text_answers_that_echo_the_token_are_scrubbed(
    status: int, error_type: type[DomoError]
) -> None:
    session = requests.Session()
    session.mount("https://", RawAnswer(status, f"proxy says: token={TOKEN} refused".encode()))
    client = DomoClient("acme", TOKEN, session=session)
    with pytest.raises(error_type) as caught:
        client.list_versions("abc")
    assert_clean(str(caught.value))
    assert REDACTED in str(caught.value)


def test_a_delete_answer_that_echoes_the_token_is_scrubbed(emulator: EmulatorServer) -> None:
    echoing(emulator, json_400, methods=("DELETE",))
    client = client_for(emulator)
    with pytest.raises(BadRequestError) as caught:
        client.delete_versions(BUDGET_DATASET_ID, [1], index=False, never_delete=())
    assert_clean(str(caught.value))
    assert REDACTED in str(caught.value)


def test_redact_handles_every_form_of_every_token_in_use(emulator: EmulatorServer) -> None:
    client_for(emulator)
    other = 'second-token/with+odd"chars'
    DomoClient(emulator.url, other)
    text = f"a {TOKEN} b {quote(other, safe='')} c {json.dumps(other)}"
    assert redact(text) == f'a {REDACTED} b {REDACTED} c "{REDACTED}"'
    assert redact("nothing secret") == "nothing secret"


@pytest.mark.parametrize("verbose", [[], ["--verbose"]])
def test_cli_output_never_carries_the_token(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, verbose: list[str]
) -> None:
    monkeypatch.setattr(cli_common, "CLIENT_OPTIONS", {"backoff_base": 0.0, "timeout": 5.0})
    emulator.store.add_token(TOKEN)
    env = {"DOMO_INSTANCE": emulator.url, "DOMO_DEVELOPER_TOKEN": TOKEN}
    runner = CliRunner()
    echoing(emulator, json_400)
    for args in (["ls", BUDGET_DATASET_ID], ["plan", BUDGET_DATASET_ID, "--keep-last", "1"]):
        result = runner.invoke(cli, [*args, *verbose], env=env)
        assert result.exit_code == 1, result.output
        assert "Domo rejected the GET request (400 Bad Request)" in result.stderr
        assert REDACTED in result.stderr
        assert_clean(result.output)
    # --verbose also logs each retry: a 503 whose body echoes the token, then the 400.
    echoing(emulator, lambda t: ApiResponse(503, {"message": f"busy; token {t}"}))
    result = runner.invoke(cli, ["ls", BUDGET_DATASET_ID, *verbose], env=env)
    assert result.exit_code == 1
    if verbose:
        assert "retrying" in result.stderr and "Traceback" in result.stderr
    assert_clean(result.output)


@pytest.mark.parametrize(
    "echoed",
    [TOKEN[:24], TOKEN[-8:], TOKEN[5:13], TOKEN[:8], quote(TOKEN, safe="")[3:20]],
    ids=["first-24", "last-8", "middle-8", "first-8", "url-escaped-piece"],
)
def test_an_echoed_run_of_8_or_more_characters_of_the_token_is_redacted(
    emulator: EmulatorServer, echoed: str
) -> None:
    # A proxy that echoes only part of the header (its first 24 characters, say).
    echoing(emulator, lambda _: ApiResponse(400, {"message": f"header was {echoed}..., refused"}))
    with pytest.raises(BadRequestError) as caught:
        client_for(emulator).list_versions(BUDGET_DATASET_ID)
    text = str(caught.value)
    assert echoed not in text
    assert f"header was {REDACTED}..., refused" in text


def test_a_run_shorter_than_8_and_the_public_emulator_token_s_words_stay(
    emulator: EmulatorServer,
) -> None:
    client_for(emulator)
    DomoClient(emulator.url, "emulator-token")
    assert redact(f"x{TOKEN[:7]}x") == f"x{TOKEN[:7]}x"
    assert redact("no emulator answers") == "no emulator answers"
    assert redact("token emulator-token!") == f"token {REDACTED}!"
    assert redact(f"{TOKEN[:10]} and {TOKEN[-9:]}") == f"{REDACTED} and {REDACTED}"
