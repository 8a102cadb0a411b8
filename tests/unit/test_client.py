"""DomoClient against the emulator (and a canned transport for odd bodies)."""

from __future__ import annotations

import email.utils
import json
import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timezone
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from domo_versions_iac import __version__
from domo_versions_iac.domo.client import DomoClient, parse_allowed_hosts, parse_retry_after
from domo_versions_iac.domo.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DatasetNotFoundError,
    DeleteOutcomeUnknownError,
    DomoConnectionError,
    DomoError,
    InvalidResponseError,
    PermissionDeniedError,
    ProtectedVersionError,
    RateLimitedError,
    ServerError,
)
from domo_versions_iac.domo.models import DataVersion
from domo_versions_iac.emulator import (
    BUDGET_DATASET_ID,
    EMULATOR_TOKEN,
    INVENTORY_DATASET_ID,
    SALES_DATASET_ID,
    EmulatorServer,
    Fault,
)

SECRET = "s3cr3t-token-value"


def make_client(emulator: EmulatorServer, sleeps: list[float], **kwargs: Any) -> DomoClient:
    options: dict[str, Any] = {"timeout": 5.0, "backoff_base": 0.01, "sleep": sleeps.append}
    options.update(kwargs)
    return DomoClient(emulator.url, kwargs.pop("token", EMULATOR_TOKEN), **options)


def api_log(emulator: EmulatorServer) -> list[tuple[str, bool | None, list[int] | None, Any]]:
    return [(r.method, r.index, r.body_ids, r.status) for r in emulator.store.requests]


def ids_of(emulator: EmulatorServer, dataset_id: str) -> list[int]:
    return [v["dataId"] for v in emulator.store.list_versions(dataset_id)]


class Canned(HTTPAdapter):
    """A transport that answers from a list and records what was sent."""

    def __init__(self, *answers: tuple[int, Any, dict[str, str] | None]) -> None:
        super().__init__()
        self.answers = list(answers)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        status, body, headers = self.answers.pop(0)
        response = requests.Response()
        response.status_code = status
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers = CaseInsensitiveDict(headers or {})
        response.url = request.url or ""
        response.request = request
        return response


def canned_client(
    *answers: tuple[int, Any, dict[str, str] | None], **kwargs: Any
) -> tuple[DomoClient, Canned]:
    adapter = Canned(*answers)
    session = requests.Session()
    session.mount("https://", adapter)
    sleeps: list[float] = []
    client = DomoClient("acme", SECRET, session=session, sleep=sleeps.append, **kwargs)
    return client, adapter


RECORD = {
    "schemaId": 5,
    "dataId": 3,
    "uploadStatus": "success",
    "recordedDate": "2023-03-31T14:21:13Z",
    "uploadCompletedDate": "2023-03-31T14:21:13Z",
    "numRows": 18,
    "numBytes": 458,
}


# -- construction --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instance", "base_url", "display"),
    [
        ("acme", "https://acme.domo.com", "acme.domo.com"),
        ("ACME", "https://acme.domo.com", "acme.domo.com"),
        ("acme.domo.com", "https://acme.domo.com", "acme.domo.com"),
        ("https://acme.domo.com", "https://acme.domo.com", "acme.domo.com"),
        ("https://acme.domo.com/", "https://acme.domo.com", "acme.domo.com"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123", "127.0.0.1:8123"),
        ("http://localhost:8123/", "http://localhost:8123", "localhost:8123"),
        ("https://127.0.0.1:8443", "https://127.0.0.1:8443", "127.0.0.1:8443"),
        ("http://127.8.9.10:80", "http://127.8.9.10:80", "127.8.9.10:80"),
        ("http://[::1]:8123", "http://[::1]:8123", "[::1]:8123"),
    ],
)
def test_instance_forms(instance: str, base_url: str, display: str) -> None:
    client = DomoClient(instance, SECRET)
    assert client.base_url == base_url
    assert client.instance == display
    assert repr(client) == f"DomoClient({base_url!r})"
    assert SECRET not in repr(client) and SECRET not in str(vars(client))


@pytest.mark.parametrize(
    "instance",
    [
        "https://evil.example",
        "https://domo.com.evil.example",
        "https://acme.domo.com.evil.example",
        "acme.domo.com@evil.example",
        "https://acme.domo.com@evil.example",
        "https://evil.example#acme.domo.com",
        "https://evil.example?acme.domo.com",
        "https://acme.domo.com#",
        "https://acme.domo.com:8443",
        "https://a.b.domo.com",
        "https://domo.com",
        "acme.domo.com.evil.example",
        "http://10.0.0.1:8123",
        "http://127.1",
        "https://acme%2edomo.com",
        "https://domo.internal.example:8443",
    ],
)
def test_only_domo_or_loopback_hosts_accepted(instance: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        DomoClient(instance, SECRET)
    message = str(caught.value)
    assert "`instance`" in message
    for form in ("'acme'", "'acme.domo.com'", "'https://acme.domo.com'", "127.0.0.1"):
        assert form in message, "the error lists the accepted forms"
    assert "DOMO_ALLOWED_HOSTS" in message, "and the opt-in for another host"


def test_another_host_only_when_allowed_by_exact_name_and_over_https() -> None:
    client = DomoClient(
        "https://Domo.Internal.example:8443", SECRET, allowed_hosts=["domo.internal.example"]
    )
    assert client.base_url == "https://domo.internal.example:8443"
    with pytest.raises(ConfigurationError, match="not a Domo host"):
        DomoClient("http://domo.internal.example", SECRET, allowed_hosts=["domo.internal.example"])
    with pytest.raises(ConfigurationError, match="not a Domo host"):
        DomoClient("https://x.internal.example", SECRET, allowed_hosts=["internal.example"])


@pytest.mark.parametrize(
    ("value", "hosts"),
    [
        ("a.example, B.example", ("a.example", "b.example")),
        ("a.example b.example", ("a.example", "b.example")),
        ('["a.example"]', ("a.example",)),
        (["a.example", "a.example"], ("a.example",)),
        ("", ()),
        (None, ()),
    ],
)
def test_allowed_hosts_parsed(value: object, hosts: tuple[str, ...]) -> None:
    assert parse_allowed_hosts(value) == hosts


@pytest.mark.parametrize("value", ["https://a.example", "a.example:8443", "*.example", "[1"])
def test_allowed_hosts_are_plain_host_names(value: str) -> None:
    with pytest.raises(ConfigurationError, match="host"):
        parse_allowed_hosts(value)


@pytest.mark.parametrize(
    "instance",
    [
        "",
        "   ",
        "acme.example.com",
        "acme corp",
        "http://acme.domo.com",
        "ftp://acme.domo.com",
        "https://acme.domo.com/api/data",
        "https://acme.domo.com?x=1",
        "https://user:pw@acme.domo.com",
        "https://",
        "https://acme.domo.com:notaport",
    ],
)
def test_bad_instance_rejected(instance: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        DomoClient(instance, SECRET)
    assert isinstance(caught.value, ValueError)
    assert "acme.domo.com" in str(caught.value)  # says what is accepted
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("token", ["", "   ", "a\nb"])
def test_bad_token_rejected(token: str) -> None:
    with pytest.raises(ConfigurationError, match="token"):
        DomoClient("acme", token)


def test_bad_options_rejected() -> None:
    with pytest.raises(ConfigurationError):
        DomoClient("acme", SECRET, timeout=0)
    with pytest.raises(ConfigurationError):
        DomoClient("acme", SECRET, max_attempts=0)
    with pytest.raises(ConfigurationError):
        DomoClient("acme", SECRET, batch_size=0)


# -- listing -------------------------------------------------------------------------------


def test_list_versions(client: DomoClient, emulator: EmulatorServer) -> None:
    versions = client.list_versions(SALES_DATASET_ID)
    assert all(isinstance(v, DataVersion) for v in versions)
    assert [v.data_id for v in versions] == ids_of(emulator, SALES_DATASET_ID)
    assert [v.to_api() for v in versions] == emulator.store.list_versions(SALES_DATASET_ID)
    assert all(v.recorded_date.tzinfo is not None for v in versions)
    assert versions[0].recorded_date.utcoffset() == timezone.utc.utcoffset(None)
    assert {v.upload_status for v in versions} == {"success", "error"}
    assert api_log(emulator) == [("GET", None, None, 200)]


def test_list_processing_version(client: DomoClient) -> None:
    versions = client.list_versions(INVENTORY_DATASET_ID)
    assert versions[-1].upload_status == "processing"
    assert versions[-1].upload_completed_date is None


def test_list_tolerates_unknown_fields(client: DomoClient, emulator: EmulatorServer) -> None:
    emulator.store.add_dataset("extra", [{**RECORD, "newField": {"x": 1}, "other": None}])
    assert [v.data_id for v in client.list_versions("extra")] == [3]


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({k: v for k, v in RECORD.items() if k != "recordedDate"}, "recordedDate"),
        ({k: v for k, v in RECORD.items() if k != "dataId"}, "dataId"),
        ({**RECORD, "dataId": "3"}, "dataId"),
        ({**RECORD, "numRows": "many"}, "numRows"),
        ({**RECORD, "uploadStatus": "done"}, "uploadStatus"),
        ({**RECORD, "recordedDate": "yesterday"}, "recordedDate"),
    ],
)
def test_list_rejects_bad_records(record: dict[str, Any], field: str) -> None:
    client, _ = canned_client((200, [{**RECORD, "dataId": 1}, record], None))
    with pytest.raises(InvalidResponseError) as caught:
        client.list_versions("broken-ds")
    message = str(caught.value)
    assert f"'{field}'" in message
    assert "broken-ds" in message and "https://acme.domo.com" in message
    assert "record 1" in message
    assert caught.value.dataset_id == "broken-ds"


def test_list_rejects_bad_record_from_emulator(
    client: DomoClient, emulator: EmulatorServer
) -> None:
    emulator.store.add_dataset("broken", [{**RECORD, "numBytes": -5}])
    with pytest.raises(InvalidResponseError, match=r"'numBytes'.*broken.*127\.0\.0\.1"):
        client.list_versions("broken")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [(b"<html>oops</html>", "not JSON"), ({"items": []}, "JSON dict"), (["x"], "record 0")],
)
def test_list_rejects_bad_bodies(body: Any, fragment: str) -> None:
    client, _ = canned_client((200, body, None))
    with pytest.raises(InvalidResponseError, match=fragment):
        client.list_versions("abc")


def test_request_headers_and_body() -> None:
    client, adapter = canned_client((200, [RECORD], None), (200, b"", None))
    client.list_versions("abc")
    client.delete_versions("abc", [4, 2, 2], index=True, never_delete=())
    get, delete = adapter.sent
    assert get.method == "GET"
    assert get.url == "https://acme.domo.com/api/data/v2/datasources/abc/dataversions"
    assert get.headers["X-DOMO-Developer-Token"] == SECRET
    assert get.headers["User-Agent"].startswith(f"domo-versions-iac/{__version__}")
    assert get.headers["Accept"] == "application/json"
    assert delete.method == "DELETE"
    assert delete.url == "https://acme.domo.com/api/data/v2/datasources/abc/dataversions?index=true"
    assert delete.headers["Content-Type"] == "application/json"
    assert delete.body == b"[2,4]"


def test_one_session_per_client_and_thread_safe(
    client: DomoClient, emulator: EmulatorServer
) -> None:
    emulator.store.set_latency(0.05)
    session = client._session
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: len(client.list_versions(BUDGET_DATASET_ID)), range(16)))
    assert results == [5] * 16
    assert client._session is session, "16 threads, still the client's one session"
    assert len(emulator.store.requests) == 16


# -- deleting ------------------------------------------------------------------------------


def test_delete_in_batches(client: DomoClient, emulator: EmulatorServer) -> None:
    sent = client.delete_versions(
        SALES_DATASET_ID, [5, 1, 3, 2, 4, 3], index=False, batch_size=2, never_delete=()
    )
    assert sent == [1, 2, 3, 4, 5]
    assert api_log(emulator) == [
        ("DELETE", False, [1, 2], 200),
        ("DELETE", False, [3, 4], 200),
        ("DELETE", False, [5], 200),
    ]
    assert ids_of(emulator, SALES_DATASET_ID)[:2] == [6, 7]


def test_delete_uses_client_batch_size_and_index_true(emulator: EmulatorServer) -> None:
    client = make_client(emulator, [], batch_size=3)
    client.delete_versions(SALES_DATASET_ID, range(1, 8), index=True, never_delete=())
    assert [(m, i, b) for m, i, b, _ in api_log(emulator)] == [
        ("DELETE", True, [1, 2, 3]),
        ("DELETE", True, [4, 5, 6]),
        ("DELETE", True, [7]),
    ]


def test_delete_nothing_sends_nothing(client: DomoClient, emulator: EmulatorServer) -> None:
    assert client.delete_versions(SALES_DATASET_ID, [], index=False, never_delete=()) == []
    assert emulator.store.requests == []


@pytest.mark.parametrize("ids", [[1, "2"], [1.0], [True], "12", [None], [-1]])
def test_delete_rejects_non_integer_ids(
    client: DomoClient, emulator: EmulatorServer, ids: Any
) -> None:
    with pytest.raises((TypeError, ValueError)):
        client.delete_versions(SALES_DATASET_ID, ids, index=False, never_delete=())
    assert emulator.store.requests == []


def test_delete_requires_explicit_bool_index(client: DomoClient) -> None:
    with pytest.raises(TypeError):
        client.delete_versions(SALES_DATASET_ID, [1], index="true", never_delete=())  # type: ignore[arg-type]


# -- errors --------------------------------------------------------------------------------


def test_401_message(emulator: EmulatorServer) -> None:
    client = DomoClient(emulator.url, SECRET, sleep=lambda _: None)
    with pytest.raises(AuthenticationError) as caught:
        client.list_versions(SALES_DATASET_ID)
    error = caught.value
    text = str(error)
    assert text.startswith("Domo rejected the developer token (401 Unauthorized) for dataset ")
    assert SALES_DATASET_ID in text and emulator.url in text
    assert "Invalid or expired developer token" in text
    assert f"(toe: {error.toe})" in text and error.toe
    assert "DOMO_DEVELOPER_TOKEN" in text
    assert error.status == 401 and error.instance == emulator.url
    assert error.dataset_id == SALES_DATASET_ID
    assert SECRET not in text and SECRET not in repr(error)
    assert len(emulator.store.requests) == 1  # not retried
    assert text.count("\n") <= 1


def test_403_404_400(client: DomoClient, emulator: EmulatorServer) -> None:
    emulator.store.inject_fault(Fault(status=403))
    with pytest.raises(PermissionDeniedError, match=r"403 Forbidden"):
        client.list_versions(SALES_DATASET_ID)
    with pytest.raises(DatasetNotFoundError, match=r"404 Not Found.*missing-ds.*not found"):
        client.list_versions("missing-ds")
    emulator.store.inject_fault(Fault(status=400, method="DELETE"))
    with pytest.raises(BadRequestError, match=r"400 Bad Request"):
        client.delete_versions(SALES_DATASET_ID, [1], index=False, never_delete=())
    assert len(emulator.store.requests) == 3
    assert all(
        isinstance(e, type) and issubclass(e, DomoError)
        for e in (PermissionDeniedError, DatasetNotFoundError, BadRequestError)
    )


def test_error_details_from_plain_text_body() -> None:
    client, _ = canned_client((500, b"upstream exploded\nmore", None))
    with pytest.raises(ServerError) as caught:
        client.list_versions("abc")
    assert caught.value.domo_message == "upstream exploded"
    assert "500 Internal Server Error" in str(caught.value)


def test_redirect_is_invalid_response() -> None:
    client, _ = canned_client((302, b"", {"Location": "https://login.example"}))
    with pytest.raises(InvalidResponseError, match="redirect"):
        client.list_versions("abc")


# -- retries of reads ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_get_retried_on_transient_status(
    client: DomoClient, emulator: EmulatorServer, sleeps: list[float], status: int
) -> None:
    emulator.store.inject_fault(Fault(status=status, count=2))
    assert len(client.list_versions(BUDGET_DATASET_ID)) == 5
    assert [r.status for r in emulator.store.requests] == [status, status, 200]
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.01 and 0 <= sleeps[1] <= 0.02  # full jitter, exponential cap


def test_get_not_retried_on_500(client: DomoClient, emulator: EmulatorServer) -> None:
    emulator.store.inject_fault(Fault(status=500))
    with pytest.raises(ServerError, match="500"):
        client.list_versions(BUDGET_DATASET_ID)
    assert len(emulator.store.requests) == 1


def test_retry_after_seconds_honoured(
    client: DomoClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    emulator.store.inject_fault(Fault(status=429, retry_after="7"))
    client.list_versions(BUDGET_DATASET_ID)
    assert sleeps == [7.0]


def test_retry_after_http_date_honoured(
    client: DomoClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    emulator.store.inject_fault(Fault(status=503, retry_after=when))
    client.list_versions(BUDGET_DATASET_ID)
    assert len(sleeps) == 1 and 27 <= sleeps[0] <= 30


def test_parse_retry_after() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0


def test_survives_429_storm(
    client: DomoClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    emulator.store.inject_fault(Fault(status=429, count=4))
    assert len(client.list_versions(BUDGET_DATASET_ID)) == 5
    assert len(emulator.store.requests) == 5 and len(sleeps) == 4


def test_429_storm_exhausts_attempts(
    client: DomoClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    emulator.store.inject_fault(Fault(status=429, retry_after="1", count=1000))
    with pytest.raises(RateLimitedError) as caught:
        client.list_versions(BUDGET_DATASET_ID)
    text = str(caught.value)
    assert "429 Too Many Requests" in text and "Gave up after 5 attempts" in text
    assert BUDGET_DATASET_ID in text and "toe:" in text
    assert caught.value.retry_after == 1.0
    assert len(emulator.store.requests) == 5 and sleeps == [1.0] * 4


def test_retry_time_budget(emulator: EmulatorServer) -> None:
    sleeps: list[float] = []
    client = make_client(emulator, sleeps, max_attempts=10, max_retry_seconds=25)
    emulator.store.inject_fault(Fault(status=429, retry_after="10", count=1000))
    with pytest.raises(RateLimitedError, match="max_retry_seconds=25"):
        client.list_versions(BUDGET_DATASET_ID)
    assert sleeps == [10.0, 10.0]
    assert len(emulator.store.requests) == 3


def test_retry_after_longer_than_budget_gives_up_at_once(emulator: EmulatorServer) -> None:
    sleeps: list[float] = []
    client = make_client(emulator, sleeps, max_retry_seconds=60)
    emulator.store.inject_fault(Fault(status=503, retry_after="3600", count=2))
    with pytest.raises(ServerError, match="503 Service Unavailable"):
        client.list_versions(BUDGET_DATASET_ID)
    assert sleeps == [] and len(emulator.store.requests) == 1


def test_get_retried_after_dropped_connection(client: DomoClient, emulator: EmulatorServer) -> None:
    emulator.store.inject_fault(Fault(kind="drop", count=2))
    assert len(client.list_versions(BUDGET_DATASET_ID)) == 5
    assert [r.status for r in emulator.store.requests] == [None, None, 200]


def test_get_connection_errors_exhausted(client: DomoClient, emulator: EmulatorServer) -> None:
    emulator.store.inject_fault(Fault(kind="drop", count=100))
    with pytest.raises(DomoConnectionError, match="connection closed") as caught:
        client.list_versions(BUDGET_DATASET_ID)
    assert "Gave up after 5 attempts" in str(caught.value)
    assert len(emulator.store.requests) == 5


def test_get_timeout_retried(emulator: EmulatorServer) -> None:
    client = make_client(emulator, [], timeout=0.2)
    emulator.store.inject_fault(Fault(latency=1.0))
    assert len(client.list_versions(BUDGET_DATASET_ID)) == 5
    assert len(emulator.store.requests) == 2


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused() -> None:
    sleeps: list[float] = []
    client = DomoClient(
        f"http://127.0.0.1:{_closed_port()}", SECRET, sleep=sleeps.append, max_attempts=3, timeout=2
    )
    with pytest.raises(DomoConnectionError, match="refused") as caught:
        client.list_versions("abc")
    assert len(sleeps) == 2
    assert SECRET not in str(caught.value)
    # a DELETE that could not connect was certainly not processed: plain connection error
    with pytest.raises(DomoConnectionError) as caught:
        client.delete_versions("abc", [1], index=False, never_delete=())
    assert not isinstance(caught.value, DeleteOutcomeUnknownError)
    assert len(sleeps) == 2


# -- DELETE is never blindly repeated ----------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_delete_5xx_is_outcome_unknown(
    client: DomoClient, emulator: EmulatorServer, sleeps: list[float], status: int
) -> None:
    emulator.store.inject_fault(Fault(status=status, method="DELETE"))
    with pytest.raises(DeleteOutcomeUnknownError) as caught:
        client.delete_versions(SALES_DATASET_ID, [1, 2], index=False, never_delete=())
    assert caught.value.ids == [1, 2] and caught.value.status == status
    assert "list the dataset again" in str(caught.value)
    assert len(emulator.store.requests) == 1 and sleeps == []


def fault_on_nth_delete(emulator: EmulatorServer, n: int, fault: Fault) -> None:
    """Inject ``fault`` just before the ``n``-th DELETE reaches the store."""
    original = emulator.store.handle
    seen = {"deletes": 0}

    def handle(request: Any) -> Any:
        if request.method == "DELETE":
            seen["deletes"] += 1
            if seen["deletes"] == n:
                emulator.store.inject_fault(fault)
        return original(request)

    emulator.store.handle = handle  # type: ignore[method-assign]


def test_delete_first_batch_dropped(client: DomoClient, emulator: EmulatorServer) -> None:
    emulator.store.inject_fault(Fault(kind="drop", method="DELETE"))
    with pytest.raises(DeleteOutcomeUnknownError, match="no answer") as caught:
        client.delete_versions(
            SALES_DATASET_ID, [1, 2, 3], index=True, batch_size=2, never_delete=()
        )
    assert caught.value.ids == [1, 2] and caught.value.completed_ids == []
    assert len(emulator.store.requests) == 1  # stops at the first failing batch


def test_delete_second_batch_failure_lists_completed(
    client: DomoClient, emulator: EmulatorServer
) -> None:
    fault_on_nth_delete(emulator, 2, Fault(kind="partial_delete", partial=1, status=502))
    with pytest.raises(DeleteOutcomeUnknownError) as caught:
        client.delete_versions(
            BUDGET_DATASET_ID, [1, 2, 3, 4, 5], index=False, batch_size=2, never_delete=()
        )
    assert caught.value.ids == [3, 4] and caught.value.completed_ids == [1, 2]
    assert caught.value.status == 502
    assert ids_of(emulator, BUDGET_DATASET_ID) == [4, 5]
    assert len(emulator.store.requests) == 2


def test_delete_timeout_is_outcome_unknown_and_may_have_happened(emulator: EmulatorServer) -> None:
    client = make_client(emulator, [], timeout=0.2)
    emulator.store.inject_fault(Fault(latency=1.0, method="DELETE"))
    with pytest.raises(DeleteOutcomeUnknownError, match="read timeout") as caught:
        client.delete_versions(BUDGET_DATASET_ID, [1, 2], index=False, never_delete=())
    assert caught.value.ids == [1, 2]
    assert len(emulator.store.requests) == 1
    assert ids_of(emulator, BUDGET_DATASET_ID) == [3, 4, 5]  # it did happen


@pytest.mark.parametrize(
    ("status", "message"),
    [(429, None), (403, "API Rate limit reached."), (503, None)],
    ids=["429", "403-rate-limit", "503"],
)
def test_a_throttled_delete_is_never_resent_by_the_client(
    client: DomoClient,
    emulator: EmulatorServer,
    sleeps: list[float],
    status: int,
    message: str | None,
) -> None:
    # Only the delete loop sends a DELETE again, after a fresh listing and the gate:
    # during the wait, what may be deleted can change.
    fault_body(emulator, Fault(status=status, retry_after="3", method="DELETE"), message)
    with pytest.raises(DomoError) as caught:
        client.delete_versions(BUDGET_DATASET_ID, [1], index=True, never_delete=())
    assert caught.value.status == status and caught.value.retry_after == 3.0
    assert api_log(emulator) == [("DELETE", True, [1], status)]
    assert sleeps == []
    assert ids_of(emulator, BUDGET_DATASET_ID) == [1, 2, 3, 4, 5]


def fault_body(emulator: EmulatorServer, fault: Fault, message: str | None) -> None:
    """Inject ``fault``, answering Domo's ``message`` in its body when given."""
    emulator.store.inject_fault(fault)
    if message is None:
        return
    original = emulator.store.handle

    def handle(request: Any) -> Any:
        response = original(request)
        if response.status == fault.status and isinstance(response.body, dict):
            response.body["message"] = message
        return response

    emulator.store.handle = handle  # type: ignore[method-assign]


def test_domo_403_rate_limit_is_a_throttle_retried_for_reads(
    client: DomoClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    fault_body(
        emulator,
        Fault(status=403, retry_after="2", method="GET", count=2),
        "API Rate limit reached.",
    )
    assert [v.data_id for v in client.list_versions(BUDGET_DATASET_ID)] == [1, 2, 3, 4, 5]
    assert sleeps == [2.0, 2.0]
    fault_body(emulator, Fault(status=403, method="GET", count=100), "API Rate limit reached.")
    with pytest.raises(RateLimitedError) as caught:
        client.list_versions(BUDGET_DATASET_ID)
    text = str(caught.value)
    assert "rate limit" in text and "Gave up after 5 attempts" in text
    assert "Forbidden" not in text and "edit rights" not in text


def test_a_plain_403_is_still_forbidden_and_not_retried(
    client: DomoClient, emulator: EmulatorServer, sleeps: list[float]
) -> None:
    emulator.store.inject_fault(Fault(status=403, method="GET"))
    with pytest.raises(PermissionDeniedError, match="403 Forbidden"):
        client.list_versions(BUDGET_DATASET_ID)
    assert sleeps == [] and len(emulator.store.requests) == 1


def test_wait_to_resend_honours_retry_after_within_the_limits(
    client: DomoClient, sleeps: list[float]
) -> None:
    throttle = RateLimitedError("x", retry_after=7.0, status=429, dataset_id="ds")
    assert client.wait_to_resend(throttle, attempt=1, waited=0.0) == 7.0
    assert sleeps == [7.0]
    assert client.wait_to_resend(throttle, attempt=5, waited=0.0) is None, "max_attempts"
    assert client.wait_to_resend(throttle, attempt=1, waited=55.0) is None, "max_retry_seconds"
    assert sleeps == [7.0], "nothing waited when a limit is reached"
    assert "Gave up" in throttle.hint


# -- secrecy -----------------------------------------------------------------------------------


def test_token_never_logged(emulator: EmulatorServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.store.add_token(SECRET)
    client = DomoClient(emulator.url, SECRET, sleep=lambda _: None, backoff_base=0.0)
    emulator.store.inject_fault(Fault(status=503, count=2))
    emulator.store.inject_fault(Fault(status=500, method="DELETE"))
    client.list_versions(BUDGET_DATASET_ID)
    with pytest.raises(DeleteOutcomeUnknownError):
        client.delete_versions(BUDGET_DATASET_ID, [1, 2], index=False, never_delete=())
    bad = DomoClient(emulator.url, SECRET + "x", sleep=lambda _: None)
    with pytest.raises(AuthenticationError) as caught:
        bad.list_versions(BUDGET_DATASET_ID)
    assert caplog.records  # something was logged
    assert all(SECRET not in record.getMessage() for record in caplog.records)
    assert SECRET not in caplog.text
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)
    assert SECRET not in repr(client) and SECRET not in repr(caught.value.__dict__)


# -- the error hierarchy ---------------------------------------------------------------------


def test_error_rendering_and_hierarchy() -> None:
    assert str(DomoError("Something broke")) == "Something broke."
    error = ServerError(
        "Domo failed to answer",
        instance="https://acme.domo.com",
        dataset_id="abc",
        status=503,
        domo_message="Service down.",
        toe="T1",
    )
    assert str(error) == (
        "Domo failed to answer (503 Service Unavailable) for dataset abc on "
        "https://acme.domo.com: Service down (toe: T1). " + ServerError.default_hint
    )
    assert repr(error).startswith("ServerError('Domo failed to answer")
    unknown = DeleteOutcomeUnknownError("x", ids=[3, 1], status=None)
    assert unknown.ids == [1, 3] and unknown.completed_ids == []
    assert issubclass(ConfigurationError, ValueError)
    for cls in (
        AuthenticationError,
        PermissionDeniedError,
        DatasetNotFoundError,
        BadRequestError,
        RateLimitedError,
        ServerError,
        InvalidResponseError,
        DomoConnectionError,
        DeleteOutcomeUnknownError,
        ConfigurationError,
    ):
        assert issubclass(cls, DomoError)
        assert cls("x", hint="").hint == ""


def test_the_lowest_delete_call_refuses_the_newest_and_processing_versions(
    client: DomoClient, emulator: EmulatorServer
) -> None:
    emulator.store.add_version(BUDGET_DATASET_ID, upload_status="processing")  # id 6
    newest_success = 5
    for protected in ([newest_success], [2, 6]):
        with pytest.raises(ProtectedVersionError, match="never deleted"):
            client.delete_versions(BUDGET_DATASET_ID, protected, index=False)
    with pytest.raises(ProtectedVersionError, match="Refusing to delete version 3"):
        client.delete_versions(BUDGET_DATASET_ID, [3], index=False, never_delete=[3])
    assert [m for m, *_ in api_log(emulator)] == ["GET", "GET"], "no DELETE was sent"
    assert client.delete_versions(BUDGET_DATASET_ID, [1], index=False) == [1]
    assert ids_of(emulator, BUDGET_DATASET_ID) == [2, 3, 4, 5, 6]


def test_a_listing_that_repeats_an_id_is_refused() -> None:
    older = dict(RECORD, recordedDate="2001-01-01T00:00:00Z")
    client, _ = canned_client((200, [RECORD, older], None))
    with pytest.raises(InvalidResponseError, match=r"repeats dataId \d+.*nothing was deleted"):
        client.list_versions("abc")
