"""What every event store offers (DuckDB embedded today; ClickHouse can implement the same).

A store takes validated :class:`~splitlab.tracking.events.Event` objects, makes them durable
before it answers, counts each ``eventId`` once, and turns the events of one experiment into
sufficient statistics (:class:`~splitlab.stats.sums.ExperimentSums`) without handing raw events
to Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from splitlab.config.models import Experiment
from splitlab.stats.sums import ExperimentSums
from splitlab.tracking.events import Event


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The outcome of one durable write.

    ``accepted`` events were written; ``duplicates`` repeated an ``eventId`` seen earlier in
    the same batch or recently by this process and were not written again (they are counted
    once all the same). Duplicates older than the recent window are written and dropped by the
    loader, so ``duplicates`` is a lower bound.
    """

    accepted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class DataQuality:
    """Problems in an experiment's data that the sums exclude or that deserve a look."""

    experiment_id: str
    #: Units exposed to more than one variant (excluded from the sums).
    multi_exposed_units: int
    #: Metric events of units never exposed to the experiment (before the cut-off).
    unexposed_metric_events: int
    #: Metric events whose claimed variant differs from the unit's first exposure.
    variant_mismatch_events: int
    #: Metric events before the unit's first exposure (not counted).
    pre_exposure_metric_events: int
    #: Cluster designs: clusters whose units were exposed to more than one variant (excluded
    #: from the sums with all their units). 0 for other designs.
    multi_variant_clusters: int = 0
    #: Cluster designs: exposures without a ``clusterId`` (left out: their cluster is
    #: unknown). 0 for other designs.
    missing_cluster_exposures: int = 0
    #: Denominators, each at its count's own level (None where the store did not count
    #: them: classic experiments, whose counts are all measured against the exposed units).
    #: Analysis units with an exposure (cluster designs: units with a ``clusterId``), for
    #: ``multi_exposed_units``.
    analysis_units: int | None = None
    #: All of the experiment's exposures, for ``missing_cluster_exposures``.
    exposures: int | None = None
    #: Clusters with an exposure, for ``multi_variant_clusters``.
    clusters: int | None = None
    #: All of the experiment's metric events, for ``unexposed_metric_events``.
    metric_events: int | None = None

    def to_dict(self) -> dict[str, Any]:
        extra = {
            key: value
            for key, value in (
                ("analysisUnits", self.analysis_units),
                ("exposures", self.exposures),
                ("clusters", self.clusters),
                ("metricEvents", self.metric_events),
            )
            if value is not None
        }
        return {
            "experimentId": self.experiment_id,
            "multiExposedUnits": self.multi_exposed_units,
            "unexposedMetricEvents": self.unexposed_metric_events,
            "variantMismatchEvents": self.variant_mismatch_events,
            "preExposureMetricEvents": self.pre_exposure_metric_events,
            "multiVariantClusters": self.multi_variant_clusters,
            "missingClusterExposures": self.missing_cluster_exposures,
            **extra,
        }


class EventStore(Protocol):
    """The store interface the collector, the evaluation and the server use."""

    def submit(self, events: Sequence[Event]) -> Future[IngestResult]:
        """Queue events for a durable write; the future resolves once they are durable."""
        ...

    def ingest(self, events: Sequence[Event]) -> IngestResult:
        """Write events durably (fsync'd) and return once they are."""
        ...

    def summary(
        self,
        experiment: Experiment,
        cutoff: datetime | None = None,
        segment: str | Sequence[str] | None = None,
        *,
        known_caps: Mapping[tuple[str, str], float] | None = None,
    ) -> ExperimentSums:
        """The experiment's sufficient statistics from everything acknowledged so far
        (capped per unit where the metrics have caps; `known_caps`: percentile caps fixed at
        an earlier look, by (metric, target))."""
        ...

    def data_quality(self, experiment: Experiment, cutoff: datetime | None = None) -> DataQuality:
        """Counts of data problems for the experiment (see :class:`DataQuality`)."""
        ...

    def close(self) -> None:
        """Load what is pending and release the files."""
        ...
