"""How a cap reads in the decision, the CLI and the dashboard: a provisional percentile cap
says what provisional means, a fixed one names its look."""

from __future__ import annotations

from splitlab.config.models import Cap
from splitlab.stats.capping import AppliedCap

P99 = Cap.model_validate({"type": "percentile", "percentile": 99})


def test_a_provisional_cap_says_when_it_will_be_fixed() -> None:
    cap = AppliedCap("revenue", "value", P99, 106.95, {"control": 11, "one_page": 6})
    assert cap.line() == (
        "revenue: capped at 106.95 (99th percentile, provisional: recomputed at each look until "
        "every arm has minSampleSize units): 17 units touched (control 11, one_page 6)"
    )


def test_a_fixed_cap_names_its_look() -> None:
    cap = AppliedCap("revenue", "covariate", P99, 577.01, {"control": 23, "one_page": 17}, 2)
    assert cap.short() == (
        "covariate capped at 577.01 (99th percentile, fixed at look 2): 40 units touched"
    )
