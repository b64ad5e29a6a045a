"""Sufficient statistics: small frozen value objects that add across days and shards.

The engine never sees raw events. Per (look, variant, metric[, segment]) the store produces
``n, sum, sum_sq``; with a pre-exposure covariate (CUPED) also the covariate's sum, sum of
squares and the sum of metric x covariate; for a ratio metric also the denominator's sum, sum
of squares and the sum of numerator x denominator. All of them are sums, so two shards (or two
days) merge with ``+``. The JSON form (camelCase) is described in docs/architecture.md, "The
sufficient-statistics JSON".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from splitlab.stats.capping import AppliedCap
from splitlab.stats.errors import SumsError, SumsProblem
from splitlab.stats.possible import WHOLE_UNITS, impossible, impossible_for
from splitlab.stats.quantile import ClusteredSums, add_clustered
from splitlab.stats.sketch import Sketch
from splitlab.stats.sketch_sums import add_sketches, read_part
from splitlab.stats.survival_table import RetentionCurve, SurvivalTable, add_optional
from splitlab.stats.switchback_cells import SwitchbackCells

if TYPE_CHECKING:
    from splitlab.config import Experiment


def count(x: float | None) -> int | float | None:
    """A count for JSON: an ``int`` when whole (``10000``, not ``10000.0``), else the float.

    Sums are floats internally (they add across shards); counts of units are whole numbers
    and are written as JSON integers. None for missing, NaN or infinite values.
    """
    if x is None or not math.isfinite(x):
        return None
    return int(x) if float(x).is_integer() else float(x)


Problems = list[SumsProblem]
"""Where parsing collects every problem of a document before refusing it."""


def _number(
    data: Mapping[str, Any], key: str, where: str, problems: Problems, default: float = 0.0
) -> float:
    """``data[key]`` as a finite float; a problem is recorded (and 0 returned) otherwise."""
    value = data.get(key)
    if key not in data or isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(SumsProblem(f"{where}.{key}", value, "a number"))
        return default
    if not math.isfinite(value):
        problems.append(SumsProblem(f"{where}.{key}", value, "a finite number"))
        return default
    return float(value)


def _count(data: Mapping[str, Any], key: str, where: str, problems: Problems) -> float:
    """``data[key]`` as a count of units: a whole number >= 0."""
    before = len(problems)
    value = _number(data, key, where, problems)
    if len(problems) == before and (value < 0 or not value.is_integer()):
        problems.append(SumsProblem(f"{where}.{key}", data[key], WHOLE_UNITS))
    return value


def _mapping(data: Any, where: str, problems: Problems) -> Mapping[str, Any]:
    """`data` if it is an object; a problem is recorded (and {} returned) otherwise."""
    if not isinstance(data, Mapping):
        problems.append(SumsProblem(where, data, "an object"))
        return {}
    return data


def _refuse(problems: Problems) -> None:
    if problems:
        raise SumsError(problems=problems)


@dataclass(frozen=True, slots=True)
class CrossSums:
    """A second per-unit variable: its sum, its sum of squares, and the sum of its products.

    As a CUPED covariate X: ``sum_product`` is sum(Y*X); ``sum_product_denominator`` is
    sum(X*D), needed only for CUPED on a ratio metric. As a ratio denominator D:
    ``sum_product`` is sum(numerator*D).
    """

    sum: float = 0.0
    sum_sq: float = 0.0
    sum_product: float = 0.0
    sum_product_denominator: float | None = None

    def __add__(self, other: CrossSums) -> CrossSums:
        spd: float | None = None
        if self.sum_product_denominator is not None and other.sum_product_denominator is not None:
            spd = self.sum_product_denominator + other.sum_product_denominator
        return CrossSums(
            self.sum + other.sum,
            self.sum_sq + other.sum_sq,
            self.sum_product + other.sum_product,
            spd,
        )

    @classmethod
    def from_dict(cls, data: Any, where: str, problems: Problems | None = None) -> CrossSums:
        """Read the JSON form; every problem is listed (in `problems` when given)."""
        found: Problems = [] if problems is None else problems
        data = _mapping(data, where, found)
        spd = data.get("sumProductDenominator")
        out = cls(
            _number(data, "sum", where, found),
            _number(data, "sumSq", where, found),
            _number(data, "sumProduct", where, found),
            None if spd is None else _number(data, "sumProductDenominator", where, found),
        )
        if problems is None:
            _refuse(found)
        return out

    def to_dict(self) -> dict[str, float]:
        out = {"sum": self.sum, "sumSq": self.sum_sq, "sumProduct": self.sum_product}
        if self.sum_product_denominator is not None:
            out["sumProductDenominator"] = self.sum_product_denominator
        return out


@dataclass(frozen=True, slots=True)
class ArmSums:
    """One variant's sums for one metric: ``n`` units, sum and sum of squares of the metric."""

    n: float
    sum: float
    sum_sq: float
    covariate: CrossSums | None = None
    denominator: CrossSums | None = None
    #: Quantile metrics: the values' sketch (``n`` counts its events or units) and, per
    #: event, the per-unit sums of the clustered correction (:mod:`splitlab.stats.quantile`).
    sketch: Sketch | None = None
    clustered: ClusteredSums | None = None
    #: Time-to-event metrics: the arm's durations table (``n`` counts its units).
    survival: SurvivalTable | None = None
    #: Retention metrics: the day-by-day retention of the arm (``n`` counts the units
    #: eligible for the metric's own days, ``sum`` those retained).
    retention: RetentionCurve | None = None

    def __add__(self, other: ArmSums) -> ArmSums:
        return ArmSums(
            self.n + other.n,
            self.sum + other.sum,
            self.sum_sq + other.sum_sq,
            _add_optional(self.covariate, other.covariate),
            _add_optional(self.denominator, other.denominator),
            add_sketches(self.sketch, self.n, other.sketch, other.n),
            add_clustered(self.clustered, other.clustered),
            add_optional(self.survival, other.survival),
            add_optional(self.retention, other.retention),
        )

    @classmethod
    def from_values(
        cls,
        values: Any,
        covariate: Any = None,
        denominator: Any = None,
    ) -> ArmSums:
        """Sums of raw per-unit values (numpy arrays); handy in tests and notebooks."""
        import numpy as np

        y = np.asarray(values, dtype=float)
        cov = den = None
        if covariate is not None:
            x = np.asarray(covariate, dtype=float)
            spd = None if denominator is None else float(np.dot(x, denominator))
            cov = CrossSums(float(x.sum()), float(x @ x), float(y @ x), spd)
        if denominator is not None:
            d = np.asarray(denominator, dtype=float)
            den = CrossSums(float(d.sum()), float(d @ d), float(y @ d))
        return cls(float(y.size), float(y.sum()), float(y @ y), cov, den)

    @classmethod
    def from_dict(cls, data: Any, where: str, problems: Problems | None = None) -> ArmSums:
        """Read the JSON form; every problem is listed (in `problems` when given)."""
        found: Problems = [] if problems is None else problems
        data = _mapping(data, where, found)
        cov = data.get("covariate")
        den = data.get("denominator")
        out = cls(
            _count(data, "n", where, found),
            _number(data, "sum", where, found),
            _number(data, "sumSq", where, found),
            None if cov is None else CrossSums.from_dict(cov, f"{where}.covariate", found),
            None if den is None else CrossSums.from_dict(den, f"{where}.denominator", found),
            read_part(Sketch.from_dict, data.get("sketch"), f"{where}.sketch", found),
            read_part(ClusteredSums.from_dict, data.get("clustered"), f"{where}.clustered", found),
            read_part(SurvivalTable.from_dict, data.get("survival"), f"{where}.survival", found),
            read_part(RetentionCurve.from_dict, data.get("retention"), f"{where}.retention", found),
        )
        if problems is None:
            _refuse(found)
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n": count(self.n), "sum": self.sum, "sumSq": self.sum_sq}
        if self.covariate is not None:
            out["covariate"] = self.covariate.to_dict()
        if self.denominator is not None:
            out["denominator"] = self.denominator.to_dict()
        if self.sketch is not None:
            out["sketch"] = self.sketch.to_dict()
        if self.clustered is not None:
            out["clustered"] = self.clustered.to_dict()
        if self.survival is not None:
            out["survival"] = self.survival.to_dict()
        if self.retention is not None:
            out["retention"] = self.retention.to_dict()
        return out


def _add_optional(a: CrossSums | None, b: CrossSums | None) -> CrossSums | None:
    if a is None and b is None:
        return None
    if a is None or b is None:
        raise SumsError("cannot add sums with a covariate (or denominator) to sums without one")
    return a + b


MetricSums = Mapping[str, ArmSums]
"""Variant name -> that variant's sums, for one metric."""


def arm_pair(
    sums: SliceSums, metric: str, control: str, variant: str
) -> tuple[ArmSums, ArmSums] | str:
    """Control's and the variant's sums of `metric` (an arm without data has empty sums), or
    the reason there are none: what every estimator of ``analyze`` starts from."""
    arms = sums.metrics.get(metric)
    if arms is None:
        return f"the sums have no data for metric {metric!r}"
    empty = ArmSums(0.0, 0.0, 0.0)
    return arms.get(control, empty), arms.get(variant, empty)


def _add_maps(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        out[key] = out[key] + value if key in out else value
    return out


@dataclass(frozen=True)
class SliceSums:
    """Units per variant and the metrics' sums for one slice (everyone, or one segment)."""

    units: Mapping[str, float]
    metrics: Mapping[str, MetricSums]
    #: Cluster designs only: per variant, the clusters' sizes in analysis units as sums over
    #: clusters (``n`` clusters, ``sum`` of sizes, ``sumSq`` of squared sizes); ``units`` then
    #: counts clusters. None for every other design.
    cluster_sizes: Mapping[str, ArmSums] | None = field(default=None, kw_only=True)

    def __add__(self, other: SliceSums) -> SliceSums:
        metrics = dict(self.metrics)
        for name, arms in other.metrics.items():
            metrics[name] = _add_maps(metrics[name], arms) if name in metrics else dict(arms)
        return SliceSums(
            _add_maps(self.units, other.units),
            metrics,
            cluster_sizes=_add_sizes(self.cluster_sizes, other.cluster_sizes),
        )

    @classmethod
    def from_dict(cls, data: Any, where: str, problems: Problems | None = None) -> SliceSums:
        """Read the JSON form; every problem is listed (in `problems` when given)."""
        found: Problems = [] if problems is None else problems
        data = _mapping(data, where, found)
        units_raw = _mapping(data.get("units", {}), f"{where}.units", found)
        units = {k: _count(units_raw, k, f"{where}.units", found) for k in units_raw}
        metrics_raw = _mapping(data.get("metrics", {}), f"{where}.metrics", found)
        metrics: dict[str, dict[str, ArmSums]] = {}
        for name, arms in metrics_raw.items():
            arms = _mapping(arms, f"{where}.metrics.{name}", found)
            metrics[name] = {
                v: ArmSums.from_dict(a, f"{where}.metrics.{name}.{v}", found)
                for v, a in arms.items()
            }
        sizes_raw = data.get("clusterSizes")
        sizes = None
        if sizes_raw is not None:
            sizes_raw = _mapping(sizes_raw, f"{where}.clusterSizes", found)
            sizes = {
                v: ArmSums.from_dict(a, f"{where}.clusterSizes.{v}", found)
                for v, a in sizes_raw.items()
            }
        if problems is None:
            _refuse(found)
        return cls(units, metrics, cluster_sizes=sizes)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "units": {k: count(v) for k, v in self.units.items()},
            "metrics": {
                name: {v: a.to_dict() for v, a in arms.items()}
                for name, arms in self.metrics.items()
            },
        }
        if self.cluster_sizes is not None:
            out["clusterSizes"] = {v: a.to_dict() for v, a in self.cluster_sizes.items()}
        return out


def _add_sizes(
    a: Mapping[str, ArmSums] | None, b: Mapping[str, ArmSums] | None
) -> Mapping[str, ArmSums] | None:
    if a is None and b is None:
        return None
    if a is None or b is None:
        raise SumsError("cannot add sums with cluster sizes to sums without them")
    return _add_maps(a, b)


@dataclass(frozen=True)
class ExperimentSums(SliceSums):
    """The sufficient statistics of one experiment at one look (the sums JSON).

    ``segments`` maps ``"<attribute>=<value>"`` to that segment's own :class:`SliceSums`;
    analysing a segment is analysing that slice (:meth:`segment`).
    """

    experiment_id: str = ""
    look: int | None = None
    segments: Mapping[str, SliceSums] = field(default_factory=dict)
    #: Switchback designs with two or more units: the cell table the sums were made from
    #: (:mod:`splitlab.stats.switchback_cells`), for the regression estimator and replays.
    #: ``units`` and the metrics' sums then count cells. None otherwise; a sum of two sums
    #: has none.
    cells: SwitchbackCells | None = field(default=None, kw_only=True)
    #: The outlier caps the store applied to these sums (:mod:`splitlab.stats.capping`);
    #: recorded in the look document apart from the sums JSON.
    capping: tuple[AppliedCap, ...] = field(default=(), kw_only=True)

    def __add__(self, other: SliceSums) -> ExperimentSums:
        base = SliceSums.__add__(self, other)
        if isinstance(other, ExperimentSums):
            if self.experiment_id and other.experiment_id != self.experiment_id:
                raise SumsError(
                    f"cannot add sums of experiment {other.experiment_id!r} "
                    f"to sums of {self.experiment_id!r}"
                )
            segments = _add_maps(self.segments, other.segments)
            look = max(self.look or 0, other.look or 0) or None
        else:
            segments, look = dict(self.segments), self.look
        return ExperimentSums(
            base.units,
            base.metrics,
            self.experiment_id,
            look,
            segments,
            cluster_sizes=base.cluster_sizes,
        )

    def segment(self, name: str) -> ExperimentSums:
        """The sums of one segment (``"country=US"``) as sums of their own."""
        if name not in self.segments:
            known = ", ".join(sorted(self.segments)) or "none"
            raise SumsError(f"no segment {name!r} in the sums (segments: {known})")
        part = self.segments[name]
        return ExperimentSums(
            part.units,
            part.metrics,
            self.experiment_id,
            self.look,
            cluster_sizes=part.cluster_sizes,
        )

    @classmethod
    def from_dict(
        cls,
        data: Any,
        where: str = "$",
        problems: Problems | None = None,
        experiment: Experiment | None = None,
    ) -> ExperimentSums:
        """Read the sums JSON; a malformed or impossible one is refused with every problem
        listed (:mod:`splitlab.stats.possible`; with `experiment`, also its metric types')."""
        found: Problems = [] if problems is None else problems
        data = _mapping(data, where, found)
        base = SliceSums.from_dict(data, where, found)
        look = data.get("look")
        if look is not None and (isinstance(look, bool) or not isinstance(look, int) or look < 1):
            found.append(SumsProblem(f"{where}.look", look, "an integer >= 1"))
        exp_id = data.get("experimentId", "")
        if not isinstance(exp_id, str):
            found.append(SumsProblem(f"{where}.experimentId", exp_id, "a string"))
        segments_raw = _mapping(data.get("segments", {}), f"{where}.segments", found)
        segments = {
            k: SliceSums.from_dict(v, f"{where}.segments.{k}", found)
            for k, v in segments_raw.items()
        }
        cells_raw = data.get("cells")
        cells = None if cells_raw is None else SwitchbackCells.from_dict(
            cells_raw, f"{where}.cells", found)  # fmt: skip
        out = cls(base.units, base.metrics, exp_id, look if isinstance(look, int) else None,
                  segments, cluster_sizes=base.cluster_sizes, cells=cells)  # fmt: skip
        if not found:  # well-formed: now the sums must be possible
            found += impossible(out, where) if experiment is None else (
                impossible_for(out, experiment, where))  # fmt: skip
        if problems is None:
            _refuse(found)
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"experimentId": self.experiment_id, "look": self.look}
        out.update(SliceSums.to_dict(self))
        if self.segments:
            out["segments"] = {k: s.to_dict() for k, s in self.segments.items()}
        if self.cells is not None:
            out["cells"] = self.cells.to_dict()
        return out
