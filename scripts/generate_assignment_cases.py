"""Generate spec/assignment-cases.json: the language-neutral assignment vectors.

Run from the repository root: ``python scripts/generate_assignment_cases.py``. The expected
values are computed by a small reference implementation written here straight from
``docs/assignment.md`` (plain ``hashlib`` and integers), independently of the library's
optimised code; the script then checks that ``ExperimentAssignmentService`` agrees before
writing. Tests and every SDK read the JSON file, so a change of algorithm breaks them until
the file is regenerated on purpose (and ``PREFIX`` versioned).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "spec" / "assignment-cases.json"
BUCKETS = 2**48

# --------------------------------------------------------------- reference implementation


def ref_input(experiment_id: str, salt: str, unit: str) -> str:
    return f"splitlab/v1|{experiment_id}|{salt}|{unit}"


def ref_integers(text: str) -> tuple[str, int, int]:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    split = int.from_bytes(digest[0:6], "big")
    gate = int.from_bytes(digest[6:12], "big")
    return digest.hex(), split, gate


def ref_threshold(allocation: float) -> int:
    return math.ceil(allocation * BUCKETS)


def ref_edges(weights: list[float]) -> list[int]:
    sums, running = [], 0.0
    for w in weights:
        running += w
        sums.append(running)
    return [math.ceil(c / sums[-1] * BUCKETS) for c in sums[:-1]]


def ref_variant(edges: list[int], split: int) -> int:
    return sum(1 for e in edges if e <= split)


def ref_unit(definition: dict[str, Any], unit_id: Any, attributes: dict[str, Any] | None) -> Any:
    key = definition["assignment"].get("hashKey", "userId")
    if (definition.get("design") or {}).get("type") == "cluster":
        unit_id = None  # a cluster design: only the cluster attribute is the unit
    if attributes is not None and attributes.get(key) is not None:
        unit_id = attributes[key]
    if isinstance(unit_id, str) and unit_id:
        return unit_id
    if isinstance(unit_id, int) and not isinstance(unit_id, bool):
        return str(unit_id)
    return None


# --------------------------------------------------------------------------- the cases

HASHES = [
    ("exp-checkout-flow-v3", "prod-experiment-2024-q3", "user-1"),
    ("exp-checkout-flow-v3", "prod-experiment-2024-q3", "user-2"),
    ("exp-checkout-flow-v3", "prod-experiment-2024-q3", "user-42"),
    ("exp-checkout-flow-v3", "another-salt", "user-1"),
    ("exp-pricing", "prod-experiment-2024-q3", "user-1"),
    ("exp-pricing", "s", "12345"),
    ("exp-pricing", "s", "acct:ACME|eu"),
    ("exp-pricing", "salt with spaces", "Zoë"),
    ("exp-pricing", "s", "ユーザー"),
    ("exp-pricing", "s", "\U0001f600 emoji"),
    ("e", "s|with|bars", "u"),
]

ALLOCATIONS = [0.0, 1e-9, 0.01, 0.1, 0.25, 1 / 3, 0.5, 0.999999, 1.0]

WEIGHTS = [
    [1, 1],
    [1, 1, 1],
    [1, 1, 1, 1],
    [1, 1, 1, 1, 1, 1, 1],
    [0.5, 0.5],
    [0.1, 0.2, 0.7],
    [0.9, 0.1],
    [0.34, 0.33, 0.33],
    [0.001, 0.998, 0.001],
]

BASE: dict[str, Any] = {
    "experimentId": "exp-spec",
    "status": "running",
    "trafficAllocation": 1.0,
    "variants": ["control", "variant-a", "variant-b"],
    "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "spec-salt"},
    "metrics": {"primary": {"name": "conversion"}},
}


def case(name: str, unit: Any, attributes: Any = None, **changes: Any) -> dict[str, Any]:
    definition = copy.deepcopy(BASE)
    for key, value in changes.items():
        if key == "assignment":
            definition["assignment"].update(value)
        else:
            definition[key] = value
    return {"name": name, "experiment": definition, "unitId": unit, "attributes": attributes}


US_FREE = {"region": "US", "accountType": "free"}
ARTICLE_TARGETING = {
    "include": ["region:US", "accountType:free"],
    "exclude": ["internal:true", "bot:true"],
}

ASSIGNMENTS = [
    *(case(f"plain unit user-{i}", f"user-{i}") for i in range(1, 13)),
    *(
        case(f"allocation 0.25 unit user-{i}", f"user-{i}", trafficAllocation=0.25)
        for i in range(1, 13)
    ),
    *(
        case(
            f"weighted 10/20/70 unit user-{i}",
            f"user-{i}",
            variants=[
                {"name": "control", "weight": 0.1},
                {"name": "variant-a", "weight": 0.2},
                {"name": "variant-b", "weight": 0.7},
            ],
        )
        for i in range(1, 9)
    ),
    case("integer unit id hashes as its decimal text", 12345),
    case("empty unit id is missing", ""),
    case("null unit id is missing", None),
    case("boolean unit id is missing", True),
    case("unicode unit id", "ユーザー"),
    case("status draft: not running", "user-1", status="draft"),
    case("status paused: not running", "user-1", status="paused"),
    case("status stopped: not running", "user-1", status="stopped"),
    case("status rolled_back: control for everyone", "user-1", status="rolled_back"),
    case("rolled_back wins over a missing unit id", None, status="rolled_back"),
    case(
        "status shipped: shipped variant",
        "user-1",
        status="shipped",
        shippedVariant="variant-b",
    ),
    case("toggle: forcedVariant for everyone", "user-1", forcedVariant="variant-a"),
    case(
        "toggle applies even outside targeting",
        "user-1",
        {"region": "EU"},
        forcedVariant="variant-a",
        targeting=ARTICLE_TARGETING,
    ),
    case(
        "not running beats the QA allow-list",
        "qa-1",
        status="paused",
        assignment={"forced": {"variant-b": ["qa-1"]}},
    ),
    case(
        "forced QA unit",
        "qa-1",
        assignment={"forced": {"variant-b": ["qa-1"]}},
    ),
    case(
        "forced QA unit bypasses targeting and traffic",
        "qa-1",
        {"region": "EU"},
        trafficAllocation=0.0,
        targeting=ARTICLE_TARGETING,
        assignment={"forced": {"variant-b": ["qa-1"]}},
    ),
    case("missing unit id beats the allow-list", "", assignment={"forced": {"control": [""]}}),
    case("targeted by the article's rules", "user-1", US_FREE, targeting=ARTICLE_TARGETING),
    case(
        "include fails: other region",
        "user-1",
        {"region": "EU", "accountType": "free"},
        targeting=ARTICLE_TARGETING,
    ),
    case("exclude: bot", "user-1", {**US_FREE, "bot": True}, targeting=ARTICLE_TARGETING),
    case("no attributes: include fails", "user-1", None, targeting=ARTICLE_TARGETING),
    case(
        "condition targeted",
        "user-3",
        {"country": "DE", "age": 30},
        targeting={"condition": {"country": {"$in": ["DE", "AT"]}, "age": {"$gte": 18}}},
    ),
    case(
        "condition not targeted",
        "user-3",
        {"country": "DE", "age": 17},
        targeting={"condition": {"country": {"$in": ["DE", "AT"]}, "age": {"$gte": 18}}},
    ),
    case(
        "rules and condition both apply",
        "user-3",
        {**US_FREE, "version": "2.10.0"},
        targeting={**ARTICLE_TARGETING, "condition": {"version": {"$vgte": "2.9.0"}}},
    ),
    case(
        "rules pass but condition fails",
        "user-3",
        {**US_FREE, "version": "2.8.1"},
        targeting={**ARTICLE_TARGETING, "condition": {"version": {"$vgte": "2.9.0"}}},
    ),
    case(
        "targeting before traffic: not targeted even when outside traffic",
        "user-1",
        {"region": "EU"},
        trafficAllocation=0.0,
        targeting=ARTICLE_TARGETING,
    ),
    case("allocation 0: outside traffic", "user-1", trafficAllocation=0.0),
    case(
        "hashKey accountId: the attribute is the unit",
        "user-1",
        {"accountId": "acct-7"},
        assignment={"hashKey": "accountId"},
    ),
    case(
        "hashKey accountId: same account, other user, same variant",
        "user-2",
        {"accountId": "acct-7"},
        assignment={"hashKey": "accountId"},
    ),
    case(
        "hashKey accountId: absent attribute falls back to unitId",
        "acct-7",
        {"region": "US"},
        assignment={"hashKey": "accountId"},
    ),
    case(
        "hashKey accountId: integer attribute",
        "user-1",
        {"accountId": 7},
        assignment={"hashKey": "accountId"},
    ),
    case(
        "hashKey accountId: empty attribute is missing (no fallback)",
        "user-1",
        {"accountId": ""},
        assignment={"hashKey": "accountId"},
    ),
    case(
        "hashKey userId: attribute wins over unitId",
        "ignored",
        {"userId": "user-1"},
    ),
    case(
        "hashKey tenantId forced by tenant",
        "user-1",
        {"tenantId": "t-qa"},
        assignment={"hashKey": "tenantId", "forced": {"control": ["t-qa"]}},
    ),
]


# A cluster design with an allocation table: the table, not the hash, decides listed tenants.
TABLE = {"t-01": "variant-b", "t-02": "control", "t-03": "variant-a", "7": "variant-b"}
ALLOCATED: dict[str, Any] = {
    "assignment": {"hashKey": "tenantId"},
    "design": {
        "type": "cluster",
        "analysisUnit": "userId",
        "allocation": {"method": "complete", "seed": 7, "table": TABLE},
    },
}

ASSIGNMENTS += [
    case("allocation table: listed tenant gets its variant", "user-1", {"tenantId": "t-01"},
         **ALLOCATED),
    case("allocation table: another user of the same tenant", "user-2", {"tenantId": "t-01"},
         **ALLOCATED),
    case("allocation table: listed tenant t-02", "user-1", {"tenantId": "t-02"}, **ALLOCATED),
    case("allocation table: listed tenant t-03", "user-1", {"tenantId": "t-03"}, **ALLOCATED),
    case("allocation table: integer tenant id is its decimal text", "user-1", {"tenantId": 7},
         **ALLOCATED),
    case("allocation table: absent attribute is missing (unitId is no fallback)", "t-02", None,
         **ALLOCATED),
    case("allocation table: empty attributes are missing", "t-02", {}, **ALLOCATED),
    case("allocation table: unlisted tenant is not allocated", "user-1", {"tenantId": "t-99"},
         **ALLOCATED),
    case("allocation table: missing tenant id", None, {"tenantId": None}, **ALLOCATED),
    case("allocation table: forced QA tenant outside the table", "user-1", {"tenantId": "t-qa"},
         **{**ALLOCATED, "assignment": {"hashKey": "tenantId",
                                        "forced": {"variant-a": ["t-qa"]}}}),
    case("allocation table: targeting applies before the table", "user-1",
         {"tenantId": "t-01", "region": "EU"}, **ALLOCATED, targeting=ARTICLE_TARGETING),
    case("allocation table: not running", "user-1", {"tenantId": "t-01"}, **ALLOCATED,
         status="paused"),
]  # fmt: skip

# A hashed cluster design (no table): the cluster attribute is hashed; without it there is
# no cluster, and the request's own id (a user) never stands in for one.
CLUSTERED: dict[str, Any] = {
    "assignment": {"hashKey": "accountId"},
    "design": {"type": "cluster", "analysisUnit": "userId"},
}

ASSIGNMENTS += [
    case("cluster design: the account is hashed", "user-1", {"accountId": "acct-1"},
         **CLUSTERED),
    case("cluster design: another user of the same account", "user-2", {"accountId": "acct-1"},
         **CLUSTERED),
    case("cluster design: integer account id", "user-1", {"accountId": 42}, **CLUSTERED),
    case("cluster design: absent account is missing (no fallback to unitId)", "u1", None,
         **CLUSTERED),
    case("cluster design: other attributes but no account", "acct-1", {"userId": "u1"},
         **CLUSTERED),
    case("cluster design: null account", "u1", {"accountId": None}, **CLUSTERED),
    case("cluster design: empty account", "u1", {"accountId": ""}, **CLUSTERED),
    case("cluster design: forced account", "user-9", {"accountId": "acct-qa"},
         **{**CLUSTERED, "assignment": {"hashKey": "accountId",
                                        "forced": {"variant-b": ["acct-qa"]}}}),
]  # fmt: skip


def expected(c: dict[str, Any]) -> tuple[str | None, str]:
    """Reference decision for one end-to-end case (targeting via the library's matcher)."""
    from splitlab.assignment.targeting import compile_targeting
    from splitlab.config import load_experiment

    d = c["experiment"]
    names = [v if isinstance(v, str) else v["name"] for v in d["variants"]]
    status = d["status"]
    if status == "rolled_back":
        return d.get("control") or names[0], "rolled_back"
    if status == "shipped":
        return d["shippedVariant"], "shipped"
    if d.get("forcedVariant"):
        return d["forcedVariant"], "toggled"
    if status != "running":
        return None, "not_running"
    unit = ref_unit(d, c["unitId"], c["attributes"])
    if unit is None:
        return None, "missing_unit_id"
    for variant, units in d["assignment"].get("forced", {}).items():
        if unit in units:
            return variant, "forced"
    matcher = compile_targeting(load_experiment(d).targeting)
    if matcher is not None and not matcher(c["attributes"] or {}):
        return None, "not_targeted"
    allocation = (d.get("design") or {}).get("allocation")
    if allocation is not None:
        variant = allocation["table"].get(unit)
        return (variant, "assigned") if variant is not None else (None, "not_allocated")
    _, split, gate = ref_integers(ref_input(d["experimentId"], d["assignment"]["salt"], unit))
    if gate >= ref_threshold(d["trafficAllocation"]):
        return None, "outside_traffic"
    weights = [1.0 if isinstance(v, str) else v["weight"] for v in d["variants"]]
    return names[ref_variant(ref_edges(weights), split)], "assigned"


def build() -> dict[str, Any]:
    hashes = []
    for experiment_id, salt, unit in HASHES:
        text = ref_input(experiment_id, salt, unit)
        hexdigest, split, gate = ref_integers(text)
        hashes.append(
            {
                "experimentId": experiment_id,
                "salt": salt,
                "unit": unit,
                "input": text,
                "inputUtf8Hex": text.encode("utf-8").hex(),
                "sha256": hexdigest,
                "split": split,
                "gate": gate,
                "splitBucket": split / BUCKETS,
                "gateBucket": gate / BUCKETS,
            }
        )
    allocations = []
    for a in ALLOCATIONS:
        t = ref_threshold(a)
        probes = sorted({g for g in (t - 1, t, t + 1, 0, BUCKETS - 1) if 0 <= g < BUCKETS})
        allocations.append(
            {
                "trafficAllocation": a,
                "threshold": t,
                "gates": [{"gate": g, "exposed": g < t} for g in probes],
            }
        )
    weights = []
    for ws in WEIGHTS:
        edges = ref_edges([float(w) for w in ws])
        probes = sorted({0, BUCKETS - 1, *(p for e in edges for p in (e - 1, e, e + 1))})
        weights.append(
            {
                "weights": ws,
                "edges": edges,
                "splits": [{"split": s, "variantIndex": ref_variant(edges, s)} for s in probes],
            }
        )
    assignments = []
    for c in ASSIGNMENTS:
        variant, reason = expected(c)
        assignments.append({**c, "variant": variant, "reason": reason})
    return {
        "description": (
            "splitlab assignment vectors, shared by every SDK; the algorithm is "
            "docs/assignment.md. 'hashes': input string -> UTF-8 bytes -> SHA-256 -> split "
            "(bytes 0-5) and gate (bytes 6-11) big-endian integers in [0, 2^48). "
            "'allocations': trafficAllocation -> threshold = ceil(a * 2^48); exposed iff "
            "gate < threshold. 'weights': inner edges ceil(c_k / c_n * 2^48); variant index = "
            "number of edges <= split. 'assignments': definition, unitId, attributes -> "
            "variant and reason (a cluster design's design.allocation.table replaces the gate "
            "and the split: listed clusters get their variant, others 'not_allocated'). Generated by scripts/generate_assignment_cases.py."
        ),
        "version": 1,
        "bits": 48,
        "prefix": "splitlab/v1",
        "hashes": hashes,
        "allocations": allocations,
        "weights": weights,
        "assignments": assignments,
    }


def check_library(cases: dict[str, Any]) -> None:
    """Refuse to write vectors the library disagrees with."""
    from splitlab.assignment import ExperimentAssignmentService
    from splitlab.config import load_experiment

    for c in cases["assignments"]:
        service = ExperimentAssignmentService([load_experiment(c["experiment"])])
        got = service.assign(c["unitId"], c["experiment"]["experimentId"], c["attributes"])
        if (got.variant, got.reason.value) != (c["variant"], c["reason"]):
            raise SystemExit(f"library disagrees on {c['name']!r}: {got}")


def main() -> None:
    cases = build()
    check_library(cases)
    OUT.write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(cases['assignments'])} assignment cases")


if __name__ == "__main__":
    main()
