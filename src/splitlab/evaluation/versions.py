"""The weights versions of a sticky experiment, rebuilt from its change log.

Version 0 is the weights at launch, in force from the first change to ``running`` (or the
registration, for an experiment never moved); every live change of the variants' weights
(:func:`~splitlab.evaluation.lifecycle.update_definition`, audit kind ``definition`` with
``details.weightsVersion``) starts the next version at the time of its record. A unit belongs
to the version in force at its first exposure; the store counts and sums each version's
cohort (``weights_version_sums``), and a look analyses them with
:mod:`splitlab.stats.versions`. :func:`weights_version_details` is the check and the audit
details of such a change (called by ``update_definition``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from splitlab.config import Experiment, Status, load_experiment
from splitlab.config.layers import HoldoutDesign
from splitlab.evaluation.errors import TransitionError
from splitlab.stats.sums import ExperimentSums, SliceSums
from splitlab.stats.versions import WeightsVersion, version_slice, versioned
from splitlab.store.registry import Change
from splitlab.store.registry_backend import RegistryBackend

#: The audit detail that numbers a live change of a sticky experiment's weights.
WEIGHTS_VERSION = "weightsVersion"


def weights_version_details(
    registry: RegistryBackend, current: Experiment, experiment: Experiment
) -> dict[str, Any] | None:
    """The audit details of a new weights version, when ``variants`` changed only in weights.

    None when more than the weights changed (names, order, descriptions: still frozen); no
    details when the split is the same, written differently (``{}``). A
    weights change of a live experiment is refused unless its assignment is sticky (a unit
    would otherwise move to another variant) and it has no design (a bandit writes its own
    weights; the other designs are not analysed per weights version).
    """
    if current.variant_names != experiment.variant_names or any(
        a.description != b.description
        for a, b in zip(current.variants, experiment.variants, strict=True)
    ):
        return None
    if tuple(current.weights) == tuple(experiment.weights):
        return {}  # the same split written differently (equal weights made explicit)
    if isinstance(current.design, HoldoutDesign) and isinstance(experiment.design, HoldoutDesign):
        raise TransitionError(
            f"design.percent: the share held out by {current.status.value!r} holdout "
            f"{current.id!r} cannot change (registered {current.design.percent:g}, got "
            f"{experiment.design.percent:g}): it would move units between the held-out group "
            "and everyone else, mixing both regimes in its long-running comparison (expected "
            f"{current.design.percent:g}; stop this holdout and start a new one, with its own "
            "salt, to hold out another share)",
            field="design.percent",
            value=experiment.design.percent,
        )
    if not current.assignment.sticky or current.design is not None:
        why = (
            f"design {current.design.type!r} (a bandit writes its own weights; the other "
            "designs are not analysed per weights version)"
            if current.design is not None
            else "no sticky assignment, so exposed units would move to another variant"
        )
        raise TransitionError(
            f"variants: the weights of {current.status.value!r} experiment {current.id!r} "
            f"cannot change: it has {why} (expected assignment.sticky: true and no design, "
            "or the same weights)",
            field="variants",
            value=[v.weight for v in experiment.variants],
        )
    earlier = [
        c
        for c in registry.changes(current.id)
        if c.kind == "definition" and WEIGHTS_VERSION in (c.details or {})
    ]
    return {
        WEIGHTS_VERSION: len(earlier) + 1,
        "weights": dict(zip(experiment.variant_names, experiment.weights, strict=True)),
        "previousWeights": dict(zip(current.variant_names, current.weights, strict=True)),
    }


def timeline(
    experiment: Experiment, changes: list[Change], created: datetime
) -> list[WeightsVersion]:
    """The versions ``[(version, start, weights)]``, oldest first, from `changes` (the
    registry's change log of `experiment`, oldest first) and its registration time."""
    launches = [c.at for c in changes if c.kind == "status" and c.to_value == Status.RUNNING]
    reweights = [
        c for c in changes if c.kind == "definition" and WEIGHTS_VERSION in (c.details or {})
    ]
    current = dict(zip(experiment.variant_names, experiment.weights, strict=True))
    first: dict[str, Any] = (
        (reweights[0].details or {}).get("previousWeights", current) if reweights else current
    )
    out = [WeightsVersion(0, launches[0] if launches else created, _floats(first))]
    for c in reweights:
        details = c.details or {}
        out.append(WeightsVersion(int(details[WEIGHTS_VERSION]), c.at, _floats(details["weights"])))
    return out


def weights_versions(registry: RegistryBackend, experiment: Experiment) -> list[WeightsVersion]:
    """:func:`timeline` of a registered experiment."""
    return timeline(experiment, registry.changes(experiment.id), registry.created_at(experiment.id))


def boundaries_ms(versions: list[WeightsVersion]) -> list[int]:
    """The start of every version after the first, as epoch milliseconds (the store's
    version of a unit is how many of these are at or before its first exposure)."""
    return [int(v.start.timestamp() * 1000) for v in versions[1:]]


def _floats(weights: Any) -> dict[str, float]:
    return {str(k): float(v) for k, v in dict(weights).items()}


class VersionStore(Protocol):
    """What the versioned analysis needs from the event store."""

    def weights_version_sums(
        self, experiment: Experiment, boundaries: Sequence[int], cutoff: datetime | None = None
    ) -> list[SliceSums]: ...


def with_version_slices(
    sums: ExperimentSums,
    versions: list[WeightsVersion],
    store: VersionStore,
    experiment: Experiment,
    cutoff: datetime | None,
) -> ExperimentSums:
    """`sums` with one slice per weights version (``"@weightsVersion=<k>"``), from the store."""
    parts = store.weights_version_sums(experiment, boundaries_ms(versions), cutoff)
    segments = dict(sums.segments)
    for v, part in zip(versions, parts, strict=True):
        segments[version_slice(v.version)] = part
    return ExperimentSums(
        sums.units,
        sums.metrics,
        sums.experiment_id,
        sums.look,
        segments,
        cluster_sizes=sums.cluster_sizes,
        cells=sums.cells,
        capping=sums.capping,
    )


class Versioned(NamedTuple):
    """What a look analyses: the definition, the sums and the weights versions (or None)."""

    experiment: Experiment
    sums: ExperimentSums
    versions: list[WeightsVersion] | None


def with_weights(experiment: Experiment, weights: Mapping[str, float]) -> Experiment:
    """`experiment` with the variants' weights of one weights version (unchanged when equal)."""
    if dict(zip(experiment.variant_names, experiment.weights, strict=True)) == dict(weights):
        return experiment
    raw = experiment.to_wire()
    for variant in raw["variants"]:
        variant["weight"] = float(weights[variant["name"]])
    return load_experiment(raw)  # validated, as a look's recorded definition is on replay


def versioned_sums(
    store: VersionStore,
    registry: RegistryBackend,
    experiment: Experiment,
    sums: ExperimentSums,
    cutoff: datetime | None,
) -> Versioned:
    """The definition, sums and versions a look analyses: with the per-version slices and the
    versions when `experiment` is sticky, without a design and has two or more weights
    versions by the cut-off; else `sums` unchanged and None (the classic analysis, exactly as
    without versions).

    When the weights changed only after the cut-off, the look's units were all split by
    version 0's weights, so the classic analysis is of the definition with those weights (its
    sample ratio is checked against them, not against the later ones, which would flag a
    mismatch that is not there and halt or roll back a healthy experiment).
    """
    if not experiment.assignment.sticky or experiment.design is not None:
        return Versioned(experiment, sums, None)
    versions = weights_versions(registry, experiment)
    if cutoff is not None:  # a version that started after the data cut-off has no units yet
        versions = [v for v in versions if v.version == 0 or v.start <= cutoff]
    if not versioned(experiment, versions):
        return Versioned(with_weights(experiment, versions[-1].weights), sums, None)
    return Versioned(
        experiment, with_version_slices(sums, versions, store, experiment, cutoff), versions
    )
