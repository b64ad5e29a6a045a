"""Typed models of an experiment definition.

The wire format is the article's configuration template, camelCase, loaded unchanged; Python
attributes are snake_case (pydantic aliases map them). Every extension is optional and has a
default, so the article's JSON stays valid. Cross-field rules (duplicate variants, weights,
control, forced variants, ...) live in :mod:`splitlab.config.checks` so that they are reported
together with field errors.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from splitlab.config.adaptive import IntervalMonitor
from splitlab.config.designs import Design
from splitlab.config.layers import HoldoutDesign, Layer, TagList, holdout_weights
from splitlab.config.models_base import (
    EXPERIMENT_ID_PATTERN,
    MAX_FORCED_UNITS,
    MAX_METRICS,
    MAX_NAME,
    MAX_RULE,
    MAX_RULES,
    MAX_SEGMENTS,
    MAX_TEXT,
    MAX_VARIANTS,
    Model,
    Name,
    Short,
    Text,
)

__all__ = [
    "EXPERIMENT_ID_PATTERN",
    "MAX_FORCED_UNITS",
    "MAX_METRICS",
    "MAX_NAME",
    "MAX_RULE",
    "MAX_RULES",
    "MAX_SEGMENTS",
    "MAX_TEXT",
    "MAX_VARIANTS",
    "Model",
    "Name",
    "Short",
    "Text",
]


class Status(StrEnum):
    """Lifecycle: draft -> running -> (paused) -> stopped | rolled_back | shipped."""

    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    ROLLED_BACK = "rolled_back"
    SHIPPED = "shipped"


class MetricType(StrEnum):
    CONVERSION = "conversion"
    CONTINUOUS = "continuous"
    RATIO = "ratio"
    #: A quantile of the metric's values (e.g. p95 latency), from a mergeable sketch.
    QUANTILE = "quantile"
    #: Day-N retention: the share of units with an event in ``retention`` days after their
    #: first exposure, among the units whose window has closed by the cut-off.
    RETENTION = "retention"
    #: Time from the first exposure to the unit's first event, censored at the cut-off:
    #: Kaplan-Meier curves and the restricted mean survival time up to ``horizonHours``.
    TIME_TO_EVENT = "time_to_event"


class Direction(StrEnum):
    """The direction in which a metric's change is good."""

    INCREASE = "increase"
    DECREASE = "decrease"


#: An enumeration read from its JSON string (strict mode would want the Python member).
Loose = Strict(False)

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
OpenUnit = Annotated[float, Field(gt=0.0, lt=1.0)]


class Variant(Model):
    """One arm. On the wire a plain string (the article) or an object with a weight."""

    name: Name
    weight: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    description: Text | None = None


class Cap(Model):
    """An upper cap on a metric's per-unit values (winsorization): values above it are set to
    it before any sum. ``fixed``: the cap is ``value``; ``percentile``: the cap is that
    percentile of the pooled per-unit values of every arm (docs/statistics.md)."""

    type: Literal["fixed", "percentile"]
    value: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None
    percentile: Annotated[float, Field(gt=0.0, lt=100.0)] | None = None

    def describe(self) -> str:
        """``"fixed"`` or ``"99th percentile"``."""
        if self.type == "fixed" or self.percentile is None:
            return "fixed"
        p = f"{self.percentile:g}"
        suffix = "th"
        if not p.endswith(("11", "12", "13")) and "." not in p:
            suffix = {"1": "st", "2": "nd", "3": "rd"}.get(p[-1], "th")
        return f"{p}{suffix} percentile"


class Retention(Model):
    """The days of a retention metric: a unit is retained when it has an event in
    ``[t0 + day * 24 h, t0 + (day + days) * 24 h)`` after its first exposure ``t0``."""

    day: Annotated[int, Field(ge=0, le=3650)]
    days: Annotated[int, Field(ge=1, le=3650)] = 1

    @property
    def start_hours(self) -> int:
        return self.day * 24

    @property
    def end_hours(self) -> int:
        return (self.day + self.days) * 24


#: The longest SQL query a metric may hold (characters).
MAX_SQL = 20_000


class SqlQuery(Model):
    """A metric defined in SQL over the user's own tables: ``query`` returns the columns
    ``unit_id``, ``timestamp`` and ``value``, and runs on the catalog's source ``source``
    (docs/sql-metrics.md)."""

    source: Name
    query: Annotated[str, Field(min_length=1, max_length=MAX_SQL)]


class Metric(Model):
    """A metric: what the store aggregates per unit and what the stats engine compares."""

    name: Name
    type: Annotated[MetricType, Loose] = MetricType.CONVERSION
    direction: Annotated[Direction, Loose] = Direction.INCREASE
    #: Event name in the store; defaults to the metric's name.
    event: Short | None = None
    #: Continuous metrics: the per-unit aggregate of event values.
    aggregation: Literal["sum", "count", "max"] = "sum"
    #: Ratio metrics: event names whose per-unit sums form numerator and denominator.
    numerator: Short | None = None
    denominator: Short | None = None
    #: CUPED: use the same metric in the pre-exposure window as covariate.
    cuped: bool = False
    #: Attribution window after the unit's first exposure, in hours (None: until the cut-off).
    window_hours: Annotated[float, Field(gt=0.0)] | None = None
    #: Cluster designs: ``"unit"`` measures the metric per analysis unit (a per-user mean,
    #: analysed as a ratio of cluster totals); ``"cluster"`` per cluster (the cluster's total,
    #: each cluster counting once). Other designs take only ``"unit"``.
    level: Literal["unit", "cluster"] = "unit"
    #: Quantile metrics: the probability (0.95 for p95).
    quantile: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    #: Quantile metrics: ``"event"`` takes the quantile over every event's value (e.g. each
    #: request's latency; the interval allows for events grouped within units), ``"unit"``
    #: over each unit's aggregated value (``aggregation``).
    per: Literal["event", "unit"] = "event"
    #: Continuous and ratio metrics: an upper cap on the per-unit value (a ratio's numerator).
    cap: Cap | None = None
    #: The cap of the CUPED covariate (default: the same rule as ``cap``, on its own values).
    covariate_cap: Cap | None = None
    #: Retention metrics: the days after the first exposure in which a return counts.
    retention: Retention | None = None
    #: Time-to-event metrics: the horizon (hours) of the restricted mean survival time and of
    #: the Kaplan-Meier curve; later events count as not (yet) happened.
    horizon_hours: Annotated[float, Field(gt=0.0, le=87_600.0)] | None = None
    #: The metric's rows come from this SQL query instead of the events sent to splitlab.
    sql: SqlQuery | None = None

    @property
    def covariate_rule(self) -> Cap | None:
        """The cap that applies to the CUPED covariate (None: not capped)."""
        return self.covariate_cap or self.cap

    @property
    def event_name(self) -> str:
        return self.event or self.name


class Guardrail(Metric):
    """A metric that must not get worse than `threshold` allows (a non-inferiority margin).

    Breached when the one-sided test shows the variant worse than control by more than the
    threshold: an absolute difference, or relative to the control mean.
    """

    direction: Annotated[Direction, Loose] = Direction.DECREASE
    threshold: Annotated[float, Field(ge=0.0)]
    threshold_type: Literal["absolute", "relative"] = "absolute"
    action: Literal["rollback", "alert"] = "rollback"


Role = Literal["primary", "secondary", "guardrail"]


class Metrics(Model):
    primary: Metric
    secondary: Annotated[list[Metric], Field(max_length=MAX_METRICS)] = Field(default_factory=list)
    guardrails: Annotated[list[Guardrail], Field(max_length=MAX_METRICS)] = Field(
        default_factory=list
    )

    def all(self) -> list[tuple[Role, Metric]]:
        """Every metric with its role, primary first."""
        out: list[tuple[Role, Metric]] = [("primary", self.primary)]
        out += [("secondary", m) for m in self.secondary]
        out += [("guardrail", g) for g in self.guardrails]
        return out


class Sequential(Model):
    """How repeated looks are controlled."""

    method: Literal["alpha_spending", "always_valid", "none"] = "alpha_spending"
    spending: Literal["obrien_fleming", "pocock"] = "obrien_fleming"
    #: Mixing scale of the always-valid (mSPRT) test; None uses the documented default.
    tau: Annotated[float, Field(gt=0.0)] | None = None


Correction = Literal["bonferroni", "holm", "benjamini_hochberg", "none"]


class Evaluation(Model):
    """The pre-registered analysis plan."""

    method: Literal["frequentist_t_test", "frequentist_z_test", "bayesian"] = "frequentist_t_test"
    alpha: OpenUnit = 0.05
    correction: Correction = "bonferroni"
    max_peeks: Annotated[int, Field(ge=1, le=1000)] = 5
    #: Planned units per variant; the sequential information fraction is measured against it.
    min_sample_size: Annotated[int, Field(ge=1)] = 1000
    schedule: Short = "daily_0900_utc"
    #: Halt when the SRM chi-square p-value falls below this (the article's halt rule).
    srm_threshold: OpenUnit = 0.01
    #: The launch check passes only when the SRM p-value is above this (article, quick start).
    launch_srm_threshold: OpenUnit = 0.05
    power: OpenUnit = 0.8
    sequential: Sequential = Field(default_factory=Sequential)
    allow_extra_looks: bool = False
    cuped_lookback_days: Annotated[int, Field(ge=1, le=365)] = 14
    relative_interval: Literal["delta", "fieller"] = "delta"
    post_stratify: Short | None = None
    #: Opt-in: judge the guardrails every ``monitor.intervalMinutes`` between planned looks,
    #: so that a breach acts within an interval (docs/canary.md, "Interval monitor").
    monitor: IntervalMonitor | None = None


class AssignmentConfig(Model):
    strategy: Literal["consistent_hash"] = "consistent_hash"
    #: The attribute that identifies the randomisation unit (user, account, tenant, ...).
    hash_key: Name = "userId"
    salt: Name
    #: QA allow-lists: variant name -> unit ids that always get that variant.
    forced: Annotated[
        dict[Name, Annotated[list[Short], Field(max_length=MAX_FORCED_UNITS)]],
        Field(max_length=MAX_VARIANTS),
    ] = Field(default_factory=dict)
    #: Sticky assignment: once exposed, a unit keeps its variant when weights, traffic or
    #: targeting change (a rollback, toggle or ship still overrides it). Bandits are always
    #: sticky.
    sticky: bool = False


Rule = Annotated[str, Field(max_length=MAX_RULE)]


class Targeting(Model):
    #: The article's rules, "attribute:value".
    include: Annotated[list[Rule], Field(max_length=MAX_RULES)] = Field(default_factory=list)
    exclude: Annotated[list[Rule], Field(max_length=MAX_RULES)] = Field(default_factory=list)
    #: A MongoDB-style condition (the language GrowthBook's SDKs made common).
    condition: dict[str, Any] | None = None


class Rollback(Model):
    enabled: bool = False
    conditions: Annotated[
        list[Literal["guardrail_breach", "srm_detected"]], Field(max_length=2)
    ] = Field(default_factory=list)
    auto_deploy: bool = False


class Experiment(Model):
    """One experiment definition, as the article's configuration template describes it."""

    experiment_id: Annotated[str, Field(pattern=EXPERIMENT_ID_PATTERN)]
    name: Text = ""
    description: Text | None = None
    status: Annotated[Status, Loose] = Status.DRAFT
    traffic_allocation: Probability = 1.0
    variants: Annotated[list[Variant], Field(min_length=2, max_length=MAX_VARIANTS)]
    #: The control variant's name; the first variant when absent.
    control: Short = ""
    assignment: AssignmentConfig
    metrics: Metrics
    evaluation: Evaluation = Field(default_factory=Evaluation)
    targeting: Targeting = Field(default_factory=Targeting)
    rollback: Rollback = Field(default_factory=Rollback)
    #: Attributes whose values define pre-registered segments (exploratory results).
    segments: Annotated[list[Short], Field(max_length=MAX_SEGMENTS)] = Field(default_factory=list)
    #: With status "shipped": the variant everyone gets.
    shipped_variant: Short | None = None
    #: The variant toggle: when set, everyone gets this variant (immediate reversion).
    forced_variant: Short | None = None
    #: How units are randomised beyond the classic test: cluster or switchback
    #: (:mod:`splitlab.config.designs`); None is the classic individually randomised test.
    design: Design | None = None
    #: Free labels (``"checkout"``, ``"pricing"``); a holdout's scope selects experiments by them.
    tags: TagList = Field(default_factory=list)
    #: The experiment's range of a layer's buckets (:mod:`splitlab.config.layers`): experiments
    #: of one layer never share a unit. None: the experiment is in no layer.
    layer: Layer | None = None

    @field_validator("variants", mode="before")
    @classmethod
    def _variants_from_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _cross_field_rules(self, info: ValidationInfo) -> Experiment:
        from splitlab.config.checks import check_experiment

        if (
            self.design is not None
            and self.design.type == "canary"
            and "traffic_allocation" not in self.model_fields_set
        ):
            object.__setattr__(self, "traffic_allocation", self.design.allocation())
        if (
            isinstance(self.design, HoldoutDesign)
            and len(self.variants) == 2
            and all(v.weight is None for v in self.variants)
        ):
            # A holdout's weights follow from its percent: held out first, everyone else.
            derived = [
                v.model_copy(update={"weight": w})
                for v, w in zip(self.variants, holdout_weights(self.design.percent), strict=True)
            ]
            object.__setattr__(self, "variants", derived)
        if not (info.context or {}).get("skip_checks"):
            problems = check_experiment(self.model_dump(by_alias=True, mode="json"))
            if problems:
                raise ValueError("; ".join(str(p) for p in problems))
        if not self.control:
            object.__setattr__(self, "control", self.variants[0].name)
        return self

    @property
    def id(self) -> str:
        return self.experiment_id

    @property
    def is_cluster(self) -> bool:
        """Whether units are randomised in clusters (``design.type == "cluster"``)."""
        return self.design is not None and self.design.type == "cluster"

    @property
    def is_switchback(self) -> bool:
        """Whether this is a switchback experiment (``design.type == "switchback"``)."""
        return self.design is not None and self.design.type == "switchback"

    @property
    def is_canary(self) -> bool:
        """Whether this is a canary release (``design.type == "canary"``)."""
        return self.design is not None and self.design.type == "canary"

    @property
    def is_bandit(self) -> bool:
        """Whether this is a multi-armed bandit (``design.type == "bandit"``)."""
        return self.design is not None and self.design.type == "bandit"

    @property
    def is_holdout(self) -> bool:
        """Whether this is a holdout (``design.type == "holdout"``)."""
        return self.design is not None and self.design.type == "holdout"

    @property
    def is_sticky(self) -> bool:
        """Whether exposed units keep their variant (``assignment.sticky``, or a bandit)."""
        return self.assignment.sticky or self.is_bandit

    @property
    def variant_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variants)

    @property
    def weights(self) -> tuple[float, ...]:
        """Variant weights, normalised to sum to 1 (equal when none are given)."""
        given = [v.weight for v in self.variants]
        if all(w is None for w in given):
            return tuple(1.0 / len(given) for _ in given)
        total = sum(w or 0.0 for w in given)
        return tuple((w or 0.0) / total for w in given)

    def metric(self, name: str) -> tuple[Role, Metric]:
        """The metric called `name` with its role; KeyError when there is none."""
        for role, m in self.metrics.all():
            if m.name == name:
                return role, m
        raise KeyError(name)
