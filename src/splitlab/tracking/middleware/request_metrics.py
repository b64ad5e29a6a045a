"""Request metrics without code: each request's latency and error flag as metric events.

Opt in on the core the adapters share::

    core = TrackingCore(assigner, client, request_metrics=RequestMetrics())

and every request that went through the ASGI, WSGI or Django middleware produces, in each
experiment its unit is randomised into (or only in ``experiments``), under the variant the
middleware assigned:

* ``latency_event`` (default ``request_latency_ms``): milliseconds from the moment the
  middleware handed the request to the application until the response was complete (the
  last body chunk sent, so a streamed body counts whole), measured with a monotonic clock;
* ``error_event`` (default ``request_error``): 1 when the response status is 500 or more or
  the application raised, else 0, so its mean is the error rate.

Both are ordinary metric events through the same tracking client (batched, retried). Their
event ids are UUID5 of (request id, unit, experiment, event name), where the request id is the
request's ``Idempotency-Key`` / ``X-Request-Id`` when it has one (a retried request then counts
once) and a random UUID otherwise. Recording never raises into the request: a failure is
logged and the response goes out unchanged.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from splitlab.tracking.context import RequestContext
from splitlab.tracking.middleware.common import Recorder, TrackingCore, derive_event_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RequestMetrics:
    """Which request metrics to record, under which event names, for which experiments."""

    latency_event: str | None = "request_latency_ms"
    error_event: str | None = "request_error"
    #: Experiment ids to record for (None: every experiment the unit is in).
    experiments: Sequence[str] | None = None

    def __post_init__(self) -> None:
        for field, name in (("latency_event", self.latency_event),
                            ("error_event", self.error_event)):  # fmt: skip
            if name is not None and (not isinstance(name, str) or not name.strip()):
                raise ValueError(f"RequestMetrics.{field}: expected a metric name or None "
                                 f"(got {name!r})")  # fmt: skip
        if isinstance(self.experiments, str):
            raise ValueError(
                f"RequestMetrics.experiments: expected a list of experiment ids or None "
                f"(got the string {self.experiments!r})"
            )


class RequestTimer:
    """Times one request and records its metrics once, at :meth:`finish`."""

    def __init__(
        self, settings: RequestMetrics, recorder: Recorder, context: RequestContext
    ) -> None:
        self._settings = settings
        self._recorder = recorder
        self._context = context
        self._started = time.perf_counter()
        self._ended: float | None = None
        self.status: int | None = None
        self.raised = False
        self._finished = False

    def response_complete(self) -> None:
        """The last byte of the response was handed to the server: stop the clock."""
        if self._ended is None:
            self._ended = time.perf_counter()

    def finish(self) -> None:
        """Record the request's metrics (once; never raises)."""
        if self._finished:
            return
        self._finished = True
        ended = self._ended if self._ended is not None else time.perf_counter()
        try:
            self._record((ended - self._started) * 1000.0)
        except Exception:  # tracking must never break or slow the request
            logger.exception("request metrics were not recorded")

    def _record(self, latency_ms: float) -> None:
        settings, context = self._settings, self._context
        failed = self.raised or self.status is None or self.status >= 500
        request_id = context.request_key or uuid.uuid4().hex
        wanted = None if settings.experiments is None else set(settings.experiments)
        for eid, unit in context.tracked_units.items():
            variant = context.tracked_variant(eid)
            if variant is None or (wanted is not None and eid not in wanted):
                continue
            cluster = context.tracked_clusters.get(eid)
            for name, value in ((settings.latency_event, latency_ms),
                                (settings.error_event, 1.0 if failed else 0.0)):  # fmt: skip
                if name is None:
                    continue
                self._recorder.metric(
                    unit, eid, variant, name, value, cluster_id=cluster,
                    event_id=derive_event_id("request", request_id, unit, eid, name),
                )  # fmt: skip


def start_timer(core: TrackingCore, context: RequestContext) -> RequestTimer | None:
    """A timer for this request when ``core`` records request metrics, else None."""
    settings = core.request_metrics
    return None if settings is None else RequestTimer(settings, core.recorder, context)
