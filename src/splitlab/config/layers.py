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

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

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
    "holdout_covers",
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
