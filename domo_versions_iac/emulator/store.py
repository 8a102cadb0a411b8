"""The emulator's state and Domo's behaviour, with no HTTP in sight.

:class:`EmulatorStore` holds datasets, versions, tokens, pending faults and the request
log behind one lock. :meth:`EmulatorStore.handle` turns a parsed API request
(:class:`ApiRequest`) into an :class:`ApiResponse` (status, JSON body, headers, or
"drop the connection"); the HTTP layer in :mod:`.server` only parses and writes bytes.

Behaviour (mirrors Domo's v2 data versions API as documented, worst case where unknown):

* Order of checks: token (401) → injected faults → dataset (404) → request body (400).
* ``GET`` lists versions sorted by ``dataId``. The listing's JSON is kept per dataset
  until the dataset changes (it stands in for Domo's own serving, which costs us nothing
  in production but ran on the measured cores in the benchmarks: ~2 ms per 1,000 records).
* ``DELETE`` needs a JSON array of non-negative integers (400 otherwise). ``index``
  absent counts as ``false``; a value other than ``true``/``false`` is a 400. Unknown
  or already deleted ids are ignored (Domo's behaviour here is undocumented).
* ``GET .../dataversions/{versionId}`` exports one version's rows as CSV (synthetic,
  deterministic: :mod:`.export`), gzip when the client accepts it, streamed; 404 for an
  unknown version. ``excludeAppendedData`` must be ``true``/``false`` and ``rowLimit`` a
  non-negative integer when given (400 otherwise).
* Every error body is Domo-shaped: ``{"status", "statusReason", "message", "toe"}``.

Concurrency is observable without timing: the HTTP layer holds :meth:`EmulatorStore.serving`
while it answers a request (latency included), and each logged request records how many
requests of each method were in flight when it arrived (``in_flight``, itself included),
so :meth:`EmulatorStore.max_in_flight` is the most that were ever served at once.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

from domo_versions_iac.domo.errors import status_text
from domo_versions_iac.domo.models import UPLOAD_STATUSES
from domo_versions_iac.emulator.export import ExportSpec, csv_chunks, gzip_chunks
from domo_versions_iac.emulator.records import version_record

FAULT_KINDS = (
    "status",
    "drop",
    "partial_delete",
    "stale_listing",
    "cut_body",
    "slow_body",
    "wrong_rows",
)
FAULT_METHODS = ("GET", "DELETE")
FAULT_ENDPOINTS = ("versions", "export")
# Faults that only make sense for a body being streamed: they match exports only.
_EXPORT_KINDS = ("cut_body", "slow_body", "wrong_rows")


@dataclass
class Fault:
    """A misbehaviour for the next ``count`` matching API requests.

    ``kind``: ``"status"`` answers ``status`` (with ``Retry-After: retry_after`` when
    set) instead of doing the work; ``"drop"`` closes the connection without any
    response; ``"partial_delete"`` (DELETE only) removes only the first ``partial`` ids
    of the batch (in the order sent) and then answers ``status`` (default 500);
    ``"stale_listing"`` (GET only) answers the listing without its ``partial`` newest
    versions (default 1), as a lagging replica would.
    Export faults (they match exports only): ``"cut_body"`` closes the connection after
    ``cut_after`` bytes of body; ``"slow_body"`` waits ``chunk_delay`` seconds before each
    chunk; ``"wrong_rows"`` serves ``rows_delta`` rows more (or fewer) than ``numRows``.
    ``method``/``dataset_id`` restrict which requests match (``None`` = any), and so do
    ``endpoint`` (``"versions"``: the listing and DELETE, ``"export"``: a version's CSV)
    and ``version_id`` (an export of that version).
    ``latency`` delays each matching request by that many seconds before answering
    (with ``kind="status"`` and ``status=None`` it is pure latency, e.g. for timeouts).
    ``skip`` lets that many matching requests through untouched first.
    """

    status: int | None = None
    retry_after: str | None = None
    count: int = 1
    method: str | None = None
    dataset_id: str | None = None
    kind: str = "status"
    latency: float = 0.0
    partial: int = 0
    skip: int = 0
    endpoint: str | None = None
    version_id: int | None = None
    cut_after: int = 0
    chunk_delay: float = 0.0
    rows_delta: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {FAULT_KINDS}, not {self.kind!r}")
        if self.kind in _EXPORT_KINDS:
            self.endpoint = "export"
        if self.endpoint not in (None, *FAULT_ENDPOINTS):
            raise ValueError(
                f"fault endpoint must be versions, export or None, not {self.endpoint!r}"
            )
        if self.method is not None:
            self.method = self.method.upper()
            if self.method not in FAULT_METHODS:
                raise ValueError(f"fault method must be GET, DELETE or None, not {self.method!r}")
        self._check_numbers()
        self._pin_to_its_request()
        if self.retry_after is not None:
            self.retry_after = str(self.retry_after)

    def _check_numbers(self) -> None:
        if self.status is not None and not 100 <= int(self.status) <= 599:
            raise ValueError(f"fault status must be an HTTP status, not {self.status!r}")
        if int(self.count) < 1:
            raise ValueError("fault count must be at least 1")
        if float(self.latency) < 0 or int(self.partial) < 0 or int(self.skip) < 0:
            raise ValueError("fault latency, partial and skip must not be negative")
        if int(self.cut_after) < 0 or float(self.chunk_delay) < 0:
            raise ValueError("fault cut_after and chunk_delay must not be negative")

    def _pin_to_its_request(self) -> None:
        """A stale listing fits only a listing, a partial delete only a DELETE."""
        if self.kind == "stale_listing":
            if self.method not in (None, "GET"):
                raise ValueError("a stale_listing fault applies to GET requests only")
            self.method, self.endpoint = "GET", "versions"
            self.partial = self.partial or 1
        if self.kind == "partial_delete":
            if self.method not in (None, "DELETE"):
                raise ValueError("a partial_delete fault applies to DELETE requests only")
            self.method = "DELETE"
            if self.status is None:
                self.status = 500

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        """Build from JSON (unknown keys are an error, to catch typos in tests)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RequestRecord:
    """One API request as the emulator saw it (``status`` is ``None`` when dropped)."""

    method: str
    path: str
    dataset_id: str | None
    index: bool | None
    body_ids: list[int] | None
    status: int | None
    # Requests being served when this one arrived, by method, itself included (only
    # requests served over HTTP are counted; see EmulatorStore.serving).
    in_flight: dict[str, int] = field(default_factory=dict)
    version_id: int | None = None  # an export's version; None for listings and DELETEs

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.version_id is None:  # the listing and DELETE log entries keep their shape
            del data["version_id"]
        return data


@dataclass(frozen=True)
class ApiRequest:
    """A parsed request to the data versions API (no HTTP types)."""

    method: str
    path: str
    dataset_id: str
    token: str | None
    index: str | None = None
    body: bytes = b""
    version_id: int | None = None
    query: dict[str, str] = field(default_factory=dict)
    accept_gzip: bool = False


@dataclass
class ApiResponse:
    """What to answer: ``drop`` means close the connection without any response.

    ``stream``: a body sent in chunks as they are made (an export), instead of ``body``
    as JSON; ``encoded``: the body already as JSON bytes (a listing; ``body`` is then
    None, :meth:`json` decodes either); ``cut_after``: close the connection after that
    many of its bytes; ``chunk_delay``: seconds to wait before each chunk.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    delay: float = 0.0
    stream: Iterator[bytes] | None = None
    cut_after: int | None = None
    chunk_delay: float = 0.0
    encoded: bytes | None = None

    def json(self) -> Any:
        """The body as a JSON value, whether it was given as one or already encoded."""
        return json.loads(self.encoded) if self.encoded is not None else self.body


def error_body(status: int, message: str) -> dict[str, Any]:
    """A Domo-style error body with a fresh trace id (``toe``)."""
    reason = status_text(status).partition(" ")[2] or "Error"
    return {
        "status": status,
        "statusReason": reason,
        "message": message,
        "toe": uuid.uuid4().hex[:10].upper() + "-" + uuid.uuid4().hex[:6].upper(),
    }


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> ApiResponse:
    return ApiResponse(status=status, body=error_body(status, message), headers=headers or {})


def _parse_ids(body: bytes) -> list[int] | None:
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, list):
        return None
    if not all(isinstance(item, int) and not isinstance(item, bool) and item >= 0 for item in data):
        return None
    return list(data)


class EmulatorStore:
    """Datasets, versions, tokens, faults and the request log, behind one lock."""

    def __init__(self, seed: dict[str, Any] | None = None) -> None:
        if seed is None:
            from domo_versions_iac.emulator.seed import default_seed

            seed = default_seed()
        self._seed = _copy_seed(seed)
        self._lock = threading.RLock()
        self._datasets: dict[str, dict[str, Any]] = {}
        self._tokens: set[str] = set()
        self._faults: list[Fault] = []
        self._requests: list[RequestRecord] = []
        self._latency = 0.0
        self._active: Counter[str] = Counter()  # being served now, by method
        # dataset id -> its listing as JSON bytes, dropped whenever the dataset changes
        self._encoded: dict[str, bytes] = {}
        self.reset()

    # -- state -------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seed: datasets, tokens; clears faults, latency and the log."""
        with self._lock:
            seed = _copy_seed(self._seed)
            self._tokens = set(seed.get("tokens", []))
            self._datasets = {}
            for dataset_id, dataset in seed.get("datasets", {}).items():
                self._datasets[dataset_id] = {
                    "name": dataset.get("name", dataset_id),
                    "versions": {int(v["dataId"]): v for v in dataset.get("versions", [])},
                    "last_id": max(
                        (int(v["dataId"]) for v in dataset.get("versions", [])), default=0
                    ),
                }
            self._encoded = {}
            self._faults = []
            self._requests = []
            self._latency = 0.0

    @property
    def tokens(self) -> set[str]:
        """Accepted developer tokens (a copy)."""
        with self._lock:
            return set(self._tokens)

    def add_token(self, token: str) -> None:
        with self._lock:
            self._tokens.add(token)

    def dataset_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._datasets)

    def has_dataset(self, dataset_id: str) -> bool:
        with self._lock:
            return dataset_id in self._datasets

    def add_dataset(
        self, dataset_id: str, versions: list[dict[str, Any]] | None = None, *, name: str = ""
    ) -> None:
        """Create (or replace) a dataset with the given v2 records."""
        with self._lock:
            self._encoded.pop(dataset_id, None)
            self._datasets[dataset_id] = {
                "name": name or dataset_id,
                "versions": {int(v["dataId"]): _copy_record(v) for v in versions or []},
                "last_id": max((int(v["dataId"]) for v in versions or []), default=0),
            }

    def list_versions(self, dataset_id: str) -> list[dict[str, Any]]:
        """The dataset's records (copies) sorted by ``dataId``; KeyError if unknown.

        ``_copy_record`` copies only what is nested: copy.deepcopy of every record cost
        ~15 us each, 1.5 s per listing of 100,000 versions, on the same cores as the
        tool being measured.
        """
        with self._lock:
            versions = self._datasets[dataset_id]["versions"]
            return [_copy_record(versions[key]) for key in sorted(versions)]

    def delete_versions(self, dataset_id: str, ids: list[int], index: bool = False) -> list[int]:
        """Remove ``ids`` (unknown ones ignored); return the ids actually removed.

        ``index`` is accepted for symmetry with the API (the emulator has no Adrenaline);
        it is recorded in the request log by :meth:`handle`.
        """
        del index
        with self._lock:
            versions = self._datasets[dataset_id]["versions"]
            removed = [data_id for data_id in ids if versions.pop(data_id, None) is not None]
            if removed:
                self._encoded.pop(dataset_id, None)
            return removed

    def add_version(
        self,
        dataset_id: str,
        *,
        upload_status: str = "success",
        num_rows: int = 10_000,
        num_bytes: int | None = None,
        recorded_date: datetime | str | None = None,
        schema_id: int | None = None,
    ) -> dict[str, Any]:
        """An upload arriving: append a version with the next ``dataId`` (never a reused
        one); return it."""
        if upload_status not in UPLOAD_STATUSES:
            raise ValueError(
                f"upload_status must be success, error or processing, not {upload_status!r}"
            )
        if isinstance(recorded_date, str):
            from domo_versions_iac.domo.models import parse_instant

            recorded_date = parse_instant(recorded_date)
        recorded = recorded_date or datetime.now(timezone.utc).replace(microsecond=0)
        with self._lock:
            if dataset_id not in self._datasets:
                raise KeyError(dataset_id)
            dataset = self._datasets[dataset_id]
            versions = dataset["versions"]
            existing = list(versions.values())
            # Domo never reuses a version id, even after the newest was deleted.
            next_id = max(max(versions, default=0), dataset.get("last_id", 0)) + 1
            dataset["last_id"] = next_id
            if schema_id is None:
                schema_id = max((int(v["schemaId"]) for v in existing), default=1)
            record = version_record(
                next_id,
                status=upload_status,
                recorded=recorded,
                rows=num_rows,
                num_bytes=num_bytes,
                schema_id=schema_id,
            )
            versions[next_id] = record
            self._encoded.pop(dataset_id, None)
            return copy.deepcopy(record)

    def _encoded_listing(self, dataset_id: str) -> bytes:
        """``json.dumps(self.list_versions(dataset_id))``, encoded once per state of the
        dataset (the lock is held: the records are read in place, not copied)."""
        encoded = self._encoded.get(dataset_id)
        if encoded is None:
            versions = self._datasets[dataset_id]["versions"]
            listing = [versions[key] for key in sorted(versions)]
            encoded = self._encoded[dataset_id] = json.dumps(listing).encode("utf-8")
        return encoded

    # -- test controls -----------------------------------------------------------------

    def inject_fault(self, fault: Fault) -> None:
        """Queue a fault; faults are consumed in the order they were injected."""
        with self._lock:
            self._faults.append(copy.copy(fault))

    def faults(self) -> list[Fault]:
        with self._lock:
            return [copy.copy(f) for f in self._faults]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = []

    def set_latency(self, seconds: float) -> None:
        """Delay every API request by ``seconds``."""
        if seconds < 0:
            raise ValueError("latency must not be negative")
        with self._lock:
            self._latency = float(seconds)

    @property
    def latency(self) -> float:
        with self._lock:
            return self._latency

    @property
    def requests(self) -> list[RequestRecord]:
        """The API request log (a copy), oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests = []

    @contextmanager
    def serving(self, method: str) -> Iterator[None]:
        """Count one request as in flight while the HTTP layer answers it (its latency and
        the writing of its answer included)."""
        with self._lock:
            self._active[method] += 1
        try:
            yield
        finally:
            with self._lock:
                self._active[method] -= 1

    def max_in_flight(self, method: str) -> int:
        """The most ``method`` requests (e.g. "DELETE") ever in flight at once, per the log."""
        return max_in_flight((record.to_dict() for record in self.requests), method)

    # -- the API -----------------------------------------------------------------------

    def _take_fault(
        self, method: str, dataset_id: str, version_id: int | None = None
    ) -> Fault | None:
        endpoint = "versions" if version_id is None else "export"
        for position, fault in enumerate(self._faults):
            if fault.method not in (None, method):
                continue
            if fault.dataset_id not in (None, dataset_id):
                continue
            if fault.endpoint not in (None, endpoint):
                continue
            if fault.version_id not in (None, version_id):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                return None
            taken = copy.copy(fault)
            fault.count -= 1
            if fault.count <= 0:
                del self._faults[position]
            return taken
        return None

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one API request and log it. Thread-safe."""
        with self._lock:
            response, index, body_ids = self._handle_locked(request)
            response.delay += self._latency
            self._requests.append(
                RequestRecord(
                    method=request.method,
                    path=request.path,
                    dataset_id=request.dataset_id,
                    index=index,
                    body_ids=body_ids,
                    status=None if response.drop else response.status,
                    in_flight={key: count for key, count in self._active.items() if count},
                    version_id=request.version_id,
                )
            )
            return response

    def _handle_locked(
        self, request: ApiRequest
    ) -> tuple[ApiResponse, bool | None, list[int] | None]:
        method = request.method
        index: bool | None = None
        body_ids: list[int] | None = None
        if method == "DELETE":
            body_ids = _parse_ids(request.body)
            if request.index in ("true", "false"):
                index = request.index == "true"
        if method not in FAULT_METHODS:
            return (
                _error(405, f"Method {method} is not supported on this resource"),
                index,
                body_ids,
            )
        if not request.token:
            return _error(401, "Missing X-DOMO-Developer-Token header"), index, body_ids
        if request.token not in self._tokens:
            return _error(401, "Invalid or expired developer token"), index, body_ids
        if request.version_id is not None:
            return self._export_locked(request), index, body_ids

        fault = self._take_fault(method, request.dataset_id)
        delay = fault.latency if fault else 0.0
        if fault is not None and fault.kind == "drop":
            return ApiResponse(drop=True, delay=delay), index, body_ids
        if fault is not None and fault.kind == "status" and fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            message = "Too many requests" if fault.status == 429 else "Injected fault"
            response = _error(fault.status, message, headers)
            response.delay = delay
            return response, index, body_ids

        if request.dataset_id not in self._datasets:
            response = _error(404, f"DataSource {request.dataset_id} not found")
            response.delay = delay
            return response, index, body_ids

        if method == "GET":
            if fault is not None and fault.kind == "stale_listing":
                listing = self.list_versions(request.dataset_id)
                newest = sorted(v["dataId"] for v in listing)[-fault.partial :]
                listing = [v for v in listing if v["dataId"] not in newest]
                return ApiResponse(status=200, body=listing, delay=delay), index, body_ids
            encoded = self._encoded_listing(request.dataset_id)
            return ApiResponse(status=200, encoded=encoded, delay=delay), index, body_ids

        if request.index is not None and index is None:
            response = _error(400, f"Invalid value for parameter index: {request.index!r}")
        elif body_ids is None:
            response = _error(400, "Request body must be a JSON array of data version ids")
        elif fault is not None and fault.kind == "partial_delete":
            self.delete_versions(request.dataset_id, body_ids[: fault.partial], bool(index))
            response = _error(fault.status or 500, "Delete failed part way through")
        else:
            self.delete_versions(request.dataset_id, body_ids, bool(index))
            response = ApiResponse(status=200, body=None)
        response.delay = delay
        return response, index, body_ids

    def _export_locked(self, request: ApiRequest) -> ApiResponse:
        """``GET .../dataversions/{versionId}``: the version's rows as CSV, streamed."""
        if request.method != "GET":
            return _error(405, f"Method {request.method} is not supported on this resource")
        version_id = int(request.version_id or 0)
        fault = self._take_fault("GET", request.dataset_id, version_id)
        delay = fault.latency if fault else 0.0
        if fault is not None and fault.kind == "drop":
            return ApiResponse(drop=True, delay=delay)
        if fault is not None and fault.kind == "status" and fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            response = _error(fault.status, "Injected fault", headers)
            response.delay = delay
            return response
        response = self._export_response(request, version_id, fault)
        response.delay = delay
        return response

    def _export_response(
        self, request: ApiRequest, version_id: int, fault: Fault | None
    ) -> ApiResponse:
        dataset = self._datasets.get(request.dataset_id)
        if dataset is None:
            return _error(404, f"DataSource {request.dataset_id} not found")
        record = dataset["versions"].get(version_id)
        if record is None:
            return _error(404, f"Data version {version_id} of {request.dataset_id} not found")
        problem = _export_query_problem(request.query)
        if problem:
            return _error(400, problem)
        rows = int(record.get("numRows", 0))
        if fault is not None and fault.kind == "wrong_rows":
            rows = max(0, rows + fault.rows_delta)
        if "rowLimit" in request.query:
            rows = min(rows, int(request.query["rowLimit"]))
        spec = ExportSpec(request.dataset_id, version_id, int(record.get("schemaId", 1)), rows)
        chunks = csv_chunks(spec)
        headers = {"Content-Type": "text/csv;charset=UTF-8"}
        if request.accept_gzip:
            chunks = gzip_chunks(chunks)
            headers["Content-Encoding"] = "gzip"
        response = ApiResponse(status=200, headers=headers, stream=chunks)
        if fault is not None and fault.kind == "cut_body":
            response.cut_after = fault.cut_after
        if fault is not None and fault.kind == "slow_body":
            response.chunk_delay = fault.chunk_delay
        return response


def _export_query_problem(query: dict[str, str]) -> str | None:
    """Why an export's query parameters are refused (400), or None."""
    exclude = query.get("excludeAppendedData")
    if exclude is not None and exclude not in ("true", "false"):
        return f"Invalid value for parameter excludeAppendedData: {exclude!r}"
    limit = query.get("rowLimit")
    if limit is not None and not (limit.isascii() and limit.isdigit()):
        return f"Invalid value for parameter rowLimit: {limit!r}"
    return None


def max_in_flight(records: Iterable[dict[str, Any]], method: str) -> int:
    """The most ``method`` requests in flight at once, from logged records (as dicts).

    Concurrency peaks when a request arrives, so the peak is the largest count any
    arriving request of that method saw.
    """
    return max(
        (int((r.get("in_flight") or {}).get(method, 0)) for r in records if r["method"] == method),
        default=0,
    )


def _copy_record(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of a v2 record: its scalars as they are, anything nested (a field Domo
    might add) deep-copied. Cheaper than copy.deepcopy of the whole record."""
    return {
        key: copy.deepcopy(value) if isinstance(value, (dict, list)) else value
        for key, value in record.items()
    }


def _copy_seed(value: Any) -> Any:
    """A deep copy of a seed (JSON: dicts, lists, scalars), several times faster than
    copy.deepcopy on the default seed's ~12,000 records: a new store and every reset
    (one per test that uses the emulator) copy it. Anything else goes to deepcopy."""
    kind = type(value)
    if kind is dict:
        return {key: _copy_seed(item) for key, item in value.items()}
    if kind is list:
        return [_copy_seed(item) for item in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    return copy.deepcopy(value)
