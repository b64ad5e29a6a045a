"""Layers and holdouts: which units an experiment may take at all.

* ``"layer": {"id": "checkout", "start": 0, "end": 5000}`` on an experiment: every unit falls
  in one of the layer's :data:`LAYER_BUCKETS` buckets, hashed from the layer id and the unit
  alone (independently of any experiment's own split); the experiment only takes units whose
  bucket is in ``[start, end)``. Experiments of one layer hold disjoint ranges, so they never
  share a unit, and a new experiment takes a free range without moving anybody.
* ``"design": {"type": "holdout", "percent": 5, "scope": {"tags": ["checkout"]}}``: a holdout
  is an experiment of its own whose first variant is the held-out group (``percent`` of the
  units, at most 50) and whose second is everyone else. A held-out unit gets the control
  variant (reason ``holdout``) in every running or shipped experiment the holdout covers
  (:func:`holdout_covers`); the holdout's own results compare the two groups.

Layers and holdouts hash the experiment's own randomisation unit (``assignment.hashKey``):
a holdout covers only experiments randomised on its own ``hashKey`` (so a cluster experiment
is covered, by whole clusters, only by a holdout keyed on the cluster), and never a
switchback, a canary or another holdout. docs/assignment.md ("Layers", "Holdouts") specifies
the hashing byte for byte; docs/holdouts.md explains holdouts for users.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeGuard

from pydantic import Field

from splitlab.config.errors import Problem
from splitlab.config.models_base import EXPERIMENT_ID_PATTERN, Model

if TYPE_CHECKING:
    from splitlab.config.models import Experiment

__all__ = [
    "LAYER_BUCKETS",
    "MAX_HOLDOUT_PERCENT",
    "MAX_TAGS",
    "HoldoutDesign",
    "HoldoutScope",
    "Layer",
    "TagList",
    "check_layering",
    "holdout_covers",
    "holdout_weights",
]

#: Buckets of every layer: a range of 1 bucket is 0.01% of the units.
LAYER_BUCKETS = 10_000
#: The largest holdout: more than half the units held out is refused.
MAX_HOLDOUT_PERCENT = 50.0
#: Most tags on one experiment (and in one holdout's scope).
MAX_TAGS = 32

Tag = Annotated[str, Field(min_length=1, max_length=64)]


class Layer(Model):
    """The experiment's range ``[start, end)`` of the layer ``id``'s buckets."""

    #: The layer's name (the same rule as an experiment id); experiments naming the same id
    #: share the layer and must hold disjoint ranges.
    id: Annotated[str, Field(pattern=EXPERIMENT_ID_PATTERN)]
    #: First bucket taken (0 to 9,999).
    start: Annotated[int, Field(ge=0, lt=LAYER_BUCKETS)]
    #: One past the last bucket taken (1 to 10,000); greater than ``start``.
    end: Annotated[int, Field(gt=0, le=LAYER_BUCKETS)]


class HoldoutScope(Model):
    """Which experiments a holdout covers: those carrying at least one of ``tags``."""

    tags: Annotated[list[Tag], Field(min_length=1, max_length=MAX_TAGS)]


class HoldoutDesign(Model):
    """A long-running holdout: ``percent`` of the units get control in every covered experiment.

    The experiment has exactly two variants: the first is the held-out group (its control),
    the second everyone else; their weights follow from ``percent``.
    """

    type: Literal["holdout"]
    #: Share of the units held out, in percent: more than 0, at most 50.
    percent: Annotated[float, Field(gt=0.0, le=MAX_HOLDOUT_PERCENT)]
    #: The experiments covered: None covers every experiment on the holdout's hashKey.
    scope: HoldoutScope | None = None


def holdout_covers(holdout: Experiment, experiment: Experiment) -> bool:
    """Whether `holdout` (a holdout design) applies to `experiment`, whatever their statuses.

    Covered: an experiment other than a holdout, a switchback or a canary, randomised on the
    holdout's ``hashKey``, and carrying one of the scope's tags when the scope names tags.
    """
    design = holdout.design
    if not isinstance(design, HoldoutDesign) or experiment.experiment_id == holdout.experiment_id:
        return False
    kind = experiment.design.type if experiment.design is not None else None
    if kind in ("holdout", "switchback", "canary"):
        return False
    if experiment.assignment.hash_key != holdout.assignment.hash_key:
        return False
    if design.scope is None:
        return True
    return not set(design.scope.tags).isdisjoint(experiment.tags)


#: An experiment's tags (what holdout scopes select on).
TagList = Annotated[list[Tag], Field(max_length=MAX_TAGS)]


def holdout_weights(percent: float) -> tuple[float, float]:
    """The weights of a holdout's two variants: ``[percent / 100, 1 - percent / 100]``."""
    share = percent / 100.0
    return share, 1.0 - share


def check_layering(raw: Mapping[str, Any], problems: list[Problem]) -> None:
    """Single-definition rules of ``layer`` and of a holdout design (camelCase mapping)."""
    design = raw.get("design")
    kind = design.get("type") if isinstance(design, Mapping) else None
    layer = raw.get("layer")
    if isinstance(layer, Mapping):
        start, end = layer.get("start"), layer.get("end")
        if _is_int(start) and _is_int(end) and end <= start:
            problems.append(
                Problem(
                    "$.layer.end",
                    end,
                    f"a bucket after layer.start ({start}): the range is [start, end), "
                    f"so end must be at least {start + 1}",
                )
            )
        if kind in _NO_LAYER:
            problems.append(Problem("$.layer", dict(layer), _NO_LAYER[kind]))
    if kind == "holdout" and isinstance(design, Mapping):
        _check_holdout(raw, design, problems)


#: Designs that take no layer, and why.
_NO_LAYER = {
    "switchback": "no layer for a switchback design (it randomises time periods, not units, "
    "so a range of units cannot be set aside for it)",
    "holdout": "no layer for a holdout (a holdout spans every experiment it covers; give the "
    "covered experiments their layers instead)",
}


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_holdout(
    raw: Mapping[str, Any], design: Mapping[str, Any], problems: list[Problem]
) -> None:
    """A holdout is two fixed groups over every unit: nothing may filter or re-draw them."""
    variants = raw.get("variants")
    if isinstance(variants, list) and len(variants) != 2:
        problems.append(
            Problem(
                "$.variants",
                len(variants),
                "exactly 2 variants for a holdout: the held-out group (first) and everyone "
                "else (second)",
            )
        )
    first = variants[0] if isinstance(variants, list) and variants else None
    first = first.get("name") if isinstance(first, Mapping) else first
    control = raw.get("control")
    if isinstance(first, str) and isinstance(control, str) and control not in ("", first):
        problems.append(
            Problem("$.control", control, f"{first!r}, the first variant (the held-out group)")
        )
    percent = design.get("percent")
    if isinstance(variants, list) and len(variants) == 2 and _is_number(percent):
        given = [v.get("weight") if isinstance(v, Mapping) else None for v in variants]
        wanted = holdout_weights(percent)
        if any(w is not None for w in given) and not all(
            _is_number(w) and abs(w - x) <= _WEIGHT_TOLERANCE
            for w, x in zip(given, wanted, strict=True)
        ):
            problems.append(
                Problem(
                    "$.variants[*].weight",
                    given,
                    f"no weights, or [{wanted[0]:g}, {wanted[1]:g}] (they follow from "
                    f"design.percent = {percent:g})",
                )
            )
    allocation = raw.get("trafficAllocation", 1.0)
    if _is_number(allocation) and allocation != 1:
        problems.append(
            Problem(
                "$.trafficAllocation",
                allocation,
                "1 for a holdout (every unit is in one of its two groups; design.percent "
                "sets the held-out share)",
            )
        )
    targeting = raw.get("targeting")
    if isinstance(targeting, Mapping):
        for key in ("include", "exclude", "condition"):
            if targeting.get(key):
                problems.append(
                    Problem(
                        f"$.targeting.{key}",
                        targeting[key],
                        "no targeting for a holdout (the covered experiments target; a "
                        "holdout holds out the same share of every unit they take)",
                    )
                )
    assignment = raw.get("assignment")
    if isinstance(assignment, Mapping):
        forced = assignment.get("forced")
        if isinstance(forced, Mapping) and any(forced.values()):
            problems.append(
                Problem(
                    "$.assignment.forced",
                    dict(forced),
                    "no forced units for a holdout (force a variant in the covered "
                    "experiment instead)",
                )
            )
        if assignment.get("sticky") is True:
            problems.append(
                Problem(
                    "$.assignment.sticky",
                    True,
                    "false for a holdout (its two groups never change weights, so there is "
                    "nothing to keep)",
                )
            )
    rollback = raw.get("rollback")
    if isinstance(rollback, Mapping) and rollback.get("enabled") is True:
        problems.append(
            Problem(
                "$.rollback.enabled",
                True,
                "false for a holdout (rolling it back would hold every unit out of every "
                "covered experiment)",
            )
        )


_WEIGHT_TOLERANCE = 1e-9
