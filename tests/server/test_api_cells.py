"""``GET /v1/experiments/{id}/cells``: a switchback's cell table over HTTP, as the store has it."""

from __future__ import annotations

from typing import Any

from splitlab.tracking.events import Event

from .server_helpers import Api, small

T0 = 1_773_000_000_000  # 2026-03-08T20:00:00Z, a whole hour
HOUR = 3_600_000
DESIGN = {"type": "switchback", "unit": "region", "periodSeconds": 3600, "burnInSeconds": 600}


def _setup(api: Api) -> None:
    for raw in (
        small("exp-sb", status="running", design=DESIGN, segments=[]),
        small("exp-classic", status="running"),
    ):
        assert api.client.post("/v1/experiments", json=raw, headers=api.admin).status_code == 201
    service = api.ctx.view.service
    events = []
    # Two regions, three hours; one order per cell 20 minutes into the hour (after burn-in),
    # and none for "eu" in the middle hour.
    for hour in range(3):
        for region in ("eu", "us"):
            if (region, hour) == ("eu", 1):
                continue
            t = T0 + hour * HOUR + 20 * 60_000
            variant = service.assign(region, "exp-sb", {"region": region}, at=t).variant
            assert variant is not None
            unit = f"o-{region}-{hour}"
            events.append(Event(f"x-{unit}", "exposure", "exp-sb", variant, unit, t,
                                cluster_id=region))  # fmt: skip
            events.append(Event(f"m-{unit}", "metric", "exp-sb", variant, unit, t,
                                metric="checkout", value=1.0, cluster_id=region))  # fmt: skip
    api.ctx.store.ingest(events)


def _cells(api: Api, experiment_id: str, **query: Any) -> Any:
    return api.client.get(f"/v1/experiments/{experiment_id}/cells", params=query,
                          headers=api.admin)  # fmt: skip


def test_the_cell_table_has_every_unit_in_every_period(api: Api) -> None:
    """Up to a cut-off after the third hour: 2 units x 3 periods, each cell's variant the
    assignment's at that period, the empty cell present with outcome 0."""
    _setup(api)
    answer = _cells(api, "exp-sb", cutoff="2026-03-08T23:00:00Z")
    assert answer.status_code == 200, answer.text
    table = answer.json()
    assert {k: table[k] for k in ("experimentId", "unit", "periodSeconds", "burnInSeconds")} == {
        "experimentId": "exp-sb", "unit": "region", "periodSeconds": 3600, "burnInSeconds": 600,
    }  # fmt: skip
    assert table["unitNames"] == ["eu", "us"]
    assert table["firstPeriod"] == T0 // HOUR and table["periods"] == 3
    service = api.ctx.view.service
    expected = [
        service.assign(region, "exp-sb", {"region": region}, at=T0 + hour * HOUR).variant
        for region in ("eu", "us")
        for hour in range(3)
    ]
    assert table["variants"] == expected
    assert table["values"]["checkout"] == [1.0, 0.0, 1.0, 1.0, 1.0, 1.0]


def test_cells_of_a_classic_or_unknown_experiment_are_refused(api: Api) -> None:
    """A classic experiment has no cells (409, naming why); an unknown one is a 404; an SDK
    key may not read them."""
    _setup(api)
    refused = _cells(api, "exp-classic")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_switchback"
    assert "classic" in refused.json()["error"]["message"]
    assert _cells(api, "exp-nope").status_code == 404
    sdk = api.client.get("/v1/experiments/exp-sb/cells", headers=api.sdk)
    assert sdk.status_code == 403
