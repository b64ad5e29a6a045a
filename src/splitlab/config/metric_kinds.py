"""Cross-field rules of retention and time-to-event metrics (docs/configuration.md,
"Retention and time-to-event metrics").

* ``retention`` (the window ``{"day": N, "days": 1}``) is required on a ``retention`` metric
  and refused on every other type; ``horizonHours`` likewise for ``time_to_event``.
* Both types measure a unit by when its events happen after its first exposure, not by
  values, so the value options do not apply: ``cuped``, ``windowHours`` and an
  ``aggregation`` other than the default are refused. (``cap``/``covariateCap``,
  ``quantile`` and ``numerator``/``denominator`` are refused for these types by the general
  rules of :mod:`splitlab.config.checks`.)
* Both are analysed for individually randomised units only: a cluster or switchback design
  compares cluster or cell totals, which have no per-unit retention window or survival
  table, so the definition is refused there.

The rules read the raw camelCase mapping defensively, like the other checks, and report each
problem with its JSON path, the value found and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splitlab.config.errors import Problem

RETENTION = "retention"
TIME_TO_EVENT = "time_to_event"
NEW_KINDS = (RETENTION, TIME_TO_EVENT)

#: The field each type requires, what it holds, and the type that owns it.
_OWN_FIELD = {
    RETENTION: ("retention", 'the retention window, e.g. {"day": 7, "days": 1}'),
    TIME_TO_EVENT: ("horizonHours", "the horizon in hours (a number > 0, e.g. 72)"),
}

#: Value options that do not apply to a unit's event timing.
_VALUE_OPTIONS = ("cuped", "windowHours", "aggregation")


def check_metric_kinds(raw: Mapping[str, Any], problems: list[Problem]) -> None:
    """Every problem of the retention and time-to-event rules in a definition."""
    metrics = raw.get("metrics")
    if not isinstance(metrics, Mapping):
        return
    design = raw.get("design")
    kind = design.get("type") if isinstance(design, Mapping) else None
    entries: list[tuple[str, Any]] = [("$.metrics.primary", metrics.get("primary"))]
    for role in ("secondary", "guardrails"):
        items = metrics.get(role)
        if isinstance(items, list):
            entries += [(f"$.metrics.{role}[{i}]", m) for i, m in enumerate(items)]
    for path, metric in entries:
        if isinstance(metric, Mapping):
            _check_metric(
                path, metric, kind if kind in ("cluster", "switchback") else None, problems
            )


def _check_metric(
    path: str, metric: Mapping[str, Any], grouped: str | None, problems: list[Problem]
) -> None:
    mtype = metric.get("type", "conversion")
    for owner, (key, what) in _OWN_FIELD.items():
        value = metric.get(key)
        if mtype == owner and value is None:
            problems.append(Problem(f"{path}.{key}", None, f"{what} for a {owner} metric"))
        elif mtype != owner and value is not None:
            problems.append(
                Problem(f"{path}.{key}", value, f"nothing (only {owner} metrics have one)")
            )
    if mtype not in NEW_KINDS:
        return
    for key in _VALUE_OPTIONS:
        if key not in metric:
            continue
        value = metric[key]
        if key == "cuped" and value is True:
            problems.append(
                Problem(
                    f"{path}.cuped",
                    True,
                    f"false: CUPED does not apply to a {mtype} metric (it is measured by when "
                    "the unit's events happen, with no pre-exposure value to adjust by)",
                )
            )
        elif key == "windowHours" and value is not None:
            problems.append(
                Problem(
                    f"{path}.windowHours",
                    value,
                    f"nothing for a {mtype} metric: its window is "
                    + ("retention.day/days" if mtype == RETENTION else "horizonHours"),
                )
            )
        elif key == "aggregation" and value != "sum":
            problems.append(
                Problem(
                    f"{path}.aggregation",
                    value,
                    f"nothing (the default) for a {mtype} metric: it counts whether and when "
                    "the unit's event happened, not an aggregate of values",
                )
            )
    if grouped is not None:
        problems.append(
            Problem(
                f"{path}.type",
                mtype,
                f"'conversion', 'continuous' or 'ratio' in a {grouped} design: {mtype} metrics "
                "need each unit's own first exposure and follow-up, which cluster or cell "
                "totals do not have",
            )
        )
