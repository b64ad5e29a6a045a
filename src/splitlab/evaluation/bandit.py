"""Bandit updates: new weights on a clock, audited, replayable, and the bandit's status.

:class:`BanditUpdater` (run by the server's scheduler thread, or ``splitlab bandit update``)
finds each running bandit whose update is due (``updateIntervalMinutes`` after the previous
update, or after it started running), reads the reward sums per batch from the store
(:meth:`~splitlab.store.DuckDBStore.bandit_data`: batch boundaries are the earlier update
times), computes Thompson-sampling weights (:mod:`splitlab.stats.bandit`) and writes them
through :func:`~splitlab.evaluation.automatic.apply_automatic_change` (kind
``bandit_update``: the variants' weights and ``design.weightsVersion + 1``). The change log's
details keep everything the update used and produced (the inputs per batch, the seed, the
exploration share, P(best), the weights, the SRM check), so that the log is the ledger of
updates: :func:`bandit_status` reads it back, and :func:`replay` recomputes an update.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from splitlab.config import Experiment, Status
from splitlab.config.adaptive import BanditDesign
from splitlab.config.models import MetricType, Variant
from splitlab.evaluation.automatic import apply_automatic_change
from splitlab.evaluation.errors import EvaluationError
from splitlab.evaluation.scheduler import launched_at
from splitlab.stats.bandit import (
    ArmBatch,
    RewardKind,
    ThompsonUpdate,
    sequential_srm,
    thompson_update,
    totals,
    update_seed,
)
from splitlab.stats.bandit_readout import readout
from splitlab.store.bandit_sql import BanditData, reward_metric
from splitlab.store.registry_backend import RegistryBackend
from splitlab.store.registry_records import Change

__all__ = ["KIND", "BanditStore", "BanditUpdater", "bandit_status", "replay", "updates"]

logger = logging.getLogger(__name__)

KIND = "bandit_update"
#: Weights are written with this many decimals (the config accepts a sum within 1e-6 of 1).
DECIMALS = 6


class BanditStore(Protocol):
    def bandit_data(
        self, experiment: Experiment, boundaries: Sequence[int], cutoff: datetime
    ) -> BanditData: ...


def _design(experiment: Experiment) -> BanditDesign:
    design = experiment.design
    if not isinstance(design, BanditDesign):
        raise EvaluationError(f"experiment {experiment.id!r} is not a bandit (design.type)")
    return design


def updates(registry: RegistryBackend, experiment_id: str) -> list[Change]:
    """The experiment's bandit updates from its change log, oldest first."""
    return [c for c in registry.changes(experiment_id) if c.kind == KIND]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _reward_kind(experiment: Experiment) -> RewardKind:
    metric = reward_metric(experiment)
    return "conversion" if metric.type is MetricType.CONVERSION else "continuous"


def _rounded(weights: Mapping[str, float]) -> dict[str, float]:
    """Weights with :data:`DECIMALS` decimals, each positive, summing to 1 (the largest
    takes the rounding)."""
    out = {a: max(round(w, DECIMALS), 10**-DECIMALS) for a, w in weights.items()}
    top = max(out, key=lambda a: out[a])
    out[top] = round(out[top] + 1.0 - sum(out.values()), DECIMALS + 3)
    return out


@dataclass(frozen=True)
class UpdateResult:
    experiment_id: str
    version: int
    weights: dict[str, float]
    details: dict[str, Any]


def replay(details: Mapping[str, Any]) -> ThompsonUpdate:
    """Recompute an update from its recorded inputs and seed (the same P(best) and weights)."""
    arms = list(details["arms"])
    batches = [{a: ArmBatch.from_dict(b[a]) for a in arms} for b in details["inputs"]]
    return thompson_update(
        batches,
        arms,
        details["rewardKind"],
        t=int(details["t"]),
        burn_in_updates=int(details["burnInUpdates"]),
        initial=float(details["exploration"]["initial"]),
        decay=float(details["exploration"]["decay"]),
        minimum=float(details["exploration"]["minimum"]),
        draws=int(details["draws"]),
        seed=int(details["seed"]),
    )


class BanditUpdater:
    """Run the bandit updates that are due (see the module docstring)."""

    def __init__(
        self,
        store: BanditStore,
        registry: RegistryBackend,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        by: str = "bandit",
    ) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        self._by = by

    def due(self, experiment: Experiment, now: datetime) -> bool:
        """Whether `experiment` (a running bandit) is due for an update at `now`."""
        design = _design(experiment)
        done = updates(self._registry, experiment.id)
        start = launched_at(self._registry, experiment)
        last = max(done[-1].at, start) if done else start
        return now >= last + timedelta(minutes=design.update_interval_minutes)

    def run_once(self) -> list[UpdateResult]:
        """Update every running bandit that is due; one failing bandit does not stop the rest."""
        now = self._clock()
        out: list[UpdateResult] = []
        for experiment in self._registry.experiments():
            if not experiment.is_bandit or experiment.status is not Status.RUNNING:
                continue
            try:
                if self.due(experiment, now):
                    out.append(self.update(experiment, now))
            except Exception as exc:  # logged; the next poll tries again
                logger.error("bandit update of %s failed: %s", experiment.id, exc)
        return out

    def update(self, experiment: Experiment, now: datetime | None = None) -> UpdateResult:
        """Compute and write the next weights of `experiment` now (whether due or not)."""
        now = now or self._clock()
        current = self._registry.get(experiment.id)
        design = _design(current)
        if current.status is not Status.RUNNING:
            raise EvaluationError(
                f"status: {current.id!r} is {current.status.value!r}; only a running bandit "
                "is updated"
            )
        arms = list(current.variant_names)
        done = updates(self._registry, current.id)
        start = launched_at(self._registry, current)
        # Batch boundaries: every earlier update (units first exposed before the first update
        # are batch 0, whenever the bandit started).
        boundaries = [_ms(c.at) for c in done]
        data = self._store.bandit_data(current, boundaries, now)
        kind = _reward_kind(current)
        t = design.weights_version
        seed = update_seed(current.id, t + 1)
        result = thompson_update(
            data.rewards,
            arms,
            kind,
            t=t,
            burn_in_updates=design.burn_in_updates,
            initial=design.exploration.initial,
            decay=design.exploration.decay,
            minimum=design.exploration.minimum,
            draws=design.draws,
            seed=seed,
        )
        weights = _rounded(result.weights)
        # The weights in force in each batch: the initial ones, then each update's.
        initial = initial_weights(current, done)
        in_force = [initial] + [dict((c.details or {})["weights"]) for c in done]
        srm: dict[str, Any] = {}
        log_bf = max_log_bf = 0.0
        for b, counts in enumerate(data.exposed):
            check = sequential_srm(
                counts, in_force[b], current.evaluation.srm_threshold, log_bf, max_log_bf
            )
            log_bf, max_log_bf = check.log_bayes_factor, check.max_log_bayes_factor
            srm = {**check.to_dict(), "batch": b}
        sums = totals(data.rewards, arms)
        details = {
            "version": t + 1,
            "t": t,
            "at": now.isoformat(),
            "cutoff": now.isoformat(),
            "startedAt": start.isoformat(),
            "boundaries": boundaries,
            "rewardKind": kind,
            "rewardMetric": reward_metric(current).name,
            "seed": seed,
            "draws": result.draws,
            "epsilon": result.epsilon,
            "burnIn": result.burn_in,
            "burnInUpdates": design.burn_in_updates,
            "exploration": design.exploration.model_dump(),
            "inputs": [{a: b[a].to_dict() for a in arms} for b in data.rewards],
            "exposed": data.exposed,
            "arms": {
                a: {
                    "units": sums[a].n,
                    "rewardMean": sums[a].sum / sums[a].n if sums[a].n else None,
                    "posterior": result.posterior[a].to_dict(),
                    "pBest": result.p_best[a],
                    "weight": weights[a],
                }
                for a in arms
            },
            "weights": weights,
            "initialWeights": initial,
            "srm": srm,
        }
        variants = [
            Variant(name=v.name, weight=weights[v.name], description=v.description)
            for v in current.variants
        ]
        new_design = design.model_copy(update={"weights_version": t + 1})
        changed = current.model_copy(update={"variants": variants, "design": new_design})
        apply_automatic_change(
            self._registry,
            changed,
            kind=KIND,
            by=self._by,
            reason=f"bandit update {t + 1}: weights from Thompson sampling",
            details=details,
            now=now,
        )
        if srm.get("detected"):
            logger.warning("bandit %s: sample ratio mismatch (p=%s)", current.id, srm["pValue"])
        return UpdateResult(current.id, t + 1, weights, details)


def initial_weights(experiment: Experiment, done: Sequence[Change]) -> dict[str, float]:
    """The weights before the first update: as the first update recorded them, or (no update
    yet) the experiment's weights now."""
    if done and (done[0].details or {}).get("initialWeights"):
        return dict((done[0].details or {})["initialWeights"])
    return dict(zip(experiment.variant_names, experiment.weights, strict=True))


def bandit_status(registry: RegistryBackend, experiment_id: str) -> dict[str, Any]:
    """The bandit's status JSON: its updates (oldest first) and the readout of the latest."""
    experiment = registry.get(experiment_id)
    design = _design(experiment)
    done = updates(registry, experiment_id)
    rows: list[dict[str, Any]] = []
    for change in done:
        d = change.details or {}
        srm = d.get("srm") or {}
        rows.append(
            {
                "version": d.get("version"),
                "at": change.at.isoformat(),
                "cutoff": d.get("cutoff"),
                "seed": d.get("seed"),
                "epsilon": d.get("epsilon"),
                "burnIn": d.get("burnIn"),
                "arms": d.get("arms", {}),
                "srm": {k: srm.get(k) for k in ("pValue", "detected", "counts", "expected")},
            }
        )
    arms = list(experiment.variant_names)
    last = (done[-1].details or {}) if done else {}
    batches = [{a: ArmBatch.from_dict(b[a]) for a in arms} for b in last.get("inputs", [])]
    return {
        "experimentId": experiment_id,
        "status": experiment.status.value,
        "weightsVersion": design.weights_version,
        "updates": rows,
        "readout": readout(batches, arms).to_dict(),
    }
