"""The FastAPI and Flask examples run as documented and deliver their events."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import pytest
from fastapi.testclient import TestClient

from tests.tracking.tracking_helpers import ScriptedCollector


def load_example(
    name: str, collector: ScriptedCollector, monkeypatch: pytest.MonkeyPatch
) -> ModuleType:
    monkeypatch.setenv("SPLITLAB_COLLECTOR", collector.url)
    monkeypatch.delitem(sys.modules, f"examples.{name}", raising=False)
    return importlib.import_module(f"examples.{name}")


def test_fastapi_example(collector: ScriptedCollector, monkeypatch: pytest.MonkeyPatch) -> None:
    """The FastAPI example serves the assigned layout and tracks exposure + two metrics once."""
    example = load_example("fastapi_app", collector, monkeypatch)
    http = TestClient(example.app)
    page = http.get("/checkout", headers={"X-User-Id": "user-1"})
    assert page.json()["layout"] in {"classic", "one-page"}
    headers = {"X-User-Id": "user-1", "Idempotency-Key": "order-1"}
    for _ in range(2):  # a retried POST
        assert http.post("/checkout?amount=42.5", headers=headers).json() == {"ok": True}
    example.client.close()
    kinds = sorted((e.type, e.metric or "") for e in collector.stored.values())
    assert kinds == [("exposure", ""), ("metric", "checkout_completed"), ("metric", "revenue")]


def test_flask_example(collector: ScriptedCollector, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Flask example serves the assigned layout and tracks exposure + two metrics once."""
    example = load_example("flask_app", collector, monkeypatch)
    http = example.app.test_client()
    assert http.get("/checkout", headers={"X-User-Id": "user-2"}).json["layout"] in {
        "classic",
        "one-page",
    }
    headers = {"X-User-Id": "user-2", "X-Request-Id": "r-1"}
    for _ in range(2):
        assert http.post("/checkout?amount=9", headers=headers).json == {"ok": True}
    example.client.close()
    revenue = [e.value for e in collector.stored.values() if e.metric == "revenue"]
    assert revenue == [9.0]
    assert len(collector.stored) == 3
