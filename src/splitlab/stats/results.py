"""The results of one analysis and their JSON form (the results JSON of docs/architecture.md).

Every number in the JSON is finite: a quantity that cannot be computed is ``null`` and the
comparison says why (``estimable: false`` with a ``reason``), so ``json.dumps(...,
allow_nan=False)`` always succeeds. Results render themselves in a terminal (``__rich__``)
and in a notebook (``_repr_html_``).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from splitlab.stats.relative import Interval
from splitlab.stats.srm import SrmResult
from splitlab.stats.sums import count

if TYPE_CHECKING:
    from rich.console import RenderableType

Action = Literal["continue", "ship", "stop", "rollback", "halt"]
Verdict = Literal["breached", "passed", "unknown"]
DirectionName = Literal["better", "worse", "none"]


def num(x: float | None) -> float | None:
    """A finite float, or None (JSON null) for missing, NaN or infinite values."""
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def _interval(i: Interval | None) -> dict[str, float | None] | None:
    if i is None:
        return None
    return {"estimate": num(i.estimate), "lower": num(i.lower), "upper": num(i.upper)}


@dataclass(frozen=True, slots=True)
class SequentialInfo:
    """How repeated looks were accounted for at this look."""

    method: str
    boundary: float | None
    alpha_spent: float
    information_fraction: float
    final: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "boundary": num(self.boundary),
            "alphaSpent": num(self.alpha_spent),
            "informationFraction": num(self.information_fraction),
            "final": self.final,
        }


@dataclass(frozen=True, slots=True)
class GuardrailCheck:
    """A guardrail's verdict: breached, passed (non-inferiority shown) or unknown."""

    verdict: Verdict
    margin: float
    threshold_type: str
    action: str
    reason: str
    harm: Interval | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "margin": num(self.margin),
            "thresholdType": self.threshold_type,
            "action": self.action,
            "reason": self.reason,
            "harm": _interval(self.harm),
        }


@dataclass(frozen=True, slots=True)
class BayesianResult:
    """Posterior summaries of the absolute difference (variant - control)."""

    chance_to_beat_control: float
    expected_loss: float
    credible_interval: Interval
    prior: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "chanceToBeatControl": num(self.chance_to_beat_control),
            "expectedLoss": num(self.expected_loss),
            "credibleInterval": _interval(self.credible_interval),
            "prior": self.prior,
        }


@dataclass(frozen=True, slots=True)
class Comparison:
    """One variant against control on one metric."""

    variant: str
    control: str
    estimable: bool
    reason: str | None = None
    absolute: Interval | None = None
    relative: Interval | None = None
    p_value: float | None = None
    sequential_p_value: float | None = None
    adjusted_p_value: float | None = None
    significant: bool = False
    direction: DirectionName = "none"
    sequential: SequentialInfo | None = None
    control_mean: float | None = None
    variant_mean: float | None = None
    units: tuple[float, float] = (0.0, 0.0)
    notes: tuple[str, ...] = ()
    guardrail: GuardrailCheck | None = None
    bayesian: BayesianResult | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "variant": self.variant,
            "control": self.control,
            "estimable": self.estimable,
            "reason": self.reason,
            "controlMean": num(self.control_mean),
            "variantMean": num(self.variant_mean),
            "units": {"control": count(self.units[0]), "variant": count(self.units[1])},
            "absolute": _interval(self.absolute),
            "relative": _interval(self.relative),
            "pValue": num(self.p_value),
            "sequentialPValue": num(self.sequential_p_value),
            "adjustedPValue": num(self.adjusted_p_value),
            "significant": self.significant,
            "direction": self.direction,
            "sequential": None if self.sequential is None else self.sequential.to_dict(),
            "notes": list(self.notes),
        }
        if self.guardrail is not None:
            out["guardrail"] = self.guardrail.to_dict()
        if self.bayesian is not None:
            out["bayesian"] = self.bayesian.to_dict()
        return out


@dataclass(frozen=True, slots=True)
class MetricResult:
    name: str
    role: str
    type: str
    direction: str
    comparisons: tuple[Comparison, ...]
    #: Quantile metrics: what is compared, e.g. ``"p95 per event"`` (None for other types).
    quantile: str | None = None
    #: Time-to-event metrics: what is compared, e.g. ``"restricted mean time to purchase
    #: within 72 h"`` (None for other types).
    time_to_event: str | None = None
    #: Retention metrics: the window, e.g. ``"day 7 retention (...)"`` (None otherwise).
    retention: str | None = None
    #: Retention metrics, per variant: the units whose window had closed by the cut-off (the
    #: ``n`` of the rate) and the exposed units still in their window (not counted yet).
    eligible: dict[str, float] | None = None
    still_in_window: dict[str, float] | None = None

    @property
    def detail(self) -> str | None:
        """What a quantile, time-to-event or retention metric compares (None otherwise)."""
        return self.quantile or self.time_to_event or self.retention

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "role": self.role,
            "type": self.type,
            "wantedDirection": self.direction,
            "comparisons": [c.to_dict() for c in self.comparisons],
        }
        if self.quantile is not None:
            out["quantile"] = self.quantile
        if self.time_to_event is not None:
            out["timeToEvent"] = self.time_to_event
        if self.retention is not None:
            out["retention"] = self.retention
        if self.eligible is not None:
            out["eligible"] = {k: count(v) for k, v in self.eligible.items()}
        if self.still_in_window is not None:
            out["stillInWindow"] = {k: count(v) for k, v in self.still_in_window.items()}
        return out


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do now, with one plain-English sentence per reason."""

    action: Action
    variant: str | None
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "variant": self.variant, "reasons": list(self.reasons)}


class DesignResult(Protocol):
    """A design's block of the results (``design`` in the JSON): what a non-classic design
    adds, e.g. :class:`splitlab.stats.cluster.ClusterDesignResult` or
    :class:`splitlab.stats.switchback.SwitchbackDesignResult`."""

    @property
    def warnings(self) -> tuple[str, ...]: ...

    def to_dict(self) -> dict[str, Any]: ...

    def summary(self) -> str: ...


@dataclass(frozen=True)
class Results:
    """Everything one look at an experiment concluded."""

    experiment_id: str
    look: int
    max_peeks: int
    method: str
    correction: str
    alpha: float
    srm: SrmResult
    metrics: tuple[MetricResult, ...]
    decision: Decision
    units: dict[str, float] = field(default_factory=dict)
    information_fraction: float = 0.0
    final_look: bool = False
    warnings: tuple[str, ...] = ()
    segment: str | None = None
    #: Cluster (or switchback) designs: the design's counts, correction and warnings; None
    #: for the classic design (and then absent from the JSON).
    design: DesignResult | None = None

    def metric(self, name: str) -> MetricResult:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(name)

    def comparison(self, metric: str, variant: str) -> Comparison:
        for c in self.metric(metric).comparisons:
            if c.variant == variant:
                return c
        raise KeyError((metric, variant))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "experimentId": self.experiment_id,
            "look": self.look,
            "maxPeeks": self.max_peeks,
            "segment": self.segment,
            "method": self.method,
            "correction": self.correction,
            "alpha": self.alpha,
            "units": {k: count(v) for k, v in self.units.items()},
            "informationFraction": num(self.information_fraction),
            "finalLook": self.final_look,
            "srm": self.srm.to_dict(),
            "decision": self.decision.to_dict(),
            "metrics": [m.to_dict() for m in self.metrics],
            "warnings": list(self.warnings),
        }
        if self.design is not None:
            out["design"] = self.design.to_dict()
        return out

    def __rich__(self) -> RenderableType:
        from splitlab.stats.render import rich_results

        return rich_results(self)

    def _repr_html_(self) -> str:
        from splitlab.stats.render import html_results

        return html_results(self, html.escape)
