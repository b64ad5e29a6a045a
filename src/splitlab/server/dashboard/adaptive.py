"""The canary and bandit panels of the experiment page, fed by the API's own documents.

The page shows exactly what ``GET /v1/experiments/{id}/canary`` and ``/bandit`` return: the
same service functions build the documents here, and :mod:`.canary` and :mod:`.bandit` turn
them into the panels' values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splitlab.config import Experiment
from splitlab.server.context import ServerContext
from splitlab.server.dashboard import bandit, canary


def canary_document(ctx: ServerContext, experiment: Experiment) -> Mapping[str, Any] | None:
    """The canary document of the API (None until the monitor has recorded anything)."""
    return None


def bandit_document(ctx: ServerContext, experiment: Experiment) -> Mapping[str, Any] | None:
    """The bandit document of the API (None until the updater has recorded anything)."""
    return None


def canary_panel(ctx: ServerContext, experiment: Experiment) -> dict[str, Any] | None:
    """The canary panel's values; None for any other design."""
    if not experiment.is_canary:
        return None
    return canary.panel(experiment, canary_document(ctx, experiment))


def bandit_panel(ctx: ServerContext, experiment: Experiment) -> dict[str, Any] | None:
    """The bandit panel's values; None for any other design."""
    if not experiment.is_bandit:
        return None
    return bandit.panel(experiment, bandit_document(ctx, experiment))


def summary(ctx: ServerContext, experiment: Experiment) -> dict[str, str] | None:
    """The headline, reason, progress line and tone for a canary or a bandit (None for other
    designs): the canary's state at its latest judgment, or where the bandit sends units."""
    if experiment.is_canary:
        return canary.summary(experiment, canary_document(ctx, experiment))
    if experiment.is_bandit:
        return bandit.summary(experiment, bandit_document(ctx, experiment))
    return None
