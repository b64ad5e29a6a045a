"""Bad input to POST /v1/events: a clear error per event or per request, the store unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from splitlab.server.collector import Scope, create_collector
from splitlab.store import DuckDBStore
from splitlab.tracking.events import Limits, now_ms

from .collector_helpers import serve_in_thread

KNOWN = {"exp-1": ("control", "treatment")}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, DuckDBStore]]:
    store = DuckDBStore(tmp_path / "c.duckdb")

    def authorize(scope: Scope) -> tuple[int, str, str] | None:
        headers = dict(scope["headers"])
        if headers.get(b"authorization") == b"Bearer nope":
            return (401, "unauthorized", "the API key is not valid")
        return None

    app = create_collector(
        store,
        lambda: KNOWN,
        limits=Limits(max_events=50),
        max_body_bytes=64 * 1024,
        authorize=authorize,
    )
    with serve_in_thread(app) as url:
        yield url, store
    store.close()


def event(i: int, **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"eventId": f"e-{i}", "type": "metric", "experimentId": "exp-1",
                           "variant": "control", "unitId": f"u-{i}", "metric": "m",
                           "value": 1.5, "timestamp": now_ms() - 1000}  # fmt: skip
    raw.update(overrides)
    return raw


def stored_ids(store: DuckDBStore) -> set[str]:
    store.flush()
    with store.lock:
        rows = store.connection.execute(
            "SELECT event_id FROM exposures UNION ALL SELECT event_id FROM metric_events"
        ).fetchall()
    return {r[0] for r in rows}


def assert_error_shape(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert (error["status"], error["code"]) == (status, code)
    assert error["message"] and isinstance(error["details"], list)
    return dict(error)


def test_mixed_batch_keeps_valid_events(served: tuple[str, DuckDBStore]) -> None:
    """Valid events are stored; each bad one is listed with index, field, value, expected."""
    url, store = served
    batch = [
        event(0),
        event(1, value="lots"),
        event(2, experimentId="unknown-exp"),
        event(3, unitId=None),
        event(4, variant="purple"),
        event(5, timestamp=now_ms() + 86_400_000),
        event(6),
    ]
    response = httpx.post(f"{url}/v1/events", content=json.dumps(batch))
    assert response.status_code == 200
    answer = response.json()
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (2, 0, 5)
    assert [(r["index"], r["field"]) for r in answer["rejections"]] == [
        (1, "value"), (2, "experimentId"), (3, "unitId"), (4, "variant"), (5, "timestamp"),
    ]  # fmt: skip
    assert answer["rejections"][1] == {"index": 2, "field": "experimentId",
                                       "path": "$[2].experimentId", "value": "unknown-exp",
                                       "expected": "the id of a known experiment"}  # fmt: skip
    assert stored_ids(store) == {"e-0", "e-6"}


def test_nan_and_infinity_are_refused_per_event(served: tuple[str, DuckDBStore]) -> None:
    """Python's json writes NaN / Infinity; those events are refused, the others kept."""
    url, store = served
    text = json.dumps([event(0), event(1, value=float("nan")), event(2, value=float("inf"))])
    response = httpx.post(f"{url}/v1/events", content=text)
    answer = response.json()
    assert response.status_code == 200 and answer["accepted"] == 1
    assert [(r["index"], r["value"]) for r in answer["rejections"]] == [
        (1, "NaN"), (2, "Infinity")
    ]  # fmt: skip
    assert stored_ids(store) == {"e-0"}


@pytest.mark.parametrize("content", [b"[{", b"", b"\xff\xfe", b'{"events": {}}', b"null"])
def test_malformed_body_is_a_400(served: tuple[str, DuckDBStore], content: bytes) -> None:
    """A body that is not a batch gets one 400 in the error shape; nothing is stored."""
    url, store = served
    response = httpx.post(f"{url}/v1/events", content=content)
    error = assert_error_shape(response, 400, response.json()["error"]["code"])
    assert error["code"] in ("malformed_json", "invalid_batch")
    assert stored_ids(store) == set()


def test_too_many_events_is_a_413(served: tuple[str, DuckDBStore]) -> None:
    """More events than the batch limit is a 413 naming the limit; nothing is stored."""
    url, store = served
    response = httpx.post(f"{url}/v1/events", content=json.dumps([event(i) for i in range(51)]))
    error = assert_error_shape(response, 413, "batch_too_large")
    assert "at most 50" in error["message"]
    assert stored_ids(store) == set()


def test_huge_payload_is_a_413(served: tuple[str, DuckDBStore]) -> None:
    """A body over the byte limit is refused before it is parsed."""
    url, store = served
    huge = json.dumps([event(0, unitId="u" * 100_000)])
    assert_error_shape(httpx.post(f"{url}/v1/events", content=huge), 413, "payload_too_large")
    chunks = iter([b"[", b" " * 70_000, b"]"])  # no Content-Length: counted while reading
    response = httpx.post(f"{url}/v1/events", content=chunks)
    assert_error_shape(response, 413, "payload_too_large")
    assert stored_ids(store) == set()


def test_oversized_string_is_refused_per_event(served: tuple[str, DuckDBStore]) -> None:
    """A string over the length limit refuses only its event."""
    url, _ = served
    answer = httpx.post(
        f"{url}/v1/events", content=json.dumps([event(0, metric="m" * 300), event(1)])
    ).json()
    assert answer["accepted"] == 1
    assert answer["rejections"][0]["field"] == "metric"
    assert "at most 256" in answer["rejections"][0]["expected"]


def test_wrong_method_and_path(served: tuple[str, DuckDBStore]) -> None:
    """GET /v1/events is a 405 and other paths a 404, both in the error shape."""
    url, _ = served
    assert_error_shape(httpx.get(f"{url}/v1/events"), 405, "method_not_allowed")
    assert_error_shape(httpx.post(f"{url}/v1/nothing", content=b"[]"), 404, "not_found")


def test_authorize_hook_refuses(served: tuple[str, DuckDBStore]) -> None:
    """The authorize hook's refusal is answered in the error shape and nothing is stored."""
    url, store = served
    response = httpx.post(
        f"{url}/v1/events",
        content=json.dumps([event(0)]),
        headers={"authorization": "Bearer nope"},
    )
    assert_error_shape(response, 401, "unauthorized")
    assert stored_ids(store) == set()
