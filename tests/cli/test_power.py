"""`splitlab power`: sample sizes, detectable effects and durations, checked against statsmodels."""

from __future__ import annotations

import json
import math
from typing import Any

from click.testing import CliRunner
from statsmodels.stats.power import NormalIndPower

from splitlab.cli.main import cli
from tests.conftest import ARTICLE_EXAMPLE


def run(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["power", *args, "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.output)
    return out


def test_conversion_sample_size_matches_statsmodels() -> None:
    """Units per variant for +5% on a 10% rate equal statsmodels' NormalIndPower solution."""
    out = run("--baseline", "0.10", "--mde", "0.05")
    p0, p1 = 0.10, 0.105
    d = (p1 - p0) / math.sqrt((p0 * (1 - p0) + p1 * (1 - p1)) / 2)
    # Reference: statsmodels NormalIndPower.solve_power (two-sided z test, equal arms).
    expected = NormalIndPower().solve_power(effect_size=d, alpha=0.05, power=0.8, ratio=1.0)
    assert out["unitsPerVariant"] == math.ceil(expected)
    assert out["totalUnits"] == 2 * math.ceil(expected)


def test_definition_plans_each_comparison_at_alpha_over_the_family() -> None:
    """With the article's definition (3 arms, 2 secondary metrics, Bonferroni) m = 2 x 3 = 6."""
    out = run(str(ARTICLE_EXAMPLE), "--sd", "10", "--mde", "1", "--daily-units", "10000")
    assert out["comparisons"] == 6
    assert out["testLevel"] == 0.05 / 6
    expected = NormalIndPower().solve_power(effect_size=0.1, alpha=0.05 / 6, power=0.8)
    assert out["unitsPerVariant"] == math.ceil(expected)
    # 3 arms at 25% traffic: days = units x arms / (daily x allocation).
    assert math.isclose(out["durationDays"], out["unitsPerVariant"] * 3 / (10000 * 0.25))


def test_detectable_effect_for_a_sample_matches_statsmodels() -> None:
    """--units gives the effect statsmodels finds detectable with that many units per arm."""
    out = run("--sd", "4", "--units", "5000", "--alpha", "0.01", "--power", "0.9")
    # Reference: statsmodels NormalIndPower.power at our effect is the wanted 0.9 exactly;
    # its own solve_power stops early (0.900019), so it agrees only to about 1e-4.
    reached = NormalIndPower().power(effect_size=out["mde"] / 4, nobs1=5000, alpha=0.01, ratio=1.0)
    assert math.isclose(reached, 0.9, abs_tol=1e-9)
    d = NormalIndPower().solve_power(nobs1=5000, alpha=0.01, power=0.9, ratio=1.0)
    assert math.isclose(out["mde"], 4 * d, rel_tol=1e-4)


def test_conversion_mde_round_trips() -> None:
    """The conversion MDE for n units needs n units again (to rounding)."""
    out = run("--baseline", "0.2", "--units", "20000")
    again = run("--baseline", "0.2", "--mde", str(out["mdeAbsolute"]), "--absolute")
    assert abs(again["unitsPerVariant"] - 20000) <= 1


def test_bad_combinations_are_usage_errors() -> None:
    """Missing or contradictory options give a usage message and exit 2, not a traceback."""
    for args in (
        ["--mde", "0.1"],
        ["--baseline", "0.1", "--sd", "2", "--mde", "1"],
        ["--baseline", "0.1"],
        ["--baseline", "0.9", "--mde", "0.5"],
    ):
        result = CliRunner().invoke(cli, ["power", *args])
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
