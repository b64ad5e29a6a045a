"""The OpenAPI document: served, complete, and equal to the checked-in snapshot."""

from __future__ import annotations

import inspect
import json
import re

from splitlab.server.openapi import normalise_descriptions, openapi_text

from .server_helpers import ROOT, Api

SNAPSHOT = ROOT / "schemas" / "openapi.json"


def test_the_snapshot_is_current() -> None:
    """schemas/openapi.json equals the generated document.

    Regenerate with: python -m splitlab.server.openapi > schemas/openapi.json
    """
    assert SNAPSHOT.read_text() == openapi_text()


def test_served_document_equals_the_snapshot(api: Api) -> None:
    """GET /openapi.json serves the same document as the snapshot."""
    served = api.client.get("/openapi.json").json()
    assert served == json.loads(SNAPSHOT.read_text())


def test_every_reference_resolves() -> None:
    """Every $ref in the document names a schema in components.schemas."""
    document = json.loads(SNAPSHOT.read_text())
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', SNAPSHOT.read_text()))
    assert refs
    assert refs <= set(document["components"]["schemas"])


def test_every_operation_documents_the_error_shape() -> None:
    """Each operation lists its error statuses, all in the one error shape, and a summary."""
    document = json.loads(SNAPSHOT.read_text())
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            assert "default" not in op["responses"], (method, path)
            errors = {s: r for s, r in op["responses"].items() if int(s) >= 400}
            assert errors or path in {"/healthz", "/metrics"}, (method, path)
            if op.get("security"):
                assert "401" in errors, (method, path)
            for status, response in errors.items():
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
            assert op.get("summary"), (method, path)


def test_descriptions_do_not_depend_on_a_librarys_whitespace() -> None:
    """A docstring kept indented (msgspec 0.22) or cleaned (0.23) gives the same description."""
    raw = "One event.\n\n    Encoding it gives the wire shape, so clients\n    send it as it is."
    cleaned = "One event.\n\nEncoding it gives the wire shape, so clients\nsend it as it is."
    document = {"components": {"schemas": {"Event": {"description": raw, "type": "object"}}}}
    assert normalise_descriptions(document) == normalise_descriptions(
        {"components": {"schemas": {"Event": {"description": cleaned, "type": "object"}}}}
    )
    assert normalise_descriptions(document)["components"]["schemas"]["Event"]["description"] == (
        cleaned
    )


def test_every_description_in_the_snapshot_is_in_cleaned_form() -> None:
    """No description in the document keeps indentation a library might or might not strip."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "description" and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(SNAPSHOT.read_text()))
    assert found
    assert [text for text in found if text != inspect.cleandoc(text)] == []
