"""The results JSON, at the top level, on every surface that promises it.

docs/architecture.md ("The results JSON") names them: `splitlab analyze --json`,
`POST /v1/experiments/{id}/evaluate` and `GET /v1/experiments/{id}/results`. Each must answer
the results JSON itself (extra keys allowed, none renamed or nested), so a client written from
the documented example reads ``srm`` and ``metrics`` without a KeyError.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from splitlab.cli.main import cli
from tests.conftest import ARTICLE_EXAMPLE

from .server_helpers import Api, small

SUMS = Path(__file__).resolve().parents[1] / "stats" / "data" / "checkout-sums.json"

#: The keys of the documented results JSON example, level by level.
TOP = {"experimentId", "look", "srm", "decision", "metrics"}
SRM = {"pValue", "detected", "counts", "expectedShares"}
DECISION = {"action", "variant", "reasons"}
METRIC = {"name", "role", "type", "comparisons"}
COMPARISON = {
    "variant", "control", "absolute", "relative", "pValue", "adjustedPValue", "significant",
    "direction", "sequential",
}  # fmt: skip
INTERVAL = {"estimate", "lower", "upper"}
SEQUENTIAL = {"boundary", "alphaSpent"}


def assert_results_shape(doc: dict[str, Any]) -> None:
    """`doc` has every key of the documented results JSON example, at the same place."""
    assert set(doc) >= TOP, sorted(TOP - set(doc))
    assert set(doc["srm"]) >= SRM
    assert set(doc["decision"]) >= DECISION
    assert doc["decision"]["action"] in {"continue", "ship", "stop", "rollback", "halt", "peek"}
    assert doc["metrics"], "at least one metric"
    for metric in doc["metrics"]:
        assert set(metric) >= METRIC
        for comparison in metric["comparisons"]:
            assert set(comparison) >= COMPARISON
            assert comparison["direction"] in {"better", "worse", "none"}
            for key in ("absolute", "relative"):
                assert comparison[key] is None or set(comparison[key]) >= INTERVAL
            assert comparison["sequential"] is None or set(comparison["sequential"]) >= SEQUENTIAL


def _running(api: Api) -> None:
    api.client.post("/v1/experiments", json=small(status="running"), headers=api.admin)
    events = []
    for i in range(40):
        unit = f"u{i}"
        got = api.client.post(
            "/v1/assign", json={"unitId": unit, "experimentId": "exp-small"}, headers=api.sdk
        ).json()
        variant = got["assignments"][0]["variant"]
        events.append({"eventId": f"x{i}", "type": "exposure", "experimentId": "exp-small",
                       "variant": variant, "unitId": unit, "timestamp": 1_767_261_600_000 + i})  # fmt: skip
        if i % 2:
            events.append({"eventId": f"m{i}", "type": "metric", "experimentId": "exp-small",
                           "variant": variant, "unitId": unit, "metric": "checkout",
                           "timestamp": 1_767_261_601_000 + i})  # fmt: skip
    assert api.client.post("/v1/events", json=events, headers=api.sdk).status_code == 200


def test_analyze_json_is_the_results_json() -> None:
    """`splitlab analyze --json` prints the results JSON at the top level."""
    result = CliRunner().invoke(
        cli, ["analyze", str(ARTICLE_EXAMPLE), "--sums", str(SUMS), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert_results_shape(json.loads(result.stdout))


def test_evaluate_and_results_answer_the_results_json(api: Api) -> None:
    """POST .../evaluate and GET .../results[/{look}] answer the results JSON at the top level."""
    _running(api)
    look = api.client.post("/v1/experiments/exp-small/evaluate", headers=api.admin)
    assert look.status_code == 200
    doc = look.json()
    assert_results_shape(doc)
    assert "results" not in doc
    assert doc["experimentId"] == "exp-small" and doc["look"] == 1
    ledger = doc["ledger"]
    assert ledger["seq"] == 1 and ledger["number"] == 1 and ledger["peek"] is False
    assert ledger["triggeredBy"].startswith("api:") and ledger["decisionAction"] == "continue"
    assert {"takenAt", "cutoff", "inputs"} <= set(ledger)
    assert {"definition", "sums"} <= set(ledger["inputs"])
    for path in ("/v1/experiments/exp-small/results", "/v1/experiments/exp-small/results/1"):
        again = api.client.get(path, headers=api.admin)
        assert_results_shape(again.json())
        assert again.content == look.content


def test_a_peek_is_the_results_json_with_its_own_decision(api: Api) -> None:
    """A read-only peek answers the results JSON too; its decision is `peek`."""
    _running(api)
    peek = api.client.post(
        "/v1/experiments/exp-small/evaluate", json={"peek": True}, headers=api.admin
    ).json()
    assert_results_shape(peek)
    assert peek["decision"]["action"] == "peek" and peek["ledger"]["peek"] is True
