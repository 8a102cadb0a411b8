"""A minimal stand-in for Pulumi's Python language host (`pulumi-language-python`).

Why: the real host is a Go module that the Go module proxy does not serve, so it
cannot be built offline. The Pulumi Python SDK already ships a complete language
server for Automation API inline programs; this script serves that same server as
a plugin, running the project's ``__main__.py`` (or the ``main:`` entry point) in
this process. The engine launches it with its own address as the last argument and
reads the port we listen on from our first line of stdout.

The engine starts this host twice per command: once only to ask ``GetPluginInfo`` and
``About``, once to ``Run`` the program. Importing the SDK costs most of a start-up, so
the small answers (the same ones the SDK's server gives) are written here as raw
protobuf bytes, and the SDK is imported only when another call (``Run``) arrives.

Users with a normally installed Pulumi CLI use the real host; this file is only
provisioned into the project's engine cache by ``scripts/ensure-pulumi-engine.sh``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc

SERVICE = "/pulumirpc.LanguageRuntime/"


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string_field(number: int, text: str) -> bytes:
    """One protobuf ``string`` field (wire type 2)."""
    data = text.encode()
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _about() -> bytes:
    """``AboutResponse{executable: 1, version: 2}``, as the SDK's server answers."""
    version = "{}.{}.{}".format(*sys.version_info[:3])
    return _string_field(1, sys.executable) + _string_field(2, version)


# Calls answered without the SDK: each maps to its serialized response. The empty
# messages (PluginInfo, GetRequiredPackagesResponse) serialize to no bytes.
CHEAP_ANSWERS: dict[str, Callable[[], bytes]] = {
    "GetPluginInfo": lambda: b"",
    "About": _about,
    "GetRequiredPackages": lambda: b"",
    "GetRequiredPlugins": lambda: b"",
}


class _Captured:
    """Stands in for a grpc server to take the SDK servicer's generic handler."""

    def __init__(self) -> None:
        self.handlers: list[Any] = []

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self.handlers.extend(handlers)

    def add_registered_method_handlers(self, _service: str, _handlers: Any) -> None:
        """Newer generated code registers here too; the generic handler suffices."""


def _sdk_handler(engine_address: str) -> Any:
    """The SDK's language server (imported now, on the first call that needs it)."""
    import runpy

    from pulumi.automation._server import LanguageServer
    from pulumi.runtime.proto import language_pb2_grpc

    class ProjectLanguageServer(LanguageServer):
        """The SDK's inline-program server, pointed at a project directory on each Run."""

        def __init__(self) -> None:
            super().__init__(program=self._run_program)
            self.entry_point = ""

        def _run_program(self) -> None:
            runpy.run_path(self.entry_point, run_name="__main__")

        def Run(self, request: Any, context: Any) -> Any:
            program_dir = request.info.program_directory or request.pwd or os.getcwd()
            entry = request.info.entry_point or request.program or "."
            path = os.path.join(program_dir, entry)
            if os.path.isdir(path):
                path = os.path.join(path, "__main__.py")
            self.entry_point = path
            os.chdir(request.pwd or program_dir)
            if program_dir not in sys.path:
                sys.path.insert(0, program_dir)
            if not request.args:
                request.args.append(engine_address)
            return super().Run(request, context)  # type: ignore[no-untyped-call]  # SDK

    captured = _Captured()
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(ProjectLanguageServer(), captured)
    (handler,) = captured.handlers
    return handler


class LazyLanguageHandler(grpc.GenericRpcHandler):  # type: ignore[misc]  # grpc: untyped
    """Answers the cheap calls itself; hands every other call to the SDK's server."""

    def __init__(self, engine_address: str) -> None:
        self.engine_address = engine_address
        self._lock = threading.Lock()
        self._sdk: Any = None

    def service(self, details: Any) -> Any:
        method = details.method
        name = method[len(SERVICE) :] if method.startswith(SERVICE) else ""
        answer = CHEAP_ANSWERS.get(name)
        if answer is not None:
            return grpc.unary_unary_rpc_method_handler(lambda _request, _context: answer())
        if name == "Cancel":
            return None  # UNIMPLEMENTED, as from the SDK's server: nothing to cancel
        with self._lock:
            if self._sdk is None:
                self._sdk = _sdk_handler(self.engine_address)
        return self._sdk.service(details)


def main(argv: list[str]) -> int:
    engine_address = argv[-1] if argv else ""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        handlers=[LazyLanguageHandler(engine_address)],
        options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)],
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    # The engine stops language hosts with SIGINT/SIGTERM: shut down quietly.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: server.stop(grace=0))
    print(port, flush=True)
    # If the engine dies without stopping us, we are re-parented: exit, don't linger.
    parent = os.getppid()
    while server.wait_for_termination(timeout=1.0):  # True: still serving after 1 s
        if os.getppid() != parent:
            server.stop(grace=0)
            os._exit(1)  # the program may still be running in a worker thread
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # stopped by the engine: don't wait for a program thread that hangs


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
