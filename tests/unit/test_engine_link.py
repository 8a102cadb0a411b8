"""engine_link: the provider process hears the engine's Cancel and notices a dead engine."""

from __future__ import annotations

import socket
from concurrent import futures

import grpc
import pytest
from google.protobuf import empty_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import provider_pb2_grpc

from domo_versions_iac.provider import engine_link


class _Servicer(provider_pb2_grpc.ResourceProviderServicer):
    def Cancel(self, request: object, context: object) -> empty_pb2.Empty:
        return empty_pb2.Empty()


def test_the_engines_cancel_sets_the_stop_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_link, "_stop", None)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(_Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        assert engine_link._hook_servicer()
        assert engine_link.stop_reason() is None
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            provider_pb2_grpc.ResourceProviderStub(channel).Cancel(empty_pb2.Empty(), timeout=10)
        assert engine_link.stop_reason() == engine_link.CANCELLED
    finally:
        server.stop(0)


def test_a_closed_engine_port_is_refused_and_a_listening_one_is_not() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        assert not engine_link._refused(address)
    assert engine_link._refused(address)


@pytest.mark.parametrize(
    ("argv", "address"),
    [
        (["x", "127.0.0.1:4567"], "127.0.0.1:4567"),
        (["x", "--logtostderr", "-v=9", "localhost:80"], "localhost:80"),
        (["x"], None),
    ],
)
def test_the_engine_address_is_the_last_host_port_argument(
    argv: list[str], address: str | None
) -> None:
    assert engine_link._address_from_argv(argv) == address


def test_outside_an_engine_call_a_message_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    engine_link.log("dataset ds: one line")
    assert capsys.readouterr().out == "dataset ds: one line\n"
