"""A small benchmark harness: a case and its baseline, run alternately in one process.

Alternating rounds (case, baseline, case, baseline, ...) means that whatever else the machine
does affects both sides alike; the figures printed are medians over rounds, and the ratio of
the medians. Nothing here asserts a time: benchmarks print, tests never time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Measurement:
    name: str
    seconds_per_round: list[float]
    ops_per_round: int

    @property
    def median(self) -> float:
        return statistics.median(self.seconds_per_round)

    @property
    def ops_per_second(self) -> float:
        return self.ops_per_round / self.median

    @property
    def seconds_per_op(self) -> float:
        return self.median / self.ops_per_round


def compare(
    cases: dict[str, Callable[[], object]],
    ops_per_round: int,
    rounds: int = 7,
    warmup: int = 1,
) -> list[Measurement]:
    """Time every callable `rounds` times, interleaved; each call performs `ops_per_round` ops."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(warmup + rounds):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            if i >= warmup:
                times[name].append(elapsed)
    return [Measurement(name, t, ops_per_round) for name, t in times.items()]


def report(title: str, measurements: list[Measurement], baseline: str | None = None) -> str:
    """A plain-text table: median time per op, ops per second, and the ratio to `baseline`."""
    base = next((m for m in measurements if m.name == baseline), None)
    lines = [title, f"{'case':<44} {'per op':>12} {'ops/s':>14} {'vs ' + (baseline or '-'):>18}"]
    for m in measurements:
        ratio = f"{m.median / base.median:.2f}x time" if base else ""
        lines.append(
            f"{m.name:<44} {_fmt_time(m.seconds_per_op):>12} {m.ops_per_second:>14,.0f} {ratio:>18}"
        )
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def _fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.3f} us"
    return f"{seconds * 1e9:.1f} ns"
