"""A Flask app with splitlab's tracking middleware.

    pip install 'splitlab[client,flask]'
    python -m splitlab.server.collector --db events.duckdb --port 8080 &   # the collector
    flask --app examples.flask_app run --port 8000

    curl -H 'X-User-Id: user-1' localhost:8000/checkout
    curl -X POST -H 'X-User-Id: user-1' -H 'X-Request-Id: r-1' 'localhost:8000/checkout?amount=9'

Events go to the collector at ``$SPLITLAB_COLLECTOR`` (default http://127.0.0.1:8080).

In production, under gunicorn::

    gunicorn --workers 4 --bind 127.0.0.1:8000 examples.flask_app:app

On SIGTERM gunicorn lets each worker finish its request and exit; the client closes at the
worker's exit, sending what is pending within ``$SPLITLAB_CLOSE_TIMEOUT`` seconds (default
10; keep it below gunicorn's ``--graceful-timeout``, 30 s by default) and writing what it
could not send to ``$SPLITLAB_SPOOL_DIR`` when set (a spool directory belongs to one
process: with several workers, give each its own).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, request

from splitlab import load_experiment
from splitlab.assignment import ExperimentAssignmentService
from splitlab.tracking import TrackingClient, TrackingCore, WSGITrackingMiddleware, current, emit

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

app = Flask(__name__)
app.wsgi_app = WSGITrackingMiddleware(app.wsgi_app, tracking=tracking)  # type: ignore[method-assign]


@app.get("/checkout")
def checkout_page() -> dict[str, Any]:
    """The page layout depends on the variant the server assigned (never on the client)."""
    variant = current().variant("exp-one-page-checkout")
    return {"layout": variant or "classic"}


@app.post("/checkout")
def checkout() -> dict[str, Any]:
    """A completed checkout: one conversion event and the order amount."""
    emit("checkout_completed")
    emit("revenue", float(request.args.get("amount", 0)))
    return {"ok": True}
