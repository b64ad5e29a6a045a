"""Errors of the tracking client and the middleware.

SplitlabError
└── TrackingError              splitlab.tracking: something about sending events
    ├── SendError              a batch could not be delivered by a transport
    │   ├── RetryableSendError   network error, 429 or 5xx: keep the batch and retry
    │   └── RejectedBatchError   any other 4xx: the collector refused it; never retried
    ├── SpoolError             the on-disk spool cannot be used (locked by another client)
    ├── NoRequestContextError  current() / emit() called outside a tracked request
    └── MissingDependencyError an optional package (httpx) is not installed
"""

from __future__ import annotations

from splitlab.errors import SplitlabError


class TrackingError(SplitlabError):
    """Base class of the tracking client's and the middleware's errors."""

    code = "tracking_error"


class SendError(TrackingError):
    """A transport could not deliver a batch."""

    code = "send_failed"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        #: The HTTP status, when there was an answer at all.
        self.status = status


class RetryableSendError(SendError):
    """A failure worth retrying later: network error, 429 Too Many Requests or a 5xx."""

    code = "send_retryable"

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        #: Seconds the collector asked us to wait (its ``Retry-After`` header), if any.
        self.retry_after = retry_after


class RejectedBatchError(SendError):
    """The collector refused the whole batch (a 4xx other than 429): retrying cannot help."""

    code = "batch_rejected"


class SpoolError(TrackingError):
    """The on-disk spool cannot be used as configured."""

    code = "spool_unavailable"


class NoRequestContextError(TrackingError):
    """``current()`` or ``emit()`` was called outside a request seen by the middleware."""

    code = "no_request_context"


class MissingDependencyError(TrackingError):
    """An optional dependency is needed for this feature and is not installed."""

    code = "missing_dependency"
