"""Errors of the statistics engine.

SplitlabError                (splitlab.errors)
└── StatsError               an analysis that cannot be done as asked
    ├── SumsError            sufficient statistics that are malformed or do not fit
    └── LookError            a look beyond the planned `maxPeeks`
"""

from __future__ import annotations

from splitlab.errors import SplitlabError


class StatsError(SplitlabError):
    """An analysis that cannot be done as asked."""

    code = "stats_error"


class SumsError(StatsError, ValueError):
    """Sufficient statistics that are malformed, or that do not match the experiment."""

    code = "invalid_sums"


class LookError(StatsError):
    """A look beyond the planned number of looks (`evaluation.maxPeeks`)."""

    code = "look_not_allowed"
