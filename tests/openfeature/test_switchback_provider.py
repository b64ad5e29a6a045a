"""The OpenFeature provider on switchback experiments: every spec vector, the time attribute."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from openfeature.api import clear_providers, get_client, set_provider
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason as OFReason

from splitlab.assignment import ExperimentAssignmentService, Reason
from splitlab.config import load_experiment
from splitlab.openfeature import REASONS, TIME_ATTRIBUTE, SplitlabProvider
from tests.conftest import ROOT

CASES: dict[str, Any] = json.loads((ROOT / "spec" / "switchback-cases.json").read_text("utf-8"))


@pytest.fixture
def domain() -> Iterator[str]:
    yield f"splitlab-sb-{uuid.uuid4().hex}"
    clear_providers()


def client_for(domain: str, service: ExperimentAssignmentService) -> OpenFeatureClient:
    set_provider(SplitlabProvider(service), domain)
    return get_client(domain)


def test_time_attribute_name() -> None:
    assert TIME_ATTRIBUTE == "timestamp"


@pytest.mark.parametrize("case", CASES["assignments"], ids=lambda c: c["name"])
def test_every_vector_through_the_openfeature_client(domain: str, case: dict[str, Any]) -> None:
    """The timestamp attribute decides the period; the answer equals the vector's."""
    exp = load_experiment(case["experiment"])
    client = client_for(domain, ExperimentAssignmentService([exp]))
    attributes = dict(case["attributes"] or {}) | {TIME_ATTRIBUTE: case["atMs"]}
    context = EvaluationContext(targeting_key=case["unitId"], attributes=attributes)
    details = client.get_string_details(exp.experiment_id, "fallback", context)
    reason = Reason(case["reason"])
    assert details.variant == case["variant"]
    assert details.value == (case["variant"] or "fallback")
    assert details.flag_metadata["splitlabReason"] == case["reason"]
    if reason is not Reason.MISSING_UNIT_ID:
        assert details.reason == REASONS[reason]
    if "period" in case:
        assert details.flag_metadata["period"] == case["period"]
        assert details.flag_metadata["periodStart"] == case["periodStartMs"]
        assert details.flag_metadata.get("switchbackUnit") == case["switchbackUnit"]
    else:
        assert "period" not in details.flag_metadata


def test_a_datetime_timestamp_and_the_clock(domain: str) -> None:
    case = next(c for c in CASES["assignments"] if c["switchbackUnit"] == "EU" and c["period"] == 1)
    exp = load_experiment(case["experiment"])
    moment = datetime.fromtimestamp(case["atMs"] / 1000, tz=UTC)
    client = client_for(domain, ExperimentAssignmentService([exp]))
    attrs = {"region": "EU", TIME_ATTRIBUTE: moment}
    details = client.get_string_details(exp.experiment_id, "x", EvaluationContext("u", attrs))
    assert (details.variant, details.flag_metadata["period"]) == (case["variant"], 1)
    clocked = ExperimentAssignmentService([exp], clock=lambda: case["atMs"] / 1000)
    set_provider(SplitlabProvider(clocked), domain)
    by_clock = get_client(domain).get_string_details(
        exp.experiment_id, "x", EvaluationContext("u", {"region": "EU"})
    )
    assert (by_clock.variant, by_clock.flag_metadata["period"]) == (case["variant"], 1)


@pytest.mark.parametrize("bad", ["2026-01-01T00:00:00Z", 1.5e12, True])
def test_a_bad_timestamp_is_an_invalid_context_error(domain: str, bad: Any) -> None:
    exp = load_experiment(CASES["assignments"][0]["experiment"])
    client = client_for(domain, ExperimentAssignmentService([exp]))
    context = EvaluationContext("u", {TIME_ATTRIBUTE: bad})
    details = client.get_string_details(exp.experiment_id, "fallback", context)
    assert details.value == "fallback"
    assert details.reason == OFReason.ERROR
    assert details.error_code == ErrorCode.INVALID_CONTEXT
    assert details.error_message is not None
    assert details.error_message.startswith(
        "the evaluation context's 'timestamp' attribute must be epoch milliseconds"
    )
    assert repr(bad) in details.error_message
