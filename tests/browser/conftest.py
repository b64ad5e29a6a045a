"""Fixtures of the browser tests: a small demo served by a real uvicorn server, and Chromium.

Chromium is Debian's ``chromium`` package (``scripts/install-system-deps.sh``), driven by
Playwright through its ``executable_path``; Playwright's own browser downloads are not used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from splitlab.demo.setup import DemoResult
from splitlab.server.run import BackgroundServer
from tests.chromium import launched_chromium
from tests.demo_template import open_copy


@pytest.fixture(scope="session")
def demo(
    demo_template: DemoResult, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoResult]:
    """A small complete demo in a store of its own (a copy of the session's build)."""
    result = open_copy(demo_template, tmp_path_factory.mktemp("browser"))
    try:
        yield result
    finally:
        result.ctx.store.close()


@pytest.fixture(scope="session")
def server(demo: DemoResult) -> Iterator[BackgroundServer]:
    """The demo served by uvicorn on 127.0.0.1 and a free port."""
    with BackgroundServer(demo.ctx) as running:
        yield running


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium under Playwright (module-scoped: see tests/chromium.py)."""
    with launched_chromium() as browser:
        yield browser


class Page:
    """A browser page that records console errors, page errors and failed requests."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(str(e)))
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        page.on(
            "response",
            lambda r: self.problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None,
        )


@pytest.fixture
def page(chromium: Any, server: BackgroundServer, demo: DemoResult) -> Iterator[Page]:
    """A fresh signed-in page (its own browser context, so its own cookies)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    wrapped = Page(context.new_page())
    wrapped.page.goto(f"{server.url}/")
    wrapped.page.fill("#key", demo.admin_key)
    wrapped.page.click("#login-form button[type=submit]")
    wrapped.page.wait_for_selector("#experiments")
    try:
        yield wrapped
    finally:
        context.close()
