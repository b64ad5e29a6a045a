"""The ``design`` of an experiment: how units are randomised beyond the classic test.

Absent (``None``) means the classic individually randomised experiment. Two designs are
defined here; the adaptive ones (canary, bandit) in :mod:`splitlab.config.adaptive`:

* ``{"type": "cluster", "analysisUnit": "userId"}``: units are randomised in clusters (the
  ``assignment.hashKey`` attribute, e.g. ``accountId``) and the metrics are measured per
  analysis unit (e.g. per user). Events carry both ids (``unitId`` is the analysis unit,
  ``clusterId`` the randomisation unit); the analysis works on cluster totals.
* ``{"type": "switchback", "unit": "region", "periodSeconds": 3600, "burnInSeconds": 600}``:
  the variant of a switchback unit (an attribute's value, or one global unit when ``unit`` is
  absent) is re-drawn every period; events are attributed to their (unit, period) cell by
  timestamp and those in the first ``burnInSeconds`` of every period are left out.

docs/designs.md describes both for users.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from splitlab.config.adaptive import BanditDesign, CanaryDesign, check_adaptive
from splitlab.config.allocation import Allocation, check_allocation
from splitlab.config.errors import Problem
from splitlab.config.layers import HoldoutDesign
from splitlab.config.models_base import Model, Name

#: The clock skew an SDK may have against the server, in seconds. A switchback's burn-in must
#: be longer, so that an event stamped by a skewed clock still falls inside its own period.
MAX_CLOCK_SKEW_SECONDS = 30
#: The longest switchback period: 31 days.
MAX_PERIOD_SECONDS = 31 * 86_400
#: Switchback periods are counted from this instant unless ``origin`` says otherwise.
DEFAULT_ORIGIN = "1970-01-01T00:00:00Z"
#: The one form of ``origin`` every SDK parses alike: date, ``T``, hours and minutes, optional
#: seconds and milliseconds, then ``Z`` or a ``+HH:MM`` / ``-HH:MM`` offset.
ORIGIN_PATTERN = re.compile(
    r"^\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,3})?)?"
    r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$"
)
ORIGIN_RULE = (
    "an ISO 8601 date-time with a UTC offset, like '2026-01-01T00:00:00Z' or "
    "'2026-01-01T00:00:00+05:30' (YYYY-MM-DDTHH:MM[:SS[.mmm]] then Z or +HH:MM / -HH:MM)"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ClusterDesign(Model):
    """Cluster randomisation: randomise by ``assignment.hashKey``, analyse per ``analysisUnit``."""

    type: Literal["cluster"]
    #: The attribute naming the unit the metrics are measured on (e.g. ``userId``); it must
    #: differ from ``assignment.hashKey``, which names the cluster.
    analysis_unit: Name
    #: An explicit allocation table (:mod:`splitlab.config.allocation`) instead of hashing
    #: the clusters; None: clusters are hashed like any unit.
    allocation: Allocation | None = None


class SwitchbackDesign(Model):
    """Switchback: the variant of a unit changes from period to period."""

    type: Literal["switchback"]
    #: The attribute whose value is the switchback unit (e.g. ``region``); None: one global
    #: unit for all traffic.
    unit: Name | None = None
    #: Period length in whole seconds (60 s to 31 days).
    period_seconds: Annotated[int, Field(ge=60, le=MAX_PERIOD_SECONDS)]
    #: Events in the first ``burnInSeconds`` of every period are left out of the analysis
    #: (carry-over from the previous period). Longer than the SDKs' allowed clock skew and
    #: shorter than the period.
    burn_in_seconds: Annotated[int, Field(gt=MAX_CLOCK_SKEW_SECONDS)]
    #: Period 0 starts at this instant (ISO 8601 with an offset); periods are
    #: ``floor((t - origin) / periodSeconds)``. An offset like ``+05:30`` aligns hourly
    #: periods with that time zone's half hours.
    origin: Annotated[str, Field(min_length=1, max_length=40)] = DEFAULT_ORIGIN
    #: The test: ``"horvitz_thompson"`` (design-based, any number of units) or
    #: ``"regression"`` (period fixed effects, unit-clustered errors; needs a ``unit`` and is
    #: reliable only with many units). The other is shown beside it as a note.
    estimator: Literal["horvitz_thompson", "regression"] = "horvitz_thompson"


Design = Annotated[
    ClusterDesign | SwitchbackDesign | CanaryDesign | BanditDesign | HoldoutDesign,
    Field(discriminator="type"),
]


def check_design(raw: Mapping[str, Any], problems: list[Problem]) -> None:
    """Cross-field rules of ``design`` (read defensively from the camelCase mapping)."""
    design = raw.get("design")
    if not isinstance(design, Mapping):
        _check_levels(raw, problems, is_cluster=False)
        return
    kind = design.get("type")
    assignment = raw.get("assignment")
    hash_key = assignment.get("hashKey", "userId") if isinstance(assignment, Mapping) else None
    _check_levels(raw, problems, is_cluster=kind == "cluster")
    if kind in ("canary", "bandit"):
        check_adaptive(raw, design, problems)
    elif kind == "cluster":
        unit = design.get("analysisUnit")
        if isinstance(unit, str) and unit == hash_key:
            problems.append(
                Problem(
                    "$.design.analysisUnit",
                    unit,
                    "an attribute other than assignment.hashKey (the cluster): with both the "
                    "same the experiment is an ordinary one; leave design out",
                )
            )
        allocation = design.get("allocation")
        if isinstance(allocation, Mapping):
            check_allocation(raw, allocation, problems)
    elif kind == "switchback":
        sw_unit = design.get("unit")
        if isinstance(sw_unit, str) and sw_unit == hash_key:
            problems.append(
                Problem(
                    "$.assignment.hashKey",
                    hash_key,
                    "an attribute other than design.unit for a switchback: hashKey names the "
                    "measured unit (the user, whose events are counted; default userId) and "
                    "plays no part in the draw, which follows design.unit and the period",
                )
            )
        if design.get("estimator") == "regression" and design.get("unit") is None:
            problems.append(
                Problem(
                    "$.design.estimator",
                    "regression",
                    "'horvitz_thompson' for a global switchback (no unit): the regression "
                    "needs at least two units randomised in every period",
                )
            )
        period = design.get("periodSeconds")
        burn_in = design.get("burnInSeconds")
        if (
            isinstance(period, int)
            and isinstance(burn_in, int)
            and not isinstance(period, bool)
            and not isinstance(burn_in, bool)
            and 60 <= period <= MAX_PERIOD_SECONDS  # else the period's own problem says it
            and burn_in >= period
        ):
            problems.append(
                Problem(
                    "$.design.burnInSeconds",
                    burn_in,
                    f"fewer seconds than the period (periodSeconds is {period})",
                )
            )
        origin = design.get("origin")
        if isinstance(origin, str) and parse_origin(origin) is None:
            problems.append(Problem("$.design.origin", origin, ORIGIN_RULE))
        _check_switchback_traffic(raw, problems)


def _check_switchback_traffic(raw: Mapping[str, Any], problems: list[Problem]) -> None:
    """A switchback serves one variant to ALL traffic of a (unit, period) cell.

    A traffic gate or a per-user allow-list would put part of a cell's traffic on another
    variant, which is the interference a switchback exists to avoid, so both are refused.
    """
    allocation = raw.get("trafficAllocation", 1.0)
    if isinstance(allocation, int | float) and not isinstance(allocation, bool) and allocation < 1:
        problems.append(
            Problem(
                "$.trafficAllocation",
                allocation,
                "1 for a switchback design (every request of a unit and period gets the "
                "period's variant; restrict who is in the experiment with targeting instead)",
            )
        )
    assignment = raw.get("assignment")
    forced = assignment.get("forced") if isinstance(assignment, Mapping) else None
    if isinstance(forced, Mapping) and any(forced.values()):
        problems.append(
            Problem(
                "$.assignment.forced",
                dict(forced),
                "no forced units for a switchback design (a QA tester would change the variant "
                "of their whole cell); use the variant toggle (forcedVariant) instead",
            )
        )


def parse_origin(text: str) -> int | None:
    """``origin`` as exact epoch milliseconds; None unless it matches :data:`ORIGIN_PATTERN`.

    Only that one form is accepted so that every SDK computes the same instant.
    """
    if ORIGIN_PATTERN.match(text) is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (moment - _EPOCH) // timedelta(milliseconds=1)
    except (ValueError, OverflowError):  # 2026-02-30, or before year 1 once offset
        return None


def _check_levels(raw: Mapping[str, Any], problems: list[Problem], *, is_cluster: bool) -> None:
    """``level: "cluster"`` is for metrics of cluster designs only, and never for a ratio."""
    metrics = raw.get("metrics")
    if not isinstance(metrics, Mapping):
        return
    found: list[tuple[str, Any]] = [("$.metrics.primary", metrics.get("primary"))]
    for role in ("secondary", "guardrails"):
        items = metrics.get(role)
        if isinstance(items, list):
            found += [(f"$.metrics.{role}[{i}]", m) for i, m in enumerate(items)]
    for path, metric in found:
        if not (isinstance(metric, Mapping) and metric.get("level") == "cluster"):
            continue
        if is_cluster and metric.get("type") == "ratio":
            problems.append(
                Problem(
                    f"{path}.level",
                    "cluster",
                    "'unit': a ratio metric is a ratio of cluster totals; a per-cluster ratio "
                    "is not supported",
                )
            )
        elif not is_cluster:
            problems.append(
                Problem(
                    f"{path}.level",
                    "cluster",
                    "'unit': per-cluster metrics need a cluster design "
                    '(design: {"type": "cluster", ...})',
                )
            )
