"""A capped metric's row on the look page names its cap (real store, look and server)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
from fastapi.testclient import TestClient

from splitlab.evaluation import run_look
from splitlab.server.app import create_app
from splitlab.server.context import ServerContext
from tests.store.capping_data import DAY, T0, capped_experiment, heavy_units, unit_events


def test_the_metric_row_names_the_cap(ctx: ServerContext) -> None:
    exp = capped_experiment({"type": "percentile", "percentile": 95}, min_sample_size=50)
    ctx.registry.create(exp, at=datetime(2026, 3, 2, tzinfo=UTC))
    units = heavy_units(np.random.default_rng(9), 400)
    ctx.store.ingest(unit_events(units))
    cutoff = datetime.fromtimestamp((T0 + DAY) / 1000, UTC)
    record = run_look(ctx.store, ctx.registry, exp.id, cutoff=cutoff, now=cutoff)
    cap = np.quantile(units.y, 0.95, method="inverted_cdf")
    touched = int((units.y > cap).sum())
    admin = ctx.keys.create("admin", "tests").secret
    with TestClient(create_app(ctx), base_url="http://testserver") as client:
        client.post("/login", data={"key": admin, "next": "/"}, follow_redirects=False)
        html = client.get(f"/experiments/{exp.id}/looks/{record.seq}").text
    lines = re.findall(r'<div class="muted capping">(.*?)</div>', html)
    assert lines == [
        f"capped at {cap:,.6g} (95th percentile, fixed at look 1): {touched:,} units touched"
    ]
