"""Definitions for the layer, holdout and sticky proofs."""

from __future__ import annotations

from typing import Any

from splitlab.config import Experiment, load_experiment

N = 100_000
UNITS = [f"user-{i}" for i in range(N)]


def exp(eid: str, **fields: Any) -> Experiment:
    raw: dict[str, Any] = {
        "experimentId": eid,
        "status": "running",
        "variants": ["control", "treatment"],
        "assignment": {"salt": f"{eid}-salt"},
        "metrics": {"primary": {"name": "purchase"}},
    }
    raw.update(fields)
    return load_experiment(raw)


def in_layer(eid: str, start: int, end: int, layer: str = "checkout", **fields: Any) -> Experiment:
    return exp(eid, layer={"id": layer, "start": start, "end": end}, **fields)


def holdout(eid: str, percent: float, tags: list[str] | None = None, **fields: Any) -> Experiment:
    scope = {"tags": tags} if tags else None
    return exp(
        eid,
        variants=["held_out", "exposed"],
        design={"type": "holdout", "percent": percent, "scope": scope},
        **fields,
    )


def within_3_se(count: int, n: int, p: float) -> bool:
    """`count` of `n` is within 3 binomial standard errors sqrt(p (1 - p) / n) of share `p`."""
    se = (p * (1 - p) / n) ** 0.5
    return abs(count / n - p) <= 3 * se
