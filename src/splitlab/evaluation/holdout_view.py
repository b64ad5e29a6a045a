"""What the API, the CLI and the dashboard show of the holdouts: scope and covered experiments.

One row per holdout (``design.type == "holdout"``) among the given experiments: its status,
the share held out, its scope in words (the tags it selects, or "every experiment on
<hashKey>") and the experiments it covers now (:func:`splitlab.config.layers.holdout_covers`,
whatever their statuses), each with its status, in id order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from splitlab.config import Experiment
from splitlab.config.layers import HoldoutDesign, holdout_covers

__all__ = ["HoldoutRow", "covering_holdouts", "holdout_row", "holdout_rows", "scope_text"]


@dataclass(frozen=True)
class HoldoutRow:
    """One holdout: what it holds out, over what, and which experiments that is now."""

    holdout_id: str
    name: str
    status: str
    percent: float
    hash_key: str
    tags: tuple[str, ...] | None
    covered: tuple[tuple[str, str], ...]

    @property
    def scope(self) -> str:
        return scope_text(self.tags, self.hash_key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "holdoutId": self.holdout_id,
            "name": self.name,
            "status": self.status,
            "percent": self.percent,
            "hashKey": self.hash_key,
            "scope": None if self.tags is None else {"tags": list(self.tags)},
            "scopeText": self.scope,
            "coveredExperimentIds": [eid for eid, _ in self.covered],
            "covered": [{"experimentId": eid, "status": st} for eid, st in self.covered],
        }


def scope_text(tags: Iterable[str] | None, hash_key: str) -> str:
    """ "experiments tagged growth or checkout", or "every experiment on userId"."""
    if tags is None:
        return f"every experiment on {hash_key}"
    return "experiments tagged " + " or ".join(tags)


def _design(holdout: Experiment) -> HoldoutDesign:
    design = holdout.design
    if not isinstance(design, HoldoutDesign):
        raise ValueError(f"{holdout.id!r} is not a holdout (design.type is not 'holdout')")
    return design


def holdout_row(holdout: Experiment, experiments: Iterable[Experiment]) -> HoldoutRow:
    """The row of one holdout over ``experiments`` (the registry's, say)."""
    design = _design(holdout)
    covered = sorted((e.id, e.status.value) for e in experiments if holdout_covers(holdout, e))
    return HoldoutRow(
        holdout.id,
        holdout.name,
        holdout.status.value,
        design.percent,
        holdout.assignment.hash_key,
        None if design.scope is None else tuple(design.scope.tags),
        tuple(covered),
    )


def holdout_rows(experiments: Iterable[Experiment]) -> list[HoldoutRow]:
    """One row per holdout among ``experiments``, in id order."""
    every = list(experiments)
    return [holdout_row(h, every) for h in sorted(every, key=lambda e: e.id) if h.is_holdout]


def covering_holdouts(
    experiment: Experiment, experiments: Iterable[Experiment]
) -> list[Experiment]:
    """The holdouts among ``experiments`` that cover ``experiment``, in id order."""
    return sorted(
        (h for h in experiments if h.is_holdout and holdout_covers(h, experiment)),
        key=lambda h: h.id,
    )
