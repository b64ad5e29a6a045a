"""Errors of the event store.

StoreError              storage failed: disk full, an fsync error, a corrupt log (HTTP 503)
├── OverloadedError     too much is waiting to be written; retry after a moment (HTTP 503)
└── DatabaseOpenError   the database file cannot be opened (locked, not DuckDB, unreadable)
"""

from __future__ import annotations

import re
from typing import Any, Literal

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


OpenFailure = Literal["locked", "not_duckdb", "unreadable"]

_PID = re.compile(r"\(PID (\d+)\)")


class DatabaseOpenError(StoreError):
    """The database file cannot be opened; ``kind`` says why in terms a caller can act on.

    ``locked``: another process holds the file (DuckDB lets one process open it), usually a
    running ``splitlab serve``; ``holder_pid`` names it when DuckDB says. ``not_duckdb``: the
    file is something else. ``unreadable``: any other reason, with DuckDB's words in ``detail``.
    """

    code = "database_unavailable"

    def __init__(
        self, path: str, kind: OpenFailure, detail: str, holder_pid: int | None = None
    ) -> None:
        self.path = path
        self.kind = kind
        self.detail = detail
        self.holder_pid = holder_pid
        super().__init__(f"cannot open the database {path}: {detail}")


def database_open_error(path: str, exc: Exception) -> DatabaseOpenError:
    """Classify an error DuckDB raised while opening ``path``."""
    message = str(exc).removeprefix("IO Error: ")
    if "Could not set lock" in message:
        pid = _PID.search(message)
        holder = int(pid.group(1)) if pid else None
        return DatabaseOpenError(path, "locked", "another process holds the file", holder)
    if "not a valid DuckDB database file" in message:
        return DatabaseOpenError(path, "not_duckdb", "not a DuckDB database file")
    return DatabaseOpenError(path, "unreadable", message)
