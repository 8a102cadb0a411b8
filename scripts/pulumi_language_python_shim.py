"""A minimal stand-in for Pulumi's Python language host (`pulumi-language-python`).

Why: the real host is a Go module that the Go module proxy does not serve, so it
cannot be built offline. The Pulumi Python SDK already ships a complete language
server for Automation API inline programs; this script serves that same server as
a plugin, running the project's ``__main__.py`` (or the ``main:`` entry point) in
this process. The engine launches it with its own address as the last argument and
reads the port we listen on from our first line of stdout.

Users with a normally installed Pulumi CLI use the real host; this file is only
provisioned into the project's engine cache by ``scripts/ensure-pulumi-engine.sh``.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
from concurrent import futures
from typing import Any

import grpc
from pulumi.automation._server import LanguageServer
from pulumi.runtime.proto import language_pb2_grpc


class ProjectLanguageServer(LanguageServer):
    """The SDK's inline-program server, pointed at a project directory on each Run."""

    def __init__(self, engine_address: str) -> None:
        super().__init__(program=self._run_program)
        self.engine_address = engine_address
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
            request.args.append(self.engine_address)
        return super().Run(request, context)  # type: ignore[no-untyped-call]  # SDK: unannotated


def main(argv: list[str]) -> int:
    engine_address = argv[-1] if argv else ""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)],
    )
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(
        ProjectLanguageServer(engine_address), server
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
