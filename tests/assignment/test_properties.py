"""Statistical properties of the split, each over at least 100,000 units.

The units and salts are fixed, so every p-value below is deterministic: a test cannot flake,
and it fails only if the algorithm changes for the worse. Significance level: ALPHA = 0.001
(scipy.stats.chisquare, chi2_contingency and binomtest compute the p-values).
"""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from splitlab.assignment import ExperimentAssignmentService, Reason
from tests.assignment.assignment_helpers import experiment

ALPHA = 0.001
N = 100_000
UNITS = [f"user-{i}" for i in range(N)]
VARIANTS = ("control", "variant-a", "variant-b")
WEIGHTED = [
    {"name": "control", "weight": 0.1},
    {"name": "variant-a", "weight": 0.2},
    {"name": "variant-b", "weight": 0.7},
]


def counts(allocation: float, units: list[str], **changes: object) -> Counter[str | None]:
    svc = ExperimentAssignmentService([experiment(trafficAllocation=allocation, **changes)])
    return Counter(a.variant for a in svc.assign_many("exp-test", units))


@pytest.mark.parametrize(
    ("allocation", "n_units"),
    [(0.01, 1_000_000), (0.25, N), (1.0, N)],
)
def test_split_is_uniform_among_exposed(allocation: float, n_units: int) -> None:
    """Defect 1: at every allocation the exposed units split evenly over three variants."""
    units = UNITS if n_units == N else [f"user-{i}" for i in range(n_units)]
    seen = counts(allocation, units)
    observed = [seen[v] for v in VARIANTS]
    assert min(observed) > 0
    assert stats.chisquare(observed).pvalue > ALPHA


@pytest.mark.parametrize("allocation", [0.25, 1.0])
def test_split_follows_weights_among_exposed(allocation: float) -> None:
    """Weights 10/20/70 are honoured among exposed units at partial and full allocation."""
    seen = counts(allocation, UNITS, variants=WEIGHTED)
    observed = [seen[v] for v in VARIANTS]
    total = sum(observed)
    expected = [total * w for w in (0.1, 0.2, 0.7)]
    assert stats.chisquare(observed, expected).pvalue > ALPHA


@pytest.mark.parametrize("allocation", [0.01, 0.25, 0.5, 0.9])
def test_exposure_rate_equals_allocation(allocation: float) -> None:
    """The share of units passing the gate is consistent with the allocation (binomial test)."""
    seen = counts(allocation, UNITS)
    exposed = N - seen[None]
    assert stats.binomtest(exposed, N, allocation).pvalue > ALPHA


def test_ramp_up_keeps_every_exposed_unit_in_its_variant() -> None:
    """Defect 2: raising the allocation step by step never moves an exposed unit."""
    previous: dict[str, str] = {}
    for allocation in (0.01, 0.05, 0.25, 0.5, 1.0):
        svc = ExperimentAssignmentService([experiment(trafficAllocation=allocation)])
        now = {
            u: a.variant
            for u, a in zip(UNITS, svc.assign_many("exp-test", UNITS), strict=True)
            if a.variant is not None
        }
        assert all(now.get(u) == v for u, v in previous.items())
        assert len(now) >= len(previous)
        previous = now
    assert len(previous) == N


@settings(max_examples=40, deadline=None)
@given(
    low=st.floats(min_value=0.0, max_value=1.0),
    high=st.floats(min_value=0.0, max_value=1.0),
    salt=st.text(min_size=1, max_size=10),
    weighted=st.booleans(),
)
def test_ramp_up_property(low: float, high: float, salt: str, weighted: bool) -> None:
    """For any two allocations and salt, units exposed at the lower keep their variant."""
    low, high = sorted((low, high))
    changes: dict[str, object] = {"assignment": {"salt": salt}}
    if weighted:
        changes["variants"] = WEIGHTED
    before = ExperimentAssignmentService([experiment(trafficAllocation=low, **changes)])
    after = ExperimentAssignmentService([experiment(trafficAllocation=high, **changes)])
    units = UNITS[:2_000]
    for a, b in zip(
        before.assign_many("exp-test", units), after.assign_many("exp-test", units), strict=True
    ):
        if a.reason is Reason.ASSIGNED:
            assert b == a


def test_two_experiments_are_independent() -> None:
    """Variants in two experiments sharing a salt are independent (chi-square contingency)."""
    svc = ExperimentAssignmentService(
        [experiment(experimentId="exp-a"), experiment(experimentId="exp-b", variants=WEIGHTED)]
    )
    pairs = Counter(
        zip(
            (a.variant for a in svc.assign_many("exp-a", UNITS)),
            (b.variant for b in svc.assign_many("exp-b", UNITS)),
            strict=True,
        )
    )
    table = [[pairs[(x, y)] for y in VARIANTS] for x in VARIANTS]
    assert stats.chi2_contingency(table).pvalue > ALPHA


def test_gate_and_split_are_independent() -> None:
    """Variant shares are the same inside and outside a 50% gate (one digest, two fields)."""
    full = ExperimentAssignmentService([experiment()]).assign_many("exp-test", UNITS)
    half = ExperimentAssignmentService([experiment(trafficAllocation=0.5)]).assign_many(
        "exp-test", UNITS
    )
    pairs = Counter((h.variant is None, f.variant) for f, h in zip(full, half, strict=True))
    table = [[pairs[(outside, v)] for v in VARIANTS] for outside in (False, True)]
    assert stats.chi2_contingency(table).pvalue > ALPHA


def test_changing_the_salt_reshuffles() -> None:
    """A new salt reassigns units independently of their old variants (about 1/3 keep theirs)."""
    old = ExperimentAssignmentService([experiment()]).assign_many("exp-test", UNITS)
    new = ExperimentAssignmentService([experiment(assignment={"salt": "new-salt"})]).assign_many(
        "exp-test", UNITS
    )
    pairs = Counter((a.variant, b.variant) for a, b in zip(old, new, strict=True))
    table = [[pairs[(x, y)] for y in VARIANTS] for x in VARIANTS]
    assert stats.chi2_contingency(table).pvalue > ALPHA
    kept = sum(pairs[(v, v)] for v in VARIANTS)
    assert stats.binomtest(kept, N, 1 / 3).pvalue > ALPHA


def article_value(unit: str) -> float:
    """The article's sketch: hex digits 0-7 of sha256("salt:unit:experiment") / 0xFFFFFFFF."""
    digest = hashlib.sha256(f"test-salt:{unit}:exp-test".encode()).hexdigest()
    return int(digest[:8], 16) / 0xFFFFFFFF


def test_uniformity_check_catches_the_article_split() -> None:
    """The chi-square check above rejects the article's shared gate/split value (defect 1)."""
    values = [article_value(u) for u in UNITS]
    seen = Counter(min(int(v * 3), 2) for v in values if v <= 0.25)
    assert seen[1] == seen[2] == 0  # everyone exposed lands in the first variant
    assert stats.chisquare([seen[0], seen[1], seen[2]]).pvalue < ALPHA


def test_ramp_check_catches_a_rescaling_fix() -> None:
    """Rescaling the shared value (v / allocation) would move exposed units (defect 2)."""

    def rescaled(value: float, allocation: float) -> int | None:
        return None if value >= allocation else int(value / allocation * 3)

    values = [article_value(u) for u in UNITS[:10_000]]
    moved = sum(
        1 for v in values if rescaled(v, 0.25) is not None and rescaled(v, 0.5) != rescaled(v, 0.25)
    )
    assert moved > 0
