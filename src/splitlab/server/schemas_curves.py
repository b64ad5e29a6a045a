"""Response models of a look document's ``curves`` block (retention and time-to-event metrics,
:mod:`splitlab.evaluation.survival_view`), for the OpenAPI document.

The look documents themselves are written by the engine (the results JSON plus the ledger's
data, :func:`splitlab.evaluation.look.results_json`) and sent as they are; these models only
describe them: :class:`LookDocument` leaves every other key open and spells out ``curves``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Count = Annotated[float | None, Field(description="A count of units (null: not computable).")]


class Out(BaseModel):
    """Base of the response-only models: camelCase on the wire, every key listed."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class RetentionDays(Out):
    """An arm's retention by day after the first exposure (equal-length lists)."""

    days: list[int] = Field(description="Days after the first exposure, ascending.")
    eligible: list[float] = Field(description="Units whose day had ended by the cut-off.")
    retained: list[float] = Field(description="Of those, units with an event on that day.")
    rate: list[float | None] = Field(description="retained / eligible (null: none eligible).")


class RetentionArm(Out):
    variant: str
    units: Count = Field(description="The arm's exposed units at this look.")
    eligible: Count = Field(description="Units whose window had ended: the metric's n.")
    still_in_window: Count = Field(description="units - eligible: not counted yet.")
    retained: Count = Field(description="Eligible units with an event in the window.")
    rate: float | None = Field(description="retained / eligible (null: none eligible).")
    text: str = Field(description='e.g. "eligible: 812 of 1,000 units (188 still in their '
                      'day-7 window)".')  # fmt: skip
    curve: RetentionDays


class RetentionCurves(Out):
    """A retention metric at this look: per arm, eligible units and the day-by-day curve."""

    type: Literal["retention"]
    day: int | None = Field(description="The window's first day after the first exposure.")
    days: int | None = Field(description="The window's length in days.")
    window: str = Field(description='The window in words, e.g. "day-7" or "days 7-13".')
    arms: list[RetentionArm]


class KmPoints(Out):
    """Kaplan-Meier step points: S just after each time, held until the next point."""

    hours: list[float | None] = Field(description="Hours since the first exposure, from 0.")
    survival: list[float | None] = Field(description="Share of units still without the event.")


class TimeToEventArm(Out):
    variant: str
    units: Count = Field(description="The arm's exposed units.")
    events: Count = Field(description="Units with the event by the horizon and the cut-off.")
    censored: Count = Field(description="Units without it (censored at the cut-off or horizon).")
    rmst_hours: float | None = Field(description="Restricted mean survival time up to the "
                                     "horizon, hours (null: no unit).")  # fmt: skip
    rmst_standard_error: float | None = Field(description="Its standard error (Greenwood-type).")
    follow_up_short: bool = Field(description="No unit followed up to the horizon: the RMST "
                                  "extrapolates the curve's last value.")  # fmt: skip
    curve: KmPoints


class HoursInterval(Out):
    estimate: float | None
    lower: float | None
    upper: float | None


class RmstDifference(Out):
    """A variant against control: the look's comparison of the metric (hours)."""

    variant: str | None
    control: str | None
    estimable: bool
    reason: str | None
    difference_hours: HoursInterval | None = Field(
        description="RMST(variant) - RMST(control) and its interval, as the look decided on it."
    )
    significant: bool


class TimeToEventCurves(Out):
    """A time-to-event metric at this look: RMST and Kaplan-Meier curve per arm."""

    type: Literal["time_to_event"]
    horizon_hours: float | None = Field(description="The horizon tau of the RMST (hours).")
    arms: list[TimeToEventArm]
    differences: list[RmstDifference]


class LookDocument(BaseModel):
    """A recorded look: the results JSON and the ledger's data (every key open), with
    ``curves`` for an experiment with retention or time-to-event metrics."""

    model_config = ConfigDict(extra="allow")

    curves: (
        dict[str, Annotated[RetentionCurves | TimeToEventCurves, Field(discriminator="type")]]
        | None
    ) = Field(
        None,
        description="Per retention or time-to-event metric (by name): eligible units or RMST "
        "per arm, and the retention or Kaplan-Meier curve per arm. Absent for other experiments.",
    )
