"""The documentation stands alone: no page, OpenAPI text or source file cites a DESIGN.md
that users never get, and every link between pages lands on a heading that exists."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from splitlab.server.openapi import openapi_text
from tests.conftest import ROOT

DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
SOURCES = sorted(
    p for p in (ROOT / "src").rglob("*") if p.is_file() and "__pycache__" not in p.parts
)
CITATION = re.compile(r"DESIGN\.md", re.IGNORECASE)


def _descriptions(node: Any) -> list[str]:
    """Every description and summary string in an OpenAPI document."""
    if isinstance(node, dict):
        found = [
            v for k, v in node.items() if k in ("description", "summary") and isinstance(v, str)
        ]
        return found + [d for v in node.values() for d in _descriptions(v)]
    if isinstance(node, list):
        return [d for v in node for d in _descriptions(v)]
    return []


def test_no_doc_or_source_file_cites_design_md() -> None:
    """No page of docs/, README.md or file under src/ mentions DESIGN.md (it is not shipped:
    docs/architecture.md holds the layers and contracts instead)."""
    citing = [
        str(path.relative_to(ROOT))
        for path in DOCS + SOURCES
        if CITATION.search(path.read_bytes().decode("utf-8", errors="replace"))
    ]
    assert DOCS and len(SOURCES) > 100
    assert citing == []


def test_no_openapi_description_cites_design_md() -> None:
    """Neither the generated OpenAPI document nor its checked-in snapshot cites DESIGN.md in
    any description or summary."""
    for document in (
        json.loads(openapi_text()),
        json.loads((ROOT / "schemas" / "openapi.json").read_text()),
    ):
        texts = _descriptions(document)
        assert texts, "the document has descriptions"
        cited = [t for t in texts if CITATION.search(t)]
        assert cited == []


def test_the_architecture_page_is_linked_from_the_readme() -> None:
    """README.md's documentation table links docs/architecture.md."""
    assert "](docs/architecture.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, re.M)}


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_links_to_sections_land_on_a_heading(path: Path) -> None:
    """Every `[text](page.md#section)` link in the docs names a file and a heading that exist."""
    for match in re.finditer(r"\]\(([^)#\s]*\.md)?#([^)\s]+)\)", path.read_text(encoding="utf-8")):
        target = (path.parent / match.group(1)).resolve() if match.group(1) else path
        assert target.is_file(), match.group(0)
        assert match.group(2) in _anchors(target), f"{path.name}: {match.group(0)}"
