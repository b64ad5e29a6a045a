"""A browser page on the static server's origin, for running ES modules of the checkout."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class BrowserPage:
    """A Playwright page on the static server's origin and the uncaught errors it raised."""

    page: Any
    base: str
    errors: list[str] = field(default_factory=list)

    def run_module(self, module: str, script: str) -> Any:
        """Import `module` (a path under the checkout) in the page and run `script` with it.

        `script` is the body of an async function of ``m`` (the module); its return value
        comes back as JSON.
        """
        source = f"async (url) => {{ const m = await import(url); {script} }}"
        return self.page.evaluate(source, f"{self.base}/{module}")
