"""Fuzz every operation of the OpenAPI document (schemathesis) against the real server.

Each operation gets schema-conforming and schema-violating requests (a fixed number, with a
derandomized Hypothesis, so every run sends the same requests), once with an admin key and
once with an SDK key. No answer may be a server error (5xx), and every answer must be
documented: its status code listed for the operation, its content type and body matching the
documented schema. The server holds a running experiment (the path parameters' documented
example), so the routes that read an experiment's data answer 200 too, not only 404.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis import checks as st_checks

from splitlab.server.app import create_app
from splitlab.server.context import ServerContext

from .server_helpers import article

#: Requests per operation and generation mode (positive, negative, and positive aimed at the
#: running experiment): about 2,200 requests for both keys, under two minutes on two cores.
#: ``SPLITLAB_FUZZ_EXAMPLES=200`` fuzzes deeper by hand (give pytest a longer --timeout).
EXAMPLES = int(os.environ.get("SPLITLAB_FUZZ_EXAMPLES", "20"))

#: The experiment the server holds (running) when the fuzzing starts.
EXPERIMENT = "exp-checkout-flow-v3"

#: Listings that must still answer 200 after the fuzzing, whatever it stored.
LISTINGS = [
    "/v1/experiments",
    f"/v1/experiments/{EXPERIMENT}",
    f"/v1/experiments/{EXPERIMENT}/looks",
    f"/v1/experiments/{EXPERIMENT}/audit",
    "/v1/keys",
]

CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
]


@pytest.fixture
def served(ctx: ServerContext) -> Iterator[tuple[Any, dict[str, str]]]:
    """The whole server with the article's experiment running, and one key of each kind."""
    keys = {kind: ctx.keys.create(kind, "fuzz").secret for kind in ("admin", "sdk")}
    app = create_app(ctx)
    definition = {**article(), "status": "running"}
    # Extra looks allowed: every generated evaluate body reaches the ledger (not a 409 once the
    # planned looks are taken), so what a look stores is fuzzed too.
    definition["evaluation"] = {**definition["evaluation"], "allowExtraLooks": True}
    with TestClient(app) as client:
        created = client.post(
            "/v1/experiments",
            json=definition,
            headers={"Authorization": f"Bearer {keys['admin']}"},
        )
        assert created.status_code == 201, created.text
        yield app, keys


def _fuzz(app: Any, secret: str) -> list[str]:
    """Every failed check and every 5xx, as text (empty when the server kept to its document)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {secret}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/v1/config/stream":
            continue  # a stream never ends; test_config_stream.py tests it over a real server
        runs: list[tuple[GenerationMode, dict[str, str] | None]] = [
            (GenerationMode.POSITIVE, None),
            (GenerationMode.NEGATIVE, None),
        ]
        if "{experiment_id}" in operation.path:  # random ids are mostly 404: aim at the real one
            runs.append((GenerationMode.POSITIVE, {"experiment_id": EXPERIMENT}))
        for mode, path_parameters in runs:

            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(mode, path_parameters=path_parameters))
            def send(case: Any) -> None:
                response = case.call(headers=headers)
                where = f"{case.method} {case.path} -> {response.status_code}"
                if response.status_code >= 500:
                    failures.append(f"{where}: server error {response.text[:300]}")
                try:
                    case.validate_response(response, checks=CHECKS)
                except Exception as exc:  # a schemathesis failure group: report, keep going
                    failures.append(f"{where}: {str(exc)[:600]}\n{case.as_curl_command()}")

            try:
                send()
            except Exception as exc:
                if type(exc).__name__ != "Unsatisfiable":
                    raise
    return failures


@pytest.mark.parametrize("kind", ["admin", "sdk"])
def test_every_answer_is_documented_and_none_is_a_server_error(
    served: tuple[Any, dict[str, str]], kind: str
) -> None:
    """Fuzzing the whole OpenAPI document finds no 5xx and no undocumented answer."""
    app, keys = served
    failures = _fuzz(app, keys[kind])
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    with TestClient(app) as client:  # nothing the fuzzer stored may break a later read
        for path in LISTINGS:
            answer = client.get(path, headers=admin)
            if answer.status_code != 200:
                failures.append(f"GET {path} after fuzzing -> {answer.status_code}")
    assert not failures, f"{len(failures)} failure(s):\n\n" + "\n\n".join(failures[:10])
