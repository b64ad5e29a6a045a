"""Cross-field rules of an experiment definition.

They read the raw (camelCase) mapping defensively, so that they can run even when field
validation failed elsewhere, and every problem of a definition is reported at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from splitlab.config.conditions import validate_condition
from splitlab.config.designs import check_design
from splitlab.config.errors import Problem
from splitlab.config.layers import check_layering
from splitlab.config.metric_kinds import check_metric_kinds
from splitlab.config.rules import validate_rules

SEGMENT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$")
SCHEDULE = re.compile(
    r"^(hourly|daily_(?:[01]\d|2[0-3])[0-5]\d_utc|"
    r"(?:[0-9*,/\-]+ ){4}[0-9*,/\-A-Za-z]+)$"
)
WEIGHT_TOLERANCE = 1e-6


def check_experiment(raw: Mapping[str, Any]) -> list[Problem]:
    """Every cross-field problem of a definition given as its camelCase mapping."""
    problems: list[Problem] = []
    names = _variant_names(raw, problems)
    _check_weights(raw, problems)
    _check_variant_refs(raw, names, problems)
    design = raw.get("design")
    kind = design.get("type") if isinstance(design, Mapping) else None
    _check_metrics(
        raw.get("metrics"), problems, kind if kind in ("cluster", "switchback") else None
    )
    check_metric_kinds(raw, problems)
    _check_targeting(raw.get("targeting"), problems)
    _check_segments(raw, problems)
    check_design(raw, problems)
    check_layering(raw, problems)
    evaluation = raw.get("evaluation")
    if isinstance(evaluation, Mapping):
        schedule = evaluation.get("schedule")
        if isinstance(schedule, str) and not SCHEDULE.match(schedule.strip()):
            problems.append(
                Problem(
                    "$.evaluation.schedule",
                    schedule,
                    "'hourly', 'daily_HHMM_utc' (like 'daily_0900_utc') or a 5-field cron "
                    "expression (like '0 9 * * *')",
                )
            )
    return problems


def _variant_names(raw: Mapping[str, Any], problems: list[Problem]) -> list[str]:
    variants = raw.get("variants")
    if not isinstance(variants, list):
        return []
    names: list[str] = []
    for i, v in enumerate(variants):
        name = v if isinstance(v, str) else v.get("name") if isinstance(v, Mapping) else None
        if not isinstance(name, str):
            continue
        if name in names:
            problems.append(
                Problem(f"$.variants[{i}]", name, "a variant name not used before (duplicate)")
            )
        names.append(name)
    return names


def _check_weights(raw: Mapping[str, Any], problems: list[Problem]) -> None:
    variants = raw.get("variants")
    if not isinstance(variants, list):
        return
    weights = [v.get("weight") if isinstance(v, Mapping) else None for v in variants]
    given = [w for w in weights if w is not None]
    if not given:
        return
    if len(given) != len(weights):
        missing = [i for i, w in enumerate(weights) if w is None]
        problems.append(
            Problem(
                f"$.variants[{missing[0]}].weight",
                None,
                "a weight on every variant once any variant has one",
            )
        )
        return
    if all(isinstance(w, int | float) and not isinstance(w, bool) for w in given):
        total = math.fsum(given)
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            problems.append(
                Problem(
                    "$.variants[*].weight", given, f"weights summing to 1 (they sum to {total:g})"
                )
            )


def _check_variant_refs(raw: Mapping[str, Any], names: list[str], problems: list[Problem]) -> None:
    if not names:
        return
    expected = "one of the variants " + ", ".join(repr(n) for n in names)
    for key in ("control", "shippedVariant", "forcedVariant"):
        value = raw.get(key)
        if value is not None and value != "" and value not in names:
            problems.append(Problem(f"$.{key}", value, expected))
    if raw.get("status") == "shipped" and not raw.get("shippedVariant"):
        problems.append(
            Problem(
                "$.shippedVariant", None, "the variant that was shipped when status is 'shipped'"
            )
        )
    assignment = raw.get("assignment")
    forced = assignment.get("forced") if isinstance(assignment, Mapping) else None
    if not isinstance(forced, Mapping):
        return
    seen: dict[str, str] = {}
    for variant, units in forced.items():
        if variant not in names:
            problems.append(Problem(f"$.assignment.forced.{variant}", variant, expected))
        if not isinstance(units, list):
            continue
        for j, unit in enumerate(units):
            if isinstance(unit, str) and unit in seen and seen[unit] != variant:
                problems.append(
                    Problem(
                        f"$.assignment.forced.{variant}[{j}]",
                        unit,
                        f"a unit forced into one variant only (also in {seen[unit]!r})",
                    )
                )
            elif isinstance(unit, str):
                seen[unit] = variant


def _check_metrics(metrics: Any, problems: list[Problem], uncappable: str | None = None) -> None:
    """`uncappable`: the design type (cluster, switchback) whose sums take no caps."""
    if not isinstance(metrics, Mapping):
        return
    entries: list[tuple[str, Any]] = [("$.metrics.primary", metrics.get("primary"))]
    for role in ("secondary", "guardrails"):
        items = metrics.get(role)
        if isinstance(items, list):
            entries += [(f"$.metrics.{role}[{i}]", m) for i, m in enumerate(items)]
    seen: set[str] = set()
    for path, metric in entries:
        if not isinstance(metric, Mapping):
            continue
        name = metric.get("name")
        if isinstance(name, str):
            if name in seen:
                problems.append(Problem(f"{path}.name", name, "a metric name not used before"))
            seen.add(name)
        _check_quantile(path, metric, problems)
        _check_caps(path, metric, problems)
        for key in ("cap", "covariateCap"):
            if uncappable and metric.get(key) is not None:
                problems.append(
                    Problem(
                        f"{path}.{key}",
                        metric[key],
                        f"nothing: caps apply to individual-unit designs, not to a {uncappable} "
                        "design",
                    )
                )
        is_ratio = metric.get("type") == "ratio"
        for part in ("numerator", "denominator"):
            value = metric.get(part)
            if is_ratio and not value:
                problems.append(
                    Problem(f"{path}.{part}", value, "an event name (required for a ratio metric)")
                )
            elif not is_ratio and value is not None:
                problems.append(
                    Problem(f"{path}.{part}", value, "nothing (only ratio metrics have one)")
                )


def _check_quantile(path: str, metric: Mapping[str, Any], problems: list[Problem]) -> None:
    """``quantile`` belongs to quantile metrics, and they need it."""
    is_quantile = metric.get("type") == "quantile"
    value = metric.get("quantile")
    if is_quantile and value is None:
        problems.append(
            Problem(
                f"{path}.quantile", None, "a probability in (0, 1) for a quantile metric, e.g. 0.95"
            )
        )
    elif not is_quantile and value is not None:
        problems.append(
            Problem(f"{path}.quantile", value, "nothing (only quantile metrics have one)")
        )
    if is_quantile and metric.get("cuped"):
        problems.append(
            Problem(f"{path}.cuped", True, "false: CUPED does not apply to a quantile metric")
        )


def _check_caps(path: str, metric: Mapping[str, Any], problems: list[Problem]) -> None:
    """Caps belong to continuous and ratio metrics; each names the number its type needs."""
    kind = metric.get("type", "conversion")
    for key in ("cap", "covariateCap"):
        cap = metric.get(key)
        if cap is None:
            continue
        where = f"{path}.{key}"
        if kind not in ("continuous", "ratio"):
            problems.append(
                Problem(
                    where,
                    cap,
                    f"nothing: a cap applies to continuous and ratio metrics, not to a {kind} "
                    "metric",
                )
            )
            continue
        if key == "covariateCap" and not metric.get("cuped"):
            problems.append(Problem(where, cap, "nothing unless the metric has cuped: true"))
        if not isinstance(cap, Mapping):
            continue
        rule = cap.get("type")
        if rule == "fixed" and cap.get("value") is None:
            problems.append(
                Problem(f"{where}.value", None, "a number > 0 (the cap) for a fixed cap")
            )
        if rule == "fixed" and cap.get("percentile") is not None:
            problems.append(
                Problem(f"{where}.percentile", cap.get("percentile"), "nothing for a fixed cap")
            )
        if rule == "percentile" and cap.get("percentile") is None:
            problems.append(
                Problem(
                    f"{where}.percentile",
                    None,
                    "a percentile in (0, 100), e.g. 99, for a percentile cap",
                )
            )
        if rule == "percentile" and cap.get("value") is not None:
            problems.append(
                Problem(f"{where}.value", cap.get("value"), "nothing for a percentile cap")
            )


def _check_targeting(targeting: Any, problems: list[Problem]) -> None:
    if not isinstance(targeting, Mapping):
        return
    include, exclude = targeting.get("include", []), targeting.get("exclude", [])
    if isinstance(include, list) and isinstance(exclude, list):
        for path, value, expected in validate_rules(include, exclude, "$.targeting"):
            problems.append(Problem(path, value, expected))
    condition = targeting.get("condition")
    if isinstance(condition, Mapping):
        for path, value, expected in validate_condition(condition, "$.targeting.condition"):
            problems.append(Problem(path, value, expected))


def _check_segments(raw: Mapping[str, Any], problems: list[Problem]) -> None:
    segments = raw.get("segments")
    names: list[str] = []
    if isinstance(segments, list):
        for i, segment in enumerate(segments):
            if not isinstance(segment, str):
                continue
            if not SEGMENT_NAME.match(segment):
                problems.append(
                    Problem(
                        f"$.segments[{i}]",
                        segment,
                        "an attribute name of letters, digits, '_' or '.', starting with a letter",
                    )
                )
            elif segment in names:
                problems.append(Problem(f"$.segments[{i}]", segment, "a segment not listed before"))
            names.append(segment)
    evaluation = raw.get("evaluation")
    if isinstance(evaluation, Mapping):
        strat = evaluation.get("postStratify")
        if strat is not None and strat not in names:
            problems.append(
                Problem("$.evaluation.postStratify", strat, "one of the declared segments")
            )
