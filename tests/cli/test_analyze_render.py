"""`splitlab analyze` prints a results table that an 80-column terminal shows in full."""

from __future__ import annotations

from click.testing import CliRunner

from splitlab.cli.main import cli
from tests.conftest import ARTICLE_EXAMPLE, ROOT

SUMS = ROOT / "tests" / "stats" / "data" / "checkout-sums.json"
METRICS = (
    "checkout_completion_rate (primary)",
    "avg_session_duration (secondary)",
    "cart_abandonment_rate (secondary)",
    "error_rate (guardrail)",
)


def test_the_table_shows_every_metric_name_in_full_at_80_columns() -> None:
    """At 80 columns every metric's full name and role is printed, nothing is cut with an
    ellipsis, and the interval and result of a comparison stay on one line."""
    result = CliRunner().invoke(
        cli,
        ["analyze", str(ARTICLE_EXAMPLE), "--sums", str(SUMS)],
        env={"COLUMNS": "80", "LINES": "50"},
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "…" not in result.output
    for metric in METRICS:
        assert any(line.strip() == metric for line in lines), metric
    [row] = [line for line in lines if "[+2.23%, +21.52%]" in line]
    assert row.split()[:3] == ["variant-a", "+11.87%", "[+2.23%,"] and "better" in row
