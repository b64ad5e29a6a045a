"""Which unit is hashed: ``hashKey`` names the attribute, ``unit_id`` is the fallback.

The rule (``docs/assignment.md``): when ``attributes`` holds a non-null value under
``hashKey``, that value is the unit; otherwise ``unit_id`` is. A unit must be a non-empty
string or an integer (written in decimal); anything else, or nothing, means the reason
``missing_unit_id``. The same rule applies whatever ``hashKey`` is, ``userId`` included, so
``assign_many(experiment_id, unit_ids)`` (no attributes) equals ``assign(unit_id, ...)``.

A cluster design is the exception: its unit is the cluster (e.g. the account), which the
request's own id (a user) can never stand for, so ``attributes[hashKey]`` is required there
and ``unit_id`` is not a fallback (:func:`experiment_unit`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splitlab.config.designs import ClusterDesign
from splitlab.config.models import Experiment

__all__ = ["experiment_unit", "resolve_unit", "unit_text"]


def unit_text(value: Any) -> str | None:
    """`value` as a unit id: a non-empty string as is, an integer in decimal, else None."""
    cls = value.__class__
    if cls is str:
        return value or None
    if isinstance(value, str):
        return str.__str__(value) or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    return None


def resolve_unit(
    hash_key: str, unit_id: Any, attributes: Mapping[str, Any] | None, *, fallback: bool = True
) -> str | None:
    """The unit id to hash for an experiment whose ``assignment.hashKey`` is `hash_key`.

    With ``fallback=False`` (a cluster design) only ``attributes[hash_key]`` counts.
    """
    if attributes is not None:
        value = attributes.get(hash_key)
        if value is not None:
            return unit_text(value)
    return unit_text(unit_id) if fallback else None


def experiment_unit(
    experiment: Experiment, unit_id: Any, attributes: Mapping[str, Any] | None
) -> str | None:
    """The unit `experiment` hashes: :func:`resolve_unit` on its ``hashKey``, without the
    ``unit_id`` fallback for a cluster design."""
    return resolve_unit(
        experiment.assignment.hash_key,
        unit_id,
        attributes,
        fallback=not isinstance(experiment.design, ClusterDesign),
    )
