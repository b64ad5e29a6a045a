"""Generate spec/layer-cases.json: the language-neutral vectors of layers and holdouts.

Run from the repository root: ``python scripts/generate_layer_cases.py``. One set of
experiments is assigned together (a holdout applies across experiments, so the cases need
the whole set): experiments sharing a layer with adjacent ranges, ranges at both ends of
the layer, a holdout over every experiment and one over tagged experiments, a cluster
experiment covered by a holdout keyed on the account, an uncovered switchback and device-keyed
experiment, a shipped covered experiment, and statuses that ignore holdouts. The expected
values come from a reference implementation written here straight from docs/assignment.md
(plain ``hashlib`` and integers); the script then checks that the library agrees before
writing. Sticky experiments are not in the vectors: their answers depend on a store.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "spec" / "layer-cases.json"
BUCKETS = 2**48
LAYER_BUCKETS = 10_000
FINAL_OR_IDLE = {"draft", "paused", "stopped"}

# --------------------------------------------------------------- reference implementation


def ref_layer_input(layer_id: str, unit: str) -> str:
    return f"splitlab/layer/v1|{layer_id}|{unit}"


def ref_layer_integer(layer_id: str, unit: str) -> int:
    digest = hashlib.sha256(ref_layer_input(layer_id, unit).encode("utf-8")).digest()
    return int.from_bytes(digest[0:6], "big")


def ref_layer_edge(bucket: int) -> int:
    return math.ceil(bucket / LAYER_BUCKETS * BUCKETS)


def ref_integers(experiment_id: str, salt: str, unit: str) -> tuple[int, int]:
    text = f"splitlab/v1|{experiment_id}|{salt}|{unit}"
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[0:6], "big"), int.from_bytes(digest[6:12], "big")


def ref_edges(weights: list[float]) -> list[int]:
    sums, running = [], 0.0
    for w in weights:
        running += w
        sums.append(running)
    return [math.ceil(c / sums[-1] * BUCKETS) for c in sums[:-1]]


def names(d: dict[str, Any]) -> list[str]:
    return [v if isinstance(v, str) else v["name"] for v in d["variants"]]


def weights(d: dict[str, Any]) -> list[float]:
    design = d.get("design") or {}
    if design.get("type") == "holdout":
        p = design["percent"] / 100.0
        return [p, 1.0 - p]
    given = [None if isinstance(v, str) else v.get("weight") for v in d["variants"]]
    return [1.0 if w is None else float(w) for w in given]


def kind(d: dict[str, Any]) -> str | None:
    return (d.get("design") or {}).get("type")


def hash_key(d: dict[str, Any]) -> str:
    return str(d["assignment"].get("hashKey", "userId"))


def ref_unit(d: dict[str, Any], unit_id: Any, attributes: dict[str, Any] | None) -> str | None:
    if kind(d) == "cluster":
        unit_id = None  # only the cluster attribute is a cluster design's unit
    if attributes is not None and attributes.get(hash_key(d)) is not None:
        unit_id = attributes[hash_key(d)]
    if isinstance(unit_id, str) and unit_id:
        return unit_id
    if isinstance(unit_id, int) and not isinstance(unit_id, bool):
        return str(unit_id)
    return None


def ref_covers(h: dict[str, Any], d: dict[str, Any]) -> bool:
    if h["experimentId"] == d["experimentId"] or kind(d) in ("holdout", "switchback", "canary"):
        return False
    if hash_key(h) != hash_key(d):
        return False
    scope = h["design"].get("scope")
    return scope is None or bool(set(scope["tags"]) & set(d.get("tags", [])))


def ref_holdouts(d: dict[str, Any], everyone: list[dict[str, Any]]) -> list[dict[str, Any]]:
    running = [
        h
        for h in everyone
        if kind(h) == "holdout"
        and h["status"] == "running"
        and h.get("forcedVariant") is None
        and ref_covers(h, d)
    ]
    return sorted(running, key=lambda h: h["experimentId"])


def answer(
    variant: str | None, reason: str, holdout: str | None = None, hv: str | None = None
) -> dict[str, Any]:
    return {"variant": variant, "reason": reason, "holdoutId": holdout, "holdoutVariant": hv}


def ref_holdout_step(
    d: dict[str, Any], unit: str, covering: list[dict[str, Any]], variant: str, reason: str
) -> dict[str, Any]:
    for h in covering:
        split, _ = ref_integers(h["experimentId"], h["assignment"]["salt"], unit)
        if split < ref_edges(weights(h))[0]:
            return answer(control(d), "holdout", h["experimentId"], names(h)[0])
    first = covering[0]
    return answer(variant, reason, first["experimentId"], names(first)[1])


def control(d: dict[str, Any]) -> str:
    return str(d.get("control") or names(d)[0])


def ref_switchback(d: dict[str, Any], at_ms: int) -> dict[str, Any]:
    """A global switchback (no unit): the switchback vectors' reference decides."""
    spec = importlib.util.spec_from_file_location(
        "generate_switchback_cases", ROOT / "scripts" / "generate_switchback_cases.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate_switchback_cases", module)
    spec.loader.exec_module(module)
    k = module.ref_period(0, d["design"]["periodSeconds"] * 1000, at_ms)
    return answer(module.ref_variant(d, None, k), "assigned")


def ref_assign(
    d: dict[str, Any],
    everyone: list[dict[str, Any]],
    unit_id: Any,
    attributes: dict[str, Any] | None,
    at_ms: int,
) -> dict[str, Any]:
    """docs/assignment.md's precedence, step by step."""
    status = d["status"]
    if status == "rolled_back":
        return answer(control(d), "rolled_back")
    if status == "shipped":
        covering = ref_holdouts(d, everyone)
        unit = ref_unit(d, unit_id, attributes)
        if not covering or unit is None:
            return answer(d["shippedVariant"], "shipped")
        return ref_holdout_step(d, unit, covering, d["shippedVariant"], "shipped")
    if d.get("forcedVariant"):
        return answer(d["forcedVariant"], "toggled")
    if status in FINAL_OR_IDLE:
        return answer(None, "not_running")
    if kind(d) == "switchback":
        return ref_switchback(d, at_ms)
    unit = ref_unit(d, unit_id, attributes)
    if unit is None:
        return answer(None, "missing_unit_id")
    for variant, units in d["assignment"].get("forced", {}).items():
        if unit in units:
            return answer(variant, "forced")
    layer = d.get("layer")
    if layer is not None:
        s = ref_layer_integer(layer["id"], unit)
        if not ref_layer_edge(layer["start"]) <= s < ref_layer_edge(layer["end"]):
            return answer(None, "outside_layer")
    for rule in (d.get("targeting") or {}).get("include", []):
        key, _, value = rule.partition(":")  # the vectors use "attribute:value" rules only
        if str((attributes or {}).get(key)) != value:
            return answer(None, "not_targeted")
    split, gate = ref_integers(d["experimentId"], d["assignment"]["salt"], unit)
    if gate >= math.ceil(d.get("trafficAllocation", 1.0) * BUCKETS):
        return answer(None, "outside_traffic")
    variant = names(d)[sum(1 for e in ref_edges(weights(d)) if e <= split)]
    covering = ref_holdouts(d, everyone)
    if not covering:
        return answer(variant, "assigned")
    return ref_holdout_step(d, unit, covering, variant, "assigned")


# --------------------------------------------------------------------------- the cases

METRICS = {"primary": {"name": "purchase"}}


def experiment(eid: str, **fields: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "experimentId": eid,
        "status": "running",
        "variants": ["control", "treatment"],
        "assignment": {"hashKey": "userId", "salt": f"{eid}-salt"},
        "metrics": METRICS,
    }
    d.update(fields)
    return d


def layer(layer_id: str, start: int, end: int) -> dict[str, Any]:
    return {"id": layer_id, "start": start, "end": end}


def holdout(
    eid: str, percent: float, tags: list[str] | None, key: str = "userId"
) -> dict[str, Any]:
    return experiment(
        eid,
        variants=["held_out", "exposed"],
        assignment={"hashKey": key, "salt": f"{eid}-salt"},
        design={"type": "holdout", "percent": percent, "scope": {"tags": tags} if tags else None},
    )


EXPERIMENTS: list[dict[str, Any]] = [
    # one layer, three adjacent ranges covering it: every unit is in exactly one
    experiment(
        "exp-layer-a",
        layer=layer("checkout", 0, 3000),
        tags=["checkout"],
        assignment={"hashKey": "userId", "salt": "a-salt", "forced": {"treatment": ["qa-1"]}},
    ),
    experiment(
        "exp-layer-b",
        layer=layer("checkout", 3000, 7000),
        tags=["checkout", "pricing"],
        variants=["control", "v1", "v2"],
        targeting={"include": ["country:US"]},
    ),
    experiment("exp-layer-c", layer=layer("checkout", 7000, 10000), trafficAllocation=0.5),
    # one bucket at each end of a layer
    experiment("exp-edge-low", layer=layer("edges", 0, 1)),
    experiment("exp-edge-high", layer=layer("edges", 9999, 10000)),
    # holdouts: over every userId experiment, over the 'checkout' tag, a paused one
    holdout("holdout-all", 5, None),
    holdout("holdout-checkout", 20, ["checkout"]),
    {**holdout("holdout-paused", 50, ["checkout"]), "status": "paused"},
    # a cluster experiment on accounts, covered (by whole accounts) by an account holdout
    experiment(
        "exp-cluster",
        assignment={"hashKey": "accountId", "salt": "cluster-salt"},
        design={"type": "cluster", "analysisUnit": "userId"},
    ),
    holdout("holdout-accounts", 30, None, key="accountId"),
    # not covered: another hashKey, a switchback
    experiment("exp-device", assignment={"hashKey": "deviceId", "salt": "device-salt"}),
    experiment(
        "exp-switchback",
        design={"type": "switchback", "periodSeconds": 3600, "burnInSeconds": 600},
    ),
    # statuses: shipped is covered; rolled back and toggled ignore holdouts
    experiment("exp-shipped", status="shipped", shippedVariant="treatment", tags=["checkout"]),
    experiment("exp-rolled-back", status="rolled_back", tags=["checkout"]),
    experiment("exp-toggled", forcedVariant="treatment", tags=["checkout"]),
    experiment("exp-paused", status="paused", tags=["checkout"]),
]

AT_MS = 1_773_000_000_000  # 2026-03-08T20:00:00Z: the time every case is assigned at
LAYER_IDS = ("checkout", "edges")


def by_id(eid: str) -> dict[str, Any]:
    return next(d for d in EXPERIMENTS if d["experimentId"] == eid)


def find_units(predicate: Any, count: int, prefix: str = "user-") -> list[str]:
    """The first `count` units ``<prefix><n>`` (n = 0, 1, ...) that satisfy `predicate`."""
    found: list[str] = []
    n = 0
    while len(found) < count:
        unit = f"{prefix}{n}"
        if predicate(unit):
            found.append(unit)
        n += 1
    return found


def in_range(layer_id: str, start: int, end: int) -> Any:
    return lambda u: ref_layer_edge(start) <= ref_layer_integer(layer_id, u) < ref_layer_edge(end)


def held_by(eid: str) -> Any:
    h = by_id(eid)
    edge = ref_edges(weights(h))[0]
    return lambda u: ref_integers(eid, h["assignment"]["salt"], u)[0] < edge


def case(
    eid: str, unit_id: Any, attributes: dict[str, Any] | None = None, note: str = ""
) -> dict[str, Any]:
    d = by_id(eid)
    return {
        "name": f"{eid} {unit_id!r}" + (f" ({note})" if note else ""),
        "experimentId": eid,
        "unitId": unit_id,
        "attributes": attributes,
        "atMs": AT_MS,
        "expected": ref_assign(d, EXPERIMENTS, unit_id, attributes, AT_MS),
    }


def assignment_cases() -> list[dict[str, Any]]:
    plain = [f"user-{i}" for i in range(12)]
    us = {"country": "US"}
    cases = [case(e, u) for e in ("exp-layer-a", "exp-layer-c") for u in plain]
    cases += [case("exp-layer-b", u, us) for u in plain]
    # units inside each range, some held out by each holdout
    for eid, start, end in (("exp-layer-a", 0, 3000), ("exp-layer-b", 3000, 7000)):
        inside = in_range("checkout", start, end)
        attrs = us if eid == "exp-layer-b" else None
        for u in find_units(lambda u, f=inside: f(u) and held_by("holdout-all")(u), 2):
            cases.append(case(eid, u, attrs, "in range, held out by holdout-all"))
        for u in find_units(
            lambda u, f=inside: (
                f(u) and held_by("holdout-checkout")(u) and not held_by("holdout-all")(u)
            ),
            2,
        ):
            cases.append(case(eid, u, attrs, "in range, held out by holdout-checkout only"))
    inside_b = find_units(in_range("checkout", 3000, 7000), 3)
    cases += [case("exp-layer-b", u, {"country": "FR"}, "in range, not targeted") for u in inside_b]
    cases += [case("exp-layer-b", u, None, "in range, no attributes") for u in inside_b[:1]]
    inside_c = find_units(in_range("checkout", 7000, 10000), 8)
    cases += [case("exp-layer-c", u, None, "in range, half the traffic") for u in inside_c]
    cases.append(case("exp-layer-a", "qa-1", None, "forced before the layer"))
    cases.append(case("exp-layer-a", None, None, "no unit"))
    cases.append(case("exp-layer-a", 12345, None, "an integer unit"))
    # the layer's first and last bucket
    for eid, start, end in (("exp-edge-low", 0, 1), ("exp-edge-high", 9999, 10000)):
        cases += [
            case(eid, u, None, "in its one bucket")
            for u in find_units(in_range("edges", start, end), 2)
        ]
        cases += [case(eid, u) for u in plain[:4]]
    # the holdouts themselves are ordinary experiments
    cases += [case("holdout-all", u) for u in plain[:6]]
    cases += [case("holdout-checkout", u) for u in plain[:6]]
    cases += [case("holdout-paused", u) for u in plain[:2]]
    # accounts: the holdout keyed on accountId holds out whole accounts
    accounts = [f"acct-{i}" for i in range(8)]
    cases += [case("exp-cluster", "user-1", {"accountId": a}) for a in accounts]
    cases += [
        case("exp-cluster", "user-2", {"accountId": a}, "same account, another user")
        for a in accounts[:3]
    ]
    cases.append(case("exp-cluster", "user-1", None, "no account"))
    cases += [case("holdout-accounts", "user-1", {"accountId": a}) for a in accounts[:4]]
    # uncovered
    cases += [case("exp-device", "user-1", {"deviceId": f"dev-{i}"}) for i in range(4)]
    cases += [case("exp-switchback", u) for u in plain[:2]]
    # statuses
    cases += [case("exp-shipped", u) for u in plain]
    cases += [
        case("exp-shipped", u, None, "held out") for u in find_units(held_by("holdout-all"), 2)
    ]
    cases.append(case("exp-shipped", None, None, "no unit"))
    for eid in ("exp-rolled-back", "exp-toggled", "exp-paused"):
        cases += [case(eid, u) for u in find_units(held_by("holdout-all"), 2)]
    return cases


def layer_integer_cases() -> list[dict[str, Any]]:
    """Layer integers of a few units, with every range of their layer and whether it holds
    the unit."""
    out = []
    units = ["user-0", "user-1", "user-2", "12345", "Zoë", "ユーザー", "acct:ACME|eu"]
    units += find_units(in_range("edges", 0, 1), 1) + find_units(in_range("edges", 9999, 10000), 1)
    for layer_id in LAYER_IDS:
        ranges = [
            (d["experimentId"], d["layer"]["start"], d["layer"]["end"])
            for d in EXPERIMENTS
            if (d.get("layer") or {}).get("id") == layer_id
        ]
        for unit in units:
            text = ref_layer_input(layer_id, unit)
            s = ref_layer_integer(layer_id, unit)
            edges = [
                {
                    "experimentId": eid,
                    "start": start,
                    "end": end,
                    "startEdge": ref_layer_edge(start),
                    "endEdge": ref_layer_edge(end),
                    "inRange": ref_layer_edge(start) <= s < ref_layer_edge(end),
                }
                for eid, start, end in ranges
            ]
            out.append(
                {
                    "layerId": layer_id,
                    "unit": unit,
                    "hashInput": text,
                    "hashInputHex": text.encode("utf-8").hex(),
                    "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                    "layerInteger": s,
                    "edges": edges,
                }
            )
    return out


EDGE_BUCKETS = [0, 1, 2, 3, 1000, 3000, 3333, 5000, 6667, 7000, 9999, 10000]


def check_library(data: dict[str, Any]) -> None:
    """The library must give every expected answer (AssertionError otherwise)."""
    from splitlab.assignment import ExperimentAssignmentService
    from splitlab.assignment.hashing import layer_edge, layer_input
    from splitlab.config import load_experiment

    service = ExperimentAssignmentService([load_experiment(d) for d in data["experiments"]])
    for c in data["cases"]:
        got = service.assign(c["unitId"], c["experimentId"], c["attributes"], at=c["atMs"])
        seen = {
            "variant": got.variant,
            "reason": got.reason.value,
            "holdoutId": got.holdout_id,
            "holdoutVariant": got.holdout_variant,
        }
        assert seen == c["expected"], (c["name"], seen, c["expected"])
    for c in data["layerIntegers"]:
        assert layer_input(c["layerId"], c["unit"]).hex() == c["hashInputHex"]
    for e in data["layerEdges"]:
        assert layer_edge(e["bucket"]) == e["edge"]


def build() -> dict[str, Any]:
    data = {
        "description": (
            "splitlab layer and holdout vectors, shared by every SDK; the algorithm is the "
            "'Layers' and 'Holdouts' sections of docs/assignment.md. 'layerEdges': bucket b -> "
            "edge ceil(b / 10000 * 2^48). 'layerIntegers': 'splitlab/layer/v1|layerId|unit' "
            "-> UTF-8 -> SHA-256 -> layer integer (bytes 0-5, big-endian); a range [start, "
            "end) holds the unit iff startEdge <= layerInteger < endEdge. 'experiments': one "
            "set of definitions, assigned together (holdouts apply across experiments). "
            "'cases': experimentId, unitId, attributes, atMs -> expected variant, reason, "
            "holdoutId, holdoutVariant (null when absent). Generated by "
            "scripts/generate_layer_cases.py."
        ),
        "version": 1,
        "layerPrefix": "splitlab/layer/v1",
        "layerBuckets": LAYER_BUCKETS,
        "bits": 48,
        "layerEdges": [{"bucket": b, "edge": ref_layer_edge(b)} for b in EDGE_BUCKETS],
        "layerIntegers": layer_integer_cases(),
        "experiments": EXPERIMENTS,
        "cases": assignment_cases(),
    }
    check_library(data)
    return data


def main() -> None:
    data = build()
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(data['cases'])} cases")


if __name__ == "__main__":
    main()
