"""The client in real Chromium serves the Python service's variants, from a real server's config.

Every definition of spec/assignment-cases.json is registered on a `splitlab serve` (the first
under its own id, so its vectors' recorded answers apply unchanged; the others under numbered
ids, since one server holds one definition per id). The page's client loads GET /v1/config
across origins and answers every vector; the expected answer is the Python service's on the
very config the page got, and, for the vectors of the unrenamed definition, the recorded one.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from splitlab.assignment import ExperimentAssignmentService
from splitlab.config.loading import parse_experiment
from tests.browser_sdk.client_env import ClientPage, Serve, client_page, serve
from tests.conftest import ROOT

pytestmark = pytest.mark.browser
__all__ = ["client_page", "serve"]  # fixtures used by name

SPEC: dict[str, Any] = json.loads((ROOT / "spec" / "assignment-cases.json").read_text("utf-8"))


def registered(
    cases: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """The distinct definitions (ids made unique) and each case's experiment id.

    Drafts are left out: the SDK config never carries them (see docs/sdk.md).
    """
    definitions: dict[str, dict[str, Any]] = {}
    out: list[tuple[str, dict[str, Any]]] = []
    for case in cases:
        definition = case["experiment"]
        if definition.get("status") == "draft":
            continue
        text = json.dumps(definition, sort_keys=True)
        if text not in definitions:
            number = len(definitions)
            renamed = definition["experimentId"] + ("" if number == 0 else f"-{number:02d}")
            definitions[text] = {**definition, "experimentId": renamed}
        out.append((definitions[text]["experimentId"], case))
    return list(definitions.values()), out


def register(serve: Serve, definition: dict[str, Any]) -> None:
    """Register `definition` running, then move it to its status through the lifecycle."""
    status = definition["status"]
    serve.register({**definition, "status": "running"})
    if status != "running":
        body = {"status": status, "reason": "spec vector"}
        if status == "shipped":
            body["variant"] = definition["shippedVariant"]
        answer = serve.post(f"/v1/experiments/{definition['experimentId']}/status", body)
        assert answer.status_code == 200, answer.text


def test_every_vector_through_the_servers_config(serve: Serve, client_page: ClientPage) -> None:
    """The page's variants and reasons equal the Python service's on every vector."""
    definitions, cases = registered(SPEC["assignments"])
    for definition in definitions:
        register(serve, definition)
    config = httpx.get(f"{serve.url}/v1/config",
                       headers={"Authorization": f"Bearer {serve.sdk_key}"}).json()  # fmt: skip
    assert {d["experimentId"] for d in config["experiments"]} == {
        d["experimentId"] for d in definitions
    }
    python = ExperimentAssignmentService([parse_experiment(d) for d in config["experiments"]])

    status = client_page.start(serve.url, serve.sdk_key, stream=False)
    assert status["source"] == "config"
    calls = [[eid, case["unitId"], case["attributes"]] for eid, case in cases]
    got = client_page.evaluate(
        """(calls) => calls.map(([e, unitId, attributes]) => {
            const a = window.client.getVariant(e, { unitId, attributes: attributes ?? undefined, track: false });
            return [a.variant, a.reason, a.source];
        })""",
        calls,
    )
    mismatches = []
    for (eid, case), (variant, reason, source) in zip(cases, got, strict=True):
        expected = python.assign(case["unitId"], eid, case["attributes"])
        want = [expected.variant, expected.reason.value, "config"]
        if [variant, reason, source] != want:
            mismatches.append((case["name"], want, [variant, reason, source]))
        if eid == SPEC["assignments"][0]["experiment"]["experimentId"]:
            assert [variant, reason] == [case["variant"], case["reason"]], case["name"]
    assert mismatches == []
    assert len(got) == len(SPEC["assignments"]) - sum(
        c["experiment"].get("status") == "draft" for c in SPEC["assignments"]
    )
    assert client_page.reported() == []
    assert client_page.errors == []


LAYERS = ROOT / "spec" / "layer-cases.json"


@pytest.mark.skipif(not LAYERS.exists(), reason="spec/layer-cases.json is not on this branch")
def test_layer_and_holdout_vectors_through_the_servers_config(
    serve: Serve, client_page: ClientPage
) -> None:
    """Layers and holdouts: the page's answers (with holdoutId and holdoutVariant) equal the
    recorded vectors and the Python service's, and a covered answer queues the holdout's
    exposure beside the experiment's."""
    spec: dict[str, Any] = json.loads(LAYERS.read_text("utf-8"))
    for definition in spec["experiments"]:
        register(serve, definition)
    config = httpx.get(f"{serve.url}/v1/config",
                       headers={"Authorization": f"Bearer {serve.sdk_key}"}).json()  # fmt: skip
    python = ExperimentAssignmentService([parse_experiment(d) for d in config["experiments"]])
    client_page.start(serve.url, serve.sdk_key, stream=False, flushIntervalMs=600_000,
                      maxBatch=10_000)  # fmt: skip
    calls = [[c["experimentId"], c["unitId"], c["attributes"], c["atMs"]] for c in spec["cases"]]
    got = client_page.evaluate(
        """(calls) => calls.map(([e, unitId, attributes, at]) => {
            const a = window.client.getVariant(e, { unitId, attributes: attributes ?? undefined, at });
            return { variant: a.variant, reason: a.reason, holdoutId: a.holdoutId ?? null,
                     holdoutVariant: a.holdoutVariant ?? null, source: a.source };
        })""",
        calls,
    )
    mismatches = []
    for case, answer in zip(spec["cases"], got, strict=True):
        py = python.assign(case["unitId"], case["experimentId"], case["attributes"],
                           at=case["atMs"])  # fmt: skip
        from_python = {"variant": py.variant, "reason": py.reason.value,
                       "holdoutId": py.holdout_id, "holdoutVariant": py.holdout_variant}  # fmt: skip
        mine = {k: answer[k] for k in ("variant", "reason", "holdoutId", "holdoutVariant")}
        if mine != case["expected"] or mine != from_python or answer["source"] != "config":
            mismatches.append((case["name"], case["expected"], from_python, answer))
    assert mismatches == []
    queued: list[dict[str, Any]] = client_page.evaluate(
        """() => Object.keys(localStorage).filter((k) => k.startsWith("splitlab:events:"))
                 .flatMap((k) => JSON.parse(localStorage.getItem(k)))"""
    )
    holdout_exposures = {(e["experimentId"], e["variant"]) for e in queued
                         if e["experimentId"].startswith("holdout-")}  # fmt: skip
    # only the covering holdout named by an answer: a holdout assigned directly (its own
    # answer) is no exposure, as in the Python middleware (docs/holdouts.md)
    expected = {(c["expected"]["holdoutId"], c["expected"]["holdoutVariant"]) for c in spec["cases"]
                if c["expected"]["holdoutId"] is not None}  # fmt: skip
    assert expected and holdout_exposures == expected
    assert client_page.errors == []
