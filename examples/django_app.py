"""A one-file Django app with splitlab's tracking middleware, for WSGI and ASGI servers.

    pip install 'splitlab[client,django]'
    python -m splitlab.server.collector --db events.duckdb --port 8080 &   # the collector
    gunicorn --bind 127.0.0.1:8000 examples.django_app:app            # WSGI
    uvicorn --port 8000 examples.django_app:asgi                       # or ASGI

    curl -H 'X-User-Id: user-1' localhost:8000/checkout
    curl -X POST -H 'X-User-Id: user-1' -H 'Idempotency-Key: order-1' \
         'localhost:8000/checkout?amount=42.5'

Events go to the collector at ``$SPLITLAB_COLLECTOR`` (default http://127.0.0.1:8080), with
``$SPLITLAB_SDK_KEY`` when it is ``splitlab serve``.

Stopping (SIGTERM): Django has no shutdown hook of its own, the server decides. Under
gunicorn each worker exits through Python's normal exit, where the client's ``atexit`` hook
closes it. Under an ASGI server the application is wrapped in ``CloseOnShutdown``, which
closes the client at the lifespan shutdown (Django's ASGI handler does not speak the
lifespan protocol; the wrapper answers it). Closing sends what is pending within
``$SPLITLAB_CLOSE_TIMEOUT`` seconds (default 10) and spools the rest to
``$SPLITLAB_SPOOL_DIR`` when set. In a real project the same lines go in ``settings.py``
(the client and ``SPLITLAB_TRACKING``) and ``asgi.py`` (the wrapper).
"""

from __future__ import annotations

import os

import django
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import path

from splitlab import load_experiment
from splitlab.assignment import ExperimentAssignmentService
from splitlab.tracking import CloseOnShutdown, TrackingClient, TrackingCore, current, emit

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

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret"),
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    MIDDLEWARE=["splitlab.tracking.middleware.django.DjangoTrackingMiddleware"],
    SPLITLAB_TRACKING=tracking,
)
django.setup()


def checkout(request: HttpRequest) -> JsonResponse:
    """GET: the page layout of the assigned variant; POST: a completed checkout."""
    if request.method == "POST":
        emit("checkout_completed")
        emit("revenue", float(request.GET.get("amount", 0)))
        return JsonResponse({"ok": True})
    variant = current().variant("exp-one-page-checkout")
    return JsonResponse({"layout": variant or "classic"})


urlpatterns = [path("checkout", checkout)]

app = get_wsgi_application()  # gunicorn examples.django_app:app
asgi = CloseOnShutdown(get_asgi_application(), client)  # uvicorn examples.django_app:asgi
