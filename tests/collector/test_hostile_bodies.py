"""The collector alone (no gateway in front) answers hostile bodies 400 in the error shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from splitlab.server.collector import create_collector
from splitlab.store import DuckDBStore
from splitlab.tracking.events import now_ms

from .collector_helpers import serve_in_thread

EVENT = (
    b'[{"eventId":"e-1","type":"exposure","experimentId":"exp-1","variant":"control",'
    b'"timestamp":' + str(now_ms() - 1000).encode() + b',"unitId":'
)

HOSTILE: dict[str, bytes] = {
    "invalid UTF-8 inside a string": EVENT + b'"u-\xff\xfe"}]',
    "a lone surrogate as a JSON escape": EVENT + b'"\\ud800"}]',
    "a lone surrogate in an attribute key": EVENT + b'"u-1","attributes":{"\\udc00":1}}]',
    "100,000 nested arrays": b"[" * 100_000 + b"]" * 100_000,
    "10,000 nested objects in attributes": (
        EVENT + b'"u-1","attributes":' + b'{"a":' * 10_000 + b"1" + b"}" * 10_000 + b"}]"
    ),
}


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, DuckDBStore]]:
    """The standalone collector (as `python -m splitlab.server.collector` builds it), served."""
    store = DuckDBStore(Path(tmp_path_factory.mktemp("hostile")) / "c.duckdb")
    app = create_collector(store, lambda: {"exp-1": ("control", "treatment")})
    try:
        with serve_in_thread(app) as url:
            yield url, store
    finally:
        store.close()


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_batches_are_400_malformed_json(
    collector: tuple[str, DuckDBStore], name: str
) -> None:
    """Bad UTF-8, a lone surrogate or deep nesting: 400 malformed_json in JSON, not a 500."""
    url, _ = collector
    answer = httpx.post(f"{url}/v1/events", content=HOSTILE[name], timeout=30)
    assert answer.status_code == 400, answer.text[:300]
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert (error["status"], error["code"]) == (400, "malformed_json")


def test_the_collector_still_serves_after_hostile_batches(
    collector: tuple[str, DuckDBStore],
) -> None:
    """After the hostile bodies a valid event is accepted as usual."""
    url, _ = collector
    for body in HOSTILE.values():
        httpx.post(f"{url}/v1/events", content=body, timeout=30)
    answer = httpx.post(f"{url}/v1/events", content=EVENT + b'"u-ok"}]', timeout=30)
    assert answer.status_code == 200
    assert answer.json()["accepted"] + answer.json()["duplicates"] == 1
