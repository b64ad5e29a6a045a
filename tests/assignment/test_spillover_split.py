"""splitlab.assignment.spillover: the split of clusters between the two designs of spillover
detection, a pure function of the cluster id and its own salt."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys

import pytest

from splitlab.assignment.hashing import hash_integers
from splitlab.assignment.spillover import SplitError, spillover_design


def test_split_is_the_documented_hash() -> None:
    """Recomputed here from the documented bytes: SHA-256 of
    'splitlab/spillover/v1|<salt>|<cluster>', first 6 bytes big-endian, against
    ceil(share * 2^48)."""
    for cluster in ["community-0", "community-17", 12345, "é-日本"]:
        text = f"splitlab/spillover/v1|salt-1|{cluster}".encode()
        split = int.from_bytes(hashlib.sha256(text).digest()[:6], "big")
        for share in (0.1, 0.5, 0.9):
            wanted = "cluster" if split < math.ceil(share * 2**48) else "individual"
            assert spillover_design(cluster, "salt-1", share) == wanted
    assert spillover_design(7, "x") == spillover_design("7", "x")


def test_split_shares_and_nesting() -> None:
    """Over 20,000 clusters the cluster share is within 3 binomial s.e. of the asked share,
    and a cluster in the cluster design at share 0.3 stays there at 0.5 (nested)."""
    n = 20_000
    ids = [f"c{k}" for k in range(n)]
    for share in (0.3, 0.5):
        got = sum(spillover_design(c, "nest", share) == "cluster" for c in ids) / n
        assert abs(got - share) <= 3 * math.sqrt(share * (1 - share) / n)
    small = {c for c in ids if spillover_design(c, "nest", 0.3) == "cluster"}
    assert all(spillover_design(c, "nest", 0.5) == "cluster" for c in small)


def test_split_is_independent_of_an_experiments_bucketing() -> None:
    """Among clusters whose bucketing (same cluster ids, an experiment's salt) puts them in
    the lower half, the split's cluster share is still 1/2 within 3 s.e."""
    ids = [f"community-{k}" for k in range(20_000)]
    lower = [c for c in ids if hash_integers("exp-cluster", "s", c)[1] < 2**47]
    share = sum(spillover_design(c, "s") == "cluster" for c in lower) / len(lower)
    assert abs(share - 0.5) <= 3 * math.sqrt(0.25 / len(lower))


@pytest.mark.parametrize(
    ("cluster_id", "salt", "share", "field"),
    [
        ("", "s", 0.5, "cluster_id"),
        (None, "s", 0.5, "cluster_id"),
        (1.5, "s", 0.5, "cluster_id"),
        ("c", "", 0.5, "salt"),
        ("c", "s", 0.0, "cluster_share"),
        ("c", "s", 1.0, "cluster_share"),
        ("c", "s", True, "cluster_share"),
    ],
)
def test_split_bad_input(cluster_id: object, salt: str, share: float, field: str) -> None:
    with pytest.raises(SplitError, match=f"^{field}: expected"):
        spillover_design(cluster_id, salt, share)


def test_the_split_loads_neither_numpy_nor_scipy() -> None:
    """An app computes the split on its assignment path, which stays light."""
    code = (
        "import sys\n"
        "from splitlab.assignment.spillover import spillover_design\n"
        "spillover_design('community-1', 'salt')\n"
        "print(','.join(m for m in ('numpy', 'scipy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
