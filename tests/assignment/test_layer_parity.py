"""The Python service and the JS SDK agree on layers, holdouts and sticky answers.

* ``layer_edge(b)`` for every bucket 0..10,000 (exhaustively), and each edge against the
  exact rational ``ceil(b * 2^48 / 10000)`` within one unit (the contract divides in IEEE
  doubles, so a few edges differ from the exact value by one; both languages by the same).
* Whole assignments (variant, reason, holdoutId, holdoutVariant) of 20,000 fixed-seed units
  over one set of definitions: two layers, a cluster experiment in a layer, holdouts with
  and without tags (one keyed on accountId, one paused, one toggled), a shipped, a toggled and
  a rolled back covered experiment, and a sticky one whose weights change while a new
  holdout starts (two phases over the same store, as docs/assignment.md, "Sticky
  assignment", describes).
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import shutil
import subprocess
from typing import Any

import pytest

from splitlab.assignment import ExperimentAssignmentService
from splitlab.assignment.hashing import layer_edge
from splitlab.assignment.sticky import MemoryStickyStore
from splitlab.config import load_experiment
from tests.conftest import ROOT

NODE = shutil.which("node")
M = {"primary": {"name": "purchase", "type": "conversion"}}


def _holdout(eid: str, percent: float, scope: Any, **over: Any) -> dict[str, Any]:
    return {"experimentId": eid, "status": "running", "variants": ["held_out", "exposed"],
            "assignment": {"salt": eid}, "metrics": M,
            "design": {"type": "holdout", "percent": percent, "scope": scope}, **over}  # fmt: skip


def _weighted(*pairs: tuple[str, float]) -> list[dict[str, Any]]:
    return [{"name": n, "weight": w} for n, w in pairs]


PHASE1: list[dict[str, Any]] = [
    {"experimentId": "exp-a", "status": "running", "trafficAllocation": 0.8,
     "variants": ["control", "treatment"], "assignment": {"salt": "sa",
     "forced": {"treatment": ["qa-1"]}}, "metrics": M, "tags": ["checkout"],
     "layer": {"id": "L1", "start": 0, "end": 5000},
     "targeting": {"include": ["region:US", "region:FR"]}},
    {"experimentId": "exp-b", "status": "running",
     "variants": _weighted(("control", 0.15), ("b1", 0.35), ("b2", 0.5)),
     "assignment": {"salt": "sb"}, "metrics": M, "tags": ["search"],
     "layer": {"id": "L1", "start": 5000, "end": 8000}, "targeting": {"exclude": ["region:FR"]}},
    {"experimentId": "exp-c", "status": "running", "trafficAllocation": 0.9,
     "variants": ["control", "c1"], "assignment": {"salt": "sc", "hashKey": "accountId"},
     "design": {"type": "cluster", "analysisUnit": "userId"}, "metrics": M,
     "tags": ["checkout"], "layer": {"id": "L2", "start": 1234, "end": 8765}},
    {"experimentId": "exp-d", "status": "shipped", "shippedVariant": "d1",
     "variants": ["control", "d1"], "assignment": {"salt": "sd"}, "metrics": M,
     "tags": ["checkout"], "targeting": {"include": ["region:US"]}},
    {"experimentId": "exp-e", "status": "running", "trafficAllocation": 0.5,
     "variants": _weighted(("control", 0.5), ("e1", 0.5)),
     "assignment": {"salt": "se", "sticky": True}, "metrics": M, "tags": ["pricing"]},
    {"experimentId": "exp-f", "status": "running", "forcedVariant": "f1",
     "variants": ["control", "f1"], "assignment": {"salt": "sf"}, "metrics": M,
     "tags": ["checkout"]},
    {"experimentId": "exp-g", "status": "rolled_back", "variants": ["control", "g1"],
     "assignment": {"salt": "sg"}, "metrics": M, "tags": ["checkout"]},
    _holdout("h-checkout", 5, {"tags": ["checkout", "search"]}),
    _holdout("h-all", 10, None),
    _holdout("h-acct", 20, {"tags": ["checkout"]},
             assignment={"salt": "hac", "hashKey": "accountId"}),
    _holdout("h-paused", 50, None, status="paused"),
    _holdout("a-toggled", 50, None, forcedVariant="exposed"),
]  # fmt: skip


def _phase2() -> list[dict[str, Any]]:
    out = copy.deepcopy(PHASE1)
    for e in out:
        if e["experimentId"] == "exp-e":  # reweighted and widened while a holdout starts
            e["variants"] = _weighted(("control", 0.2), ("e1", 0.8))
            e["trafficAllocation"] = 0.9
    return [*out, _holdout("h-pricing", 30, {"tags": ["pricing"]})]


def _units(n: int) -> list[tuple[Any, dict[str, Any] | None]]:
    rng = random.Random(20261204)
    units: list[tuple[Any, dict[str, Any] | None]] = []
    for _ in range(n):
        r = rng.random()
        uid: Any = (None if r < 0.01 else "" if r < 0.015 else rng.choice(["qa-1", "qa-2"])
                    if r < 0.02 else rng.randrange(10**9) if r < 0.03
                    else f"u-{rng.getrandbits(64):016x}{rng.choice(['', 'é', '日本'])}")  # fmt: skip
        attrs: dict[str, Any] = {}
        region = rng.choice(["US", "FR", "DE", None, "-"])
        if region != "-":
            attrs["region"] = region
        a = rng.random()
        if a < 0.8:
            attrs["accountId"] = f"acct-{rng.randrange(4000)}"
        elif a < 0.85:
            attrs["accountId"] = ""
        if rng.random() < 0.1:  # repeated units: the sticky store answers the second time
            attrs["userId"] = f"again-{rng.randrange(500)}"
        units.append((uid, attrs if rng.random() > 0.02 else None))
    return units


RUNNER = """
import("./sdk/js/src/index.js").then((m) => {
  const {phases, units, buckets} = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const edges = [];
  for (let b = 0; b <= buckets; b++) edges.push(String(m.layerEdge(b)));
  const store = new m.MemoryStickyStore();
  let service = null;
  const answers = phases.map((defs) => {
    if (service === null) service = new m.ExperimentAssignmentService(defs, {}, { sticky: store });
    else service.update(defs, {});
    return units.map(([u, a]) => defs.map((d) => {
      const x = service.assign(u, d.experimentId, a);
      return [x.variant, x.reason, x.holdoutId ?? null, x.holdoutVariant ?? null];
    }));
  });
  console.log(JSON.stringify({edges, answers}));
});
"""


def test_python_and_javascript_agree_on_layer_edges_and_whole_assignments() -> None:
    if NODE is None:
        pytest.fail("node is missing: run scripts/install-system-deps.sh (Debian's nodejs, 18+)")
    phases = [PHASE1, _phase2()]
    units = _units(20_000)
    proc = subprocess.run(
        [NODE, "-e", RUNNER],
        input=json.dumps({"phases": phases, "units": units, "buckets": 10_000}),
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    js = json.loads(proc.stdout)

    edges = [layer_edge(b) for b in range(10_001)]
    assert [int(e) for e in js["edges"]] == edges
    exact = [-(-b * 2**48 // 10_000) for b in range(10_001)]
    assert all(abs(a - b) <= 1 for a, b in zip(edges, exact, strict=True))
    assert all(a < b for a, b in itertools.pairwise(edges))

    service = ExperimentAssignmentService([], sticky=MemoryStickyStore())
    reasons: set[tuple[str, str]] = set()
    for defs, answers in zip(phases, js["answers"], strict=True):
        service.update([load_experiment(d) for d in defs])
        for (uid, attrs), row in zip(units, answers, strict=True):
            for d, theirs in zip(defs, row, strict=True):
                a = service.assign(uid, d["experimentId"], attrs)
                ours = [a.variant, str(a.reason), a.holdout_id, a.holdout_variant]
                assert ours == theirs, (uid, attrs, d["experimentId"])
                reasons.add((d["experimentId"], str(a.reason)))
    # Every path of the precedence is exercised somewhere.
    assert {r for _, r in reasons} >= {
        "assigned", "forced", "outside_layer", "not_targeted", "outside_traffic", "holdout",
        "missing_unit_id", "shipped", "toggled", "rolled_back", "not_running",
    }  # fmt: skip
