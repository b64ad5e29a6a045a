"""A look: store -> stats -> one decision, recorded in the looks ledger.

:func:`run_look` asks the store for the sufficient statistics at a data cut-off (the SQL runs
in the store; no raw event reaches Python), analyses them with the statistics engine, turns
the results into one decision (:mod:`splitlab.evaluation.policy`), records everything in the
ledger and, when the experiment's policy says so, changes its status in the same transaction.

``maxPeeks`` is enforced from the ledger: once every planned look is taken another one is
refused (:class:`~splitlab.evaluation.errors.PeekLimitError`) unless it is asked for as a
read-only *peek*, which is recorded too but cannot trigger a decision or a status change.

Each ledger entry holds the exact JSON document produced at the time, including the
definition and the sums it was computed from, so :func:`replay_look` can recompute it and
get the same bytes (the test of reproducibility) and :meth:`Registry.looks` re-renders it.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from splitlab.config import Experiment, Status, load_experiment
from splitlab.evaluation import lifecycle
from splitlab.evaluation.allocation import allocation_stratified
from splitlab.evaluation.anytime import Carried, apply_running, carry_forward
from splitlab.evaluation.capping import capping_notes, fixed_caps, settle
from splitlab.evaluation.cutoff import check_cutoff
from splitlab.evaluation.errors import EvaluationError, LookTakenError, PeekLimitError
from splitlab.evaluation.look_view import results_json, results_view
from splitlab.evaluation.policy import PlannedChange, look_decision, plan_change
from splitlab.evaluation.poststrat import post_stratified
from splitlab.evaluation.quality import DataQualityCounts, QualityReport, assess
from splitlab.evaluation.segments import segment_results
from splitlab.evaluation.versions import versioned_sums
from splitlab.stats import analyze
from splitlab.stats.analyze import information_fraction
from splitlab.stats.sums import ExperimentSums, SliceSums
from splitlab.stats.versions import WeightsVersion, versioned, versions_block
from splitlab.store.registry import LookRecord, canonical_json, format_time
from splitlab.store.registry_backend import RegistryBackend

__all__ = [
    "LOOKABLE",
    "Evaluated",
    "LookDecision",
    "LookStore",
    "evaluate",
    "look_document",
    "replay_look",
    "results_json",
    "results_view",
    "run_look",
]

logger = logging.getLogger(__name__)

#: Statuses in which a planned look may be taken (a peek is allowed in any status).
LOOKABLE = frozenset({Status.RUNNING, Status.PAUSED})


class LookStore(Protocol):
    """What a look needs from the event store (``splitlab.store.DuckDBStore``)."""

    def summary(
        self,
        experiment: Experiment,
        cutoff: datetime | None = None,
        segment: str | Sequence[str] | None = None,
        *,
        known_caps: Mapping[tuple[str, str], float] | None = None,
    ) -> ExperimentSums: ...

    def data_quality(
        self, experiment: Experiment, cutoff: datetime | None = None
    ) -> DataQualityCounts: ...

    def weights_version_sums(
        self, experiment: Experiment, boundaries: Sequence[int], cutoff: datetime | None = None
    ) -> list[SliceSums]: ...


@dataclass(frozen=True)
class LookDecision:
    """A look's decision: the engine's five actions, or ``peek`` for a read-only peek."""

    action: str
    variant: str | None
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "variant": self.variant, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Evaluated:
    """Everything computed at a look, before anything is written."""

    decision: LookDecision
    document_body: dict[str, Any]
    change: PlannedChange | None


def run_look(
    store: LookStore,
    registry: RegistryBackend,
    experiment_id: str,
    *,
    cutoff: datetime | None = None,
    triggered_by: str = "cli",
    peek: bool = False,
    now: datetime | None = None,
    after_looks: int | None = None,
) -> LookRecord:
    """Take one look at an experiment (or a read-only peek) and record it.

    ``cutoff`` is the data cut-off (events with a later timestamp are left out; default:
    now); one outside the range of :mod:`splitlab.evaluation.cutoff` is refused. ``now`` is
    the clock, injectable for tests and the scheduler. ``after_looks``: the number of planned
    looks the caller saw when it decided this look was due (the scheduler); a ledger that
    holds another number by the time the look starts or is recorded raises
    :class:`LookTakenError` (another scheduler took it) instead of recording a second look.
    """
    now = now or datetime.now(UTC)
    cutoff = now if cutoff is None else check_cutoff(cutoff, now)
    experiment = registry.get(experiment_id)
    ev = experiment.evaluation
    planned = registry.looks(experiment_id, include_peeks=False)
    taken = len(planned)
    if after_looks is not None and taken != after_looks:
        raise LookTakenError(
            f"look: planned look {after_looks + 1} of {experiment_id!r} was already taken",
            field="look",
            value=after_looks + 1,
            expected="a look no other process has taken",
        )
    if peek:
        number = taken
        analysis_look = taken + 1 if ev.allow_extra_looks else min(taken + 1, ev.max_peeks)
    else:
        _check_planned_look(experiment, planned)
        number = analysis_look = taken + 1
    known = fixed_caps(experiment, planned)
    sums = _collect_sums(
        store, experiment, cutoff, analysis_look, {k: v[0] for k, v in known.items()}
    )
    capping = settle(experiment, sums, known, analysis_look, peek=peek)
    experiment, sums, versions = versioned_sums(store, registry, experiment, sums, cutoff)
    history = _history(planned, analysis_look, information_fraction(experiment, sums.units))
    carried = (
        carry_forward([r.to_dict() for r in planned])
        if ev.sequential.method == "always_valid"
        else None
    )
    quality = assess(
        store.data_quality(experiment, cutoff),
        sum(sums.units.values()),
        "switchback" if experiment.is_switchback else "cluster" if experiment.is_cluster else None,
    )
    evaluated = evaluate(
        experiment,
        sums,
        analysis_look,
        history,
        quality,
        peek=peek,
        carried=carried,
        versions=versions,
        capping=[c.to_dict() for c in capping] or None,
    )
    actions: list[dict[str, Any]] = []
    if evaluated.change is not None:
        actions.append({**evaluated.change.to_dict(), "applied": True})
    meta = {
        "experimentId": experiment.id,
        "look": number,
        "peek": peek,
        "analysisLook": analysis_look,
        "at": format_time(now),
        "cutoff": format_time(cutoff),
        "triggeredBy": triggered_by,
        "status": experiment.status.value,
    }
    document = look_document(meta, evaluated, actions)
    with registry.transaction():
        if registry.planned_looks_taken(experiment_id) != taken:
            raise LookTakenError(
                f"look: another look at {experiment_id!r} was recorded while this one ran; "
                "run it again",
                field="look",
                value=number,
                expected="no other look recorded while this one ran (run it again)",
            )
        record = registry.append_look(
            experiment_id,
            number=number,
            peek=peek,
            at=now,
            cutoff=cutoff,
            triggered_by=triggered_by,
            action=evaluated.decision.action,
            variant=evaluated.decision.variant,
            document=document,
        )
        change = evaluated.change
        if change is not None:
            lifecycle.change_status(
                registry,
                experiment_id,
                change.status,
                by=f"look {number} ({triggered_by})",
                reason=change.reason,
                variant=change.variant,
                look=number,
                details=change.details,
                now=now,
            )
    logger.info(
        "%s look %d%s: %s",
        experiment_id,
        number,
        " (peek)" if peek else "",
        evaluated.decision.action,
    )
    return record


def evaluate(
    experiment: Experiment,
    sums: ExperimentSums,
    look: int,
    history: tuple[float, ...] | None,
    quality: QualityReport,
    *,
    peek: bool = False,
    carried: Carried | None = None,
    versions: Sequence[WeightsVersion] | None = None,
    capping: Sequence[Mapping[str, Any]] | None = None,
) -> Evaluated:
    """The pure part of a look: analysis, segments, post-stratification and the decision.

    ``carried`` is the always-valid running state of the earlier planned looks
    (:mod:`splitlab.evaluation.anytime`); None for the other sequential methods.
    ``versions``: the weights versions of a sticky experiment whose weights changed (the sums
    then hold one slice per version): SRM per version and effects stratified by version
    (:mod:`splitlab.stats.versions`), recorded in the document's ``weightsVersions``.
    ``capping``: the outlier caps the sums were made with (:mod:`.capping`), recorded in the
    document's ``capping`` and named in the decision's reasons.
    """
    results = analyze(experiment, sums, look, history=history, versions=versions)
    if carried is not None:
        results = apply_running(
            results,
            experiment,
            carried,
            sums,
            history,
            None if versions is None else list(versions),
        )
    engine = look_decision(results, experiment, quality)
    change: PlannedChange | None = None
    if peek:
        decision = LookDecision(
            "peek",
            None,
            (
                "READ-ONLY PEEK: not a planned look, so it cannot trigger a decision or a "
                "status change.",
                *(f"(Not acted on) {r}" for r in engine.reasons),
            ),
        )
    else:
        change, notes = plan_change(engine, results, experiment)
        if change is not None and change.status not in lifecycle.TRANSITIONS[experiment.status]:
            change = None
        decision = LookDecision(engine.action, engine.variant, (*engine.reasons, *notes))
    if capping:
        lines = capping_notes(capping)
        decision = LookDecision(decision.action, decision.variant, (*decision.reasons, *lines))
    results_json = results.to_dict()
    results_json["decision"] = decision.to_dict()
    body: dict[str, Any] = {
        "decision": decision.to_dict(),
        "dataQuality": quality.to_dict(),
        "results": results_json,
        "segments": segment_results(experiment, sums, look, history),
        "postStratified": post_stratified(experiment, sums),
        "history": None if history is None else list(history),
        "carried": carried,
        "sums": sums.to_dict(),
        "definition": experiment.to_wire(),
    }
    if versioned(experiment, versions) and versions is not None:
        # Only then, so that every other document keeps its keys (and its bytes).
        body["weightsVersions"] = versions_block(versions, results.srm)
    if capping:  # only for capped metrics, so other documents keep their keys
        body["capping"] = [dict(c) for c in capping]
    stratified = allocation_stratified(experiment, sums)
    if stratified is not None:  # only for an allocation table, so other documents keep their keys
        body["allocationStratified"] = stratified
    return Evaluated(decision, body, change)


def replay_look(record: LookRecord) -> str:
    """Recompute a recorded look from the definition and sums stored with it.

    Returns the JSON document; for an untampered ledger it equals ``record.document`` byte
    for byte (the analysis is deterministic and the inputs are stored exactly).
    """
    stored = record.to_dict()
    experiment = load_experiment(stored["definition"])
    sums = ExperimentSums.from_dict(stored["sums"])
    quality = QualityReport.from_dict(stored["dataQuality"])
    history = None if stored["history"] is None else tuple(stored["history"])
    block = stored.get("weightsVersions")
    versions = None if block is None else [WeightsVersion.from_dict(v) for v in block["versions"]]
    evaluated = evaluate(
        experiment,
        sums,
        stored["analysisLook"],
        history,
        quality,
        peek=stored["peek"],
        carried=stored["carried"],
        versions=versions,
        capping=stored.get("capping"),
    )
    meta = {k: stored[k] for k in _META_KEYS}
    return look_document(meta, evaluated, stored["actions"])


_META_KEYS = (
    "experimentId",
    "look",
    "peek",
    "analysisLook",
    "at",
    "cutoff",
    "triggeredBy",
    "status",
)


def look_document(meta: dict[str, Any], evaluated: Evaluated, actions: list[dict[str, Any]]) -> str:
    """The ledger document of a look or peek (canonical JSON, replayed byte for byte)."""
    body = dict(evaluated.document_body)
    decision = body.pop("decision")
    return canonical_json({**meta, "decision": decision, "actions": actions, **body})


def _check_planned_look(experiment: Experiment, planned: list[LookRecord]) -> None:
    ev = experiment.evaluation
    if experiment.status not in LOOKABLE:
        raise EvaluationError(
            f"status: experiment {experiment.id!r} is {experiment.status.value!r}; a planned "
            "look needs it running or paused (expected running or paused; a read-only peek "
            "is allowed in any status)",
            field="status",
            value=experiment.status.value,
            expected="running or paused (a read-only peek is allowed in any status)",
        )
    if len(planned) >= ev.max_peeks and not ev.allow_extra_looks:
        last = planned[-1]
        raise PeekLimitError(
            f"evaluation.maxPeeks: all {ev.max_peeks} planned looks at {experiment.id!r} have "
            f"been taken (the last at {format_time(last.at)}); another look would inflate the "
            "false-positive rate. Expected: a read-only peek (--peek), which cannot trigger a "
            "decision, or a plan with more looks (maxPeeks, allowExtraLooks).",
            field="evaluation.maxPeeks",
            value=ev.max_peeks,
            expected="a read-only peek (peek: true), which cannot trigger a decision, or a "
            "plan with more looks (maxPeeks, allowExtraLooks)",
            taken=len(planned),
        )


def _history(planned: list[LookRecord], look: int, current: float) -> tuple[float, ...] | None:
    """Information fractions of the earlier planned looks, when they can serve as history.

    The sequential plan needs one fraction per earlier look, strictly increasing; otherwise
    (a peek past the plan, stalled data) the engine's equally spaced default is used.
    """
    fractions: list[float] = []
    for record in planned[: look - 1]:
        value = record.to_dict()["results"].get("informationFraction")
        if not isinstance(value, int | float):
            return None
        fractions.append(float(value))
    if len(fractions) != look - 1:
        return None
    if any(b <= a for a, b in itertools.pairwise(fractions)) or any(
        f <= 0 or f >= current for f in fractions
    ):
        return None
    return tuple(fractions)


def _collect_sums(
    store: LookStore,
    experiment: Experiment,
    cutoff: datetime,
    look: int,
    known_caps: Mapping[tuple[str, str], float],
) -> ExperimentSums:
    """Overall and per-segment sums in one query (segments and the post-stratification key).

    A switchback's sums are over its cells, with the cell table when the regression applies
    (the store's ``summary`` makes them; segments do not apply to it).
    """
    attributes = list(experiment.segments)
    stratify = experiment.evaluation.post_stratify
    if stratify is not None and stratify not in attributes:
        attributes.append(stratify)
    if known_caps:
        sums = store.summary(
            experiment, cutoff=cutoff, segment=attributes or None, known_caps=known_caps
        )
    else:  # stores without capping (test doubles) need not know the argument
        sums = store.summary(experiment, cutoff=cutoff, segment=attributes or None)
    return ExperimentSums(
        sums.units,
        sums.metrics,
        experiment.id,
        look,
        dict(sums.segments),
        cluster_sizes=sums.cluster_sizes,
        cells=sums.cells,
        capping=sums.capping,
    )
