"""The emulator on its own: seed, store (domain logic), HTTP layer, controls."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from domo_versions_iac.domo.models import parse_instant
from domo_versions_iac.emulator import (
    BUDGET_DATASET_ID,
    DEFAULT_DATASET_IDS,
    EMULATOR_TOKEN,
    EVENTS_DATASET_ID,
    INVENTORY_DATASET_ID,
    SALES_DATASET_ID,
    EmulatorControl,
    EmulatorServer,
    EmulatorStore,
    Fault,
    SeedError,
    default_seed,
    load_seed,
    serve,
    validate_seed,
)
from domo_versions_iac.emulator.records import version_record
from domo_versions_iac.schemas import load_schema, validator

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
AUTH = {"X-DOMO-Developer-Token": EMULATOR_TOKEN}


def api(server: EmulatorServer, dataset_id: str) -> str:
    return f"{server.url}/api/data/v2/datasources/{dataset_id}/dataversions"


SMALL_AUTH = {"X-DOMO-Developer-Token": "t1"}


def small_seed() -> dict[str, Any]:
    return {
        "tokens": ["t1"],
        "datasets": {
            "ds": {
                "name": "small",
                "versions": [
                    {
                        "schemaId": 1,
                        "dataId": i,
                        "uploadStatus": "success",
                        "recordedDate": f"2024-01-0{i}T00:00:00Z",
                        "uploadCompletedDate": f"2024-01-0{i}T00:01:00Z",
                        "numRows": 10 * i,
                        "numBytes": 1000 * i,
                    }
                    for i in range(1, 6)
                ],
            }
        },
    }


# -- seed --------------------------------------------------------------------------------


def test_default_seed_is_valid_and_realistic() -> None:
    seed = default_seed(now=NOW)
    validate_seed(seed)
    assert seed["tokens"] == [EMULATOR_TOKEN]
    datasets = seed["datasets"]
    assert list(datasets) == list(DEFAULT_DATASET_IDS)

    sales = datasets[SALES_DATASET_ID]["versions"]
    assert 380 <= len(sales) <= 420
    statuses = [v["uploadStatus"] for v in sales]
    assert 3 <= statuses.count("error") <= 10
    first, last = parse_instant(sales[0]["recordedDate"]), parse_instant(sales[-1]["recordedDate"])
    assert timedelta(days=380) < last - first < timedelta(days=410)
    assert last <= NOW
    good = [v for v in sales if v["uploadStatus"] == "success"]
    assert all(1_000 <= v["numRows"] <= 10_000_000 for v in good)
    assert all(60 <= v["numBytes"] / v["numRows"] <= 200 for v in good)

    events = datasets[EVENTS_DATASET_ID]["versions"]
    assert 180 <= len(events) <= 220
    inventory = datasets[INVENTORY_DATASET_ID]["versions"]
    assert len(inventory) == 12
    assert inventory[-1]["uploadStatus"] == "processing"
    assert "uploadCompletedDate" not in inventory[-1]
    assert all(v["uploadStatus"] == "success" for v in inventory[:-1])
    assert len(datasets[BUDGET_DATASET_ID]["versions"]) == 5

    for dataset in datasets.values():
        ids = [v["dataId"] for v in dataset["versions"]]
        assert ids == sorted(set(ids))


def test_default_seed_is_deterministic_and_relative_to_now() -> None:
    assert default_seed(now=NOW) == default_seed(now=NOW)
    later = default_seed(now=NOW + timedelta(days=10))
    a = default_seed(now=NOW)["datasets"][BUDGET_DATASET_ID]["versions"]
    b = later["datasets"][BUDGET_DATASET_ID]["versions"]
    assert [v["dataId"] for v in a] == [v["dataId"] for v in b]
    assert [v["numRows"] for v in a] == [v["numRows"] for v in b]
    shift = parse_instant(b[-1]["recordedDate"]) - parse_instant(a[-1]["recordedDate"])
    assert shift == timedelta(days=10)
    # without ``now`` the newest sales version is recent (demo-friendly)
    sales = default_seed()["datasets"][SALES_DATASET_ID]["versions"]
    age = datetime.now(timezone.utc) - parse_instant(sales[-1]["recordedDate"])
    assert timedelta(0) <= age < timedelta(days=2)


def test_seed_schema_embeds_the_dataversion_schema() -> None:
    seed_schema = load_schema("emulator-seed")
    version_schema = {
        k: v for k, v in load_schema("dataversion").items() if k not in ("$schema", "$id")
    }
    assert seed_schema["$defs"]["dataversion"] == version_schema


def test_default_versions_validate_against_dataversion_schema() -> None:
    check = validator("dataversion")
    for dataset in default_seed(now=NOW)["datasets"].values():
        for record in dataset["versions"]:
            check.validate(record)


def test_load_seed_from_file(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(small_seed()))
    seed = load_seed(path)
    store = EmulatorStore(seed)
    assert store.tokens == {"t1"}
    assert [v["dataId"] for v in store.list_versions("ds")] == [1, 2, 3, 4, 5]
    assert load_seed(None)["tokens"] == [EMULATOR_TOKEN]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        (json.dumps({"datasets": {}}), "tokens"),
        (json.dumps({"tokens": ["t"], "datasets": {"d": {"versions": [{"dataId": 1}]}}}), "d/"),
        (
            json.dumps(
                {
                    "tokens": ["t"],
                    "datasets": {
                        "d": {"versions": [small_seed()["datasets"]["ds"]["versions"][0]] * 2}
                    },
                }
            ),
            "duplicate",
        ),
    ],
)
def test_load_seed_rejects_bad_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "seed.json"
    path.write_text(content)
    with pytest.raises(SeedError, match=message):
        load_seed(path)


def test_load_seed_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="cannot read"):
        load_seed(tmp_path / "nope.json")


# -- store (no HTTP) ---------------------------------------------------------------------


def test_store_list_delete_add_reset() -> None:
    store = EmulatorStore(small_seed())
    assert [v["dataId"] for v in store.list_versions("ds")] == [1, 2, 3, 4, 5]
    assert store.delete_versions("ds", [2, 4, 99], index=False) == [2, 4]
    assert [v["dataId"] for v in store.list_versions("ds")] == [1, 3, 5]
    record = store.add_version("ds", num_rows=500, num_bytes=60_000)
    assert record["dataId"] == 6
    assert record["uploadStatus"] == "success"
    assert record["numRows"] == 500 and record["numBytes"] == 60_000
    validator("dataversion").validate(record)
    processing = store.add_version("ds", upload_status="processing")
    assert processing["dataId"] == 7
    assert "uploadCompletedDate" not in processing
    failed = store.add_version("ds", upload_status="error", recorded_date="2024-02-01T00:00:00Z")
    assert failed["numRows"] == 0 and failed["recordedDate"] == "2024-02-01T00:00:00Z"
    with pytest.raises(ValueError):
        store.add_version("ds", upload_status="weird")
    with pytest.raises(KeyError):
        store.add_version("missing")
    store.add_dataset("other", [], name="Other")
    assert store.add_version("other")["dataId"] == 1
    store.inject_fault(Fault(status=500))
    store.set_latency(0.5)
    store.reset()
    assert [v["dataId"] for v in store.list_versions("ds")] == [1, 2, 3, 4, 5]
    assert not store.has_dataset("other")
    assert store.faults() == [] and store.latency == 0.0 and store.requests == []


def test_store_list_returns_copies() -> None:
    store = EmulatorStore(small_seed())
    store.list_versions("ds")[0]["dataId"] = 1000
    assert store.list_versions("ds")[0]["dataId"] == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "explode"},
        {"method": "POST"},
        {"status": 42},
        {"count": 0},
        {"latency": -1},
        {"kind": "partial_delete", "method": "GET"},
    ],
)
def test_fault_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Fault(**kwargs)


def test_fault_defaults_and_from_dict() -> None:
    fault = Fault(kind="partial_delete", partial=2)
    assert fault.method == "DELETE" and fault.status == 500
    assert Fault.from_dict({"status": 429, "retry_after": 3}).retry_after == "3"
    with pytest.raises(ValueError, match="unknown fault field"):
        Fault.from_dict({"stauts": 429})


def test_store_fault_matching_and_count() -> None:
    from domo_versions_iac.emulator import ApiRequest

    store = EmulatorStore(small_seed())
    store.inject_fault(Fault(status=503, count=2, method="DELETE", dataset_id="ds"))
    get = ApiRequest("GET", "/p", "ds", "t1")
    delete = ApiRequest("DELETE", "/p", "ds", "t1", index="false", body=b"[1]")
    assert store.handle(get).status == 200
    assert store.handle(delete).status == 503
    assert store.handle(delete).status == 503
    assert store.handle(delete).status == 200
    assert [r.status for r in store.requests] == [200, 503, 503, 200]
    assert [r.dataset_id for r in store.requests] == ["ds"] * 4
    assert store.requests[1].body_ids == [1] and store.requests[1].index is False


def test_store_auth_comes_before_faults() -> None:
    from domo_versions_iac.emulator import ApiRequest

    store = EmulatorStore(small_seed())
    store.inject_fault(Fault(status=500))
    assert store.handle(ApiRequest("GET", "/p", "ds", "wrong")).status == 401
    assert store.handle(ApiRequest("GET", "/p", "ds", "t1")).status == 500


# -- HTTP --------------------------------------------------------------------------------


def test_list_over_http(emulator: EmulatorServer) -> None:
    response = requests.get(api(emulator, SALES_DATASET_ID), headers=AUTH, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    records = response.json()
    assert records == emulator.store.list_versions(SALES_DATASET_ID)
    assert [r["dataId"] for r in records] == sorted(r["dataId"] for r in records)
    log = emulator.store.requests
    assert [(r.method, r.dataset_id, r.status) for r in log] == [("GET", SALES_DATASET_ID, 200)]


@pytest.mark.parametrize("headers", [{}, {"X-DOMO-Developer-Token": "nope"}])
def test_401_without_or_with_unknown_token(
    emulator: EmulatorServer, headers: dict[str, str]
) -> None:
    for method in ("GET", "DELETE"):
        response = requests.request(
            method, api(emulator, SALES_DATASET_ID), headers=headers, json=[1], timeout=5
        )
        assert response.status_code == 401
        body = response.json()
        assert body["status"] == 401 and body["statusReason"] == "Unauthorized"
        assert body["message"] and body["toe"]
    assert len(emulator.store.list_versions(SALES_DATASET_ID)) > 300
    assert emulator.store.list_versions(SALES_DATASET_ID)[0]["dataId"] == 1


def test_404_for_unknown_dataset_and_path(emulator: EmulatorServer) -> None:
    response = requests.get(api(emulator, "no-such-dataset"), headers=AUTH, timeout=5)
    assert response.status_code == 404
    body = response.json()
    assert body["statusReason"] == "Not Found" and "no-such-dataset" in body["message"]
    assert requests.get(f"{emulator.url}/api/other", headers=AUTH, timeout=5).status_code == 404


def test_delete_over_http_records_index(emulator: EmulatorServer) -> None:
    url = api(emulator, BUDGET_DATASET_ID)
    response = requests.delete(url, params={"index": "true"}, headers=AUTH, json=[1, 2], timeout=5)
    assert response.status_code == 200 and response.content == b""
    response = requests.delete(url, params={"index": "false"}, headers=AUTH, json=[3], timeout=5)
    assert response.status_code == 200
    response = requests.delete(url, headers=AUTH, json=[], timeout=5)
    assert response.status_code == 200
    assert [v["dataId"] for v in emulator.store.list_versions(BUDGET_DATASET_ID)] == [4, 5]
    log = emulator.store.requests
    assert [(r.index, r.body_ids) for r in log] == [(True, [1, 2]), (False, [3]), (None, [])]


@pytest.mark.parametrize(
    ("body", "params"),
    [
        (b"not json", {"index": "false"}),
        (b'{"ids": [1]}', {"index": "false"}),
        (b'["1"]', {"index": "false"}),
        (b"[1.5]", {"index": "false"}),
        (b"[true]", {"index": "false"}),
        (b"[-1]", {"index": "false"}),
        (b"", {"index": "false"}),
        (b"[1]", {"index": "yes"}),
    ],
)
def test_400_for_malformed_delete(
    emulator: EmulatorServer, body: bytes, params: dict[str, str]
) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    url = api(emulator, BUDGET_DATASET_ID)
    response = requests.delete(url, params=params, headers=headers, data=body, timeout=5)
    assert response.status_code == 400
    assert response.json()["statusReason"] == "Bad Request"
    assert len(emulator.store.list_versions(BUDGET_DATASET_ID)) == 5
    assert emulator.store.requests[-1].status == 400


def test_status_fault_with_retry_after(emulator: EmulatorServer) -> None:
    emulator.store.inject_fault(Fault(status=429, retry_after="7", count=2, method="GET"))
    url = api(emulator, BUDGET_DATASET_ID)
    for _ in range(2):
        response = requests.get(url, headers=AUTH, timeout=5)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "7"
        assert response.json()["statusReason"] == "Too Many Requests"
    assert requests.get(url, headers=AUTH, timeout=5).status_code == 200


def test_status_fault_without_retry_after_scoped_to_dataset(emulator: EmulatorServer) -> None:
    emulator.store.inject_fault(Fault(status=503, dataset_id=SALES_DATASET_ID))
    response = requests.get(api(emulator, BUDGET_DATASET_ID), headers=AUTH, timeout=5)
    assert response.status_code == 200
    response = requests.get(api(emulator, SALES_DATASET_ID), headers=AUTH, timeout=5)
    assert response.status_code == 503 and "Retry-After" not in response.headers


def test_drop_fault_closes_connection(emulator: EmulatorServer) -> None:
    emulator.store.inject_fault(Fault(kind="drop"))
    with pytest.raises(requests.ConnectionError):
        requests.get(api(emulator, BUDGET_DATASET_ID), headers=AUTH, timeout=5)
    assert emulator.store.requests[-1].status is None
    assert requests.get(api(emulator, BUDGET_DATASET_ID), headers=AUTH, timeout=5).ok


def test_partial_delete_fault(emulator: EmulatorServer) -> None:
    emulator.store.inject_fault(Fault(kind="partial_delete", partial=2))
    url = api(emulator, BUDGET_DATASET_ID)
    response = requests.delete(
        url, params={"index": "false"}, headers=AUTH, json=[5, 1, 3], timeout=5
    )
    assert response.status_code == 500
    assert response.json()["status"] == 500
    assert [v["dataId"] for v in emulator.store.list_versions(BUDGET_DATASET_ID)] == [2, 3, 4]


def test_latency_global_and_per_fault(emulator: EmulatorServer) -> None:
    url = api(emulator, BUDGET_DATASET_ID)
    # a client that waits less than the latency times out; without latency it is answered
    emulator.store.set_latency(30)
    with pytest.raises(requests.Timeout):
        requests.get(url, headers=AUTH, timeout=0.2)
    emulator.store.set_latency(0)
    assert requests.get(url, headers=AUTH, timeout=5).ok
    emulator.store.inject_fault(Fault(latency=1.0))
    with pytest.raises(requests.Timeout):
        requests.get(url, headers=AUTH, timeout=0.2)


def test_constructor_latency() -> None:
    with EmulatorServer(EmulatorStore(small_seed()), latency=0.1) as server:
        assert server.store.latency == 0.1


def test_serves_a_request_while_another_is_stuck_in_latency() -> None:
    with EmulatorServer(EmulatorStore(small_seed())) as server:
        server.store.inject_fault(Fault(latency=30, dataset_id="ds"))
        stuck = threading.Thread(
            target=lambda: _swallow(
                lambda: requests.get(api(server, "ds"), headers=SMALL_AUTH, timeout=60)
            ),
            daemon=True,
        )
        stuck.start()
        wait_for_requests(server.store, 1)
        # the stuck request still holds its thread; a second one is answered anyway
        assert requests.get(api(server, "ds"), headers=SMALL_AUTH, timeout=5).status_code == 200
        assert stuck.is_alive()
    stuck.join(timeout=5)
    assert not stuck.is_alive(), "stop() did not release the request stuck in latency"


def test_starts_fast_and_stops_cleanly() -> None:
    store = EmulatorStore(small_seed())
    server = EmulatorServer(store).start()
    url = server.url
    assert url.startswith("http://127.0.0.1:")
    assert requests.get(f"{url}/_emulator/health", timeout=5).json()["ok"] is True
    # a keep-alive connection and a request stuck in latency must not block stop()
    session = requests.Session()
    session.get(f"{url}/_emulator/health", timeout=5)
    store.set_latency(10)
    stuck = threading.Thread(
        target=lambda: _swallow(lambda: requests.get(api(server, "ds"), timeout=5)), daemon=True
    )
    stuck.start()
    wait_for_requests(store, 1)
    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=5)  # the stuck request sleeps 10 s: a blocking stop() fails here
    assert not stopper.is_alive(), "stop() waited for the request stuck in latency"
    stuck.join(timeout=5)
    assert not stuck.is_alive()
    session.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_emulator/health", timeout=2)
    server.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = server.url


def wait_for_requests(store: EmulatorStore, count: int) -> None:
    """Until the store has logged ``count`` API requests (it logs before any latency)."""
    for _ in range(500):
        if len(store.requests) >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"the emulator logged {len(store.requests)} of {count} requests")


def _swallow(call: Any) -> None:
    with contextlib.suppress(requests.RequestException):
        call()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_refuses_non_loopback_host(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        EmulatorServer(EmulatorStore(small_seed()), host=host)


def test_fixed_port_and_localhost() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with EmulatorServer(EmulatorStore(small_seed()), host="localhost", port=port) as server:
        assert server.url == f"http://127.0.0.1:{port}"


# -- HTTP controls -----------------------------------------------------------------------


def test_http_controls_mirror_the_store(emulator: EmulatorServer) -> None:
    with EmulatorControl(emulator.url) as control:
        health = control.health()
        assert health["ok"] is True and SALES_DATASET_ID in health["datasets"]

        record = control.add_version(INVENTORY_DATASET_ID, num_rows=42_000, num_bytes=5_000_000)
        assert record["dataId"] == 13 and record["numRows"] == 42_000
        assert emulator.store.list_versions(INVENTORY_DATASET_ID)[-1] == record

        control.inject_fault(status=429, retry_after="2", method="GET")
        assert emulator.store.faults()[0].status == 429
        response = requests.get(api(emulator, INVENTORY_DATASET_ID), headers=AUTH, timeout=5)
        assert response.status_code == 429 and response.headers["Retry-After"] == "2"

        control.inject_fault(Fault(status=500, count=3))
        control.clear_faults()
        assert emulator.store.faults() == []

        log = control.requests()
        assert log[-1] == {
            "method": "GET",
            "path": f"/api/data/v2/datasources/{INVENTORY_DATASET_ID}/dataversions",
            "dataset_id": INVENTORY_DATASET_ID,
            "index": None,
            "body_ids": None,
            "status": 429,
            "in_flight": {"GET": 1},
        }
        control.clear_requests()
        assert control.requests() == []

        control.set_latency(0.05)
        assert emulator.store.latency == 0.05

        control.reset()
        assert len(emulator.store.list_versions(INVENTORY_DATASET_ID)) == 12
        assert emulator.store.latency == 0.0


def test_http_controls_reject_bad_input(emulator: EmulatorServer) -> None:
    base = f"{emulator.url}/_emulator"
    assert requests.post(f"{base}/faults", json={"kind": "boom"}, timeout=5).status_code == 400
    assert requests.post(f"{base}/faults", data=b"{", timeout=5).status_code == 400
    assert requests.post(f"{base}/latency", json={}, timeout=5).status_code == 400
    response = requests.post(f"{base}/datasets/nope/versions", json={}, timeout=5)
    assert response.status_code == 404
    response = requests.post(
        f"{base}/datasets/{BUDGET_DATASET_ID}/versions", json={"rows": 1}, timeout=5
    )
    assert response.status_code == 400
    assert requests.get(f"{base}/unknown", timeout=5).status_code == 404
    with pytest.raises(RuntimeError, match="400"):
        EmulatorControl(emulator.url).set_latency(-1)


def test_serve_with_seed_file(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(small_seed()))
    server = serve(seed_path=str(path), latency=0.0)
    try:
        response = requests.get(
            api(server, "ds"), headers={"X-DOMO-Developer-Token": "t1"}, timeout=5
        )
        assert [r["dataId"] for r in response.json()] == [1, 2, 3, 4, 5]
    finally:
        server.stop()


def test_an_upload_never_reuses_a_deleted_version_id() -> None:
    store = EmulatorStore({"tokens": [], "datasets": {}})
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    store.add_dataset("ds", [version_record(i, recorded=when) for i in (1, 2, 3)])
    store.delete_versions("ds", [3])
    assert store.add_version("ds")["dataId"] == 4, "Domo's ids only grow"
    store.delete_versions("ds", [4])
    assert store.add_version("ds")["dataId"] == 5


def test_a_listing_is_a_copy_down_to_nested_fields() -> None:
    store = EmulatorStore({"tokens": ["t1"], "datasets": {}})
    record = version_record(1, recorded=datetime(2026, 1, 1, tzinfo=timezone.utc))
    record["extra"] = {"a": [1]}  # a field Domo might add
    store.add_dataset("ds", [record])
    record["numRows"] = -1  # the store kept its own copy
    record["extra"]["a"].append(2)
    listed = store.list_versions("ds")
    listed[0]["numRows"] = -2  # and hands out copies
    listed[0]["extra"]["a"].append(3)
    again = store.list_versions("ds")[0]
    assert again["numRows"] not in (-1, -2)
    assert again["extra"] == {"a": [1]}


def test_store_records_how_many_requests_were_in_flight() -> None:
    from domo_versions_iac.emulator import ApiRequest

    store = EmulatorStore(small_seed())
    get = ApiRequest("GET", "/p", "ds", "t1")
    delete = ApiRequest("DELETE", "/p", "ds", "t1", index="false", body=b"[1]")
    with store.serving("DELETE"):
        store.handle(delete)
        with store.serving("DELETE"), store.serving("GET"):
            store.handle(get)
    with store.serving("GET"):
        store.handle(get)
    assert [r.in_flight for r in store.requests] == [
        {"DELETE": 1},
        {"DELETE": 2, "GET": 1},
        {"GET": 1},
    ]
    assert (store.max_in_flight("DELETE"), store.max_in_flight("GET")) == (1, 1)
    store.clear_requests()
    assert store.max_in_flight("DELETE") == 0


def test_requests_in_flight_over_http(emulator: EmulatorServer) -> None:
    """A DELETE held by latency is still in flight when a GET arrives: the log says so."""
    emulator.store.inject_fault(Fault(method="DELETE", latency=30))
    url = api(emulator, SALES_DATASET_ID)

    def send_delete() -> None:
        with contextlib.suppress(requests.RequestException):
            requests.delete(url, headers=AUTH, data=b"[1]", timeout=60)

    held = threading.Thread(target=send_delete, daemon=True)
    held.start()
    for _ in range(500):  # bounded: the DELETE is logged once it is being served
        if emulator.store.requests:
            break
        time.sleep(0.01)
    assert requests.get(url, headers=AUTH, timeout=5).status_code == 200
    with EmulatorControl(emulator.url) as control:
        log = control.requests()
        assert [(r["method"], r["in_flight"]) for r in log] == [
            ("DELETE", {"DELETE": 1}),
            ("GET", {"DELETE": 1, "GET": 1}),
        ]
        assert control.max_in_flight("DELETE") == 1 and control.max_in_flight("GET") == 1
    emulator.stop()  # ends the held DELETE (its connection is dropped)
    held.join(timeout=10)


def test_a_stale_listing_fault_hides_the_newest_versions_once_after_skipping() -> None:
    from domo_versions_iac.emulator.store import ApiRequest, EmulatorStore, Fault

    store = EmulatorStore(seed={"tokens": ["t"], "datasets": {}})
    store.add_dataset("ds", [])
    for _ in range(4):
        store.add_version("ds")
    store.inject_fault(Fault(kind="stale_listing", skip=1, partial=2))
    get = ApiRequest("GET", "/ds", "ds", "t")
    listed = [[v["dataId"] for v in store.handle(get).json()] for _ in range(3)]
    assert listed == [[1, 2, 3, 4], [1, 2], [1, 2, 3, 4]]


def test_a_listing_is_served_as_the_records_stand_after_every_change() -> None:
    """The GET's JSON is kept per dataset (ApiResponse.encoded); every change shows."""
    import json as json_module

    from domo_versions_iac.emulator.store import ApiRequest, EmulatorStore

    store = EmulatorStore(seed={"tokens": ["t"], "datasets": {}})
    store.add_dataset("ds", [])
    get = ApiRequest("GET", "/ds", "ds", "t")

    def listed() -> list[int]:
        response = store.handle(get)
        assert response.encoded == json_module.dumps(store.list_versions("ds")).encode()
        return [v["dataId"] for v in response.json()]

    assert listed() == []
    for _ in range(3):
        store.add_version("ds")
    assert listed() == [1, 2, 3]
    assert listed() == [1, 2, 3]
    store.delete_versions("ds", [2])
    assert listed() == [1, 3]
    store.handle(ApiRequest("DELETE", "/ds", "ds", "t", body=b"[1]"))
    assert listed() == [3]
    store.add_dataset("ds", [dict(store.list_versions("ds")[0], dataId=9)])
    assert listed() == [9]
    store.reset()
    store.add_dataset("ds", [])
    assert listed() == []
