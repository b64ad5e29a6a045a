"""What notifications and request metrics cost on the paths they ride on.

1. A variant toggle (``lifecycle.set_toggle``: read, validate, write the state and the audit
   record in one DuckDB transaction) with the outbox row and 0 or 5 subscriptions' delivery
   rows, beside the same toggle with the outbox write stubbed out (the cost before webhooks).
2. One request through the ASGI middleware (assignment, exposure, context) into a trivial app,
   with request metrics on, beside the same middleware with them off.

Run: ``.venv/bin/python bench/webhooks.py``. Prints medians of alternating rounds.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import compare, report
from splitlab.assignment import ExperimentAssignmentService
from splitlab.config import load_experiment
from splitlab.evaluation import lifecycle
from splitlab.store import DuckDBStore, outbox
from splitlab.store.registry import Registry
from splitlab.store.webhooks import WebhookStore
from splitlab.tracking import EventTrackingMiddleware, RequestMetrics, TrackingClient, TrackingCore

TOGGLES = 200
REQUESTS = 2000


def definition(experiment_id: str) -> dict[str, Any]:
    return {
        "experimentId": experiment_id,
        "name": experiment_id,
        "status": "running",
        "variants": ["control", "treatment"],
        "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": experiment_id},
        "metrics": {"primary": {"name": "checkout", "type": "conversion"}},
        "evaluation": {"minSampleSize": 100},
    }


def toggler(directory: Path, name: str, subscriptions: int) -> Callable[[], None]:
    store = DuckDBStore(directory / f"{name}.duckdb")
    registry = Registry.for_store(store)
    hooks = WebhookStore.for_store(store)
    for i in range(subscriptions):
        hooks.add(f"http://127.0.0.1:9/{i}", secret="bench-secret-0123456789")
    lifecycle.register(registry, load_experiment(definition(name)), by="b", reason="b")

    def run() -> None:
        for i in range(TOGGLES):
            variant = "control" if i % 2 == 0 else None
            lifecycle.set_toggle(registry, name, variant, by="bench", reason="bench")

    return run


def without_outbox(run: Callable[[], None]) -> Callable[[], None]:
    def stubbed() -> None:
        saved = outbox.record_change
        outbox.record_change = lambda *args, **kwargs: None  # type: ignore[assignment]
        try:
            run()
        finally:
            outbox.record_change = saved

    return stubbed


def requester(metrics: RequestMetrics | None) -> Callable[[], None]:
    experiments = [load_experiment(definition(f"exp-{i}")) for i in range(3)]
    client = TrackingClient.in_process(_Sink(), flush_interval=0.2, register_atexit=False)
    core = TrackingCore(ExperimentAssignmentService(experiments), client, request_metrics=metrics)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = EventTrackingMiddleware(app, tracking=core)

    async def send(message: Any) -> None:
        return None

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def many() -> None:
        for i in range(REQUESTS):
            headers = [(b"x-user-id", f"user-{i % 500}".encode())]
            scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
            await middleware(scope, receive, send)

    return lambda: asyncio.run(many())


class _Sink:
    def ingest(self, events: Any) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(accepted=len(events), duplicates=0)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        before = toggler(directory, "before", 0)
        report(
            f"variant toggle ({TOGGLES} per round, DuckDB file)",
            compare(
                {
                    "no outbox (before webhooks)": without_outbox(before),
                    "outbox, 0 subscriptions": toggler(directory, "zero", 0),
                    "outbox, 5 subscriptions": toggler(directory, "five", 5),
                },
                TOGGLES,
                rounds=5,
            ),
            baseline="no outbox (before webhooks)",
        )
    report(
        f"ASGI middleware, 3 experiments ({REQUESTS} requests per round)",
        compare(
            {
                "request metrics off": requester(None),
                "request metrics on": requester(RequestMetrics()),
            },
            REQUESTS,
            rounds=5,
        ),
        baseline="request metrics off",
    )


if __name__ == "__main__":
    main()
