"""The root of splitlab's exceptions.

Every error splitlab raises on purpose derives from :class:`SplitlabError`, so an application
can catch them all at once, and the CLI and the HTTP API can turn them into a clean message
(the CLI) or the one JSON error shape (the API) instead of a traceback.

    SplitlabError
    ├── ConfigError          splitlab.config: an experiment definition was refused
    ├── ConditionError       splitlab.assignment: a malformed targeting condition
    ├── StatsError           splitlab.stats: an analysis that cannot be done as asked
    ├── StoreError           splitlab.store: storage failed (disk full, fsync error, ...)
    └── EvaluationError      splitlab.evaluation: a look or status change that is not allowed
"""

from __future__ import annotations

from typing import Any


class SplitlabError(Exception):
    """Base class of every error splitlab raises on purpose."""

    #: A short machine-readable code, used by the HTTP error shape and the CLI.
    code: str = "error"

    def details(self) -> list[dict[str, Any]]:
        """Structured details (for example one entry per validation problem)."""
        return []
