"""Credentials go only to Domo, through the real Pulumi CLI against the emulator.

- The stack's token never goes to an instance other than the stack's.
- Hosts other than Domo's (and loopback) are refused at preview, before any request.
- A server that echoes the request headers back (as proxies do) never gets the token
  printed: preview, up and refresh show ``<redacted>``, whichever source the token
  came from (stack config, environment, the resource's ``token`` input).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from domo_versions_iac.emulator import EmulatorServer, EmulatorStore
from domo_versions_iac.emulator.store import ApiRequest, ApiResponse

from .conftest import StackFactory, make_versions, remaining_ids

TOKEN = "e2e-secret-token-5d1f0c9a"
OTHER_TOKEN = "other-instance-token-77e1"
HEADER = "import pulumi\nfrom domo_versions_iac import DatasetVersionRetention\n"


def retention(name: str, dataset_id: str, **inputs: object) -> str:
    args = "".join(f", {key}={value!r}" for key, value in inputs.items())
    return f"DatasetVersionRetention({name!r}, dataset_id={dataset_id!r}{args})\n"


def echo_headers_on(domo: EmulatorServer) -> Callable[[str | None], None]:
    """Make the emulator answer METHOD requests with a 400 that quotes the token header.

    Returns a switch: ``switch("GET")``, ``switch("DELETE")``, ``switch(None)`` (normal).
    """
    original = domo.store.handle
    echoed: list[str | None] = [None]

    def handle(request: ApiRequest) -> ApiResponse:
        if request.method == echoed[0]:
            headers = f"Accept: application/json; X-DOMO-Developer-Token: {request.token}"
            body = {"message": f"Bad Request (request headers: {headers})", "toe": request.token}
            return ApiResponse(400, body)
        return original(request)

    domo.store.handle = handle  # type: ignore[method-assign]
    return lambda method: echoed.__setitem__(0, method)


def assert_scrubbed(output: str) -> None:
    assert TOKEN not in output
    assert "<redacted>" in output, output


@pytest.mark.parametrize("source", ["config", "environment", "input"])
def test_preview_up_and_refresh_never_print_the_token(
    domo: EmulatorServer, stack_factory: StackFactory, source: str
) -> None:
    domo.store.add_token(TOKEN)
    domo.store.add_dataset("ds-a", make_versions(4))
    inputs: dict[str, object] = {"policy": {"keep_last": 2}}
    env = {"DOMO_DEVELOPER_TOKEN": TOKEN if source == "environment" else ""}
    secrets = {"domo:token": TOKEN} if source == "config" else None
    if source == "input":
        inputs.update(instance=domo.url, token=TOKEN)
    ws = stack_factory(HEADER + retention("a", "ds-a", **inputs), env=env, secrets=secrets)
    echo = echo_headers_on(domo)

    echo("GET")
    preview = ws.preview(check=False)
    assert preview.returncode != 0
    assert "Domo rejected the GET request (400 Bad Request)" in preview.output
    assert_scrubbed(preview.output)

    echo(None)
    ws.up()
    assert remaining_ids(domo, "ds-a") == [3, 4]
    domo.store.add_version("ds-a")
    domo.store.add_version("ds-a")

    echo("DELETE")
    up = ws.up(check=False)
    assert up.returncode != 0
    assert "not deleted: ids 3, 4: Domo answered 400 Bad Request" in up.output
    assert_scrubbed(up.output)

    echo("GET")
    refresh = ws.refresh(check=False)
    assert refresh.returncode != 0
    assert_scrubbed(refresh.output)
    assert TOKEN not in json.dumps(ws.export_state()), "the state holds it only encrypted"


def test_the_stacks_token_never_goes_to_another_instance(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(3))
    other = EmulatorServer(EmulatorStore({"tokens": [OTHER_TOKEN], "datasets": {}})).start()
    try:
        other.store.add_dataset("ds-b", make_versions(3))
        program = HEADER + retention("a", "ds-a", policy={"keep_last": 2})
        ws = stack_factory(program)
        refused = {
            other.url: [
                "property token value {<nil>} has a problem: ",
                f"the `instance` {other.url} is not the stack's instance ({domo.url})",
                "give this resource its own `token` input",
            ],
            "https://evil.example": ["property instance", "'https://evil.example' is not a Domo"],
            "https://acme.domo.com.evil.example": ["property instance", "is not a Domo host"],
            "acme.domo.com@evil.example": ["property instance", "is not a bare host"],
        }
        for instance, fragments in refused.items():
            bad = retention("b", "ds-b", policy={"keep_last": 2}, instance=instance)
            ws.write_program(program + bad)
            preview = ws.preview(check=False)
            assert preview.returncode != 0
            for fragment in fragments:
                assert fragment in preview.output, preview.output
            if instance != other.url:
                assert "The `instance` must be 'acme', 'acme.domo.com' or" in preview.output
        assert other.store.requests == [], "the other instance was never called"

        ws.write_program(
            program
            + retention("b", "ds-b", policy={"keep_last": 2}, instance=other.url, token=OTHER_TOKEN)
        )
        ws.up()
        assert remaining_ids(other, "ds-b") == [2, 3], "its own token works there"
        assert remaining_ids(domo, "ds-a") == [2, 3]
    finally:
        other.stop()


def test_a_rejected_token_input_is_named_but_never_printed(
    domo: EmulatorServer, stack_factory: StackFactory
) -> None:
    domo.store.add_dataset("ds-a", make_versions(3))
    program = HEADER + retention("a", "ds-a", policy={"keep_last": 2}, token=TOKEN)
    preview = stack_factory(program).preview(check=False)
    assert preview.returncode != 0
    assert "property token" in preview.output and "401 Unauthorized" in preview.output
    assert TOKEN not in preview.output
