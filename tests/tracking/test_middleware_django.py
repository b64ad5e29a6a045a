"""The Django middleware, with Django's real test Client and settings configured here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import django
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, JsonResponse
from django.test import Client, override_settings
from django.urls import path

from splitlab.assignment import ExperimentAssignmentService
from splitlab.tracking import current, emit
from tests.tracking.tracking_helpers import Tracked, unit_with_variant

MIDDLEWARE = "splitlab.tracking.middleware.django.DjangoTrackingMiddleware"

if not settings.configured:
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        SECRET_KEY="splitlab-tests-only",
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        ROOT_URLCONF=__name__,
    )
    django.setup()


def whoami(request: HttpRequest) -> JsonResponse:
    context = current()
    assert request.splitlab is context  # type: ignore[attr-defined]
    variants = {eid: a.variant for eid, a in context.assignments.items()}
    return JsonResponse({"unit": context.unit_id, "variants": variants})


def checkout(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"eventIds": [e.event_id for e in emit("checkout")]})


urlpatterns = [path("whoami", whoami), path("checkout", checkout)]


@pytest.fixture
def django_client(tracked: Tracked) -> Iterator[Client]:
    """A Django test client with the splitlab middleware and the test's core in settings."""
    with override_settings(
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[MIDDLEWARE],
        SPLITLAB_TRACKING=tracked.core,
        ALLOWED_HOSTS=["testserver"],
    ):
        yield Client()


def test_assignments_reach_the_view_and_the_response_header(
    django_client: Client, assigner: ExperimentAssignmentService
) -> None:
    """The view sees the service's assignments; the response carries them in a header."""
    response: Any = django_client.get("/whoami", headers={"X-User-Id": "user-7"})
    expected = {eid: a.variant for eid, a in assigner.assign_all("user-7", {}).items()}
    assert response.json() == {"unit": "user-7", "variants": expected}
    header = ";".join(f"{eid}={expected[eid]}" for eid in sorted(expected))
    assert response["X-Splitlab-Assignments"] == header


def test_variant_claimed_by_the_client_is_ignored(
    django_client: Client, tracked: Tracked, assigner: ExperimentAssignmentService
) -> None:
    """x-variant / x-experiment-id headers change neither the variant nor the events (defect 8)."""
    unit = unit_with_variant(assigner, "exp-2", "control")
    claims = {"X-User-Id": unit, "X-Variant": "treatment", "X-Experiment-Id": "exp-2"}
    response: Any = django_client.get("/whoami", headers=claims)
    assert response.json()["variants"]["exp-2"] == "control"
    django_client.post("/checkout", headers=claims)
    events = tracked.stored("exposure") + tracked.stored("metric")
    assert {e.variant for e in events if e.experiment_id == "exp-2"} == {"control"}


def test_a_retried_request_is_counted_once(django_client: Client, tracked: Tracked) -> None:
    """The same request twice with an X-Request-Id is stored once (defect 7)."""
    headers = {"X-User-Id": "user-3", "X-Request-Id": "r-1"}
    first: Any = django_client.post("/checkout", headers=headers)
    again: Any = django_client.post("/checkout", headers=headers)
    assert first.json()["eventIds"] == again.json()["eventIds"]
    assert len(tracked.stored("metric")) == 2


def test_a_missing_core_setting_is_a_clear_configuration_error() -> None:
    """Without SPLITLAB_TRACKING the middleware refuses to start, naming the setting."""
    for value, message in [
        (42, "SPLITLAB_TRACKING must be"),
        ("no.such.mod", "cannot be imported"),
    ]:
        with (
            override_settings(
                ROOT_URLCONF=__name__, MIDDLEWARE=[MIDDLEWARE], SPLITLAB_TRACKING=value
            ),
            pytest.raises(ImproperlyConfigured, match=message),
        ):
            Client().get("/whoami")
