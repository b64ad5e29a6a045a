"""The figures of docs/allocation.md: hashing's imbalance over 60 tenants, the stratified
table's balance, and the worked analysis (one simulated run, seed 7).

    .venv-bench/bin/python bench/allocation.py [SALTS]
"""

from __future__ import annotations

import csv
import json
import sys
from functools import reduce
from pathlib import Path

import numpy as np

from splitlab.assignment import ExperimentAssignmentService
from splitlab.config import load_experiment
from splitlab.stats.allocation import stratified_allocation
from splitlab.stats.stratified_cluster import stratified_cluster_difference
from splitlab.stats.sums import ArmSums

ROOT = Path(__file__).resolve().parent.parent
ARMS = ("current-price", "new-price")
BASE_SEATS = {"EU-large": 1.6, "EU-small": 0.9, "US-large": 1.9, "US-small": 1.1}


def main(salts: int) -> None:
    rows = list(csv.DictReader((ROOT / "examples" / "tenants.csv").open(encoding="utf-8")))
    raw = json.loads((ROOT / "examples" / "exp-enterprise-pricing.json").read_text())
    raw["status"] = "running"
    arr = np.array([float(r["arr"]) for r in rows])
    large = np.array([r["size"] == "large" for r in rows])
    shares, larges = [], []
    for s in range(salts):
        raw["assignment"]["salt"] = f"salt-{s}"
        service = ExperimentAssignmentService([load_experiment(raw)])
        treated = np.array(
            [
                service.assign(None, raw["experimentId"], {"tenantId": r["tenantId"]}).variant
                == ARMS[1]
                for r in rows
            ]
        )
        shares.append(arr[treated].sum() / arr.sum())
        larges.append(int((treated & large).sum()))
    share, big = np.array(shares), np.array(larges)
    print(f"hashing over {salts} salts: large tenants in {ARMS[1]} (of {large.sum()}), 5th/50th/"
          f"95th percentile {np.percentile(big, [5, 50, 95]).tolist()}; revenue share outside "
          f"[0.4, 0.6] in {np.mean(np.abs(share - 0.5) > 0.1):.1%} of salts")  # fmt: skip
    drawn = stratified_allocation(
        [r["tenantId"] for r in rows], [r["segment"] for r in rows], list(ARMS), 20270115
    )
    treated = np.array([drawn.table[r["tenantId"]] == ARMS[1] for r in rows])
    print(f"stratified table (seed 20270115): {int((treated & large).sum())} large tenants and "
          f"{arr[treated].sum() / arr.sum():.1%} of revenue in {ARMS[1]}")  # fmt: skip
    rng = np.random.default_rng(7)
    cells: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for r in rows:
        variant = drawn.table[r["tenantId"]]
        users = int(float(r["arr"]) / 2000) + int(rng.integers(5, 30))
        lift = 0.12 if variant == ARMS[1] else 0.0
        seats = users * (BASE_SEATS[r["segment"]] + lift) * np.exp(rng.normal(0, 0.15))
        cells.setdefault(r["segment"], {}).setdefault(variant, []).append((round(seats), users))
    strata = {
        k: {v: ArmSums.from_values([y for y, _ in c], denominator=[d for _, d in c])
            for v, c in arms.items()}
        for k, arms in cells.items()
    }  # fmt: skip
    stratified = stratified_cluster_difference(strata, *ARMS, level="unit")
    whole = {v: reduce(lambda a, b: a + b, [strata[k][v] for k in sorted(strata)]) for v in ARMS}
    pooled = stratified_cluster_difference({"all": whole}, *ARMS, level="unit")
    print(f"stratified: {stratified}")
    print(f"one stratum: {pooled}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
