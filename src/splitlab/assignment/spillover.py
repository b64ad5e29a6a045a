"""The split of clusters between two designs, for spillover detection (docs/spillover.md).

Saveski et al. 2017 ("Detecting Network Effects: Randomizing Over Randomized Experiments",
KDD) first split the clusters at random between a cluster-randomised design and an
individually randomised one. :func:`spillover_design` is that split as a pure function of
the cluster id and a salt of its own: the app computes it as an attribute at assignment time
(the same answer in every process and language, no storage), and the two experiments'
``targeting.condition`` pick their clusters by it. The analysis side is
:mod:`splitlab.stats.spillover`.

It belongs to the assignment layer and, like assignment, loads neither numpy nor scipy.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, Literal

from splitlab.assignment.hashing import BUCKETS
from splitlab.assignment.units import unit_text
from splitlab.errors import SplitlabError

__all__ = ["SPLIT_ATTRIBUTE", "SPLIT_PREFIX", "DesignName", "SplitError", "spillover_design"]

#: The attribute the app sets to :func:`spillover_design`'s answer, read by both experiments'
#: ``targeting.condition`` (any name works; this one is what the docs use).
SPLIT_ATTRIBUTE = "spilloverDesign"
#: The version tag that starts every hashed string of the split (distinct from assignment's
#: ``splitlab/v1``, so the split is independent of every experiment's own bucketing).
SPLIT_PREFIX = "splitlab/spillover/v1"

DesignName = Literal["cluster", "individual"]


class SplitError(SplitlabError, ValueError):
    """An argument :func:`spillover_design` cannot use (the message names it)."""

    code = "invalid_split_input"


def _shown(value: Any) -> str:
    if value is None or isinstance(value, str | int | float | bool):
        return repr(value)
    return type(value).__name__


def spillover_design(cluster_id: Any, salt: str, cluster_share: float = 0.5) -> DesignName:
    """Which design a cluster belongs to: ``"cluster"`` or ``"individual"``.

    The split integer ``s`` is bytes 0-5 (big-endian) of the SHA-256 digest of the UTF-8
    string ``"splitlab/spillover/v1|" + salt + "|" + cluster``, where `cluster_id` is a
    non-empty string or an integer (in decimal). The cluster goes to the cluster design when
    ``s < ceil(cluster_share * 2**48)``, so the cluster half at a smaller share is contained
    in the cluster half at a larger one.
    """
    cluster = unit_text(cluster_id)
    if cluster is None:
        raise SplitError(
            f"cluster_id: expected a non-empty string or an integer (got {_shown(cluster_id)})"
        )
    if not isinstance(salt, str) or not salt:
        raise SplitError(
            "salt: expected a non-empty string of the split's own, not an experiment's salt "
            f"(got {_shown(salt)})"
        )
    share = cluster_share
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 < share < 1.0:
        raise SplitError(
            f"cluster_share: expected a number strictly between 0 and 1 (got {_shown(share)})"
        )
    digest = hashlib.sha256(f"{SPLIT_PREFIX}|{salt}|{cluster}".encode()).digest()
    split = int.from_bytes(digest[0:6], "big")
    return "cluster" if split < math.ceil(share * BUCKETS) else "individual"
