"""Power of cluster designs: the design effect and clusters per arm, and `splitlab power --icc`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from statsmodels.stats.power import zt_ind_solve_power

from splitlab.cli.main import cli
from splitlab.stats import power


@pytest.mark.parametrize(
    "m,deff,ess",
    # Killip, Mahfoud & Pearce 2004, "What Is an Intracluster Correlation Coefficient?",
    # Ann. Fam. Med. 2:204, table: 4 clusters of m patients, rho = 0.017, design effect DE
    # and effective sample size ESS = 4 m / DE (rounded down in the table).
    [(10, 1.153, 34), (20, 1.323, 60), (40, 1.663, 96), (80, 2.343, 136)],
)
def test_equal_sizes_match_a_published_table(m: int, deff: float, ess: int) -> None:
    assert power.design_effect(0.017, m) == pytest.approx(deff, abs=5e-4)
    assert math.floor(4 * m / power.design_effect(0.017, m)) == ess


def test_unequal_sizes_by_hand() -> None:
    # Eldridge, Ashby & Kerry 2006, eq. 4, by hand: m = 20, CV = 0.6, ICC = 0.05:
    # 1 + ((0.36 + 1) * 20 - 1) * 0.05 = 1 + 26.2 * 0.05 = 2.31; CV = 0: 1 + 19 * 0.05 = 1.95.
    assert power.design_effect(0.05, 20, 0.6) == pytest.approx(2.31, rel=1e-12)
    assert power.design_effect(0.05, 20) == pytest.approx(1.95, rel=1e-12)
    # CV = 0.65 (Eldridge et al.'s typical UK general-practice value), m = 10, ICC = 0.1:
    # 1 + ((0.4225 + 1) * 10 - 1) * 0.1 = 2.3225 (by hand)
    assert power.design_effect(0.1, 10, 0.65) == pytest.approx(2.3225, rel=1e-12)


def test_design_effect_is_the_variance_ratio_of_the_ratio_estimator() -> None:
    """For given sizes m_c, a random-intercept model (ICC rho, unit variance) gives the ratio
    of totals the variance (rho sum m^2 + (1 - rho) sum m) / (sum m)^2 against 1 / sum m
    for independent units: 1 + (sum m^2 / sum m - 1) rho, which is Eldridge's formula with
    the sizes' mean and (population) CV. Computed with numpy on arbitrary sizes."""
    m = np.array([1, 3, 4, 4, 7, 12, 15, 30, 2, 9], dtype=float)
    rho = 0.13
    exact = (rho * np.sum(m**2) + (1 - rho) * m.sum()) / m.sum() ** 2 / (1 / m.sum())
    cv = m.std() / m.mean()
    assert power.design_effect(rho, m.mean(), cv) == pytest.approx(exact, rel=1e-12)


def test_clusters_per_arm() -> None:
    n = zt_ind_solve_power(effect_size=0.1, alpha=0.05, power=0.8)  # statsmodels: 1569.8
    assert power.clusters_per_arm(n, 0.05, 20, 0.6) == pytest.approx(n * 2.31 / 20, rel=1e-12)
    assert power.clusters_per_arm(n, 0.0, 20) == pytest.approx(n / 20, rel=1e-12)


@pytest.mark.parametrize(
    "args,match",
    [((-0.1, 10), "icc"), ((0.1, 0.5), "cluster size"), ((0.1, 10, -1.0), "coefficient")],
)
def test_bad_inputs_name_the_parameter(args: tuple[float, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        power.design_effect(*args)


def _run(*args: str) -> dict[str, float]:
    result = CliRunner().invoke(cli, ["power", *args, "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, float] = json.loads(result.output)
    return out


def test_cli_prints_clusters_per_variant() -> None:
    out = _run("--sd", "1", "--mde", "0.1", "--icc", "0.05", "--cluster-size", "20",
               "--cluster-size-cv", "0.6")  # fmt: skip
    n = zt_ind_solve_power(effect_size=0.1, alpha=0.05, power=0.8)  # statsmodels reference
    units = math.ceil(n * 2.31)  # design effect 2.31 (by hand, above)
    assert out["designEffect"] == pytest.approx(2.31)
    assert out["clustersPerVariant"] == math.ceil(units / 20) == 182
    assert out["totalClusters"] == 364
    assert out["unitsPerVariant"] == 182 * 20


def test_cli_detectable_effect_with_clusters() -> None:
    out = _run("--sd", "2", "--units", "10000", "--icc", "0.05", "--cluster-size", "20")
    # 10,000 clustered units carry the information of 10,000 / 1.95 independent ones
    ref = zt_ind_solve_power(nobs1=10000 / 1.95, alpha=0.05, power=0.8)  # statsmodels
    assert out["mde"] == pytest.approx(2 * ref, rel=1e-4)
    assert out["clustersPerVariant"] == 500


def test_cli_needs_icc_and_cluster_size_together() -> None:
    result = CliRunner().invoke(cli, ["power", "--sd", "1", "--mde", "0.1", "--icc", "0.05"])
    assert result.exit_code == 2
    assert "--icc and --cluster-size together" in result.output
