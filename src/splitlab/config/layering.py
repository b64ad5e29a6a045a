"""Rules over a set of definitions: the experiments of one layer must not share units.

A single definition cannot know its neighbours; these rules run wherever a set of
definitions is accepted (registering or replacing one in the registry, ``splitlab validate``
over several files):

* two experiments of one layer whose status is not final (not ``stopped``, ``rolled_back`` or
  ``shipped``) hold disjoint ranges: overlapping ranges would give both the same units;
* the experiments of one layer hash the same unit (``assignment.hashKey``): the layer places
  a unit by its value, so two hash keys would place one visitor twice, once per key.

Finished experiments no longer serve by the hash, so their ranges are free again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from splitlab.config.errors import Problem
from splitlab.config.layers import LAYER_BUCKETS
from splitlab.config.models import Experiment, Status

__all__ = ["FINAL_STATUSES", "check_against", "check_set", "free_ranges"]

#: Statuses whose experiments no longer hold a layer range.
FINAL_STATUSES = frozenset({Status.STOPPED, Status.ROLLED_BACK, Status.SHIPPED})


def free_ranges(taken: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ranges ``[start, end)`` of a layer's buckets that no range in `taken` covers."""
    free: list[tuple[int, int]] = []
    at = 0
    for start, end in sorted(taken):
        if start > at:
            free.append((at, start))
        at = max(at, end)
    if at < LAYER_BUCKETS:
        free.append((at, LAYER_BUCKETS))
    return free


def _ranges(ranges: Sequence[tuple[int, int]]) -> str:
    return ", ".join(f"[{a}, {b})" for a, b in ranges) or "none"


def _pair_problems(a: Experiment, b: Experiment, members: list[Experiment]) -> list[Problem]:
    """What is wrong between `a` and `b`, two unfinished experiments of one layer; the free
    ranges named are those the other members leave to `b`."""
    assert a.layer is not None and b.layer is not None
    problems = []
    layer = a.layer.id
    if a.layer.start < b.layer.end and b.layer.start < a.layer.end:
        others = [(e.layer.start, e.layer.end) for e in members if e.layer and e is not b]
        problems.append(
            Problem(
                "$.layer",
                {"id": layer, "start": b.layer.start, "end": b.layer.end},
                f"a range of layer {layer!r} that no other unfinished experiment holds: "
                f"{b.experiment_id!r} [{b.layer.start}, {b.layer.end}) overlaps "
                f"{a.experiment_id!r} [{a.layer.start}, {a.layer.end}); free ranges left: "
                f"{_ranges(free_ranges(others))}",
            )
        )
    if a.assignment.hash_key != b.assignment.hash_key:
        problems.append(
            Problem(
                "$.assignment.hashKey",
                b.assignment.hash_key,
                f"{a.assignment.hash_key!r}, the hashKey of {a.experiment_id!r} in the same "
                f"layer {layer!r} (experiments of one layer must hash the same unit, or one "
                f"visitor could fall in both {a.experiment_id!r} and {b.experiment_id!r})",
            )
        )
    return problems


def _layers(experiments: Iterable[Experiment]) -> dict[str, list[Experiment]]:
    by_layer: dict[str, list[Experiment]] = defaultdict(list)
    for experiment in experiments:
        if experiment.layer is not None and experiment.status not in FINAL_STATUSES:
            by_layer[experiment.layer.id].append(experiment)
    return by_layer


def check_set(experiments: Iterable[Experiment]) -> list[Problem]:
    """Every layer conflict in a set of definitions (each problem names both experiments)."""
    problems: list[Problem] = []
    for members in _layers(experiments).values():
        members.sort(key=lambda e: e.experiment_id)
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                problems += _pair_problems(a, b, members)
    return problems


def check_against(experiment: Experiment, others: Iterable[Experiment]) -> list[Problem]:
    """The layer conflicts of `experiment` (new or replacing its namesake) with `others`.

    Conflicts among `others` alone are not reported: they were accepted before.
    """
    if experiment.layer is None or experiment.status in FINAL_STATUSES:
        return []
    rest = [e for e in others if e.experiment_id != experiment.experiment_id]
    members = _layers([*rest, experiment]).get(experiment.layer.id, [])
    problems: list[Problem] = []
    for other in sorted(members, key=lambda e: e.experiment_id):
        if other is not experiment:
            problems += _pair_problems(other, experiment, members)
    return problems
