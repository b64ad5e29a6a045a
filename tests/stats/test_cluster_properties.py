"""Properties (hypothesis): a cluster analysis of tiny, empty, constant or extreme cluster sums
never fails and its results JSON is strict (no NaN or infinity), for every option."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from splitlab.stats import ArmSums, ExperimentSums, analyze
from tests.stats.helpers import experiment

VARIANTS = ("control", "variant-a")
VALUE = st.one_of(st.just(0.0), st.just(1.0), st.floats(-1e6, 1e6, allow_nan=False))
# One cluster: (analysis units m_c, converted units as a share of m_c, metric total, covariate
# total, ratio denominator total (may be 0)).
CLUSTER = st.tuples(
    st.integers(1, 5), st.floats(0, 1), VALUE, VALUE, st.sampled_from([0.0, 1.0, 7.5])
)
ARM = st.lists(CLUSTER, min_size=0, max_size=4)
OPTIONS = st.tuples(
    st.sampled_from(["frequentist_t_test", "frequentist_z_test", "bayesian"]),
    st.sampled_from(["none", "alpha_spending", "always_valid"]),
    st.booleans(),
)


def _arm(clusters: list[tuple[int, float, float, float, float]]) -> dict[str, ArmSums]:
    m = np.array([c[0] for c in clusters], dtype=float)
    conv = np.floor(np.array([c[1] for c in clusters]) * m)
    y, x, den = (np.array([c[k] for c in clusters], dtype=float) for k in (2, 3, 4))
    return {
        "conv": ArmSums.from_values(conv, x, m),
        "rev": ArmSums.from_values(y, x, m),
        "ratio": ArmSums.from_values(y, x, den),
        "per_account": ArmSums.from_values(y, x, m),
        "sizes": ArmSums.from_values(m),
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ARM, ARM, OPTIONS)
def test_cluster_results_are_always_strict_json(
    control: list, variant: list, options: tuple[str, str, bool]
) -> None:
    method, sequential, cuped = options
    exp = experiment(
        assignment={"hashKey": "accountId"},
        design={"type": "cluster", "analysisUnit": "userId"},
        variants=list(VARIANTS),
        metrics={
            "primary": {"name": "conv", "type": "conversion", "cuped": cuped},
            "secondary": [
                {"name": "rev", "type": "continuous", "cuped": cuped},
                {"name": "ratio", "type": "ratio", "numerator": "a", "denominator": "b",
                 "cuped": cuped},
                {"name": "per_account", "type": "continuous", "level": "cluster",
                 "cuped": cuped},
            ],
            "guardrails": [],
        },
        evaluation={"method": method, "sequential": {"method": sequential}, "minSampleSize": 2},
    )  # fmt: skip
    arms = {"control": _arm(control), "variant-a": _arm(variant)}
    sums = ExperimentSums(
        {v: arms[v]["sizes"].n for v in VARIANTS},
        {m: {v: arms[v][m] for v in VARIANTS} for m in ("conv", "rev", "ratio", "per_account")},
        cluster_sizes={v: arms[v]["sizes"] for v in VARIANTS},
    )
    results = analyze(exp, sums)
    json.dumps(results.to_dict(), allow_nan=False)
    assert results.to_dict()["design"]["clusters"] == {
        "control": len(control),
        "variant-a": len(variant),
    }
