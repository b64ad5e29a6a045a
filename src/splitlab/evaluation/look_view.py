"""How a recorded look is shown: the results JSON of a ledger entry, a pure function of it.

Kept apart from :mod:`splitlab.evaluation.look`, which takes and records looks; the API, the
CLI and the dashboard render past looks through :func:`results_view` / :func:`results_json`
(re-exported there).
"""

from __future__ import annotations

from typing import Any

from splitlab.config import load_experiment
from splitlab.evaluation.survival_view import curves_block
from splitlab.stats.sums import ExperimentSums
from splitlab.store.registry import LookRecord, canonical_json

__all__ = ["look_curves", "results_json", "results_view"]


def results_view(record: LookRecord) -> dict[str, Any]:
    """A recorded look as the results JSON (docs/architecture.md), with its ledger data added.

    The top level is the results JSON (``experimentId``, ``look``, ``srm``, ``decision``,
    ``metrics`` and the engine's other keys; ``decision`` is the look's own, ``peek`` for a
    read-only peek), plus the look's other outputs (``dataQuality``, ``segments``,
    ``postStratified``, ``allocationStratified``, ``weightsVersions`` and ``capping`` when the
    look has them, ``actions``: the
    status changes it made) and ``ledger``: where the
    look sits in the ledger (``seq``, ``number``, ``peek``, ``analysisLook``, ``takenAt``,
    ``cutoff``, ``triggeredBy``, ``status`` at the time) and the inputs it was computed from
    (``definition``, ``sums``, ``history``, ``carried``), so nothing recorded is lost.
    An experiment with retention or time-to-event metrics also gets ``curves``
    (:mod:`splitlab.evaluation.survival_view`): per such metric and arm the eligible units or
    the RMST, and the retention or Kaplan-Meier curve, derived from the recorded sums.

    The view is a pure function of the stored document, so a past look renders to the same
    bytes every time (:func:`results_json`); the ledger itself is unchanged.
    """
    stored = record.to_dict()
    view: dict[str, Any] = dict(stored["results"])
    view["decision"] = stored["decision"]
    for key in ("dataQuality", "segments", "postStratified", "actions"):
        view[key] = stored[key]
    if "allocationStratified" in stored:  # only looks of an experiment with strata have it
        view["allocationStratified"] = stored["allocationStratified"]
    if "weightsVersions" in stored:  # only looks of a sticky experiment whose weights changed
        view["weightsVersions"] = stored["weightsVersions"]
    if "capping" in stored:  # only looks of an experiment with capped metrics
        view["capping"] = stored["capping"]
    curves = look_curves(stored)
    if curves is not None:  # only for those metric kinds, so other documents keep their keys
        view["curves"] = curves
    view["ledger"] = {
        "seq": record.seq,
        "number": stored["look"],
        "peek": stored["peek"],
        "analysisLook": stored["analysisLook"],
        "takenAt": stored["at"],
        "cutoff": stored["cutoff"],
        "triggeredBy": stored["triggeredBy"],
        "status": stored["status"],
        "decisionAction": stored["decision"]["action"],
        "inputs": {k: stored[k] for k in ("definition", "sums", "history", "carried")},
    }
    return view


def results_json(record: LookRecord) -> str:
    """:func:`results_view` as the ledger's canonical JSON text (same bytes every time)."""
    return canonical_json(results_view(record))


_CURVED = {"retention", "time_to_event"}


def look_curves(stored: dict[str, Any]) -> dict[str, Any] | None:
    """The ``curves`` block of a look whose definition has a retention or time-to-event
    metric (a cheap look at the stored definition first: most have neither)."""
    metrics = stored["definition"].get("metrics") or {}
    listed = [metrics.get("primary") or {}, *metrics.get("secondary", []),
              *metrics.get("guardrails", [])]  # fmt: skip
    if not any(isinstance(m, dict) and m.get("type") in _CURVED for m in listed):
        return None
    experiment = load_experiment(stored["definition"])
    sums = ExperimentSums.from_dict(stored["sums"])
    return curves_block(experiment, sums, stored["results"])
