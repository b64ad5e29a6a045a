"""Targeting compiled once per experiment: the include / exclude rules AND the condition.

Targeting is applied before bucketing: a unit that is not targeted is never hashed, so
targeting changes who enters an experiment but never which variant a targeted unit gets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from splitlab.config.conditions import Matcher, compile_condition, compile_rules
from splitlab.config.models import Targeting

__all__ = ["compile_targeting"]


def compile_targeting(
    targeting: Targeting, saved_groups: Mapping[str, Sequence[Any]] | None = None
) -> Matcher | None:
    """A predicate over attributes (True = targeted), or None when everyone is targeted.

    Raises ``ConditionError`` when a rule or the condition is malformed.
    """
    rules = (
        compile_rules(targeting.include, targeting.exclude)
        if targeting.include or targeting.exclude
        else None
    )
    condition = (
        compile_condition(targeting.condition, saved_groups)
        if targeting.condition is not None
        else None
    )
    if rules is None:
        return condition
    if condition is None:
        return rules
    first, second = rules, condition

    def both(attributes: Mapping[str, Any]) -> bool:
        return first(attributes) and second(attributes)

    return both
