"""Debian's headless Chromium under Playwright, shared by every browser test suite.

Chromium is the ``chromium`` package (``scripts/install-system-deps.sh``), driven through
Playwright's ``executable_path``; Playwright's own browser downloads are never used. The
flags keep Chromium off the network, which this machine does not have.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """A launched browser, closed (with Playwright) on exit.

    Use it from a module-scoped fixture: Playwright's sync API keeps an event loop running in
    this thread while it is open, which would break every later test that calls asyncio.run.
    """
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.fail("Chromium is missing: run scripts/install-system-deps.sh (Debian's chromium)")
    from playwright.sync_api import sync_playwright  # a dev dependency

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
