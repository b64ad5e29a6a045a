"""Data cut-offs are checked before they are stored, and a damaged ledger row breaks no read."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from splitlab.cli.main import cli
from splitlab.evaluation import run_look
from splitlab.evaluation.cutoff import CutoffError
from splitlab.server.app import create_app
from splitlab.server.context import ServerContext
from splitlab.store import DuckDBStore
from splitlab.store.registry import format_time, parse_time

from .server_helpers import Api, small

EVALUATE = "/v1/experiments/exp-small/evaluate"
SUMMARY = "/v1/experiments/exp-small/summary"

#: Cut-offs refused, with why: the fuzzer's year 1, numbers read as epoch time, far futures.
REFUSED = {
    "year 1 (the fuzzer's)": "0001-01-01T05:28:06Z",
    "before 2000": "1999-12-31T23:59:59Z",
    "year 9999": "9999-12-31T00:00:00Z",
    "two days ahead": format_time(datetime.now(UTC) + timedelta(days=2)),
    "an integer": 5,
    "a fraction": 0.5,
    "digits as text": "1700000000",
    "not a time": "yesterday",
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_cutoff_outside_the_range_is_a_422_naming_it(api: Api, name: str) -> None:
    """evaluate's $.cutoff and summary's query.cutoff refuse it with the rule; nothing stored."""
    api.client.post("/v1/experiments", json=small(status="running"), headers=api.admin)
    value = REFUSED[name]
    body = {"cutoff": value, "peek": True}
    for answer, path in (
        (api.client.post(EVALUATE, json=body, headers=api.admin), "$.cutoff"),
        (api.client.get(SUMMARY, params={"cutoff": str(value)}, headers=api.admin), "query.cutoff"),
    ):
        assert answer.status_code == 422, answer.text
        [detail] = answer.json()["error"]["details"]
        assert detail["path"] == path
        assert "from 2000-01-01T00:00:00Z to 24 hours after now" in detail["expected"]
    assert api.ctx.registry.looks("exp-small") == []


def test_cutoffs_in_the_range_are_accepted(api: Api) -> None:
    """A date, a time with an offset and one without (UTC) are cut-offs; the ledger has them."""
    api.client.post("/v1/experiments", json=small(status="running"), headers=api.admin)
    for value in ("2026-01-01", "2026-01-01T12:00:00+05:00", "2000-01-01T00:00:00"):
        assert api.client.get(SUMMARY, params={"cutoff": value}, headers=api.admin).is_success
        peek = api.client.post(EVALUATE, json={"cutoff": value, "peek": True}, headers=api.admin)
        assert peek.status_code == 200, peek.text
    ledger = api.client.get("/v1/experiments/exp-small/looks", headers=api.admin).json()
    assert [x["cutoff"] for x in ledger["looks"]] == [
        "2026-01-01T00:00:00.000000Z",
        "2026-01-01T07:00:00.000000Z",
        "2000-01-01T00:00:00.000000Z",
    ]


def test_times_before_year_1000_are_written_with_four_digits() -> None:
    """format_time pads the year (glibc's %Y writes year 1 as '1'), and parse_time reads it."""
    early = datetime(1, 1, 1, 5, 28, 6, tzinfo=UTC)
    assert format_time(early) == "0001-01-01T05:28:06.000000Z"
    assert parse_time(format_time(early)) == early
    assert parse_time("1-01-01T05:28:06.000000Z") == early  # as older versions stored it


def test_a_damaged_ledger_row_breaks_no_listing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Rows with an unreadable time are left out and logged; API, dashboard and CLI still read."""
    db = tmp_path / "splitlab.duckdb"
    store = DuckDBStore(db)
    try:
        ctx = ServerContext.open(store)
        admin = {"Authorization": f"Bearer {ctx.keys.create('admin').secret}"}
        with TestClient(create_app(ctx)) as client:
            client.post("/v1/experiments", json=small(status="running"), headers=admin)
            for _ in range(3):
                client.post(EVALUATE, json={"peek": True}, headers=admin)
            with store.lock:  # what older versions stored for year 1, and plain garbage
                store.connection.execute(
                    "UPDATE splitlab_looks SET cutoff = '1-01-01T05:28:06.000000Z' WHERE seq = 1"
                )
                store.connection.execute("UPDATE splitlab_looks SET taken_at = 'x' WHERE seq = 2")
            client.post(EVALUATE, headers=admin)
            with caplog.at_level(logging.ERROR, logger="splitlab.store.registry_records"):
                looks = client.get("/v1/experiments/exp-small/looks", headers=admin)
            assert looks.status_code == 200
            assert [x["seq"] for x in looks.json()["looks"]] == [1, 3, 4]
            assert looks.json()["looks"][0]["cutoff"] == "0001-01-01T05:28:06.000000Z"
            assert "exp-small look seq 2 left out: time 'x'" in caplog.text
            assert client.get("/v1/experiments/exp-small/results", headers=admin).is_success
            listed = client.get("/v1/experiments", headers=admin)
            assert listed.status_code == 200
            assert listed.json()["experiments"][0]["looks"] == 1
            secret = admin["Authorization"].removeprefix("Bearer ")
            signed_in = client.post("/login", data={"key": secret}, follow_redirects=False)
            assert signed_in.status_code == 303
            assert client.get("/").status_code == 200  # the dashboard home
            assert client.get("/experiments/exp-small").status_code == 200
    finally:
        store.close()
    history = CliRunner().invoke(cli, ["evaluate", "exp-small", "--db", str(db), "--history"])
    assert history.exit_code == 0, history.output
    assert "Traceback" not in history.output


def test_a_summary_is_always_accepted_by_analyze(api: Api, tmp_path: Path) -> None:
    """After every planned look is taken, /summary's look stays at maxPeeks; analyze takes it."""
    api.client.post("/v1/experiments", json=small(status="running"), headers=api.admin)
    definition = tmp_path / "exp.json"
    wire = api.client.get("/v1/experiments/exp-small", headers=api.admin).json()
    definition.write_text(json.dumps(wire))
    looks = []
    for _ in range(3):  # maxPeeks is 2: the summary before each look, and one after the last
        sums = tmp_path / "sums.json"
        summary = api.client.get(SUMMARY, headers=api.admin).json()
        looks.append(summary["look"])
        sums.write_text(json.dumps(summary))
        analyzed = CliRunner().invoke(cli, ["analyze", str(definition), "--sums", str(sums)])
        assert analyzed.exit_code == 0, analyzed.output
        api.client.post(EVALUATE, headers=api.admin)
    assert looks == [1, 2, 2]


def test_with_extra_looks_allowed_the_summary_counts_on(api: Api) -> None:
    """allowExtraLooks: the summary's look is the next look's number, past maxPeeks."""
    raw = small(status="running")
    raw["evaluation"] = {**raw["evaluation"], "allowExtraLooks": True}
    assert api.client.post("/v1/experiments", json=raw, headers=api.admin).status_code == 201
    for _ in range(3):
        api.client.post(EVALUATE, headers=api.admin)
    assert api.client.get(SUMMARY, headers=api.admin).json()["look"] == 4


def test_run_look_refuses_a_cutoff_outside_the_range(api: Api) -> None:
    """The library (and so `splitlab evaluate --cutoff`) refuses year 1 too: nothing stored."""
    api.client.post("/v1/experiments", json=small(status="running"), headers=api.admin)
    with pytest.raises(CutoffError, match="before 2000-01-01T00:00:00Z") as refused:
        run_look(api.ctx.store, api.ctx.registry, "exp-small", cutoff=datetime(1, 1, 1, tzinfo=UTC))
    assert refused.value.details()[0]["path"] == "$.cutoff"
    assert api.ctx.registry.looks("exp-small") == []
