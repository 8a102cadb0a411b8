"""A small client for the emulator's ``/_emulator/`` test controls over HTTP.

For tests that talk to an emulator running in another process (the CLI's
``domo-versions emulator``); in-process tests can call the store directly.
"""

from __future__ import annotations

from typing import Any

import requests

from domo_versions_iac.emulator.store import Fault, max_in_flight


class EmulatorControlError(RuntimeError):
    """A control request the emulator refused; ``status`` is its HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class EmulatorControl:
    """``EmulatorControl("http://127.0.0.1:8123").inject_fault(Fault(status=429))``."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._session.request(
            method, f"{self.url}/_emulator/{path}", json=body, timeout=self.timeout
        )
        if response.status_code != 200:
            try:
                detail = response.json().get("message") or response.text
            except (ValueError, AttributeError):
                detail = response.text
            raise EmulatorControlError(
                f"emulator control {method} {path} failed ({response.status_code}): {detail}",
                response.status_code,
            )
        return response.json()

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "health")
        return result

    def reset(self) -> None:
        self._call("POST", "reset")

    def requests(self) -> list[dict[str, Any]]:
        """The request log: dicts with method, path, dataset_id, index, body_ids, status,
        in_flight (requests being served when it arrived, by method, itself included)."""
        result: list[dict[str, Any]] = self._call("GET", "requests")
        return result

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def max_in_flight(self, method: str) -> int:
        """The most ``method`` requests ("GET", "DELETE") the emulator served at once
        since the log was last cleared (each logged request records ``in_flight``)."""
        return max_in_flight(self.requests(), method)

    def inject_fault(self, fault: Fault | None = None, **fields: Any) -> dict[str, Any]:
        """Pass a :class:`Fault` or its fields as keywords."""
        body = fault.to_dict() if fault is not None else Fault(**fields).to_dict()
        result: dict[str, Any] = self._call("POST", "faults", body)
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def add_version(self, dataset_id: str, **fields: Any) -> dict[str, Any]:
        """An upload arriving; fields as for ``EmulatorStore.add_version``."""
        result: dict[str, Any] = self._call("POST", f"datasets/{dataset_id}/versions", fields)
        return result

    def set_latency(self, seconds: float) -> None:
        self._call("POST", "latency", {"seconds": seconds})

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> EmulatorControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
