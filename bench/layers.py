"""Layers and holdouts: what they cost per assign(), against the code before them.

Run: ``.venv/bin/python bench/layers.py``.

The baseline is the assignment code as it was before layers and holdouts were assigned
(commit d05bdeb): its ``src/splitlab`` is extracted with ``git archive`` into a temporary
directory, renamed ``splitlab_before`` (imports rewritten) and imported beside today's, so
both run alternately in one process (bench/harness.py). Cases, 100,000 distinct units each,
one ``assign()`` call per unit, the article's experiment (3 variants, its include / exclude
targeting, allocation 1.0 so every unit is targeted and hashed):

* ``before: no layer/holdout``: the code at d05bdeb;
* ``now: no layer/holdout``: today's code on the same definition (the target: within 10%);
* ``now: layer``: the experiment in a layer, range [0, 10000) (every unit reaches the split);
* ``now: holdout``: a running 5% holdout covers it;
* ``now: layer + holdout``: both.

SHA-256 digests per assign() are counted by swapping ``hashlib.sha256`` for a counting
wrapper while separate services are built and run over 10,000 units (plans bind the
function when compiled), and printed beside the times: 1, 2, 2 and 3 are expected.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import compare, report

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "d05bdeb"
N = 100_000


def definition(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((ROOT / "examples" / "exp-checkout-flow-v3.json").read_text())
    raw["trafficAllocation"] = 1.0
    raw.update(changes)
    return raw


HOLDOUT: dict[str, Any] = {
    "experimentId": "holdout-all",
    "status": "running",
    "variants": ["held_out", "exposed"],
    "assignment": {"salt": "holdout-2026"},
    "metrics": {"primary": {"name": "purchase"}},
    "design": {"type": "holdout", "percent": 5},
}
LAYER = {"id": "checkout", "start": 0, "end": 10000}


def import_before(where: Path) -> Any:
    """The package ``splitlab`` of commit BEFORE, imported as ``splitlab_before``."""
    archive = subprocess.run(
        ["git", "archive", BEFORE, "src/splitlab"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(where, filter="data")
    package = where / "splitlab_before"
    (where / "src" / "splitlab").rename(package)
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"\b(from|import) splitlab\b", r"\1 splitlab_before", text)
        path.write_text(text, encoding="utf-8")
    sys.path.insert(0, str(where))
    return importlib.import_module("splitlab_before")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        import_before(Path(tmp))
        run(importlib.import_module("splitlab_before.assignment"))


def services(old_assignment: Any) -> dict[str, Any]:
    from splitlab.assignment import ExperimentAssignmentService
    from splitlab.config import load_experiment

    old_config = importlib.import_module("splitlab_before.config")
    plain = definition()
    return {
        "before: no layer/holdout": old_assignment.ExperimentAssignmentService(
            [old_config.load_experiment(plain)]
        ),
        "now: no layer/holdout": ExperimentAssignmentService([load_experiment(plain)]),
        "now: layer": ExperimentAssignmentService([load_experiment(definition(layer=LAYER))]),
        "now: holdout": ExperimentAssignmentService(
            [load_experiment(plain), load_experiment(HOLDOUT)]
        ),
        "now: layer + holdout": ExperimentAssignmentService(
            [load_experiment(definition(layer=LAYER)), load_experiment(HOLDOUT)]
        ),
    }


def digests_per_assign(
    old_assignment: Any, units: list[str], attrs: list[dict[str, Any]], eid: str
) -> dict[str, float]:
    """SHA-256 calls per assign() of each case, counted through a wrapper of hashlib.sha256."""
    real = hashlib.sha256
    calls = 0

    def counting(data: bytes = b"", **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(data, **kwargs)

    hashlib.sha256 = counting  # type: ignore[assignment]
    try:
        built = services(old_assignment)  # compiled now: they bind the wrapper
        out = {}
        for name, service in built.items():
            calls = 0
            for unit, attributes in zip(units, attrs, strict=True):
                service.assign(unit, eid, attributes)
            out[name] = calls / len(units)
    finally:
        hashlib.sha256 = real  # type: ignore[assignment]
    return out


def run(old_assignment: Any) -> None:
    units = [f"user-{i}" for i in range(N)]
    attrs = [{"region": "US", "accountType": "free", "plan": "pro"} for _ in units]
    eid = definition()["experimentId"]
    built = services(old_assignment)
    for name, service in built.items():
        got = [service.assign(u, eid, a) for u, a in zip(units[:1000], attrs[:1000], strict=True)]
        assert all(g.variant is not None for g in got), name

    def case(service: Any) -> Callable[[], None]:
        assign = service.assign

        def loop() -> None:
            for unit, attributes in zip(units, attrs, strict=True):
                assign(unit, eid, attributes)

        return loop

    counts = digests_per_assign(old_assignment, units[:10_000], attrs[:10_000], eid)
    print(f"Python {sys.version.split()[0]}, {N:,} units per round, alternating rounds")
    print("SHA-256 digests per assign(): " + ", ".join(f"{k} {v:g}" for k, v in counts.items()))
    measurements = compare({name: case(s) for name, s in built.items()}, ops_per_round=N)
    report("layers and holdouts: median per assign()", measurements, "before: no layer/holdout")


if __name__ == "__main__":
    main()
