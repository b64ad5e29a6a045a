"""Sums that no data could have produced, found when a sums document is read.

A sums document is refused, not analysed, when its numbers contradict each other, because the
engine would otherwise turn them into a confident answer ("not significant") about data that
cannot exist. Two kinds of rule:

* **Any metric** (:func:`impossible`): ``n`` and the units are whole numbers >= 0; with
  ``n = 0`` every sum is 0; ``sumSq >= sum^2 / n`` (the sum of squared deviations, ``sumSq -
  sum^2/n``, is never negative), for the metric, its covariate and its denominator; the
  cross-products (``sumProduct`` of the covariate and of the denominator, and
  ``sumProductDenominator``) obey the Cauchy-Schwarz inequality ``(sumProduct - sum_a sum_b /
  n)^2 <= (sumSq_a - sum_a^2/n)(sumSq_b - sum_b^2/n)`` (no correlation beyond +-1); and a metric's
  ``n`` is at most the variant's units (each unit a metric counts is a unit of the variant),
  except for a quantile metric's arm (with a sketch), whose ``n`` may count events and must
  equal the sketch's count.
* **By metric type** (:func:`impossible_for`, with the definition): a conversion is 0 or 1
  per unit, so ``sum`` is a whole number between 0 and ``n`` and ``sumSq == sum``; a
  continuous metric aggregated with ``count`` is a whole number >= 0 per unit, so ``sum`` is a
  whole number >= 0 and ``sumSq >= sum``. In a cluster design the sums are over clusters and a
  conversion metric's cluster total counts converted units, so it obeys the count rule.

Sums of floating-point numbers carry rounding error, so the inequalities allow a relative
:data:`TOLERANCE` of the magnitudes involved; every rule that holds exactly for whole
numbers (counts, conversions) is checked exactly.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from splitlab.config import Experiment, MetricType
from splitlab.stats.errors import SumsProblem

if TYPE_CHECKING:
    from splitlab.stats.sums import ArmSums, CrossSums, ExperimentSums, SliceSums

#: Relative rounding allowance of the inequalities (sums of squares of 1e7 doubles are exact
#: to about 1e-12 relative; 1e-8 leaves a wide margin and still catches any real error).
TOLERANCE = 1e-8

#: What a count of units (``units``, ``n``) is expected to be.
WHOLE_UNITS = "a whole number of units >= 0"


def _g(x: float) -> str:
    return f"{x:.10g}"


def _v(x: float) -> int | float:
    """A value as the document most likely wrote it (5, not 5.0)."""
    return int(x) if _whole(x) and abs(x) < 2**53 else x


def _whole(x: float) -> bool:
    return math.isfinite(x) and float(x).is_integer()


def _spread(where: str, n: float, total: float, squares: float) -> SumsProblem | None:
    """``sumSq >= sum^2/n``: the sum of squared deviations is not negative."""
    floor = total * total / n
    if squares - floor < -TOLERANCE * max(abs(squares), floor):
        expected = (
            f"sumSq >= sum^2/n = {_g(floor)} (sum {_g(total)}, n {_g(n)}); a smaller sumSq "
            "means a negative variance"
        )
        return SumsProblem(f"{where}.sumSq", _v(squares), expected)
    return None


def _correlation(
    where: str, n: float, a: tuple[float, float], b: tuple[float, float], product: float
) -> SumsProblem | None:
    """Cauchy-Schwarz on the centred sums: no correlation beyond +-1."""
    var_a = a[1] - a[0] * a[0] / n
    var_b = b[1] - b[0] * b[0] / n
    cov = product - a[0] * b[0] / n
    # sys.float_info.min: squares below the smallest normal double have underflowed (values
    # near 1e-162 square to 0 or a subnormal), so they carry rounding, not a correlation.
    slack = TOLERANCE * abs(a[1] * b[1]) + sys.float_info.min
    if cov * cov - max(var_a, 0.0) * max(var_b, 0.0) > slack:
        limit = math.sqrt(max(var_a, 0.0) * max(var_b, 0.0))
        expected = (
            f"a sum of products whose centred value ({_g(cov)}) is within +-{_g(limit)} "
            "(a correlation between -1 and 1)"
        )
        return SumsProblem(where, _v(product), expected)
    return None


def _cross(where: str, arm: ArmSums, cross: CrossSums) -> Iterator[SumsProblem]:
    n = arm.n
    if n == 0:
        for key, value in (("sum", cross.sum), ("sumSq", cross.sum_sq),
                           ("sumProduct", cross.sum_product)):  # fmt: skip
            if value != 0:
                yield SumsProblem(f"{where}.{key}", _v(value), "0, since n is 0 (no units)")
        return
    spread = _spread(where, n, cross.sum, cross.sum_sq)
    if spread is not None:
        yield spread
        return
    pair = _correlation(
        f"{where}.sumProduct", n, (arm.sum, arm.sum_sq), (cross.sum, cross.sum_sq),
        cross.sum_product,
    )  # fmt: skip
    if pair is not None:
        yield pair


def _arm(where: str, arm: ArmSums, units: float | None) -> Iterator[SumsProblem]:
    if not _whole(arm.n) or arm.n < 0:
        yield SumsProblem(f"{where}.n", _v(arm.n), WHOLE_UNITS)
        return
    if units is not None and _whole(units) and arm.n > units:
        yield SumsProblem(
            f"{where}.n", _v(arm.n), f"at most the variant's units ({_g(units)}): a metric counts "
            "units of the variant"
        )  # fmt: skip
    if arm.n == 0:
        for key, value in (("sum", arm.sum), ("sumSq", arm.sum_sq)):
            if value != 0:
                yield SumsProblem(f"{where}.{key}", _v(value), "0, since n is 0 (no units)")
    else:
        spread = _spread(where, arm.n, arm.sum, arm.sum_sq)
        if spread is not None:
            yield spread
            return
    found = False
    for key, cross in (("covariate", arm.covariate), ("denominator", arm.denominator)):
        if cross is not None:
            for problem in _cross(f"{where}.{key}", arm, cross):
                found = True
                yield problem
    cov, den = arm.covariate, arm.denominator
    if found or arm.n == 0 or cov is None or den is None or cov.sum_product_denominator is None:
        return
    pair = _correlation(
        f"{where}.covariate.sumProductDenominator", arm.n, (cov.sum, cov.sum_sq),
        (den.sum, den.sum_sq), cov.sum_product_denominator,
    )  # fmt: skip
    if pair is not None:
        yield pair


def _slices(sums: ExperimentSums, where: str) -> Iterator[tuple[str, SliceSums]]:
    yield where, sums
    for name, part in sums.segments.items():
        yield f"{where}.segments.{name}", part


def impossible(sums: ExperimentSums, where: str = "$") -> list[SumsProblem]:
    """Every contradiction in `sums` that holds whatever the metrics' types (module docstring)."""
    problems: list[SumsProblem] = []
    for path, part in _slices(sums, where):
        for variant, units in part.units.items():
            if not _whole(units) or units < 0:
                problems.append(SumsProblem(f"{path}.units.{variant}", _v(units), WHOLE_UNITS))
        for name, arms in part.metrics.items():
            for variant, arm in arms.items():
                owned = part.units.get(variant)
                if arm.sketch is not None:  # a quantile metric: n may count events
                    owned = None
                    if arm.sketch.count != arm.n:
                        problems.append(SumsProblem(
                            f"{path}.metrics.{name}.{variant}.sketch.count",
                            arm.sketch.count, f"n = {_g(arm.n)}: the sketch holds the n values",
                        ))  # fmt: skip
                problems += _arm(f"{path}.metrics.{name}.{variant}", arm, owned)
    return problems


def _typed(where: str, arm: ArmSums, kind: str) -> Iterator[SumsProblem]:
    """The rules of a conversion (0/1 per unit) or a count (0, 1, 2, ... per unit)."""
    if kind == "conversion":
        if not _whole(arm.sum) or not 0 <= arm.sum <= arm.n:
            expected = (
                f"a whole number of converted units between 0 and n = {_g(arm.n)} "
                "(a conversion metric is 0 or 1 per unit)"
            )
            yield SumsProblem(f"{where}.sum", _v(arm.sum), expected)
        elif arm.sum_sq != arm.sum:
            expected = (
                f"sumSq equal to sum ({_g(arm.sum)}): a conversion is 0 or 1 per unit, so "
                "each unit's square is its value"
            )
            yield SumsProblem(f"{where}.sumSq", _v(arm.sum_sq), expected)
    elif not _whole(arm.sum) or arm.sum < 0:
        expected = "a whole number >= 0 (a count is 0, 1, 2, ... per unit or cluster)"
        yield SumsProblem(f"{where}.sum", _v(arm.sum), expected)
    elif arm.sum_sq < arm.sum:
        expected = (
            f"sumSq >= sum ({_g(arm.sum)}): a count metric is a whole number >= 0 per unit, "
            "whose square is at least itself"
        )
        yield SumsProblem(f"{where}.sumSq", _v(arm.sum_sq), expected)


def impossible_for(
    sums: ExperimentSums, experiment: Experiment, where: str = "$"
) -> list[SumsProblem]:
    """Every contradiction in `sums`, given the metrics' types in `experiment`.

    When an arm breaks its type's rule, that problem replaces the general one it implies
    (5 conversions of 3 units is reported as such, not as the negative variance it implies).
    """
    kinds: dict[str, str] = {}
    for _, metric in experiment.metrics.all():
        if metric.type in (MetricType.CONVERSION, MetricType.RETENTION):
            # Cluster and switchback sums are over clusters or cells: a conversion total counts
            # the converted units in it (0, 1, 2, ...).
            kinds.setdefault(
                metric.name, "count" if experiment.design is not None else "conversion"
            )
        elif metric.type is MetricType.CONTINUOUS and metric.aggregation == "count":
            kinds.setdefault(metric.name, "count")
    typed: list[SumsProblem] = []
    for path, part in _slices(sums, where):
        for name, kind in kinds.items():
            for variant, arm in part.metrics.get(name, {}).items():
                if _whole(arm.n) and arm.n >= 0:
                    typed += _typed(f"{path}.metrics.{name}.{variant}", arm, kind)
    implied = {f"{p.path.rsplit('.', 1)[0]}.{key}" for p in typed for key in ("sum", "sumSq")}
    return [p for p in impossible(sums, where) if p.path not in implied] + typed
