"""Browser exposures are recomputed: a page's claimed variant is never trusted as it is.

A web page's SDK key is public (anyone can read it from the page), so an exposure sent from
a browser could name any variant. The server therefore assigns the unit itself for every
exposure that comes from a browser: a request with an ``Origin`` header (browsers send one
on every cross-origin request) or a key-in-body beacon (:data:`~splitlab.server.hot.BROWSER`).

- The server assigns a variant (reason ``assigned``): the event is stored with the
  **server's** variant; when the page claimed another, that is counted as a mismatch
  (claimed -> served).
- The server assigns none (``not_targeted``, ``outside_traffic``, ``outside_layer``,
  ``holdout``, ``not_running``, ``forced``...): the event is refused in the answer's
  ``rejections`` (field ``variant``) and counted by reason.

The assignment is the one ``/v1/assign`` gives: the unit is the event's ``unitId`` (for a
cluster design its ``clusterId``, under the experiment's ``hashKey``), the attributes are the
exposure's, the time its timestamp; a sticky experiment answers from its sticky store.
Metric events are not recomputed (a unit's variant is its first exposure's anyway), and
server-to-server requests (no ``Origin``, a header key) are stored as sent, at no cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from splitlab.assignment.switchback import TimeError
from splitlab.config import Experiment
from splitlab.server.context import ServerContext
from splitlab.server.cors import origin_of
from splitlab.store.exposure_checks import ExposureCheck
from splitlab.tracking.events import Event, Rejection, now_ms

#: Set in the scope of a key-in-body beacon: its exposures came from a browser.
BROWSER = "splitlab.browser"


def from_browser(scope: Mapping[str, Any]) -> bool:
    """Whether a request came from a browser (an ``Origin`` header, or a beacon)."""
    return bool(scope.get(BROWSER)) or origin_of(scope) is not None  # type: ignore[arg-type]


def _accepted_indexes(count: int, rejections: list[Rejection]) -> list[int]:
    """The batch index of each accepted event (every index not rejected, in order)."""
    refused = {r.index for r in rejections}
    return [i for i in range(count + len(refused)) if i not in refused]


def _unit(experiment: Experiment | None, event: Event) -> tuple[str, dict[str, Any] | None]:
    """The unit and attributes to assign `event`'s unit with."""
    attributes: dict[str, Any] | None = dict(event.attributes) if event.attributes else None
    if experiment is not None and experiment.is_cluster and event.cluster_id is not None:
        attributes = {**(attributes or {}), experiment.assignment.hash_key: event.cluster_id}
        return event.cluster_id, attributes
    return event.unit_id, attributes


class BrowserExposures:
    """The collector's review step for browser requests (see the module docstring)."""

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx

    def __call__(
        self, scope: Mapping[str, Any], events: list[Event], rejections: list[Rejection]
    ) -> tuple[list[Event], list[Rejection]] | None:
        """The events to store and the rejections to answer, or None: stored as they came."""
        if not from_browser(scope):
            return None
        if not any(e.type == "exposure" for e in events):
            return None
        view = self._ctx.view
        service = view.service
        kept: list[Event] = []
        refused = list(rejections)
        checks: list[ExposureCheck] = []
        checked_at = now_ms()
        for index, event in zip(_accepted_indexes(len(events), rejections), events, strict=True):
            if event.type != "exposure":
                kept.append(event)
                continue
            unit, attributes = _unit(view.experiments.get(event.experiment_id), event)
            try:
                served = service.assign(unit, event.experiment_id, attributes, at=event.timestamp)
            except TimeError:
                variant, reason = None, "invalid_time"
            else:
                reason = served.reason.value
                variant = served.variant if reason == "assigned" else None
            checks.append(ExposureCheck(event.event_id, event.experiment_id, event.variant,
                                        variant, reason, checked_at))  # fmt: skip
            if variant is None:
                refused.append(Rejection(index, "variant", event.variant,
                                         f"the variant the server assigns: none (reason {reason})"))  # fmt: skip
            elif variant != event.variant:
                kept.append(msgspec.structs.replace(event, variant=variant))
            else:
                kept.append(event)
        self._ctx.exposure_checks.record(checks)
        refused.sort(key=lambda r: r.index)
        return kept, refused
