"""Tracking: the event model, the tracking client and the web-framework middleware."""

from splitlab.tracking.client import TrackingClient
from splitlab.tracking.context import RequestContext, current, current_or_none, emit
from splitlab.tracking.delivery import ClientStats
from splitlab.tracking.errors import (
    NoRequestContextError,
    RejectedBatchError,
    RetryableSendError,
    SendError,
    SpoolError,
    TrackingError,
)
from splitlab.tracking.events import Event
from splitlab.tracking.middleware import (
    CloseOnShutdown,
    EventTrackingMiddleware,
    RequestInfo,
    RequestMetrics,
    TrackingCore,
    WSGITrackingMiddleware,
    from_cookie,
    from_header,
)
from splitlab.tracking.transport import HTTPTransport, InProcessTransport, SendResult, Transport

__all__ = [
    "ClientStats",
    "CloseOnShutdown",
    "Event",
    "EventTrackingMiddleware",
    "HTTPTransport",
    "InProcessTransport",
    "NoRequestContextError",
    "RejectedBatchError",
    "RequestContext",
    "RequestInfo",
    "RequestMetrics",
    "RetryableSendError",
    "SendError",
    "SendResult",
    "SpoolError",
    "TrackingClient",
    "TrackingCore",
    "TrackingError",
    "Transport",
    "WSGITrackingMiddleware",
    "current",
    "current_or_none",
    "emit",
    "from_cookie",
    "from_header",
]
