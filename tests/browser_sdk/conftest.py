"""A static http.server over the checkout and a real headless Chromium, for the browser tests."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from tests.browser_sdk.page import BrowserPage
from tests.chromium import launched_chromium
from tests.conftest import ROOT


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files from the checkout without logging each request to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged: the test reports what matters."""


@pytest.fixture(scope="module")
def static_base() -> Iterator[str]:
    """The base URL of an http.server on 127.0.0.1 (a free port) serving the checkout."""
    handler = partial(QuietHandler, directory=str(ROOT))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="static-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium under Playwright (module-scoped: see tests/chromium.py)."""
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def browser_page(chromium: Any, static_base: str) -> Iterator[BrowserPage]:
    """A fresh page on the static server's origin, collecting uncaught page errors."""
    context = chromium.new_context()
    page = context.new_page()
    result = BrowserPage(page, static_base)
    page.on("pageerror", lambda error: result.errors.append(str(error)))
    page.goto(f"{static_base}/tests/browser_sdk/blank.html")
    try:
        yield result
    finally:
        context.close()
