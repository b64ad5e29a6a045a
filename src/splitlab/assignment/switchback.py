"""Switchback assignment: the variant of a (unit, period) cell; pure, no clock, no I/O.

Specified in the switchback section of ``docs/assignment.md`` and pinned by the vectors in
``spec/switchback-cases.json``; the JavaScript SDK (``sdk/js/src/switchback.js``) implements
the same steps.

* Period index ``k = floor((t - origin) / period)``, times in epoch milliseconds; negative
  before the origin. Period ``k`` is ``[origin + k * period, origin + (k + 1) * period)``.
* Hashed string (UTF-8): ``"splitlab/v1/switchback|" + experimentId + "|" + salt + "|" + k
  + "|" + tag`` with ``k`` in decimal (``-1`` before the origin) and ``tag`` = ``global`` for
  the one global unit or ``unit:`` + the unit's value. A classic hashed string has ``|``
  right after ``splitlab/v1``, this one ``/``, so the two can never be the same string.
* Split integer: bytes 0-5 of the SHA-256 digest, big-endian, cut by the classic variant
  edges (:func:`splitlab.assignment.hashing.variant_edges`). There is no gate.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from splitlab.assignment.hashing import PREFIX, edge_keys, variant_edges, variant_index
from splitlab.assignment.result import Assignment, Reason
from splitlab.assignment.targeting import compile_targeting
from splitlab.assignment.units import unit_text
from splitlab.config.designs import SwitchbackDesign, parse_origin
from splitlab.config.models import Experiment
from splitlab.errors import SplitlabError

__all__ = [
    "GLOBAL_TAG",
    "MAX_TIME_MS",
    "SWITCHBACK_PREFIX",
    "TimeError",
    "compile_switchback",
    "epoch_ms",
    "origin_ms",
    "period_index",
    "period_start_ms",
    "switchback_design",
    "switchback_input",
    "switchback_split",
    "switchback_variant",
]

#: Starts every switchback hashed string (the classic one is ``splitlab/v1|``).
SWITCHBACK_PREFIX = f"{PREFIX}/switchback"
#: The tag field of the one global unit (a named unit's tag is ``unit:`` + its value).
GLOBAL_TAG = "global"
#: Times are accepted within JavaScript's ``Date`` range, +-8.64e15 ms (exact in a double).
MAX_TIME_MS = 8_640_000_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_RULE = "epoch milliseconds (an integer within +-8.64e15) or a timezone-aware datetime"

#: (unit_id, attributes, time in epoch ms) -> Assignment.
AssignAt = Callable[[Any, Mapping[str, Any] | None, int], Assignment]


class TimeError(SplitlabError, ValueError):
    """A time given for a switchback assignment is missing or not a usable instant."""

    code = "invalid_time"


def epoch_ms(at: Any, field: str = "at") -> int:
    """`at` (epoch ms as an int, or an aware datetime) as epoch milliseconds (floored).

    Raises :class:`TimeError` naming `field` for anything else: a float, a bool, text, a
    naive datetime (whose zone is unknown), or a time outside +-8.64e15 ms.
    """
    if isinstance(at, datetime):
        if at.tzinfo is None or at.utcoffset() is None:
            raise TimeError(
                f"{field} must be {_TIME_RULE}; got a naive datetime {at.isoformat()!r} "
                "(add a zone, e.g. tzinfo=UTC)"
            )
        millis = (at - _EPOCH) // timedelta(milliseconds=1)
    elif isinstance(at, int) and not isinstance(at, bool):
        millis = int(at)
    else:
        raise TimeError(f"{field} must be {_TIME_RULE} (got {at!r})")
    if not -MAX_TIME_MS <= millis <= MAX_TIME_MS:
        raise TimeError(f"{field} must be {_TIME_RULE} (got {at!r})")
    return millis


def switchback_design(experiment: Experiment) -> SwitchbackDesign:
    """The experiment's switchback design; ``ValueError`` when it has another design."""
    design = experiment.design
    if not isinstance(design, SwitchbackDesign):
        raise ValueError(
            f"experiment {experiment.experiment_id!r} is not a switchback "
            f"(design is {None if design is None else design.type!r}); expected "
            'design.type "switchback"'
        )
    return design


def origin_ms(design: SwitchbackDesign) -> int:
    """The design's origin in epoch milliseconds (validated by the config already)."""
    millis = parse_origin(design.origin)
    if millis is None:  # only reachable for a definition built without validation
        raise ValueError(f"design.origin {design.origin!r} is not a valid origin")
    return millis


def period_index(design: SwitchbackDesign, t_ms: int) -> int:
    """``floor((t_ms - origin) / period)``: negative before the origin, 0 from it."""
    return (t_ms - origin_ms(design)) // (design.period_seconds * 1000)


def period_start_ms(design: SwitchbackDesign, k: int) -> int:
    """The first millisecond of period `k`: ``origin + k * period``."""
    return origin_ms(design) + k * design.period_seconds * 1000


def _tag(unit_value: str | None) -> str:
    return GLOBAL_TAG if unit_value is None else "unit:" + unit_value


def switchback_input(experiment_id: str, salt: str, unit_value: str | None, period: int) -> bytes:
    """The exact bytes hashed for a cell (UTF-8); `unit_value` None is the global unit."""
    return f"{SWITCHBACK_PREFIX}|{experiment_id}|{salt}|{period}|{_tag(unit_value)}".encode()


def switchback_split(experiment_id: str, salt: str, unit_value: str | None, period: int) -> int:
    """The cell's split integer in ``[0, 2**48)``: bytes 0-5 of the digest, big-endian."""
    digest = hashlib.sha256(switchback_input(experiment_id, salt, unit_value, period)).digest()
    return int.from_bytes(digest[0:6], "big")


def _weights(experiment: Experiment) -> list[float]:
    return [v.weight if v.weight is not None else 1.0 for v in experiment.variants]


def switchback_variant(experiment: Experiment, unit_value: str | None, period: int) -> str:
    """The variant of the cell (`unit_value` or the global unit, period index `period`).

    The randomised draw only: status, toggle and targeting are the service's business.
    """
    switchback_design(experiment)
    split = switchback_split(
        experiment.experiment_id, experiment.assignment.salt, unit_value, period
    )
    return experiment.variant_names[variant_index(variant_edges(_weights(experiment)), split)]


def compile_switchback(
    experiment: Experiment, saved_groups: Mapping[str, Sequence[Any]] | None = None
) -> AssignAt:
    """The assign function of a running switchback, given the time in epoch milliseconds.

    Steps: period of the time; the unit (``attributes[design.unit]``, or the global unit);
    targeting; the cell's variant. The answer carries the period, its start and the unit.
    """
    design = switchback_design(experiment)
    eid = experiment.experiment_id
    origin = origin_ms(design)
    period_ms = design.period_seconds * 1000
    unit_key = design.unit
    head = f"{SWITCHBACK_PREFIX}|{eid}|{experiment.assignment.salt}|".encode()
    edges = edge_keys(variant_edges(_weights(experiment)))
    names = experiment.variant_names
    targeted = compile_targeting(experiment.targeting, saved_groups)
    sha256 = hashlib.sha256

    def assign_at(unit_id: Any, attributes: Mapping[str, Any] | None, t_ms: int) -> Assignment:
        k = (t_ms - origin) // period_ms
        start = origin + k * period_ms
        unit: str | None = None
        if unit_key is not None:
            value = attributes.get(unit_key) if attributes is not None else None
            unit = None if value is None else unit_text(value)
            if unit is None:
                return Assignment(eid, None, Reason.MISSING_UNIT_ID, k, start)
            try:
                tag = b"unit:" + unit.encode()
            except UnicodeEncodeError:  # a lone surrogate: not text, so not a usable unit
                return Assignment(eid, None, Reason.MISSING_UNIT_ID, k, start)
        else:
            tag = b"global"
        if targeted is not None and not targeted(attributes if attributes is not None else {}):
            return Assignment(eid, None, Reason.NOT_TARGETED, k, start, unit)
        digest = sha256(head + str(k).encode() + b"|" + tag).digest()
        return Assignment(eid, names[bisect_right(edges, digest)], Reason.ASSIGNED, k, start, unit)

    return assign_at
