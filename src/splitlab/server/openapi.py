"""The OpenAPI document: FastAPI's, plus what FastAPI cannot see.

Added here: the experiment definition's JSON Schema (``components.schemas.Experiment``), the
two hot routes served outside FastAPI (``POST /v1/assign``, ``POST /v1/events``, their schemas
generated from their msgspec types), and the one error shape as the ``default`` response of
every operation. A checked-in snapshot (``schemas/openapi.json``) is compared by a test.
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


def _hot_paths() -> dict[str, Any]:
    return {
        "/v1/assign": {
            "post": {
                "tags": ["sdk"],
                "summary": "Assign one unit",
                "description": (
                    "Assign a unit to one experiment (`experimentId`) or to every experiment "
                    "that serves a variant. An unknown experiment is answered with reason "
                    "`unknown_experiment`, not an HTTP error. Assignment is not exposure: "
                    "send the exposure event when the variant is shown. Needs an SDK or "
                    "admin key."
                ),
                "operationId": "assign_v1_assign_post",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    **_json("#/components/schemas/AssignRequest", ""),
                },
                "responses": {
                    "200": _json("#/components/schemas/AssignResponse", "The assignments."),
                    "default": _error("Any failure, in the one error shape."),
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
                    "413": _error("More events or bytes than the collector accepts."),
                    "503": _error("Overloaded or storage failure; retry after Retry-After."),
                    "default": _error("Any failure, in the one error shape."),
                },
            }
        },
    }


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
    for path in document["paths"].values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses.setdefault("default", _error("Any failure, in the one error shape."))
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
