"""The JSON Schema of an experiment definition, generated from the models.

The checked-in copy lives at ``schemas/experiment.schema.json``; a test fails when it is
stale, and ``splitlab schema`` prints it.
"""

from __future__ import annotations

import json
from typing import Any

from splitlab.config.models import Experiment

SCHEMA_ID = "https://splitlab.dev/schemas/experiment.schema.json"


def experiment_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the camelCase wire format."""
    schema = Experiment.model_json_schema(by_alias=True, mode="validation")
    # On the wire a variant may also be a plain string (the article's form).
    variants = schema["properties"]["variants"]
    variants["items"] = {"anyOf": [{"type": "string", "minLength": 1}, variants["items"]]}
    # `control` is filled in with the first variant when absent.
    schema["properties"]["control"].pop("default", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def experiment_schema_text() -> str:
    """The schema as the checked-in file holds it (sorted keys, two-space indent)."""
    return json.dumps(experiment_schema(), indent=2, sort_keys=True) + "\n"
