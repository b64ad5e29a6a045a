"""How a recorded look is shown: the results JSON of a ledger entry, a pure function of it.

Kept apart from :mod:`splitlab.evaluation.look`, which takes and records looks; the API, the
CLI and the dashboard render past looks through :func:`results_view` / :func:`results_json`
(re-exported there).
"""

from __future__ import annotations

from typing import Any

from splitlab.store.registry import LookRecord, canonical_json

__all__ = ["results_json", "results_view"]


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
