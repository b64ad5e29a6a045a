"""The per-request tracking context, kept in a :class:`contextvars.ContextVar`.

The middleware builds one :class:`RequestContext` per request and makes it current for the
code that handles the request; nothing is stored in a module-level dict, so concurrent
requests (threads or asyncio tasks) never see each other's context::

    from splitlab.tracking import current, emit

    def checkout(request):
        if current().variant("exp-checkout-flow-v3") == "variant-a":
            ...
        emit("checkout_completed")          # a metric event in every experiment of the unit
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote

from splitlab.assignment import Assignment
from splitlab.tracking.errors import NoRequestContextError
from splitlab.tracking.events import Event

_CURRENT: ContextVar[RequestContext | None] = ContextVar("splitlab_request", default=None)


class MetricEmitter(Protocol):
    """What turns ``emit()`` calls into metric events (the middleware core)."""

    def emit_metric(
        self, context: RequestContext, metric: str, value: float, experiment_id: str | None
    ) -> list[Event]:
        """Track ``metric`` for the request's unit; return the events made."""
        ...


@dataclass(eq=False)
class RequestContext:
    """The unit, its assignments and the idempotency key of one request.

    Assignments come only from the server-side assignment service; nothing the client sends
    (no ``x-variant`` header, no cookie) can set them.
    """

    #: The unit identified for this request (None when the request carried none).
    unit_id: str | None
    #: Assignment per experiment id, as the assignment service answered.
    assignments: Mapping[str, Assignment]
    #: The unit id tracked per experiment (differs from ``unit_id`` when an experiment
    #: hashes another attribute, its ``hashKey``).
    tracked_units: Mapping[str, str]
    #: ``Idempotency-Key`` or ``X-Request-Id`` of the request, when it had one.
    request_key: str | None
    emitter: MetricEmitter
    #: Name of the header carrying the assignments (responses and forwarded calls).
    header_name: str = "X-Splitlab-Assignments"
    #: The ``clusterId`` per experiment of a cluster or switchback design (none otherwise).
    tracked_clusters: Mapping[str, str] = field(default_factory=dict)
    #: The variant tracked per experiment the assignments do not give it for: the holdouts
    #: named by the assignments (``holdout_id`` -> ``holdout_variant``).
    tracked_variants: Mapping[str, str] = field(default_factory=dict)
    _occurrences: Counter[tuple[str, str]] = field(default_factory=Counter)
    _mutex: threading.Lock = field(default_factory=threading.Lock)

    def variant(self, experiment_id: str) -> str | None:
        """The variant served to this request's unit in ``experiment_id`` (None if none)."""
        assignment = self.assignments.get(experiment_id)
        return None if assignment is None else assignment.variant

    def tracked_variant(self, experiment_id: str) -> str | None:
        """The variant events of ``experiment_id`` carry: the assigned one, or for a holdout
        named by an assignment, the unit's variant of that holdout."""
        return self.tracked_variants.get(experiment_id) or self.variant(experiment_id)

    def emit(
        self, metric: str, value: float = 1.0, *, experiment_id: str | None = None
    ) -> list[Event]:
        """Track a metric event for this unit in each experiment it is part of (or just one).

        With a request key, the n-th ``emit`` of a metric in a request gets an ``eventId``
        derived from the key, so a retried request produces the same ids and counts once.
        """
        return self.emitter.emit_metric(self, metric, value, experiment_id)

    def next_occurrence(self, metric: str, experiment_id: str) -> int:
        """How many times ``metric`` was emitted before in this request for the experiment."""
        with self._mutex:
            seen = self._occurrences[(metric, experiment_id)]
            self._occurrences[(metric, experiment_id)] = seen + 1
        return seen

    def header_value(self) -> str:
        """``exp=variant;exp2=variant2`` (percent-encoded) for the experiments with a variant."""
        return assignments_header(self.assignments)

    def forward_headers(self) -> dict[str, str]:
        """Headers to pass on to downstream services called while handling this request.

        Informational: splitlab's middleware never reads assignments from a request; a
        downstream service running it computes the same assignments itself.
        """
        value = self.header_value()
        return {self.header_name: value} if value else {}


def current() -> RequestContext:
    """The tracking context of the request being handled.

    Raises NoRequestContextError outside a request that went through the splitlab
    middleware (instead of silently tracking nothing).
    """
    context = _CURRENT.get()
    if context is None:
        raise NoRequestContextError(
            "no splitlab request context: current() and emit() work only while handling a "
            "request that went through the splitlab tracking middleware"
        )
    return context


def current_or_none() -> RequestContext | None:
    """The current request's tracking context, or None outside a tracked request."""
    return _CURRENT.get()


def emit(metric: str, value: float = 1.0, *, experiment_id: str | None = None) -> list[Event]:
    """Track a metric event for the current request's unit (see :meth:`RequestContext.emit`)."""
    return current().emit(metric, value, experiment_id=experiment_id)


def activate(context: RequestContext) -> Token[RequestContext | None]:
    """Make ``context`` current; pass the token to :func:`deactivate` afterwards."""
    return _CURRENT.set(context)


def deactivate(token: Token[RequestContext | None]) -> None:
    """Restore the context that was current before :func:`activate`."""
    _CURRENT.reset(token)


def assignments_header(assignments: Mapping[str, Assignment]) -> str:
    """Encode assignments as ``exp=variant;...`` (the ``X-Splitlab-Assignments`` value)."""
    return ";".join(
        f"{quote(eid, safe='')}={quote(a.variant, safe='')}"
        for eid, a in sorted(assignments.items())
        if a.variant is not None
    )
