"""TEMPORARY stand-in for ``splitlab.assignment.switchback`` (owned by helper swassign).

Same names, signatures and hashing as that module's specification (``period_index``,
``period_start_ms``, ``switchback_variant``), so the cell table's variants do not change when
the real module replaces it. Delete this file and import from
``splitlab.assignment.switchback`` once that module is on the branch.
"""

from __future__ import annotations

import hashlib

from splitlab.assignment.hashing import PREFIX, variant_edges, variant_index
from splitlab.config.designs import SwitchbackDesign, parse_origin
from splitlab.config.models import Experiment


def _origin_ms(design: SwitchbackDesign) -> int:
    millis = parse_origin(design.origin)
    if millis is None:
        raise ValueError(f"design.origin {design.origin!r} is not a valid origin")
    return millis


def period_index(design: SwitchbackDesign, t_ms: int) -> int:
    """``floor((t_ms - origin) / period)``."""
    return (t_ms - _origin_ms(design)) // (design.period_seconds * 1000)


def period_start_ms(design: SwitchbackDesign, k: int) -> int:
    """The first millisecond of period `k`."""
    return _origin_ms(design) + k * design.period_seconds * 1000


def switchback_variant(experiment: Experiment, unit_value: str | None, period: int) -> str:
    """The variant of the cell (`unit_value`, None for the global unit; period `period`)."""
    tag = "global" if unit_value is None else "unit:" + unit_value
    text = f"{PREFIX}/switchback|{experiment.experiment_id}|{experiment.assignment.salt}|"
    digest = hashlib.sha256(f"{text}{period}|{tag}".encode()).digest()
    weights = [v.weight if v.weight is not None else 1.0 for v in experiment.variants]
    split = int.from_bytes(digest[0:6], "big")
    return experiment.variant_names[variant_index(variant_edges(weights), split)]
