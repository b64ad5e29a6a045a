"""How results look in a terminal (rich) and in a notebook (HTML)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from splitlab.stats.results import Comparison, Results

if TYPE_CHECKING:
    from rich.console import RenderableType

_ACTION_STYLE = {
    "ship": "bold green",
    "continue": "bold yellow",
    "stop": "bold",
    "rollback": "bold red",
    "halt": "bold red",
}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.2f}%"


def _p(x: float | None) -> str:
    if x is None:
        return "-"
    return "<0.0001" if x < 1e-4 else f"{x:.4f}"


def cells(c: Comparison) -> list[str]:
    """The table cells of one comparison (shared by the terminal and HTML views)."""
    if not c.estimable:
        return [c.variant, "-", "-", "-", "-", "not estimable", c.reason or ""]
    rel = c.relative
    abs_ = c.absolute
    effect = _pct(rel.estimate) if rel else (f"{abs_.estimate:+.4g}" if abs_ else "-")
    interval = (
        f"[{_pct(rel.lower)}, {_pct(rel.upper)}]"
        if rel
        else (f"[{abs_.lower:+.4g}, {abs_.upper:+.4g}]" if abs_ else "-")
    )
    verdict = c.direction if c.significant else "not significant"
    extra: str = c.guardrail.verdict if c.guardrail else ""
    if c.bayesian:
        extra = f"P(beat)={c.bayesian.chance_to_beat_control:.1%}"
    means = f"{c.control_mean:.4g} -> {c.variant_mean:.4g}"
    return [c.variant, means, effect, interval, _p(c.adjusted_p_value), verdict, extra]


HEADERS = ["variant", "control -> variant", "lift", "interval", "adj. p", "result", "note"]


def rich_results(results: Results) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    title = (
        f"{results.experiment_id}: look {results.look} of {results.max_peeks}"
        f" ({results.information_fraction:.0%} of planned units)"
    )
    srm = results.srm
    srm_line = (
        "SRM: no units yet"
        if srm.p_value is None
        else f"SRM: p = {srm.p_value:.4g} ({'MISMATCH' if srm.detected else 'ok'})"
    )
    parts: list[RenderableType] = [Text(title, style="bold"), Text(srm_line)]
    table = Table("metric", *HEADERS[:1], *HEADERS[2:], show_lines=False, expand=False)
    for m in results.metrics:
        for i, c in enumerate(m.comparisons):
            style = {"better": "green", "worse": "red"}.get(c.direction, "")
            label = f"{m.name} ({m.role})" if i == 0 else ""
            row = cells(c)
            table.add_row(label, row[0], *row[2:], style=style)
    parts.append(table)
    d = results.decision
    action = d.action + (f" {d.variant}" if d.variant else "")
    parts.append(Text(f"Decision: {action}", style=_ACTION_STYLE.get(d.action, "bold")))
    parts += [Text(f"  - {r}") for r in d.reasons]
    parts += [Text(f"warning: {w}", style="yellow") for w in results.warnings]
    return Group(*parts)


def html_results(results: Results, escape: Callable[[str], str]) -> str:
    rows = []
    for m in results.metrics:
        for c in m.comparisons:
            tds = "".join(f"<td>{escape(x)}</td>" for x in [m.name, m.role, *cells(c)])
            rows.append(f"<tr>{tds}</tr>")
    head = "".join(f"<th>{escape(h)}</th>" for h in ["metric", "role", *HEADERS])
    d = results.decision
    reasons = "".join(f"<li>{escape(r)}</li>" for r in d.reasons)
    action = escape(d.action + (f" {d.variant}" if d.variant else ""))
    return (
        f"<div><h4>{escape(results.experiment_id)}: look {results.look} of "
        f"{results.max_peeks}</h4><table><thead><tr>{head}</tr></thead><tbody>"
        f"{''.join(rows)}</tbody></table><p><b>Decision: {action}</b></p><ul>{reasons}</ul></div>"
    )
