"""SplitlabProvider through the real OpenFeature SDK client (api.set_provider, get_*_details)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from openfeature.api import clear_providers, get_client, get_provider_metadata, set_provider
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason as OFReason

from splitlab.assignment import Assignment, ExperimentAssignmentService, Reason
from splitlab.config import Experiment, load_experiment
from splitlab.openfeature import (
    REASONS,
    MissingDependencyError,
    ProviderValuesError,
    SplitlabProvider,
)
from tests.allocation.helpers import STRATIFIED, allocated
from tests.assignment.assignment_helpers import definition
from tests.conftest import ROOT

US_FREE = {"region": "US", "accountType": "free"}


def experiment(**changes: Any) -> Experiment:
    """The assignment tests' base definition as ``exp-of``, with `changes`."""
    return load_experiment(definition(experimentId="exp-of", **changes))


@pytest.fixture
def domain() -> Iterator[str]:
    """A fresh OpenFeature domain per test, its provider removed afterwards."""
    yield f"splitlab-test-{uuid.uuid4().hex}"
    clear_providers()


def client_for(domain: str, provider: SplitlabProvider) -> OpenFeatureClient:
    """Register `provider` for `domain` and return that domain's client."""
    set_provider(provider, domain)
    return get_client(domain)


def ctx(unit: str | None, **attributes: Any) -> EvaluationContext:
    """An evaluation context with targeting key `unit`."""
    return EvaluationContext(targeting_key=unit, attributes=attributes)


def test_string_details_equal_the_service_for_many_units(domain: str) -> None:
    """For 300 units the string value, variant and reason agree with the service's own answer."""
    service = ExperimentAssignmentService([experiment(trafficAllocation=0.5)])
    client = client_for(domain, SplitlabProvider(service))
    reasons = set()
    for i in range(300):
        unit = f"user-{i}"
        expected = service.assign(unit, "exp-of")
        details = client.get_string_details("exp-of", "fallback", ctx(unit))
        reasons.add(expected.reason)
        assert details.value == (expected.variant or "fallback")
        assert details.variant == expected.variant
        assert details.reason == REASONS[expected.reason]
        assert details.error_code is None
        assert details.flag_metadata["splitlabReason"] == expected.reason.value
    assert reasons == {Reason.ASSIGNED, Reason.OUTSIDE_TRAFFIC}


def test_assigned_is_split_with_the_variant(domain: str) -> None:
    """A randomised unit gets reason SPLIT, its variant as value and inExperiment metadata."""
    client = client_for(domain, SplitlabProvider(ExperimentAssignmentService([experiment()])))
    details = client.get_string_details("exp-of", "control", ctx("user-1"))
    assert details.reason == OFReason.SPLIT
    assert details.value == details.variant
    assert details.variant in {"control", "variant-a", "variant-b"}
    assert details.flag_metadata == {
        "experimentId": "exp-of",
        "splitlabReason": "assigned",
        "inExperiment": True,
    }


def test_not_targeted_serves_the_default(domain: str) -> None:
    """A unit the targeting refuses gets the default value, reason DEFAULT and no variant."""
    targeting = {"include": ["region:US"], "exclude": []}
    service = ExperimentAssignmentService([experiment(targeting=targeting)])
    client = client_for(domain, SplitlabProvider(service))
    refused = client.get_string_details("exp-of", "fallback", ctx("user-1", region="EU"))
    admitted = client.get_string_details("exp-of", "fallback", ctx("user-1", region="US"))
    assert (refused.value, refused.variant, refused.reason) == ("fallback", None, OFReason.DEFAULT)
    assert refused.error_code is None
    assert refused.flag_metadata["splitlabReason"] == "not_targeted"
    assert admitted.reason == OFReason.SPLIT


def test_outside_traffic_serves_the_default(domain: str) -> None:
    """At allocation 0 every unit is outside the traffic: default value, reason DEFAULT."""
    service = ExperimentAssignmentService([experiment(trafficAllocation=0.0)])
    client = client_for(domain, SplitlabProvider(service))
    details = client.get_string_details("exp-of", "fallback", ctx("user-1"))
    assert (details.value, details.variant, details.reason) == ("fallback", None, OFReason.DEFAULT)
    assert details.flag_metadata["splitlabReason"] == "outside_traffic"


@pytest.mark.parametrize("status", ["draft", "paused", "stopped"])
def test_not_running_is_disabled(domain: str, status: str) -> None:
    """A draft, paused or stopped experiment serves the default value with reason DISABLED."""
    service = ExperimentAssignmentService([experiment(status=status)])
    client = client_for(domain, SplitlabProvider(service))
    details = client.get_string_details("exp-of", "fallback", ctx("user-1"))
    assert (details.value, details.variant, details.reason) == ("fallback", None, OFReason.DISABLED)
    assert details.error_code is None


def test_unknown_experiment_is_flag_not_found(domain: str) -> None:
    """An unknown flag key is an ERROR with FLAG_NOT_FOUND, the default value and the key named."""
    client = client_for(domain, SplitlabProvider(ExperimentAssignmentService([experiment()])))
    details = client.get_string_details("exp-nope", "fallback", ctx("user-1"))
    assert (details.value, details.reason) == ("fallback", OFReason.ERROR)
    assert details.error_code == ErrorCode.FLAG_NOT_FOUND
    assert details.error_message is not None
    assert "'exp-nope'" in details.error_message
    assert "exp-of" in details.error_message


def test_missing_targeting_key_is_an_error(domain: str) -> None:
    """No targeting key and no hashKey attribute: ERROR with TARGETING_KEY_MISSING."""
    client = client_for(domain, SplitlabProvider(ExperimentAssignmentService([experiment()])))
    details = client.get_string_details("exp-of", "fallback", ctx(None, region="US"))
    assert (details.value, details.reason) == ("fallback", OFReason.ERROR)
    assert details.error_code == ErrorCode.TARGETING_KEY_MISSING
    assert details.error_message is not None
    assert "attributes['userId']" in details.error_message


def test_hash_key_attribute_is_the_unit(domain: str) -> None:
    """With hashKey accountId the attribute is hashed, as the service does for cluster units."""
    exp = experiment(assignment={"hashKey": "accountId"})
    service = ExperimentAssignmentService([exp])
    client = client_for(domain, SplitlabProvider(service))
    variants = set()
    for i in range(40):
        account = f"acct-{i}"
        by_account = client.get_string_value("exp-of", "x", ctx(None, accountId=account))
        with_user = client.get_string_value("exp-of", "x", ctx("user-9", accountId=account))
        assert by_account == with_user == service.assign(account, "exp-of").variant
        variants.add(by_account)
    assert variants == {"control", "variant-a", "variant-b"}


@pytest.mark.parametrize(
    ("changes", "variant", "reason"),
    [
        ({"status": "rolled_back"}, "control", OFReason.STATIC),
        ({"status": "shipped", "shippedVariant": "variant-b"}, "variant-b", OFReason.STATIC),
        ({"forcedVariant": "variant-a"}, "variant-a", OFReason.STATIC),
        (
            {"assignment": {"forced": {"variant-b": ["qa-1"]}}},
            "variant-b",
            OFReason.TARGETING_MATCH,
        ),
    ],
    ids=["rolled_back", "shipped", "toggled", "forced"],
)
def test_served_to_everyone_or_forced(
    domain: str, changes: dict[str, Any], variant: str, reason: OFReason
) -> None:
    """Rolled back, shipped and toggled are STATIC; a forced QA unit is TARGETING_MATCH."""
    # targeting that refuses the unit: these reasons bypass it
    targeting = {"include": ["region:US"], "exclude": []}
    service = ExperimentAssignmentService([experiment(targeting=targeting, **changes)])
    client = client_for(domain, SplitlabProvider(service))
    details = client.get_string_details("exp-of", "fallback", ctx("qa-1", region="EU"))
    assert (details.value, details.variant, details.reason) == (variant, variant, reason)
    assert details.flag_metadata["inExperiment"] is False


def test_every_reason_has_a_mapping() -> None:
    """REASONS maps every splitlab Reason, and only the three error reasons map to ERROR
    (a failing sticky store is an error: the caller gets its default)."""
    assert set(REASONS) == set(Reason)
    errors = {r for r, of in REASONS.items() if of == OFReason.ERROR}
    assert errors == {Reason.UNKNOWN_EXPERIMENT, Reason.MISSING_UNIT_ID, Reason.STICKY_UNAVAILABLE}


def test_unmapped_boolean_is_true_except_for_the_control(domain: str) -> None:
    """Without values, a boolean flag is True for every variant but the control."""
    service = ExperimentAssignmentService([experiment(variants=["off", "on"])])
    client = client_for(domain, SplitlabProvider(service))
    seen = set()
    for i in range(60):
        details = client.get_boolean_details("exp-of", False, ctx(f"u{i}"))
        assert details.value is (details.variant == "on")
        assert details.reason == OFReason.SPLIT
        seen.add(details.value)
    assert seen == {True, False}
    toggled = ExperimentAssignmentService([experiment(variants=["off", "on"], forcedVariant="off")])
    client = client_for(domain, SplitlabProvider(toggled))
    assert client.get_boolean_value("exp-of", True, ctx("u1")) is False


def test_mapped_values_for_every_type(domain: str) -> None:
    """values maps each variant to the served boolean, integer, float or object."""
    exp = experiment(variants=["control", "treatment"], forcedVariant="treatment")
    service = ExperimentAssignmentService([exp])
    values: dict[str, dict[str, Any]] = {
        "exp-of": {"control": 10, "treatment": 25},
    }
    client = client_for(domain, SplitlabProvider(service, values))
    integer = client.get_integer_details("exp-of", 0, ctx("u1"))
    assert (integer.value, integer.variant, integer.reason) == (25, "treatment", OFReason.STATIC)
    as_float = client.get_float_details("exp-of", 0.5, ctx("u1"))
    assert as_float.value == 25.0
    assert isinstance(as_float.value, float)
    for payload in ({"button": "green", "steps": 2}, [1, 2]):
        objects = {"exp-of": {"control": {}, "treatment": payload}}
        client = client_for(domain, SplitlabProvider(service, objects))
        assert client.get_object_value("exp-of", {}, ctx("u1")) == payload
    flags = {"exp-of": {"control": False, "treatment": True}}
    client = client_for(domain, SplitlabProvider(service, flags))
    assert client.get_boolean_value("exp-of", False, ctx("u1")) is True
    texts = {"exp-of": {"control": "Buy", "treatment": "Buy now"}}
    client = client_for(domain, SplitlabProvider(service, texts))
    assert client.get_string_value("exp-of", "x", ctx("u1")) == "Buy now"


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (None, "integer"),
        (None, "float"),
        (None, "object"),
        ({"exp-of": {"control": 1, "treatment": 2}}, "boolean"),
        ({"exp-of": {"control": True, "treatment": False}}, "integer"),
        ({"exp-of": {"control": "1", "treatment": "2"}}, "float"),
        ({"exp-of": {"control": 1.5, "treatment": 2.5}}, "integer"),
        ({"exp-of": {"control": "a", "treatment": "b"}}, "object"),
        ({"exp-of": {"control": 1, "treatment": 2}}, "string"),
    ],
)
def test_type_mismatch_serves_the_default(
    domain: str, values: dict[str, dict[str, Any]] | None, kind: str
) -> None:
    """A value that is not of the requested type gives TYPE_MISMATCH and the default value."""
    exp = experiment(variants=["control", "treatment"], forcedVariant="treatment")
    client = client_for(domain, SplitlabProvider(ExperimentAssignmentService([exp]), values))
    default: Any = {"boolean": False, "integer": 7, "float": 7.5, "object": {"d": 1}}.get(
        kind, "dflt"
    )
    details = getattr(client, f"get_{kind}_details")("exp-of", default, ctx("u1"))
    assert details.error_code == ErrorCode.TYPE_MISMATCH
    assert details.value == default
    assert details.reason == OFReason.ERROR
    assert details.variant is None
    assert "exp-of" in details.error_message


def test_values_are_checked_against_the_experiments() -> None:
    """values naming an unknown experiment or variant, or missing a variant, is refused."""
    service = ExperimentAssignmentService([experiment(variants=["control", "treatment"])])
    bad = {
        "exp-typo": {"control": 1},
        "exp-of": {"control": 1, "treatmnet": 2},
    }
    with pytest.raises(ProviderValuesError) as info:
        SplitlabProvider(service, bad)
    paths = [d["path"] for d in info.value.details()]
    assert paths == [
        "values['exp-typo']",
        "values['exp-of']['treatmnet']",
        "values['exp-of']['treatment']",
    ]
    assert "treatmnet" in str(info.value)
    assert "3 problems\n" in str(info.value)
    assert info.value.code == "invalid_provider_values"


def test_a_variant_added_later_without_a_value_is_an_error(domain: str) -> None:
    """After update() adds a variant the values lack, resolving it is a GENERAL error."""
    service = ExperimentAssignmentService([experiment(variants=["a", "b"])])
    client = client_for(domain, SplitlabProvider(service, {"exp-of": {"a": 1, "b": 2}}))
    service.update([experiment(variants=["a", "b", "c"], forcedVariant="c")])
    details = client.get_integer_details("exp-of", 0, ctx("u1"))
    assert (details.value, details.error_code) == (0, ErrorCode.GENERAL)
    assert "'c'" in details.error_message


def test_service_updates_reach_the_provider(domain: str) -> None:
    """A toggle applied with service.update() changes what the provider serves at once."""
    service = ExperimentAssignmentService([experiment()])
    client = client_for(domain, SplitlabProvider(service))
    assert client.get_string_details("exp-of", "x", ctx("u1")).reason == OFReason.SPLIT
    service.update([experiment(forcedVariant="variant-b")])
    details = client.get_string_details("exp-of", "x", ctx("u1"))
    assert (details.value, details.reason) == ("variant-b", OFReason.STATIC)


def test_on_exposure_sees_only_randomised_units(domain: str) -> None:
    """on_exposure is called with the assignment and hashed unit for assigned units only."""
    seen: list[tuple[Assignment, str]] = []
    exp = experiment(
        assignment={"hashKey": "accountId", "forced": {"control": ["qa"]}}, trafficAllocation=0.5
    )
    service = ExperimentAssignmentService([exp])
    provider = SplitlabProvider(service, on_exposure=lambda a, unit: seen.append((a, unit)))
    client = client_for(domain, provider)
    expected = []
    for i in range(50):
        account = f"acct-{i}"
        client.get_string_value("exp-of", "x", ctx("user-1", accountId=account))
        if service.assign(account, "exp-of").in_experiment:
            expected.append(account)
    client.get_string_value("exp-of", "x", ctx(None, accountId="qa"))
    client.get_string_value("exp-nope", "x", ctx("user-1"))
    assert [unit for _, unit in seen] == expected
    assert 0 < len(expected) < 50
    assert all(a.reason is Reason.ASSIGNED for a, _ in seen)


def test_datetime_and_nested_attributes_reach_the_condition(domain: str) -> None:
    """Datetime attributes are compared as ISO-8601 text; nested mappings stay mappings."""
    condition = {"signedUp": {"$gte": "2024-06-01"}, "plan.tier": "pro"}
    exp = experiment(targeting={"condition": condition})
    client = client_for(domain, SplitlabProvider(ExperimentAssignmentService([exp])))
    late = datetime(2024, 7, 1, tzinfo=UTC)
    early = datetime(2024, 1, 1, tzinfo=UTC)
    admitted = client.get_string_details(
        "exp-of", "x", ctx("u1", signedUp=late, plan={"tier": "pro"})
    )
    refused = client.get_string_details(
        "exp-of", "x", ctx("u1", signedUp=early, plan={"tier": "pro"})
    )
    assert admitted.reason == OFReason.SPLIT
    assert refused.reason == OFReason.DEFAULT


def test_async_resolution_matches_sync(domain: str) -> None:
    """get_string_details_async gives the same details as the synchronous call."""
    client = client_for(domain, SplitlabProvider(ExperimentAssignmentService([experiment()])))
    sync = client.get_string_details("exp-of", "x", ctx("u7"))
    asynchronous = asyncio.run(client.get_string_details_async("exp-of", "x", ctx("u7")))
    assert asynchronous == sync


def test_provider_metadata_names_splitlab(domain: str) -> None:
    """The registered provider reports its name as splitlab."""
    set_provider(SplitlabProvider(ExperimentAssignmentService([experiment()])), domain)
    assert get_provider_metadata(domain).name == "splitlab"


def test_missing_sdk_gives_an_install_hint() -> None:
    """Without openfeature-sdk, importing the module raises an ImportError naming the extra."""
    code = (
        "import sys\n"
        "sys.modules['openfeature'] = None\n"
        "try:\n"
        "    import splitlab.openfeature\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc.code, exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.startswith("MissingDependencyError missing_dependency ")
    assert "pip install 'splitlab[openfeature]'" in out.stdout
    assert issubclass(MissingDependencyError, ImportError)


def test_a_failing_exposure_callback_serves_the_default(domain: str) -> None:
    """When on_exposure raises, the client reports a GENERAL error and serves the default."""

    def broken(assignment: Assignment, unit: str) -> None:
        raise OSError("tracking queue unavailable")

    provider = SplitlabProvider(ExperimentAssignmentService([experiment()]), on_exposure=broken)
    details = client_for(domain, provider).get_string_details("exp-of", "fallback", ctx("u1"))
    assert (details.value, details.reason) == ("fallback", OFReason.ERROR)
    assert details.error_code == ErrorCode.GENERAL
    assert details.error_message == "tracking queue unavailable"


def _raise(assignment: Assignment, unit: str) -> None:
    raise OSError("tracking queue unavailable")


@pytest.mark.parametrize(
    ("kind", "flag", "unit", "values", "forced", "exposure", "code"),
    [
        ("string", "exp-nope", "u1", None, "treatment", None, ErrorCode.FLAG_NOT_FOUND),
        ("string", "exp-of", None, None, None, None, ErrorCode.TARGETING_KEY_MISSING),
        ("integer", "exp-of", "u1", None, "treatment", None, ErrorCode.TYPE_MISMATCH),
        ("object", "exp-of", "u1", None, "treatment", None, ErrorCode.TYPE_MISMATCH),
        ("integer", "exp-of", "u1", {"control": "one", "treatment": "two"}, "treatment", None,
         ErrorCode.TYPE_MISMATCH),
        ("boolean", "exp-of", "u1", {"control": 1, "treatment": 2}, "treatment", None,
         ErrorCode.TYPE_MISMATCH),
        ("integer", "exp-of", "u1", {"control": 1, "treatment": 2}, "extra", None,
         ErrorCode.GENERAL),
        ("string", "exp-of", "u1", None, None, _raise, ErrorCode.GENERAL),
    ],
    ids=["flag-not-found", "targeting-key-missing", "unmapped-integer", "unmapped-object",
         "mapped-type-mismatch", "boolean-mismatch", "variant-without-value", "exposure-fails"],
)  # fmt: skip
def test_every_error_serves_the_default_and_no_variant(
    domain: str,
    kind: str,
    flag: str,
    unit: str | None,
    values: dict[str, dict[str, Any]] | None,
    forced: str | None,
    exposure: Any,
    code: ErrorCode,
) -> None:
    """On every error path the default value is served with reason ERROR and variant None
    (OpenFeature specification, flag evaluation: the variant names the value served; see
    docs/openfeature.md), even when splitlab had assigned a variant whose value could not be
    served (a TYPE_MISMATCH once reported variant 'treatment' with the default value)."""
    service = ExperimentAssignmentService([experiment(variants=["control", "treatment"])])
    mapping = None if values is None else {"exp-of": values}
    provider = SplitlabProvider(service, mapping, on_exposure=exposure)
    if forced is not None:
        names = ["control", "treatment"] + (["extra"] if forced == "extra" else [])
        service.update([experiment(variants=names, forcedVariant=forced)])
    default: Any = {"boolean": False, "integer": 7, "object": {"d": 1}}.get(kind, "dflt")
    details = getattr(client_for(domain, provider), f"get_{kind}_details")(flag, default, ctx(unit))
    assert (details.value, details.variant, details.reason) == (default, None, OFReason.ERROR)
    assert details.error_code == code
    assert details.error_message


def test_allocation_table_serves_listed_tenants_and_defaults_the_rest() -> None:
    """A tabled tenant resolves to its variant as a SPLIT; an unlisted one gets the default."""
    service = ExperimentAssignmentService([load_experiment(allocated(STRATIFIED))])
    provider = SplitlabProvider(service)
    listed = provider.resolve_string_details(
        "exp-pricing", "fallback", EvaluationContext("user-1", {"tenantId": "t2"})
    )
    assert (listed.value, listed.variant, listed.reason) == (
        "new-price",
        "new-price",
        OFReason.SPLIT,
    )
    unlisted = provider.resolve_string_details(
        "exp-pricing", "fallback", EvaluationContext("user-1", {"tenantId": "t-new"})
    )
    assert (unlisted.value, unlisted.variant, unlisted.reason) == (
        "fallback",
        None,
        OFReason.DEFAULT,
    )
    assert unlisted.flag_metadata["splitlabReason"] == "not_allocated"


def test_cluster_design_needs_the_cluster_attribute(domain: str) -> None:
    """A cluster design never uses the targeting key (a user) as its cluster: without
    attributes['accountId'] it is an ERROR naming the attribute and nothing is exposed; with
    it, the account is hashed and the exposure's unit is the account."""
    cluster = {"type": "cluster", "analysisUnit": "userId"}
    exp = experiment(assignment={"hashKey": "accountId"}, design=cluster)
    service = ExperimentAssignmentService([exp])
    seen: list[tuple[Assignment, str]] = []
    provider = SplitlabProvider(service, on_exposure=lambda a, unit: seen.append((a, unit)))
    client = client_for(domain, provider)
    details = client.get_string_details("exp-of", "fallback", ctx("user-1", region="US"))
    assert (details.value, details.reason) == ("fallback", OFReason.ERROR)
    assert details.error_code == ErrorCode.TARGETING_KEY_MISSING
    assert details.error_message is not None
    assert "attributes['accountId']" in details.error_message
    assert "never stands for the cluster" in details.error_message
    assert seen == []
    value = client.get_string_value("exp-of", "x", ctx("user-1", accountId="acct-3"))
    assert value == service.assign(None, "exp-of", {"accountId": "acct-3"}).variant
    assert [unit for _, unit in seen] == ["acct-3"]
