"""Web-framework middleware sharing one framework-neutral core.

- :class:`~splitlab.tracking.middleware.asgi.EventTrackingMiddleware`: ASGI (FastAPI, Starlette);
  it closes the tracking client at the lifespan shutdown (:class:`CloseOnShutdown` alone does
  only that, for Django's ASGI handler)
- :class:`~splitlab.tracking.middleware.wsgi.WSGITrackingMiddleware`: WSGI (Flask)
- :class:`~splitlab.tracking.middleware.django.DjangoTrackingMiddleware`: Django

None of them imports its framework; the Django adapter imports Django's settings lazily.
"""

from splitlab.tracking.middleware.asgi import CloseOnShutdown, EventTrackingMiddleware
from splitlab.tracking.middleware.common import (
    EVENT_NAMESPACE,
    ExposureCache,
    RequestInfo,
    TrackingCore,
    derive_event_id,
    from_cookie,
    from_header,
)
from splitlab.tracking.middleware.request_metrics import RequestMetrics
from splitlab.tracking.middleware.wsgi import WSGITrackingMiddleware

__all__ = [
    "EVENT_NAMESPACE",
    "CloseOnShutdown",
    "EventTrackingMiddleware",
    "ExposureCache",
    "RequestInfo",
    "RequestMetrics",
    "TrackingCore",
    "WSGITrackingMiddleware",
    "derive_event_id",
    "from_cookie",
    "from_header",
]
