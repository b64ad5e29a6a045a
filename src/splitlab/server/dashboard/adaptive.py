"""The canary and bandit panels of the experiment page, fed by the API's own documents.

The page shows exactly what ``GET /v1/experiments/{id}/canary`` and ``/bandit`` return: the
same service functions build the documents here, and :mod:`.canary` and :mod:`.bandit` turn
them into the panels' values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splitlab.config import Experiment
from splitlab.evaluation.bandit import bandit_status
from splitlab.evaluation.canary_view import canary_view
from splitlab.server.context import ServerContext
from splitlab.server.dashboard import bandit, canary
from splitlab.store.canary_ledger import CanaryLedger


def canary_document(ctx: ServerContext, experiment: Experiment) -> Mapping[str, Any] | None:
    """The canary document of ``GET /v1/experiments/{id}/canary``."""
    return canary_view(ctx.registry, CanaryLedger.for_store(ctx.registry), experiment.id)


def bandit_document(ctx: ServerContext, experiment: Experiment) -> Mapping[str, Any] | None:
    """The bandit document of ``GET /v1/experiments/{id}/bandit``."""
    return bandit_status(ctx.registry, experiment.id)


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
