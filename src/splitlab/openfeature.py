"""An OpenFeature provider backed by splitlab's assignment service.

``pip install 'splitlab[openfeature]'`` (the ``openfeature-sdk`` package), then::

    from openfeature import api
    from splitlab.openfeature import SplitlabProvider

    api.set_provider(SplitlabProvider(service))
    client = api.get_client()
    details = client.get_string_details("exp-checkout-flow-v3", "control", context)

The flag key is the experiment id, the evaluation context's ``targeting_key`` is the unit id
and its ``attributes`` are the unit's attributes; the served value is the assigned variant's
name, or the value the ``values`` mapping gives that variant. How splitlab's reasons become
OpenFeature's reasons and error codes is in ``docs/openfeature.md`` and :data:`REASONS`.

Switchback experiments are assigned at the context attribute ``timestamp`` (:data:`TIME_ATTRIBUTE`:
epoch milliseconds as an integer, or an aware ``datetime``), else at the service's clock; the
flag metadata then carries ``period``, ``periodStart`` and ``switchbackUnit``.

    SplitlabError                 (splitlab.errors)
    ├── MissingDependencyError    openfeature-sdk is not installed (also an ImportError)
    └── ProviderValuesError       the provider's ``values`` mapping does not fit the experiments

The module sits at the assignment level: it imports ``splitlab.config`` and
``splitlab.assignment`` only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from splitlab.assignment import (
    Assignment,
    ExperimentAssignmentService,
    Reason,
    TimeError,
    experiment_unit,
)
from splitlab.config.errors import Problem
from splitlab.errors import SplitlabError


class MissingDependencyError(SplitlabError, ImportError):
    """An optional dependency needed by this module is not installed."""

    code = "missing_dependency"


try:
    from openfeature.evaluation_context import EvaluationContext
    from openfeature.exception import ErrorCode
    from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType
    from openfeature.flag_evaluation import Reason as OFReason
    from openfeature.provider import AbstractProvider, Metadata
except ImportError as exc:  # the optional dependency is missing: say how to install it
    raise MissingDependencyError(
        "splitlab.openfeature needs the OpenFeature SDK (the 'openfeature-sdk' package), "
        "which is not installed; install it with: pip install 'splitlab[openfeature]'"
    ) from exc

__all__ = [
    "REASONS",
    "TIME_ATTRIBUTE",
    "ExposureCallback",
    "MissingDependencyError",
    "ProviderValuesError",
    "SplitlabProvider",
]

logger = logging.getLogger(__name__)

#: splitlab's reason -> OpenFeature's reason for the answers that serve a variant.
REASONS: Mapping[Reason, OFReason] = {
    Reason.ASSIGNED: OFReason.SPLIT,
    Reason.FORCED: OFReason.TARGETING_MATCH,
    Reason.TOGGLED: OFReason.STATIC,
    Reason.SHIPPED: OFReason.STATIC,
    Reason.ROLLED_BACK: OFReason.STATIC,
    Reason.NOT_TARGETED: OFReason.DEFAULT,
    Reason.OUTSIDE_TRAFFIC: OFReason.DEFAULT,
    Reason.NOT_ALLOCATED: OFReason.DEFAULT,
    Reason.OUTSIDE_LAYER: OFReason.DEFAULT,
    #: Held out by a holdout's own split: the control variant is served.
    Reason.HOLDOUT: OFReason.SPLIT,
    Reason.NOT_RUNNING: OFReason.DISABLED,
    Reason.UNKNOWN_EXPERIMENT: OFReason.ERROR,
    Reason.MISSING_UNIT_ID: OFReason.ERROR,
    Reason.STICKY_UNAVAILABLE: OFReason.ERROR,
}

#: splitlab's reason -> the OpenFeature error code, for the reasons that are errors.
_ERRORS: Mapping[Reason, ErrorCode] = {
    Reason.UNKNOWN_EXPERIMENT: ErrorCode.FLAG_NOT_FOUND,
    Reason.MISSING_UNIT_ID: ErrorCode.TARGETING_KEY_MISSING,
    Reason.STICKY_UNAVAILABLE: ErrorCode.GENERAL,
}

#: The evaluation context attribute holding the time to assign switchbacks at.
TIME_ATTRIBUTE = "timestamp"

#: Called with (assignment, unit id) for every resolution that exposes a randomised unit.
ExposureCallback = Callable[[Assignment, str], None]

T = TypeVar("T")


class ProviderValuesError(SplitlabError):
    """The ``values`` mapping names an unknown experiment or variant, or leaves one out."""

    code = "invalid_provider_values"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid OpenFeature provider values: {len(problems)} "
            f"{'problem' if len(problems) == 1 else 'problems'}\n{lines}"
        )

    def details(self) -> list[dict[str, Any]]:
        """One entry per problem: path, value, expected."""
        return [p.to_dict() for p in self.problems]


def _check_values(
    service: ExperimentAssignmentService, values: Mapping[str, Mapping[str, FlagValueType]]
) -> None:
    """Raise :class:`ProviderValuesError` unless `values` maps exactly each experiment's variants."""
    known = service.experiments
    problems: list[Problem] = []
    for experiment_id, by_variant in values.items():
        path = f"values[{experiment_id!r}]"
        experiment = known.get(experiment_id)
        if experiment is None:
            problems.append(
                Problem(path, experiment_id, f"one of the experiment ids {sorted(known)}")
            )
            continue
        names = experiment.variant_names
        for variant in by_variant:
            if variant not in names:
                expected = f"a variant of {experiment_id!r}: one of {list(names)}"
                problems.append(Problem(f"{path}[{variant!r}]", variant, expected))
        for variant in names:
            if variant not in by_variant:
                expected = f"a value for variant {variant!r} (every variant needs one)"
                problems.append(Problem(f"{path}[{variant!r}]", None, expected))
    if problems:
        raise ProviderValuesError(problems)


def _plain(value: Any) -> Any:
    """An attribute as splitlab's conditions see JSON: dicts, lists, datetimes as ISO-8601 text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(item) for item in value]
    return value


class SplitlabProvider(AbstractProvider):
    """Resolves OpenFeature flags as splitlab experiments (flag key = experiment id).

    `service` is shared, so its :meth:`~ExperimentAssignmentService.update` (a status change,
    a toggle) reaches the provider at once. `values` optionally maps ``experiment id ->
    variant name -> value`` for boolean, number and object flags (and for strings other than
    the variant name); it must give a value to every variant of each experiment it names.
    `on_exposure`, when given, is called with the assignment and the unit id for every
    resolution of a randomised unit (reason ``assigned``), so exposures can be tracked.
    """

    def __init__(
        self,
        service: ExperimentAssignmentService,
        values: Mapping[str, Mapping[str, FlagValueType]] | None = None,
        *,
        on_exposure: ExposureCallback | None = None,
    ) -> None:
        super().__init__()
        self._service = service
        self._values = {eid: dict(by_variant) for eid, by_variant in (values or {}).items()}
        _check_values(service, self._values)
        self._on_exposure = on_exposure

    def get_metadata(self) -> Metadata:
        """The provider's name, ``splitlab``."""
        return Metadata(name="splitlab")

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        """The variant's name, or its mapped value when that is a string."""
        return self._resolve(flag_key, default_value, evaluation_context, _as_string)

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        """The variant's mapped boolean; unmapped, True for every variant but the control."""
        return self._resolve(flag_key, default_value, evaluation_context, _as_boolean)

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        """The variant's mapped integer (``values`` is required for number flags)."""
        return self._resolve(flag_key, default_value, evaluation_context, _as_integer)

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        """The variant's mapped number as a float (``values`` is required for number flags)."""
        return self._resolve(flag_key, default_value, evaluation_context, _as_float)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        """The variant's mapped object or list (``values`` is required for object flags)."""
        return self._resolve(flag_key, default_value, evaluation_context, _as_object)

    def _resolve(
        self,
        flag_key: str,
        default_value: T,
        context: EvaluationContext | None,
        convert: Callable[[_Served], T | None],
    ) -> FlagResolutionDetails[T]:
        unit_id = context.targeting_key if context is not None else None
        at = context.attributes.get(TIME_ATTRIBUTE) if context is not None else None
        attributes = _plain(context.attributes) if context is not None else {}
        try:
            if at is not None and not isinstance(at, int | datetime):
                raise TimeError(f"{TIME_ATTRIBUTE} is a {type(at).__name__}")
            assignment = self._service.assign(unit_id, flag_key, attributes, at=at)
        except TimeError:
            message = (
                f"the evaluation context's {TIME_ATTRIBUTE!r} attribute must be epoch "
                f"milliseconds (an integer within +-8.64e15) or a timezone-aware datetime "
                f"(got {at!r})"
            )
            meta: dict[str, bool | int | float | str] = {"experimentId": flag_key}
            return FlagResolutionDetails(
                default_value, ErrorCode.INVALID_CONTEXT, message, OFReason.ERROR, None, meta
            )
        metadata: dict[str, bool | int | float | str] = {
            "experimentId": flag_key,
            "splitlabReason": assignment.reason.value,
            "inExperiment": assignment.in_experiment,
        }
        if assignment.period is not None and assignment.period_start_ms is not None:
            metadata["period"] = assignment.period
            metadata["periodStart"] = assignment.period_start_ms
            if assignment.switchback_unit is not None:
                metadata["switchbackUnit"] = assignment.switchback_unit
        if assignment.holdout_id is not None and assignment.holdout_variant is not None:
            metadata["holdoutId"] = assignment.holdout_id
            metadata["holdoutVariant"] = assignment.holdout_variant
        error = _ERRORS.get(assignment.reason)
        if error is not None:
            message = _error_message(assignment, self._service, unit_id)
            return FlagResolutionDetails(
                default_value, error, message, OFReason.ERROR, None, metadata
            )
        variant = assignment.variant
        if variant is None:  # not targeted, outside the traffic, not running
            return FlagResolutionDetails(
                default_value, None, None, REASONS[assignment.reason], None, metadata
            )
        served = self._served(flag_key, variant)
        value = convert(served)
        if value is None:  # the default is served, so no variant is (the spec's rule)
            code, message = served.mismatch(flag_key, variant)
            return FlagResolutionDetails(
                default_value, code, message, OFReason.ERROR, None, metadata
            )
        if self._on_exposure is not None:
            self._expose(self._on_exposure, assignment, flag_key, unit_id, attributes)
        return FlagResolutionDetails(
            value, None, None, REASONS[assignment.reason], variant, metadata
        )

    def _expose(
        self, report: ExposureCallback, a: Assignment, key: str, unit_id: Any, attributes: Any
    ) -> None:
        """The experiment's exposure (reason ``assigned``), and the covering holdout's own
        (an ``assigned`` answer of the holdout with the unit's holdout variant)."""
        if a.in_experiment or a.holdout_variant is not None:
            unit = experiment_unit(self._service.experiment(key), unit_id, attributes)
            if unit is not None and a.in_experiment:
                report(a, unit)
            if unit is not None and a.holdout_id is not None and a.holdout_variant is not None:
                report(Assignment(a.holdout_id, a.holdout_variant, Reason.ASSIGNED), unit)

    def _served(self, experiment_id: str, variant: str) -> _Served:
        by_variant = self._values.get(experiment_id)
        if by_variant is None:
            return _Served(variant, mapped=False, control=lambda: self._control(experiment_id))
        if variant not in by_variant:
            return _Served(None, mapped=False, control=None)
        return _Served(by_variant[variant], mapped=True, control=None)

    def _control(self, experiment_id: str) -> str:
        return self._service.experiment(experiment_id).control


class _Served:
    """What a variant serves before conversion: its mapped value, or its name when unmapped.

    ``value`` is None when the experiment has a mapping that lacks this variant (a variant
    added by a later ``update``); ``control`` finds the control's name, for unmapped booleans.
    """

    __slots__ = ("control", "mapped", "value")

    def __init__(
        self, value: FlagValueType | None, *, mapped: bool, control: Callable[[], str] | None
    ) -> None:
        self.value = value
        self.mapped = mapped
        self.control = control

    def mismatch(self, experiment_id: str, variant: str) -> tuple[ErrorCode, str]:
        """The error code and message when this value cannot be served as the requested type."""
        if self.value is None:
            return ErrorCode.GENERAL, (
                f"values[{experiment_id!r}] has no value for variant {variant!r}; expected a "
                "value for every variant of the experiment"
            )
        if not self.mapped:
            return ErrorCode.TYPE_MISMATCH, (
                f"experiment {experiment_id!r} has no entry in the provider's `values`, so it "
                "serves variant names (strings) and, for booleans, whether the variant is not "
                "the control; expected values={experiment id: {variant: value}} for number "
                "and object flags"
            )
        return ErrorCode.TYPE_MISMATCH, (
            f"values[{experiment_id!r}][{variant!r}] is {self.value!r} "
            f"({type(self.value).__name__}), which does not match the flag type requested"
        )


def _as_string(served: _Served) -> str | None:
    return served.value if isinstance(served.value, str) else None


def _as_boolean(served: _Served) -> bool | None:
    if served.control is not None:
        return served.value != served.control()
    return served.value if isinstance(served.value, bool) else None


def _as_integer(served: _Served) -> int | None:
    value = served.value
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _as_float(served: _Served) -> float | None:
    value = served.value
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _as_object(
    served: _Served,
) -> Sequence[FlagValueType] | Mapping[str, FlagValueType] | None:
    value = served.value
    if not served.mapped or isinstance(value, str):
        return None
    return value if isinstance(value, Mapping | list | tuple) else None


def _error_message(
    assignment: Assignment, service: ExperimentAssignmentService, unit_id: str | None
) -> str:
    """A message naming what was looked up and what was expected."""
    experiment_id = assignment.experiment_id
    if assignment.reason is Reason.UNKNOWN_EXPERIMENT:
        known = sorted(service.experiments)
        return f"flag key {experiment_id!r} is not a known experiment id; expected one of {known}"
    experiment = service.experiment(experiment_id)
    hash_key = experiment.assignment.hash_key
    if experiment.is_cluster:
        return (
            f"no cluster for experiment {experiment_id!r} (a cluster design): expected a "
            f"non-empty string or integer in the evaluation context's attributes[{hash_key!r}]; "
            f"the targeting_key ({unit_id!r}) never stands for the cluster"
        )
    return (
        f"no usable unit id for experiment {experiment_id!r}: expected a non-empty string or "
        f"integer as the evaluation context's targeting_key or attributes[{hash_key!r}] "
        f"(got targeting_key={unit_id!r})"
    )
