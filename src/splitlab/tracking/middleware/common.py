"""The framework-neutral core shared by the ASGI, WSGI and Django adapters.

Each adapter turns its framework's request into a :class:`RequestInfo` (explicitly: no
framework detection) and calls :meth:`TrackingCore.begin`, which

1. identifies the unit (a header, a cookie, or any callable on the request);
2. asks the assignment service for the unit's assignments (all experiments, or the
   configured ones); headers such as ``x-variant`` or ``x-experiment-id`` are never read;
3. tracks an exposure event once per (unit, experiment, variant) in this process (a bounded
   LRU cache remembers which were sent; the store keeps the first exposure per unit anyway),
   only for units randomised into the experiment (reason ``assigned``). For a cluster or
   switchback design the events also carry ``clusterId`` (see :func:`tracked_ids`). An
   assignment naming a holdout (``holdout_id``: a running holdout covers the experiment and
   the unit reached its step) also exposes the unit to the holdout, in ``holdout_variant``,
   once per request whatever the number of covered experiments; a holdout's own assignment is
   never an exposure (only units that reached a covered experiment are in its results);
4. returns the :class:`~splitlab.tracking.context.RequestContext` the adapter makes current.

Event ids. An exposure's ``eventId`` is derived from (experiment, variant, unit), so a second
process exposing the same unit sends the same id and the collector counts it once. A metric
event's id is derived, when the request carries an ``Idempotency-Key`` or ``X-Request-Id``,
from (key, unit, experiment, metric, occurrence) where occurrence counts earlier emits of the
same metric in the request: a retried request yields the same ids. Both are UUID5 under the
namespace :data:`EVENT_NAMESPACE`, over the parts joined with U+001F.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any, Protocol

from splitlab.assignment import (
    Assignment,
    ExperimentAssignmentService,
    experiment_unit,
    resolve_unit,
)
from splitlab.assignment.units import unit_text
from splitlab.config.designs import ClusterDesign, SwitchbackDesign
from splitlab.config.models import Experiment
from splitlab.tracking.context import RequestContext
from splitlab.tracking.events import AttributeValue, Event

if TYPE_CHECKING:
    from splitlab.tracking.middleware.request_metrics import RequestMetrics

logger = logging.getLogger(__name__)

#: The UUID5 namespace of derived event ids (itself UUID5 of a URL under NAMESPACE_URL).
EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://splitlab.dev/ns/event-id")
_SEP = "\x1f"


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the core needs from a request, whatever the framework."""

    method: str
    path: str
    #: Header names in lower case; the first value of a repeated header.
    headers: Mapping[str, str]
    cookies: Mapping[str, str]
    #: The framework's own request: the ASGI scope, the WSGI environ or Django's HttpRequest.
    native: Any


UnitSource = Callable[[RequestInfo], str | None]
AttributeSource = Callable[[RequestInfo], Mapping[str, Any]]
ExperimentSelection = Sequence[str] | Callable[[RequestInfo], Sequence[str]] | None


def from_header(name: str) -> UnitSource:
    """Identify the unit by a request header (case-insensitive)."""
    key = name.lower()

    def unit(request: RequestInfo) -> str | None:
        return request.headers.get(key) or None

    return unit


def from_cookie(name: str) -> UnitSource:
    """Identify the unit by a cookie."""

    def unit(request: RequestInfo) -> str | None:
        return request.cookies.get(name) or None

    return unit


def parse_cookies(header: str | None) -> dict[str, str]:
    """Cookies of a ``Cookie`` header; an unreadable header gives none (and is logged)."""
    if not header:
        return {}
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError as exc:
        logger.debug("ignoring an unreadable Cookie header: %s", exc)
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


class Recorder(Protocol):
    """Where events go: a :class:`~splitlab.tracking.client.TrackingClient`."""

    def exposure(
        self,
        unit_id: str,
        experiment_id: str,
        variant: str,
        *,
        attributes: Mapping[str, AttributeValue] | None = None,
        event_id: str | None = None,
        timestamp_ms: int | None = None,
        cluster_id: str | None = None,
    ) -> Event: ...

    def metric(
        self,
        unit_id: str,
        experiment_id: str,
        variant: str,
        metric: str,
        value: float = 1.0,
        *,
        event_id: str | None = None,
        timestamp_ms: int | None = None,
        cluster_id: str | None = None,
    ) -> Event: ...


class ExposureCache:
    """A bounded LRU set of (unit, experiment, variant) already exposed by this process."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"exposure_cache_size must be at least 1 (got {size})")
        self.size = size
        self._seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._mutex = threading.Lock()

    def first_time(self, key: tuple[str, str, str]) -> bool:
        """True the first time ``key`` is seen (since it was last evicted)."""
        with self._mutex:
            if key in self._seen:
                self._seen.move_to_end(key)
                return False
            self._seen[key] = None
            if len(self._seen) > self.size:
                self._seen.popitem(last=False)
            return True

    def __len__(self) -> int:
        with self._mutex:
            return len(self._seen)


def derive_event_id(*parts: str) -> str:
    """A deterministic event id: UUID5 under EVENT_NAMESPACE of the parts joined by U+001F."""
    return str(uuid.uuid5(EVENT_NAMESPACE, _SEP.join(parts)))


def tracked_ids(
    experiment: Experiment, unit_id: str | None, attributes: Mapping[str, Any]
) -> tuple[str | None, str | None]:
    """The ``unitId`` and ``clusterId`` events of `experiment` carry for this request.

    * Classic: the hashed unit (``assignment.hashKey``, falling back to the request's unit),
      no cluster id.
    * Cluster design: the analysis unit (the ``design.analysisUnit`` attribute, falling back
      to the request's unit) and, as the cluster id, the hashed unit (e.g. the account);
      without the cluster attribute there is no cluster (never the user alone) and nothing
      is tracked.
    * Switchback: the measured unit (the ``assignment.hashKey`` attribute, falling back to
      the request's unit; the configuration refuses ``hashKey == design.unit``), so every
      user's events count, and the switchback unit's value (the ``design.unit`` attribute) as
      the cluster id; none for a global switchback. The draw itself reads only the
      ``design.unit`` attribute and the time.

    (None, None) when there is no unit to hash: nothing is tracked then.
    """
    hashed = experiment_unit(experiment, unit_id, attributes)
    if hashed is None:
        return None, None
    design = experiment.design
    if isinstance(design, ClusterDesign):
        return resolve_unit(design.analysis_unit, unit_id, attributes), hashed
    if isinstance(design, SwitchbackDesign) and design.unit is not None:
        return hashed, unit_text(attributes.get(design.unit))
    return hashed, None


def _scalar_attributes(
    names: Sequence[str], attributes: Mapping[str, Any]
) -> dict[str, AttributeValue] | None:
    picked = {
        name: attributes[name]
        for name in names
        if isinstance(attributes.get(name), str | int | float | bool)
    }
    return picked or None


class TrackingCore:
    """Assignment, exposure logging and ``emit`` for one application; shared by the adapters.

    ``unit`` is a header name (str) or a callable on :class:`RequestInfo` (see
    :func:`from_header`, :func:`from_cookie`); ``attributes`` gives targeting attributes of
    the request (and the segment attributes copied onto exposures); ``experiments`` limits
    which experiments are assigned (a list, or a callable on the request), None meaning all
    that serve a variant. ``response_header`` (None to disable) carries the assignments to
    the client and names the header of ``RequestContext.forward_headers()`` for downstream
    services. ``request_metrics`` (off by default) records each request's latency and error
    flag as metric events (see :mod:`splitlab.tracking.middleware.request_metrics`).
    """

    def __init__(
        self,
        assigner: ExperimentAssignmentService,
        recorder: Recorder,
        *,
        unit: str | UnitSource = "X-User-Id",
        attributes: AttributeSource | None = None,
        experiments: ExperimentSelection = None,
        exposure_cache_size: int = 100_000,
        response_header: str | None = "X-Splitlab-Assignments",
        request_key_headers: Sequence[str] = ("Idempotency-Key", "X-Request-Id"),
        request_metrics: RequestMetrics | None = None,
    ) -> None:
        self.assigner = assigner
        self.recorder = recorder
        self._unit = from_header(unit) if isinstance(unit, str) else unit
        self._attributes = attributes
        self._experiments = experiments
        self.exposures = ExposureCache(exposure_cache_size)
        self.response_header = response_header
        self._key_headers = tuple(name.lower() for name in request_key_headers)
        self.request_metrics = request_metrics

    def begin(self, request: RequestInfo) -> RequestContext:
        """Identify the unit, assign it, log new exposures; the context for the handler."""
        unit_id = self._unit(request)
        attributes = dict(self._attributes(request)) if self._attributes else {}
        assignments = self._assign(request, unit_id, attributes)
        tracked_units, clusters = self._log_exposures(unit_id, attributes, assignments)
        holdout_units, holdout_variants = self._log_holdout_exposures(
            unit_id, attributes, assignments
        )
        key = next((request.headers[h] for h in self._key_headers if request.headers.get(h)), None)
        header = self.response_header or "X-Splitlab-Assignments"
        return RequestContext(
            unit_id,
            assignments,
            {**tracked_units, **holdout_units},
            key,
            self,
            header,
            tracked_clusters=clusters,
            tracked_variants=holdout_variants,
        )

    def _assign(
        self, request: RequestInfo, unit_id: str | None, attributes: Mapping[str, Any]
    ) -> dict[str, Assignment]:
        selection = self._experiments
        if selection is None:
            return self.assigner.assign_all(unit_id, attributes)
        chosen = selection(request) if callable(selection) else selection
        return {eid: self.assigner.assign(unit_id, eid, attributes) for eid in chosen}

    def _log_exposures(
        self,
        unit_id: str | None,
        attributes: Mapping[str, Any],
        assignments: Mapping[str, Assignment],
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Track first exposures; the tracked unit id and cluster id per experiment the unit
        is part of (see :func:`tracked_ids`)."""
        tracked: dict[str, str] = {}
        clusters: dict[str, str] = {}
        for assignment in assignments.values():
            if not (assignment.in_experiment and assignment.variant):
                continue
            try:
                experiment = self.assigner.experiment(assignment.experiment_id)
            except KeyError:  # removed by an update() since it was assigned
                continue
            if experiment.is_holdout:  # exposed through the experiments it covers (below)
                continue
            unit, cluster = tracked_ids(experiment, unit_id, attributes)
            if unit is None:
                continue
            tracked[assignment.experiment_id] = unit
            if cluster is not None:
                clusters[assignment.experiment_id] = cluster
            key = (unit, assignment.experiment_id, assignment.variant)
            if self.exposures.first_time(key):
                self.recorder.exposure(
                    unit,
                    assignment.experiment_id,
                    assignment.variant,
                    attributes=_scalar_attributes(experiment.segments, attributes),
                    event_id=derive_event_id("exposure", *key),
                    cluster_id=cluster,
                )
        return tracked, clusters

    def _log_holdout_exposures(
        self,
        unit_id: str | None,
        attributes: Mapping[str, Any],
        assignments: Mapping[str, Assignment],
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Expose the unit to each holdout its assignments name (once per holdout here).

        Returns the tracked unit id and the variant per holdout, so ``emit()`` also tracks
        the holdout's metrics. The id is derived like any exposure's, from (unit, holdout,
        variant), so every process and every request exposing it sends the same one.
        """
        units: dict[str, str] = {}
        variants: dict[str, str] = {}
        for assignment in sorted(assignments.values(), key=lambda a: a.experiment_id):
            holdout_id, variant = assignment.holdout_id, assignment.holdout_variant
            if holdout_id is None or variant is None or holdout_id in units:
                continue
            try:
                holdout = self.assigner.experiment(holdout_id)
            except KeyError:  # removed by an update() since it was assigned
                continue
            unit, _ = tracked_ids(holdout, unit_id, attributes)
            if unit is None:
                continue
            units[holdout_id] = unit
            variants[holdout_id] = variant
            key = (unit, holdout_id, variant)
            if self.exposures.first_time(key):
                self.recorder.exposure(
                    unit,
                    holdout_id,
                    variant,
                    attributes=_scalar_attributes(holdout.segments, attributes),
                    event_id=derive_event_id("exposure", *key),
                )
        return units, variants

    def emit_metric(
        self, context: RequestContext, metric: str, value: float, experiment_id: str | None
    ) -> list[Event]:
        """Track ``metric`` in each experiment the unit is randomised into (or in one)."""
        events: list[Event] = []
        for eid, unit in context.tracked_units.items():
            if experiment_id is not None and eid != experiment_id:
                continue
            variant = context.tracked_variant(eid)
            if variant is None:
                continue
            occurrence = context.next_occurrence(metric, eid)
            event_id = None
            if context.request_key is not None:
                parts = ("metric", context.request_key, unit, eid, metric, str(occurrence))
                event_id = derive_event_id(*parts)
            cluster = context.tracked_clusters.get(eid)
            events.append(
                self.recorder.metric(
                    unit, eid, variant, metric, value, event_id=event_id, cluster_id=cluster
                )
            )
        if not events:
            logger.debug(
                "emit(%r): unit %r is in no experiment%s; nothing tracked",
                metric,
                context.unit_id,
                "" if experiment_id is None else f" {experiment_id!r}",
            )
        return events

    def close(self) -> None:
        """Close the recorder: the client delivers what is pending and spools the rest.

        The shutdown hooks call this (the ASGI middleware at the lifespan shutdown); a
        recorder without ``close()`` is left alone.
        """
        close = getattr(self.recorder, "close", None)
        if callable(close):
            close()

    def response_headers(self, context: RequestContext) -> list[tuple[str, str]]:
        """Headers to add to the response (the assignments), possibly none."""
        if self.response_header is None:
            return []
        value = context.header_value()
        return [(self.response_header, value)] if value else []
