"""Transports: how a batch of events leaves the process.

A transport is anything with ``send(events) -> SendResult`` and ``close()`` (the
:class:`Transport` protocol). It raises :class:`~splitlab.tracking.errors.RetryableSendError`
when the batch should be sent again later (network error, 429, 5xx) and
:class:`~splitlab.tracking.errors.RejectedBatchError` when it never should (any other 4xx).
Two come with splitlab:

- :class:`HTTPTransport` posts to a splitlab collector (``POST /v1/events``); it needs
  ``httpx`` (``pip install 'splitlab[client]'``).
- :class:`InProcessTransport` hands the batch to any object with an ``ingest(events)`` method,
  such as ``splitlab.store.DuckDBStore``, after the same validation the collector does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from splitlab.errors import SplitlabError
from splitlab.tracking.errors import (
    MissingDependencyError,
    RejectedBatchError,
    RetryableSendError,
)
from splitlab.tracking.events import Event, Known, Limits, validate_batch
from splitlab.tracking.retry import parse_retry_after

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EventRejection:
    """One event of a batch that the receiver refused, and why."""

    event_id: str | None
    index: int
    reason: str


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the receiver did with a delivered batch."""

    accepted: int
    duplicates: int = 0
    rejections: tuple[EventRejection, ...] = ()


class Transport(Protocol):
    """Delivers batches of events somewhere durable."""

    def send(self, events: Sequence[Event]) -> SendResult:
        """Deliver ``events``; raise RetryableSendError or RejectedBatchError on failure."""
        ...

    def close(self) -> None:
        """Release connections or files."""
        ...


class IngestCounts(Protocol):
    """The part of a store's ingest answer the in-process transport reads."""

    @property
    def accepted(self) -> int: ...

    @property
    def duplicates(self) -> int: ...


class EventSink(Protocol):
    """Anything that durably stores events, such as ``splitlab.store.DuckDBStore``."""

    def ingest(self, events: Sequence[Event]) -> IngestCounts:
        """Store ``events`` durably (deduplicating by eventId) before returning."""
        ...


def encode_batch(events: Sequence[Event]) -> bytes:
    """The wire body of a batch: a JSON list of events in their camelCase shape."""
    return msgspec.json.encode(list(events))


def _reason(field: object, value: object, expected: object) -> str:
    return f"{field}: expected {expected}, got {value!r}"


class InProcessTransport:
    """Sends batches straight into a store in this process (single-process apps, tests).

    Each batch goes through the collector's own validation (``validate_batch``) first, so an
    event the collector would refuse is refused here too, with the same reason. A storage
    failure (:class:`~splitlab.errors.SplitlabError` or :class:`OSError`, e.g. disk full) is
    retryable: the client keeps the batch and tries again.
    """

    def __init__(
        self, sink: EventSink, *, known: Known | None = None, limits: Limits | None = None
    ) -> None:
        self._sink = sink
        self._known = known
        self._limits = limits

    def send(self, events: Sequence[Event]) -> SendResult:
        """Validate ``events`` and ingest the valid ones into the sink."""
        valid, problems = validate_batch(encode_batch(events), self._known, limits=self._limits)
        rejections = tuple(
            EventRejection(events[p.index].event_id, p.index, _reason(p.field, p.value, p.expected))
            for p in problems
        )
        if not valid:
            return SendResult(accepted=0, rejections=rejections)
        try:
            counts = self._sink.ingest(valid)
        except (SplitlabError, OSError) as exc:
            raise RetryableSendError(f"the store could not ingest the batch: {exc}") from exc
        return SendResult(counts.accepted, counts.duplicates, rejections)

    def close(self) -> None:
        """Nothing to release: the sink belongs to the caller."""


def _import_httpx() -> Any:
    try:
        import httpx
    except ImportError as exc:
        raise MissingDependencyError(
            "the HTTP transport needs httpx, which is not installed; "
            "install it with: pip install 'splitlab[client]'"
        ) from exc
    return httpx


class HTTPTransport:
    """Posts batches to a splitlab collector's ``POST /v1/events``.

    ``url`` is the collector's base address (``http://127.0.0.1:8000``); ``/v1/events`` is
    appended unless already there. ``api_key`` (an SDK key of ``splitlab serve``) is sent as
    ``Authorization: Bearer <key>``. Network errors, 429 and 5xx raise RetryableSendError (with
    the ``Retry-After`` delay when sent); other 4xx raise RejectedBatchError.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        base = url.rstrip("/")
        self.endpoint = base if base.endswith("/v1/events") else base + "/v1/events"
        self._httpx = _import_httpx()
        self._client: httpx.Client = client or self._httpx.Client(timeout=timeout)
        self._timeout = timeout
        self._own_client = client is None
        self._headers = {"content-type": "application/json", **(headers or {})}
        if api_key is not None:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._wall_clock = wall_clock

    def send(self, events: Sequence[Event]) -> SendResult:
        """Post ``events`` as one batch and read the collector's answer."""
        try:
            response = self._client.post(
                self.endpoint, content=encode_batch(events), headers=self._headers
            )
        except self._httpx.TransportError as exc:
            raise RetryableSendError(
                f"could not reach the collector at {self.endpoint}: {exc!r}"
            ) from exc
        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"), self._wall_clock)
            raise RetryableSendError(
                f"the collector answered {status}: {response.text[:200]}",
                status=status,
                retry_after=retry_after,
            )
        if not 200 <= status < 300:
            raise RejectedBatchError(
                f"the collector refused the batch with {status}: {response.text[:500]}",
                status=status,
            )
        return _read_answer(response.content, events)

    def after_fork(self) -> None:
        """In a forked child: a connection pool of its own (the parent's stays the parent's)."""
        if self._own_client:
            self._client = self._httpx.Client(timeout=self._timeout)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


class _Answer(msgspec.Struct):
    accepted: int
    duplicates: int = 0
    rejections: list[dict[str, Any]] = []


def _read_answer(body: bytes, events: Sequence[Event]) -> SendResult:
    """The collector's ``{accepted, duplicates, rejected, rejections}`` as a SendResult."""
    try:
        answer = msgspec.json.decode(body, type=_Answer)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise RejectedBatchError(
            f"the collector's answer is not {{accepted, duplicates, rejections}}: {exc}"
        ) from exc
    rejections = []
    for item in answer.rejections:
        raw_index = item.get("index")
        index = raw_index if isinstance(raw_index, int) and 0 <= raw_index < len(events) else -1
        event_id = events[index].event_id if index >= 0 else None
        reason = _reason(item.get("field"), item.get("value"), item.get("expected"))
        rejections.append(EventRejection(event_id, index, reason))
    return SendResult(answer.accepted, answer.duplicates, tuple(rejections))
