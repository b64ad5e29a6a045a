"""Statistics on sufficient statistics: tests, lifts, CUPED, ratios, looks, SRM, decisions.

Pure (numpy and scipy): the engine takes the sums of :mod:`splitlab.stats.sums` and returns
:class:`Results`; it never sees raw events, a store or a server. Formulas and their sources
are in ``docs/statistics.md``.
"""

from splitlab.stats.analyze import ExperimentEvaluator, analyze
from splitlab.stats.decision import decide
from splitlab.stats.errors import LookError, StatsError, SumsError
from splitlab.stats.results import (
    BayesianResult,
    Comparison,
    Decision,
    GuardrailCheck,
    MetricResult,
    Results,
    SequentialInfo,
)
from splitlab.stats.srm import SrmResult
from splitlab.stats.sums import ArmSums, CrossSums, ExperimentSums, SliceSums

__all__ = [
    "ArmSums",
    "BayesianResult",
    "Comparison",
    "CrossSums",
    "Decision",
    "ExperimentEvaluator",
    "ExperimentSums",
    "GuardrailCheck",
    "LookError",
    "MetricResult",
    "Results",
    "SequentialInfo",
    "SliceSums",
    "SrmResult",
    "StatsError",
    "SumsError",
    "analyze",
    "decide",
]
