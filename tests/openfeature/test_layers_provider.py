"""The provider over layers and holdouts: the service's variants, sensible reasons, and the
holdout's own exposure reported (spec/layer-cases.json's experiments, the real SDK)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from openfeature.api import clear_providers, get_client, set_provider
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import Reason as OFReason

from splitlab.assignment import Assignment, ExperimentAssignmentService, Reason
from splitlab.config import load_experiment
from splitlab.openfeature import TIME_ATTRIBUTE, SplitlabProvider
from tests.conftest import ROOT

DATA: dict[str, Any] = json.loads((ROOT / "spec" / "layer-cases.json").read_text("utf-8"))


@pytest.fixture
def domain() -> Iterator[str]:
    yield f"splitlab-layers-{uuid.uuid4().hex}"
    clear_providers()


def test_every_vector_through_the_provider(domain: str) -> None:
    service = ExperimentAssignmentService([load_experiment(d) for d in DATA["experiments"]])
    exposures: list[tuple[Assignment, str]] = []
    set_provider(
        SplitlabProvider(service, on_exposure=lambda a, u: exposures.append((a, u))), domain
    )
    client = get_client(domain)
    checked = set()
    for c in DATA["cases"]:
        if c["unitId"] is None or not isinstance(c["unitId"], str):
            continue
        expected = c["expected"]
        attributes = {**(c["attributes"] or {}), TIME_ATTRIBUTE: c["atMs"]}
        exposures.clear()
        details = client.get_string_details(
            c["experimentId"], "default", EvaluationContext(c["unitId"], attributes)
        )
        reason = Reason(expected["reason"])
        checked.add(reason)
        if expected["variant"] is None:
            assert details.value == "default" and details.variant is None
        else:
            assert details.value == details.variant == expected["variant"], c["name"]
        meta = details.flag_metadata
        assert meta["splitlabReason"] == expected["reason"]
        if reason is Reason.HOLDOUT:
            assert details.reason == OFReason.SPLIT
        if reason is Reason.OUTSIDE_LAYER:
            assert details.reason == OFReason.DEFAULT and details.error_code is None
        if expected["holdoutId"] is not None:
            assert meta["holdoutId"] == expected["holdoutId"]
            assert meta["holdoutVariant"] == expected["holdoutVariant"]
            # the holdout's own exposure: held out or not, the unit is in the holdout
            held = [a for a, _ in exposures if a.experiment_id == expected["holdoutId"]]
            assert held == [
                Assignment(expected["holdoutId"], expected["holdoutVariant"], Reason.ASSIGNED)
            ]
        else:
            assert "holdoutId" not in meta
        # the covered experiment's exposure only when the unit is in it
        own = [a for a, _ in exposures if a.experiment_id == c["experimentId"]]
        assert len(own) == (1 if reason is Reason.ASSIGNED else 0), c["name"]
    assert {Reason.HOLDOUT, Reason.OUTSIDE_LAYER, Reason.ASSIGNED, Reason.SHIPPED} <= checked
