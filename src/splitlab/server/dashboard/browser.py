"""The experiment page's browser exposure panel: how often pages claimed another variant."""

from __future__ import annotations

from typing import Any

from splitlab.config import Experiment
from splitlab.server.context import ServerContext

#: Why a page's claim and the server's assignment disagree, most common first.
CAUSES = "stale config, ad blockers, initialisation order"


def panel(ctx: ServerContext, experiment: Experiment) -> dict[str, Any]:
    """The counts of ``GET /v1/experiments/{id}/exposure-checks``, in words."""
    counts = ctx.exposure_checks.counts(experiment.id)
    share = counts.mismatched / counts.checked if counts.checked else 0.0
    return {
        "checked": counts.checked,
        "mismatched": counts.mismatched,
        "share": f"{share:.1%}",
        "not_assigned": counts.not_assigned,
        "pairs": [f"{c} → {s}: {n:,}" for (c, s), n in counts.mismatches.items()],
        "reasons": [f"{r}: {n:,}" for r, n in counts.reasons.items()],
        "causes": CAUSES,
    }
