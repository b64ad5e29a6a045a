"""How results look in a terminal (rich) and in a notebook (HTML)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from splitlab.stats.results import Comparison, Results

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult

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

#: The terminal view's columns (indexes into :func:`cells`) and which of them may wrap.
_COLUMNS = (0, 2, 3, 4, 5, 6)
_WRAPS = (False, False, True, False, True, True)
#: Characters between two columns of the terminal table (padding on both sides of the rule).
_GAP = 3


class _MetricsTable:
    """The comparisons of every metric, the metric's name on a line of its own above them.

    A metric column would take a third of an 80-column terminal and still cut long names
    ("checkout…"); a heading line has the full width. One table per metric, with the same
    column widths so they line up (narrowed, when the terminal is narrow, by wrapping the
    interval, result and note at their spaces).
    """

    def __init__(self, results: Results) -> None:
        self._metrics = [
            (
                f"{m.name} ({m.detail + ', ' if m.detail else ''}{m.role})",
                [cells(c) for c in m.comparisons],
                m.comparisons,
            )
            for m in results.metrics
        ]

    def _widths(self, max_width: int) -> list[int]:
        rows = [[row[i] for i in _COLUMNS] for _, rows, _ in self._metrics for row in rows]
        heads = [HEADERS[i] for i in _COLUMNS]
        widths = [max([len(h)] + [len(r[k]) for r in rows]) for k, h in enumerate(heads)]
        if sum(widths) + _GAP * (len(widths) - 1) <= max_width:
            return widths
        for k, wraps in enumerate(_WRAPS):
            if wraps:
                words = [w for r in [heads, *rows] for w in r[k].split()]
                widths[k] = max(len(w) for w in words)
        return widths

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich import box
        from rich.table import Table

        widths = self._widths(options.max_width)
        for k, (label, rows, comparisons) in enumerate(self._metrics):
            table = Table(
                title=label, title_justify="left", title_style="bold", show_header=k == 0,
                box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
            )  # fmt: skip
            for index, width in zip(_COLUMNS, widths, strict=True):
                table.add_column(HEADERS[index], width=width)
            for row, c in zip(rows, comparisons, strict=True):
                style = {"better": "green", "worse": "red"}.get(c.direction, "")
                table.add_row(*(row[i] for i in _COLUMNS), style=style)
            yield table


def rich_results(results: Results) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    design = results.design.to_dict() if results.design is not None else {}
    counted = "clusters" if design.get("type") == "cluster" else "units"
    title = (
        f"{results.experiment_id}: look {results.look} of {results.max_peeks}"
        f" ({results.information_fraction:.0%} of planned {counted})"
    )
    srm = results.srm
    srm_line = (
        "SRM: no units yet"
        if srm.p_value is None
        else f"SRM: p = {srm.p_value:.4g} ({'MISMATCH' if srm.detected else 'ok'})"
    )
    if srm.by_version is not None:
        each = ", ".join(
            f"v{v.version} p = {'n/a' if v.p_value is None else f'{v.p_value:.4g}'}"
            for v in srm.by_version
        )
        srm_line += f", per weights version ({each}); effects stratified by weights version"
    parts: list[RenderableType] = [
        Text(title, style="bold"),
        Text(srm_line),
    ]
    if results.design is not None:
        parts.append(Text(results.design.summary()))
    parts.append(_MetricsTable(results))
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
            name = f"{m.name} ({m.detail})" if m.detail else m.name
            tds = "".join(f"<td>{escape(x)}</td>" for x in [name, m.role, *cells(c)])
            rows.append(f"<tr>{tds}</tr>")
    head = "".join(f"<th>{escape(h)}</th>" for h in ["metric", "role", *HEADERS])
    d = results.decision
    reasons = "".join(f"<li>{escape(r)}</li>" for r in d.reasons)
    action = escape(d.action + (f" {d.variant}" if d.variant else ""))
    design = "" if results.design is None else f"<p>{escape(results.design.summary())}</p>"
    return (
        f"<div><h4>{escape(results.experiment_id)}: look {results.look} of "
        f"{results.max_peeks}</h4>{design}<table><thead><tr>{head}</tr></thead><tbody>"
        f"{''.join(rows)}</tbody></table><p><b>Decision: {action}</b></p><ul>{reasons}</ul></div>"
    )
