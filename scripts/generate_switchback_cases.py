"""Generate spec/switchback-cases.json: the language-neutral switchback assignment vectors.

Run from the repository root: ``python scripts/generate_switchback_cases.py``. The expected
values come from a small reference implementation written here straight from the switchback
section of ``docs/assignment.md`` (a hand-written ISO parser, ``hashlib`` and integers),
independently of the library; the script checks that the library agrees (``period_index``,
``period_start_ms``, ``switchback_variant`` and ``ExperimentAssignmentService``) and refuses
to write when it does not. Python, the JavaScript SDK and the OpenFeature provider tests all
read the JSON file.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "spec" / "switchback-cases.json"
BUCKETS = 2**48
HOUR = 3_600_000

# --------------------------------------------------------------- reference implementation

ORIGIN = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|([+-])(\d{2}):(\d{2}))$"
)


def ref_days(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil)."""
    y = year - (1 if month <= 2 else 0)
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def ref_origin(text: str) -> int:
    m = ORIGIN.match(text)
    assert m is not None, text
    year, month, day, hour, minute = (int(m.group(i)) for i in range(1, 6))
    second = int(m.group(6) or 0)
    millis = int((m.group(7) or "").ljust(3, "0"))
    offset = 0 if m.group(8) == "Z" else (int(m.group(10)) * 60 + int(m.group(11))) * 60_000
    if m.group(9) == "-":
        offset = -offset
    local = ((ref_days(year, month, day) * 24 + hour) * 60 + minute) * 60_000 + second * 1000
    return local + millis - offset


def ref_period(origin: int, period_ms: int, t: int) -> int:
    # A double quotient floors exactly while |t - origin| < 2**53 (all the times used here).
    assert abs(t - origin) < 2**53
    return math.floor((t - origin) / period_ms)


def ref_input(eid: str, salt: str, unit: str | None, k: int) -> str:
    tag = "global" if unit is None else f"unit:{unit}"
    return f"splitlab/v1/switchback|{eid}|{salt}|{k}|{tag}"


def ref_split(text: str) -> tuple[str, int]:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return digest.hex(), int.from_bytes(digest[:6], "big")


def ref_edges(weights: list[float]) -> list[int]:
    sums, running = [], 0.0
    for w in weights:
        running += w
        sums.append(running)
    return [math.ceil(c / sums[-1] * BUCKETS) for c in sums[:-1]]


def ref_variant(definition: dict[str, Any], unit: str | None, k: int) -> str:
    variants = [v if isinstance(v, dict) else {"name": v} for v in definition["variants"]]
    weighted = any(v.get("weight") is not None for v in variants)
    weights = [float(v["weight"]) if weighted else 1.0 for v in variants]
    _, split = ref_split(
        ref_input(definition["experimentId"], definition["assignment"]["salt"], unit, k)
    )
    return str(variants[sum(1 for e in ref_edges(weights) if e <= split)]["name"])


# ------------------------------------------------------------------------------ the cases

BASE: dict[str, Any] = {
    "experimentId": "exp-switchback-pricing",
    "status": "running",
    "variants": ["control", "treatment"],
    "assignment": {"strategy": "consistent_hash", "salt": "sb-2026"},
    "metrics": {"primary": {"name": "orders", "type": "continuous"}},
    "design": {"type": "switchback", "periodSeconds": 3600, "burnInSeconds": 600},
}


def definition(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    for key, value in changes.items():
        if key == "design":
            raw["design"].update(value)
        else:
            raw[key] = value
    return raw


GLOBAL = definition()
REGIONAL = definition(
    experimentId="exp-switchback-regions",
    design={"unit": "region", "origin": "2026-01-05T00:00:00+05:30", "periodSeconds": 1800},
)
WEIGHTED = definition(
    experimentId="exp-switchback-weighted",
    variants=[
        {"name": "control", "weight": 0.5},
        {"name": "surge-a", "weight": 0.3},
        {"name": "surge-b", "weight": 0.2},
    ],
    design={"unit": "city", "origin": "2026-03-01T06:00:00-03:00", "periodSeconds": 7200},
)
TARGETED = definition(
    experimentId="exp-switchback-targeted",
    targeting={"condition": {"region": {"$in": ["EU", "US"]}}},
    design={"unit": "region"},
)
ORIGINS = [
    "1970-01-01T00:00:00Z",
    "2026-01-05T00:00:00+05:30",
    "2026-03-01T06:00:00-03:00",
    "2026-01-01T00:00Z",
    "2026-06-30T23:59:59.5+14:00",
    "1969-12-31T23:59:59.999Z",
    "2024-02-29T12:00:00.07-09:30",
    "0001-01-01T00:00:00Z",
]
BAD_ORIGINS = [
    "2026-01-01",
    "2026-01-01T00:00:00",
    "2026-01-01 00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-01-01T00:00:00.1234Z",
    "2026-01-01T00:00:00+0530",
]


def period_cases() -> list[dict[str, Any]]:
    out = []
    for d in (GLOBAL, REGIONAL, WEIGHTED):
        design = d["design"]
        origin = ref_origin(design.get("origin", "1970-01-01T00:00:00Z"))
        period = design["periodSeconds"] * 1000
        times = [
            origin,  # exactly at the origin: period 0
            origin - 1,  # one millisecond before: period -1
            origin + period,  # exactly at a period start
            origin + period - 1,
            origin - period,  # exactly at the start of period -1
            origin - period - 1,
            origin + 1000 * period + 17,
            origin - 1000 * period + 17,
            1_767_268_800_000,  # 2026-01-01T12:00:00Z
            0,
        ]
        for t in times:
            k = ref_period(origin, period, t)
            out.append(
                {
                    "design": design,
                    "originMs": origin,
                    "tMs": t,
                    "period": k,
                    "periodStartMs": origin + k * period,
                }
            )
    return out


def hash_cases() -> list[dict[str, Any]]:
    out = []
    for unit, k in [(None, 0), (None, -1), (None, 491_000), ("EU", 0), ("EU", 1), ("US", -3),
                    ("日本", 7), ("a|b", 2), ("global", 0)]:  # fmt: skip
        text = ref_input("exp-switchback-pricing", "sb-2026", unit, k)
        digest, split = ref_split(text)
        out.append(
            {
                "experimentId": "exp-switchback-pricing",
                "salt": "sb-2026",
                "unit": unit,
                "period": k,
                "input": text,
                "inputUtf8Hex": text.encode("utf-8").hex(),
                "sha256": digest,
                "split": split,
            }
        )
    return out


def answer(d: dict[str, Any], attributes: dict[str, Any] | None, t: int) -> dict[str, Any]:
    """The reference service answer (running switchbacks, the steps of the docs)."""
    design = d["design"]
    origin = ref_origin(design.get("origin", "1970-01-01T00:00:00Z"))
    period = design["periodSeconds"] * 1000
    status = d.get("status", "draft")
    if status == "rolled_back":
        return {"variant": d["variants"][0], "reason": "rolled_back"}
    if d.get("forcedVariant"):
        return {"variant": d["forcedVariant"], "reason": "toggled"}
    if status in ("draft", "paused", "stopped"):
        return {"variant": None, "reason": "not_running"}
    k = ref_period(origin, period, t)
    cell = {"period": k, "periodStartMs": origin + k * period}
    unit = None
    if design.get("unit") is not None:
        value = (attributes or {}).get(design["unit"])
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value:
            return {"variant": None, "reason": "missing_unit_id", **cell, "switchbackUnit": None}
        unit = value
    condition = d.get("targeting", {}).get("condition")
    if condition is not None:  # only the {"attr": {"$in": [...]}} form is used here
        ((attr, rule),) = condition.items()
        if (attributes or {}).get(attr) not in rule["$in"]:
            return {"variant": None, "reason": "not_targeted", **cell, "switchbackUnit": unit}
    return {
        "variant": ref_variant(d, unit, k),
        "reason": "assigned",
        **cell,
        "switchbackUnit": unit,
    }


def assignment_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []

    def add(name: str, d: dict[str, Any], attributes: dict[str, Any] | None, t: int) -> None:
        cases.append(
            {
                "name": name,
                "experiment": d,
                "unitId": "user-1",
                "attributes": attributes,
                "atMs": t,
                **answer(d, attributes, t),
            }
        )

    noon = 1_767_268_800_000  # 2026-01-01T12:00:00Z
    for h in range(-3, 9):
        add(f"global unit, hour {h} after 2026-01-01T12:00Z", GLOBAL, None, noon + h * HOUR)
    add("global unit, one ms before a period start", GLOBAL, None, noon - 1)
    add("global unit, before the 1970 origin", GLOBAL, None, -5 * HOUR - 1)
    origin = ref_origin(REGIONAL["design"]["origin"])
    half = 1_800_000
    for region in ("EU", "US", "APAC", "LATAM"):
        for step in (-2, -1, 0, 1, 2, 3):
            add(
                f"region {region}, period {step} of a +05:30 origin (exactly at its start)",
                REGIONAL,
                {"region": region},
                origin + step * half,
            )
        add(
            f"region {region}, last ms of period 0", REGIONAL, {"region": region}, origin + half - 1
        )
    add("region as an integer attribute", REGIONAL, {"region": 44}, origin + 5 * half)
    add("missing region", REGIONAL, {"country": "FR"}, origin)
    add("empty region", REGIONAL, {"region": ""}, origin)
    add("no attributes at all", REGIONAL, None, origin)
    wo = ref_origin(WEIGHTED["design"]["origin"])
    for i in range(30):
        city = ["lima", "quito", "bogota", "santiago", "caracas"][i % 5]
        add(f"weighted 50/30/20, {city}, period {i - 10}", WEIGHTED, {"city": city},
            wo + (i - 10) * 7_200_000 + 1234)  # fmt: skip
    add("targeted region EU", TARGETED, {"region": "EU"}, noon)
    add("untargeted region JP", TARGETED, {"region": "JP"}, noon)
    toggled = definition(experimentId="exp-switchback-toggled", forcedVariant="treatment")
    add("the variant toggle overrides every cell", toggled, None, noon)
    rolled = definition(experimentId="exp-switchback-rolled", status="rolled_back")
    add("a rollback serves the control to every cell", rolled, None, noon)
    paused = definition(experimentId="exp-switchback-paused", status="paused")
    add("a paused switchback serves nothing", paused, None, noon)
    return cases


def check_library(data: dict[str, Any]) -> None:
    """Refuse to write when the library disagrees with the reference."""
    from splitlab.assignment import ExperimentAssignmentService, period_index, period_start_ms
    from splitlab.assignment.switchback import switchback_input, switchback_split
    from splitlab.config import load_experiment
    from splitlab.config.designs import SwitchbackDesign, parse_origin

    for text in ORIGINS:
        assert parse_origin(text) == ref_origin(text), text
    for text in BAD_ORIGINS:
        assert parse_origin(text) is None, text
    for c in data["periods"]:
        design = SwitchbackDesign.model_validate(c["design"])
        assert period_index(design, c["tMs"]) == c["period"], c
        assert period_start_ms(design, c["period"]) == c["periodStartMs"], c
    for c in data["hashes"]:
        raw = switchback_input(c["experimentId"], c["salt"], c["unit"], c["period"])
        assert raw.decode() == c["input"], c
        assert switchback_split(c["experimentId"], c["salt"], c["unit"], c["period"]) == c["split"]
    for c in data["assignments"]:
        experiment = load_experiment(c["experiment"])
        got = ExperimentAssignmentService([experiment]).assign(
            c["unitId"], experiment.experiment_id, c["attributes"], at=c["atMs"]
        )
        expected = {k: c[k] for k in ("variant", "reason", "period", "periodStartMs",
                                      "switchbackUnit") if k in c}  # fmt: skip
        actual = {k: v for k, v in got.to_dict().items() if k != "experimentId"}
        if "periodStart" in actual:
            actual["periodStartMs"] = actual.pop("periodStart")
        assert actual == expected, (c["name"], actual, expected)


def build() -> dict[str, Any]:
    """The vectors, checked against the library (AssertionError when it disagrees)."""
    data = {
        "description": (
            "splitlab switchback assignment vectors, shared by every SDK; the algorithm is the "
            "switchback section of docs/assignment.md. 'origins': origin text -> epoch ms "
            "(badOrigins are refused). 'periods': design, tMs -> period = floor((tMs - origin) "
            "/ period) and its start. 'hashes': 'splitlab/v1/switchback|experimentId|salt|"
            "period|tag' (tag 'global' or 'unit:' + value) -> SHA-256 -> split (bytes 0-5, "
            "big-endian). 'assignments': definition, attributes, atMs -> variant, reason, "
            "period, periodStartMs, switchbackUnit (the last three absent when the status "
            "decides). Generated by scripts/generate_switchback_cases.py."
        ),
        "version": 1,
        "prefix": "splitlab/v1/switchback",
        "origins": [{"origin": t, "originMs": ref_origin(t)} for t in ORIGINS],
        "badOrigins": BAD_ORIGINS,
        "periods": period_cases(),
        "hashes": hash_cases(),
        "assignments": assignment_cases(),
    }
    check_library(data)
    return data


def main() -> None:
    data = build()
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(data['assignments'])} assignments")


if __name__ == "__main__":
    main()
