"""The metrics table says what a retention or time-to-event row's numbers are: the control
and variant columns hold a rate over eligible units, or restricted mean hours."""

from __future__ import annotations

from splitlab.server.dashboard.looks import metric_rows

TTE = "restricted mean time to order within 72 h"
RET = "day 7 retention (an event 168-192 h after the first exposure, among units whose window has closed)"


def _metric(name: str, kind: str, **extra: str) -> dict[str, object]:
    comparison = {"variant": "voucher", "controlMean": 60.5, "variantMean": 57.1}
    return {"name": name, "type": kind, "role": "primary", "comparisons": [comparison], **extra}


def test_rows_carry_what_the_numbers_measure() -> None:
    document = {
        "results": {
            "metrics": [
                _metric("time_to_first_order", "time_to_event", timeToEvent=TTE),
                _metric("day7_return", "retention", retention=RET),
                _metric("orders", "conversion"),
            ]
        }
    }
    rows = metric_rows(document)
    assert [r["measures"] for r in rows] == [TTE, RET, None]
