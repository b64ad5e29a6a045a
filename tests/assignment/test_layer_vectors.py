"""spec/layer-cases.json: every vector recomputed through the service AND by hand.

The by-hand reference is the generator's (scripts/generate_layer_cases.py: plain hashlib and
integers, written from docs/assignment.md), so a wrong service fails here even if the file
was regenerated from it, and a wrong file fails against both.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from splitlab.assignment import ExperimentAssignmentService, Reason
from splitlab.assignment.hashing import layer_edge, layer_input
from splitlab.config import load_experiment

ROOT = Path(__file__).resolve().parents[2]
DATA: dict[str, Any] = json.loads((ROOT / "spec" / "layer-cases.json").read_text("utf-8"))


def generator() -> ModuleType:
    path = ROOT / "scripts" / "generate_layer_cases.py"
    spec = importlib.util.spec_from_file_location("generate_layer_cases", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_layer_cases"] = module
    spec.loader.exec_module(module)
    return module


GEN = generator()
SERVICE = ExperimentAssignmentService([load_experiment(d) for d in DATA["experiments"]])


@pytest.mark.parametrize("c", DATA["cases"], ids=lambda c: c["name"])
def test_case_through_the_service_and_by_hand(c: dict[str, Any]) -> None:
    got = SERVICE.assign(c["unitId"], c["experimentId"], c["attributes"], at=c["atMs"])
    seen = {
        "variant": got.variant,
        "reason": got.reason.value,
        "holdoutId": got.holdout_id,
        "holdoutVariant": got.holdout_variant,
    }
    assert seen == c["expected"]
    definition = next(d for d in DATA["experiments"] if d["experimentId"] == c["experimentId"])
    by_hand = GEN.ref_assign(
        definition, DATA["experiments"], c["unitId"], c["attributes"], c["atMs"]
    )
    assert by_hand == c["expected"]


def test_assign_many_gives_the_same_answers() -> None:
    by_experiment: dict[str, list[dict[str, Any]]] = {}
    for c in DATA["cases"]:
        by_experiment.setdefault(c["experimentId"], []).append(c)
    for eid, cases in by_experiment.items():
        got = SERVICE.assign_many(
            eid, [c["unitId"] for c in cases], [c["attributes"] for c in cases], at=cases[0]["atMs"]
        )
        assert [(a.variant, a.reason.value, a.holdout_id) for a in got] == [
            (c["expected"]["variant"], c["expected"]["reason"], c["expected"]["holdoutId"])
            for c in cases
        ]


@pytest.mark.parametrize("c", DATA["layerIntegers"], ids=lambda c: f"{c['layerId']}|{c['unit']}")
def test_layer_integer(c: dict[str, Any]) -> None:
    text = f"splitlab/layer/v1|{c['layerId']}|{c['unit']}".encode()
    assert text.hex() == c["hashInputHex"] == layer_input(c["layerId"], c["unit"]).hex()
    digest = hashlib.sha256(text).digest()
    assert digest.hex() == c["sha256"]
    s = int.from_bytes(digest[:6], "big")
    assert s == c["layerInteger"]
    for e in c["edges"]:
        assert e["startEdge"] == layer_edge(e["start"]) == math.ceil(e["start"] / 10000 * 2**48)
        assert e["endEdge"] == layer_edge(e["end"]) == math.ceil(e["end"] / 10000 * 2**48)
        assert e["inRange"] == (e["startEdge"] <= s < e["endEdge"])
    # exactly one range of a layer whose ranges tile [0, 10000) holds the unit
    tiles = sorted((e["start"], e["end"]) for e in c["edges"])
    if (
        tiles[0][0] == 0
        and tiles[-1][1] == 10000
        and all(a[1] == b[0] for a, b in itertools.pairwise(tiles))
    ):
        assert sum(e["inRange"] for e in c["edges"]) == 1


def test_layer_edges() -> None:
    for e in DATA["layerEdges"]:
        assert e["edge"] == layer_edge(e["bucket"]) == math.ceil(e["bucket"] / 10000 * 2**48)
    assert layer_edge(0) == 0 and layer_edge(10000) == 2**48


def test_vectors_cover_the_new_reasons_and_both_layer_ends() -> None:
    reasons = {c["expected"]["reason"] for c in DATA["cases"]}
    assert {Reason.OUTSIDE_LAYER.value, Reason.HOLDOUT.value, "assigned", "shipped"} <= reasons
    in_edge = {(c["experimentId"], c["expected"]["reason"]) for c in DATA["cases"]}
    assert ("exp-edge-low", "assigned") in in_edge and ("exp-edge-high", "assigned") in in_edge
    held = {
        c["expected"]["holdoutId"] for c in DATA["cases"] if c["expected"]["reason"] == "holdout"
    }
    assert held == {"holdout-all", "holdout-checkout", "holdout-accounts"}


def test_the_file_is_what_the_generator_writes() -> None:
    assert GEN.build() == DATA
