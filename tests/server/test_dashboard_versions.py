"""The weights versions on the experiment page and on the look page: a sticky experiment
reweighted 50/50 -> 20/80 mid-way (real assignment, events, store and look), signed in."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from splitlab.evaluation import run_look
from splitlab.server.app import create_app
from splitlab.server.context import ServerContext
from tests.evaluation.versions_sim import NOW, reweighted_mid_way


def test_the_srm_card_lists_the_versions_with_their_srm(ctx: ServerContext) -> None:
    exp, _ = reweighted_mid_way(ctx.store, ctx.registry)
    record = run_look(ctx.store, ctx.registry, exp.id, cutoff=NOW, now=NOW)
    block = record.to_dict()["weightsVersions"]
    admin = ctx.keys.create("admin", "tests").secret
    with TestClient(create_app(ctx), base_url="http://testserver") as client:
        r = client.post("/login", data={"key": admin, "next": "/"}, follow_redirects=False)
        assert r.status_code == 303
        pages = [
            client.get(f"/experiments/{exp.id}").text,
            client.get(f"/experiments/{exp.id}/looks/{record.seq}").text,
        ]
    for html in pages:
        card = html[html.index('id="srm"') : html.index('id="metrics"')]
        line = re.search(r'<p id="weights-versions">(.*?)</p>', card, re.S)
        assert line is not None
        text = re.sub(r"<[^>]+>", "", line.group(1))
        p = block["srmPValue"]
        assert text == (
            "Weights versions: v0 50/50 from 2026-03-02 09:00 UTC, "
            f"v1 20/80 from 2026-03-04 09:00 UTC; SRM per version p = {p:.4f}."
        )
        rows = re.findall(r'<tr data-version="(v\d)">(.*?)</tr>', card, re.S)
        assert [v for v, _ in rows] == ["v0", "v1"]
        for (_, row), version in zip(rows, block["versions"], strict=True):
            for arm, n in version["units"].items():
                assert f"{arm} {n:,}" in row
        assert "The split of units matches the plan" in card
