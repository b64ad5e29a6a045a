"""Errors of the event store.

StoreError              storage failed: disk full, an fsync error, a corrupt log (HTTP 503)
└── OverloadedError     too much is waiting to be written; retry after a moment (HTTP 503)
"""

from __future__ import annotations

from typing import Any

from splitlab.errors import SplitlabError


class StoreError(SplitlabError):
    """Storage failed; nothing that was not saved has been acknowledged."""

    code = "store_unavailable"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        #: Seconds a client should wait before retrying (the HTTP ``Retry-After``).
        self.retry_after = retry_after

    def details(self) -> list[dict[str, Any]]:
        return [{"retryAfter": self.retry_after}]


class OverloadedError(StoreError):
    """The write queue is full: the caller should retry after ``retry_after`` seconds."""

    code = "overloaded"
