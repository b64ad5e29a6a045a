"""A FastAPI app with splitlab's tracking middleware.

    pip install 'splitlab[server]'
    python -m splitlab.server.collector --db events.duckdb --port 8080 &   # the collector
    uvicorn examples.fastapi_app:app --port 8000

    curl -H 'X-User-Id: user-1' localhost:8000/checkout
    curl -X POST -H 'X-User-Id: user-1' -H 'Idempotency-Key: order-1' \
         'localhost:8000/checkout?amount=42.5'

Events go to the collector at ``$SPLITLAB_COLLECTOR`` (default http://127.0.0.1:8080); a
retried POST with the same ``Idempotency-Key`` is counted once. To send them to a full
``splitlab serve`` instead, set ``SPLITLAB_COLLECTOR=http://127.0.0.1:8000`` (run the app on
another port) and ``SPLITLAB_SDK_KEY`` to a key from ``splitlab keys create --kind sdk``.

Stopping (SIGTERM from systemd, Docker or Kubernetes, or Ctrl-C): uvicorn finishes the requests
in flight, then runs the ASGI lifespan shutdown, where the middleware closes the client: it
sends what is pending within ``$SPLITLAB_CLOSE_TIMEOUT`` seconds (default 10) and writes what
it could not send to ``$SPLITLAB_SPOOL_DIR`` (when set), which the next start sends.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

from splitlab import load_experiment
from splitlab.assignment import ExperimentAssignmentService
from splitlab.tracking import EventTrackingMiddleware, TrackingClient, TrackingCore, current, emit

EXPERIMENT = load_experiment(
    {
        "experimentId": "exp-one-page-checkout",
        "name": "One-page checkout",
        "status": "running",
        "trafficAllocation": 1.0,
        "variants": ["classic", "one-page"],
        "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "2026-q4"},
        "metrics": {"primary": {"name": "checkout_completed", "type": "conversion"}},
        "evaluation": {"minSampleSize": 5000},
    }
)

client = TrackingClient.http(
    os.environ.get("SPLITLAB_COLLECTOR", "http://127.0.0.1:8080"),
    api_key=os.environ.get("SPLITLAB_SDK_KEY"),  # needed when the collector is `splitlab serve`
    spool_dir=os.environ.get("SPLITLAB_SPOOL_DIR"),  # keeps what cannot be sent at shutdown
    close_timeout=float(os.environ.get("SPLITLAB_CLOSE_TIMEOUT", "10")),
)
tracking = TrackingCore(ExperimentAssignmentService([EXPERIMENT]), client, unit="X-User-Id")

app = FastAPI()
app.add_middleware(EventTrackingMiddleware, tracking=tracking)


@app.get("/checkout")
def checkout_page() -> dict[str, Any]:
    """The page layout depends on the variant the server assigned (never on the client)."""
    variant = current().variant("exp-one-page-checkout")
    return {"layout": variant or "classic"}


@app.post("/checkout")
def checkout(amount: float = 0.0) -> dict[str, Any]:
    """A completed checkout: one conversion event and the order amount."""
    emit("checkout_completed")
    emit("revenue", amount)
    return {"ok": True}
