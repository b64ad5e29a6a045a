"""The checked-in JSON Schema is generated from the models and kept current."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from splitlab.config import experiment_schema, experiment_schema_text
from tests.conftest import ROOT

SCHEMA_FILE = ROOT / "schemas" / "experiment.schema.json"


def test_checked_in_schema_is_current() -> None:
    """schemas/experiment.schema.json equals what the models generate (run `make schema`)."""
    assert SCHEMA_FILE.read_text() == experiment_schema_text(), "stale schema: run `make schema`"


def test_article_template_validates_against_schema(article_raw: dict[str, Any]) -> None:
    """The article's template, with plain-string variants, is valid under the schema."""
    jsonschema.validate(article_raw, experiment_schema())


def test_schema_rejects_unknown_keys(article_raw: dict[str, Any]) -> None:
    """The schema, like the loader, refuses keys it does not know."""
    article_raw["metrics"]["primary"]["colour"] = "blue"
    validator = jsonschema.Draft202012Validator(experiment_schema())
    assert any("colour" in e.message for e in validator.iter_errors(article_raw))


def test_schema_is_valid_draft_2020_12() -> None:
    """The generated schema is itself a valid JSON Schema document."""
    jsonschema.Draft202012Validator.check_schema(json.loads(experiment_schema_text()))
