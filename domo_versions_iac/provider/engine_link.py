"""What the dynamic provider process knows of the Pulumi engine that started it.

The Python SDK's dynamic provider host (``python -m pulumi.dynamic ENGINE_ADDRESS``)
answers the engine's ``Cancel`` call with nothing, passes no URN to the provider and
keeps serving after its engine is gone. Three things follow from that, each fixed here
once per process (:func:`install`, from the provider's ``configure``):

- **Ctrl-C**: the engine calls ``Cancel`` on every provider. Here it sets a flag that
  the delete loop reads before each batch (:func:`stop_reason`), so no new DELETE
  batch starts after it; the one in flight finishes and is reported.
- **A dead engine** (``kill -9`` of the CLI): the process is not re-parented (a shell
  script starts Python and waits for it), so a watchdog polls the engine's address;
  once nothing listens there it sets the flag, gives a batch in flight a moment to
  end, and exits.
- **Messages under the resource**: the engine's ``Log`` call takes a URN; the
  servicer's Create/Update/Read/Delete request carries it, and :func:`log` finds it
  in the calling servicer frame and sends each message under its resource, one
  message per call. Without it (an SDK whose internals moved) messages are printed,
  which the engine shows under the stack.

Hooking Cancel relies on the SDK registering the servicer with a plain dictionary of
method handlers (grpc's ``method_handlers_generic_handler``); if that is not found,
only the watchdog and printing are used.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

_SERVICE = "pulumirpc.ResourceProvider"
_WITH_URN = ("Create", "Update", "Read", "Delete")
_POLL_SECONDS = 0.5
_EXIT_GRACE_SECONDS = 3.0  # a DELETE in flight may finish; then the process exits

CANCELLED = (
    "the update was cancelled (Ctrl-C): no new DELETE batch was started after it; run "
    "`pulumi up` again to finish"
)
ENGINE_GONE = "the Pulumi CLI that started this provider is gone; no DELETE was sent after that"

_state_lock = threading.Lock()
_installed = False
_stop: str | None = None
_engine_address: str | None = None


def stop_reason() -> str | None:
    """Why no further DELETE may start (cancelled, or the engine is gone), else None.

    Asked before each DELETE batch: besides the flags, it checks that the engine still
    listens (one loopback connect), so a killed CLI lets no new batch start, whatever
    the watchdog's pace.
    """
    if _stop is None and _engine_address is not None and _refused(_engine_address):
        _set_stop(ENGINE_GONE)
    return _stop


def _set_stop(reason: str) -> None:
    global _stop
    with _state_lock:
        if _stop is None:
            _stop = reason


def install() -> None:
    """Hook Cancel and the URN, and start the watchdog (once per process; never raises)."""
    global _installed, _engine_address
    with _state_lock:
        if _installed:
            return
        _installed = True
    if _running_as_dynamic_host():
        _engine_address = _address_from_argv(sys.argv)
        with contextlib.suppress(Exception):
            _hook_servicer()
        if _engine_address is not None:
            threading.Thread(
                target=_watch_engine, args=(_engine_address,), name="domo-engine-watch", daemon=True
            ).start()


def _running_as_dynamic_host() -> bool:
    return hasattr(sys.modules.get("__main__"), "_abort_with_traceback")


def _address_from_argv(argv: list[str]) -> str | None:
    """The engine's address, the last ``host:port`` argument the engine passed."""
    for arg in reversed(argv[1:]):
        if re.fullmatch(r"[\w.\-\[\]:]+:\d{1,5}", arg):
            return arg
    return None


def _hook_servicer() -> bool:
    """Wrap the registered Cancel (sets the stop flag) and the URN-carrying calls."""
    import grpc

    for obj in gc.get_objects():
        handlers = getattr(obj, "_method_handlers", None)
        if not isinstance(obj, grpc.GenericRpcHandler) or not isinstance(handlers, dict):
            continue
        cancel_key = f"/{_SERVICE}/Cancel"
        if cancel_key not in handlers:
            continue
        handlers[cancel_key] = _wrapped(handlers[cancel_key], _on_cancel)
        return True
    return False


def _wrapped(handler: Any, before: Callable[[Any], None]) -> Any:
    original = handler.unary_unary

    def call(request: Any, context: Any) -> Any:
        before(request)
        return original(request, context)

    return handler._replace(unary_unary=call)


def _on_cancel(_request: Any) -> None:
    _set_stop(CANCELLED)


def _calling_urn() -> str:
    """The URN of the engine call this thread serves: the servicer method's ``request``."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name in _WITH_URN:
            urn = getattr(frame.f_locals.get("request"), "urn", "")
            if isinstance(urn, str) and urn.startswith("urn:pulumi:"):
                return urn
        frame = frame.f_back  # type: ignore[assignment]
    return ""


def _watch_engine(address: str) -> None:
    """Stop deleting, then exit, once nothing listens at the engine's address."""
    refused = 0
    while True:
        time.sleep(_POLL_SECONDS)
        refused = refused + 1 if _refused(address) else 0
        if refused >= 3:  # ~1.5 s of "connection refused": the engine is gone
            _set_stop(ENGINE_GONE)
            time.sleep(_EXIT_GRACE_SECONDS)
            os._exit(1)


def _refused(address: str) -> bool:
    """True only if the connection is refused: a slow engine (timeout) is still there."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=2.0):
            return False
    except ConnectionRefusedError:
        return True
    except (OSError, ValueError):
        return False


def log(message: str, *, warning: bool = False) -> None:
    """Say ``message`` under the resource of the current engine call (else print it)."""
    urn = _calling_urn()
    if urn and _engine_address is not None and _send_log(_engine_address, urn, message, warning):
        return
    print(message, flush=True)


_stubs: dict[str, Any] = {}


def _send_log(address: str, urn: str, message: str, warning: bool) -> bool:
    try:
        import grpc
        from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

        with _state_lock:
            stub = _stubs.get(address)
            if stub is None:
                stub = _stubs[address] = engine_pb2_grpc.EngineStub(grpc.insecure_channel(address))
        severity = engine_pb2.WARNING if warning else engine_pb2.INFO
        stub.Log(engine_pb2.LogRequest(severity=severity, message=message, urn=urn), timeout=10)
        return True
    except Exception:  # a message that cannot go to the engine is printed instead
        return False
