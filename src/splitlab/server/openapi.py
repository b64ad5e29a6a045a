"""The OpenAPI document: FastAPI's, plus what FastAPI cannot see.

Added here: the experiment definition's JSON Schema (``components.schemas.Experiment``), the
two hot routes served outside FastAPI (``POST /v1/assign``, ``POST /v1/events``, their schemas
generated from their msgspec types), and every error status each operation may answer, in the
one error shape (no catch-all ``default``: ``tests/server/test_fuzz_openapi.py`` holds the
server to the list). A checked-in snapshot (``schemas/openapi.json``) is compared by a test.
"""

from __future__ import annotations

import copy
import inspect
import json
from typing import Any, cast

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from splitlab.config import experiment_schema
from splitlab.server.hot import AssignRequest, AssignResponse
from splitlab.server.schemas import ErrorBody

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
BEARER: list[dict[str, list[str]]] = [{"HTTPBearer": []}]


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def _stream_path() -> dict[str, Any]:
    return {
        "get": {
            "tags": ["sdk"],
            "summary": "Config changes as server-sent events",
            "description": (
                "A `text/event-stream` that says when the SDK config changed, so a client "
                "fetches `/v1/config` only then. On connect: `retry: 3000`, then `event: "
                'config` with `data: {"etag": "<ETag>"}`, the ETag exactly as `GET /v1/config` '
                "answers it (quotes included); another `config` event within moments of each "
                "change; a `: keep-alive` comment every 15 s. The SDK key may be given as "
                "`?key=` (EventSource cannot send headers) or in `Authorization`. Open streams "
                "are bounded (503 `too_many_streams` with `Retry-After`) and end when the "
                "server stops (reconnect after `retry`)."
            ),
            "operationId": "config_stream_v1_config_stream_get",
            "security": BEARER,
            "parameters": [
                {
                    "name": "key",
                    "in": "query",
                    "required": False,
                    "description": "An SDK (or admin) key, for clients that cannot send headers.",
                    "schema": {"type": "string"},
                }
            ],
            "responses": {
                "200": {
                    "description": "The event stream (it stays open).",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                "503": _error(
                    "Too many open streams, or the server is stopping; retry after Retry-After."
                ),
            },
        }
    }


def _hot_paths() -> dict[str, Any]:
    return {
        "/v1/config/stream": _stream_path(),
        "/v1/assign": {
            "post": {
                "tags": ["sdk"],
                "summary": "Assign one unit",
                "description": (
                    "Assign a unit to one experiment (`experimentId`) or to every experiment "
                    "that serves a variant. An unknown experiment is answered with reason "
                    "`unknown_experiment`, not an HTTP error. Assignment is not exposure: "
                    "send the exposure event when the variant is shown. Switchback "
                    "experiments are assigned at `timestamp` (epoch ms), else at the server's "
                    "clock; the answer then says which (`timestamp`, `timeSource`) and gives "
                    "each switchback's `period` and `periodStart`. Needs an SDK or admin key."
                ),
                "operationId": "assign_v1_assign_post",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    **_json("#/components/schemas/AssignRequest", ""),
                },
                "responses": {
                    "200": _json("#/components/schemas/AssignResponse", "The assignments."),
                },
            }
        },
        "/v1/events": {
            "post": {
                "tags": ["sdk"],
                "summary": "Send a batch of events",
                "description": (
                    'A JSON list of events (or {"events": [...]}), at most 1,000. Valid events '
                    "are accepted even when others are not; the answer counts accepted, "
                    "duplicate and rejected events and lists each rejection. An event is "
                    "acknowledged only once it is durable. Needs an SDK or admin key."
                ),
                "operationId": "events_v1_events_post",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/Event"},
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": (
                            "Counts and rejections; each rejection names the event's index, "
                            "its field, the JSON path ($[3].value), the value and what was "
                            "expected."
                        ),
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "400": _error(
                        "Not a batch: not JSON (not UTF-8, a lone surrogate, nested too "
                        'deeply), or neither a list nor {"events": [...]}.'
                    ),
                    "413": _error("More events or bytes than the collector accepts."),
                },
            }
        },
    }


#: Routes an SDK key may call; every other route with a key needs an admin key.
SDK_ROUTES = {
    ("/v1/config", "get"),
    ("/v1/config/stream", "get"),
    ("/v1/assign", "post"),
    ("/v1/events", "post"),
}

#: Refusals a route's own rules add (the rest follow from its key, body and parameters).
CONFLICTS: dict[tuple[str, str], str] = {
    ("/v1/experiments", "post"): "An experiment with this experimentId is registered already.",
    ("/v1/experiments/{experiment_id}", "put"): "The experiment is not a draft any more.",
    ("/v1/experiments/{experiment_id}/status", "post"): "A change its lifecycle does not allow.",
    ("/v1/experiments/{experiment_id}/toggle", "post"): "A toggle that cannot be applied now.",
    ("/v1/experiments/{experiment_id}/rollback", "post"): "The experiment cannot roll back.",
    ("/v1/experiments/{experiment_id}/evaluate", "post"): (
        "Every planned look is taken (maxPeeks), or the look cannot run in this state."
    ),
    ("/v1/keys/{key_id}", "delete"): "The last active admin key cannot be revoked.",
    ("/v1/experiments/{experiment_id}/cells", "get"): "The experiment is not a switchback.",
    ("/v1/experiments/{experiment_id}/bandit", "get"): "The experiment is not a bandit.",
    ("/v1/experiments/{experiment_id}/canary", "get"): "The experiment is not a canary.",
    ("/v1/experiments/{experiment_id}/canary/judge", "post"): (
        "The experiment is not a canary, not running, or its step has no closed interval yet."
    ),
}

#: Routes whose parameters are never refused as invalid (the stream's ``key`` is checked as
#: a key: a 401).
UNCHECKED = {"/v1/config/stream"}

#: Routes that read or write event data: the store may be overloaded or failing.
STORE_ROUTES = {
    ("/v1/events", "post"),
    ("/v1/experiments/{experiment_id}/evaluate", "post"),
    ("/v1/experiments/{experiment_id}/summary", "get"),
    ("/v1/experiments/{experiment_id}/cells", "get"),
    ("/v1/experiments/{experiment_id}/canary/judge", "post"),
}


def _errors(path: str, method: str, operation: dict[str, Any]) -> dict[int, str]:
    """Every error status `operation` may answer, each with what it means.

    Listed explicitly (no catch-all ``default``) so that the document says which failures a
    client must handle, and so that a test can hold the server to it.
    """
    errors: dict[int, str] = {}
    if "requestBody" in operation:
        errors[400] = "The body is not JSON (not UTF-8, a lone surrogate, nested too deeply)."
    if operation.get("security"):
        errors[401] = "No key, or a key that is unknown, revoked or malformed."
        if (path, method) not in SDK_ROUTES:
            errors[403] = "An SDK key: this route needs an admin key."
    if "{experiment_id}" in path or path == "/v1/keys/{key_id}":
        errors[404] = "No such experiment (or key, or look)."
    if "{webhook_id}" in path:
        errors[404] = "No such webhook subscription (or it was removed, for DELETE)."
    if (path, method) in CONFLICTS:
        errors[409] = CONFLICTS[(path, method)]
    if "requestBody" in operation:
        errors[413] = "The body is larger than this route accepts."
    checked = [p for p in operation.get("parameters", []) if p.get("in") in ("path", "query")]
    if ("requestBody" in operation or checked) and path not in UNCHECKED:
        errors[422] = "A value in the body or the parameters is not valid; details name it."
    if (path, method) in STORE_ROUTES:
        errors[503] = "The store is overloaded or failing; retry after Retry-After."
    return errors


def _msgspec_components() -> dict[str, Any]:
    from splitlab.tracking.events import Event

    _, components = msgspec.json.schema_components(
        [AssignRequest, AssignResponse, Event], ref_template="#/components/schemas/{name}"
    )
    return components


def normalise_descriptions(node: Any) -> Any:
    """`node` with every ``description`` string cleaned as :func:`inspect.cleandoc` does.

    Libraries differ in how much of a docstring's indentation they keep (msgspec 0.23 started
    cleaning docstrings, 0.22 did not), so the document fixes one form itself: the snapshot
    then depends on splitlab's text only, not on a dependency's whitespace choices.
    """
    if isinstance(node, dict):
        return {
            key: inspect.cleandoc(value)
            if key == "description" and isinstance(value, str)
            else normalise_descriptions(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [normalise_descriptions(item) for item in node]
    return node


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The full document for `app` (cached on the app by FastAPI's convention)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    experiment = copy.deepcopy(experiment_schema())
    definitions = experiment.pop("$defs", {})
    text = json.dumps(experiment).replace("#/$defs/", "#/components/schemas/")
    for name, schema in definitions.items():
        schemas.setdefault(
            name, json.loads(json.dumps(schema).replace("#/$defs/", "#/components/schemas/"))
        )
    schemas["Experiment"] = json.loads(text)
    schemas.update(_msgspec_components())
    schemas["ErrorBody"] = ErrorBody.model_json_schema(
        by_alias=True, ref_template="#/components/schemas/{model}"
    )
    for name, schema in schemas["ErrorBody"].pop("$defs", {}).items():
        schemas[name] = schema
    document["paths"].update(_hot_paths())
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses.pop("default", None)
            for status, description in _errors(path, method, operation).items():
                responses.setdefault(str(status), _error(description))
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    document["paths"] = dict(sorted(document["paths"].items()))
    components["schemas"] = dict(sorted(schemas.items()))
    document = cast(dict[str, Any], normalise_descriptions(document))
    app.openapi_schema = document
    return document


def openapi_text() -> str:
    """The server's OpenAPI document as stable, indented JSON (the checked-in snapshot)."""
    from splitlab.server.app import create_fastapi

    return json.dumps(build_openapi(create_fastapi(None)), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # python -m splitlab.server.openapi > schemas/openapi.json
    import sys

    sys.stdout.write(openapi_text())
