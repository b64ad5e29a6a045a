"""A cluster experiment with an allocation table, for the allocation tests."""

from __future__ import annotations

import copy
from typing import Any

BASE: dict[str, Any] = {
    "experimentId": "exp-pricing",
    "status": "running",
    "variants": ["control", "new-price"],
    "assignment": {"hashKey": "tenantId", "salt": "s"},
    "metrics": {"primary": {"name": "revenue", "type": "continuous"}},
    "segments": ["tier"],
    "design": {"type": "cluster", "analysisUnit": "userId"},
}


def allocated(allocation: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The base definition with `allocation` as design.allocation and top-level `changes`."""
    raw = copy.deepcopy(BASE)
    raw["design"]["allocation"] = allocation
    raw.update(changes)
    return raw


STRATIFIED: dict[str, Any] = {
    "method": "stratified",
    "seed": 11,
    "table": {"t1": "control", "t2": "new-price", "t3": "new-price", "t4": "control"},
    "strata": {"t1": "gold", "t2": "gold", "t3": "silver", "t4": "silver"},
    "column": "tier",
    "stratumAttribute": "tier",
}
