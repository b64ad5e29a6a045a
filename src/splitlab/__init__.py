"""splitlab: an experimentation (A/B testing) platform.

Deterministic assignment, exactly-once tracking, statistics a data scientist can defend, and
decisions a product manager can read. The names below are the public Python surface; see
``docs/`` for the concepts and ``DESIGN.md`` for the contracts between the layers.
"""

from splitlab.config import ConfigError, Experiment, Problem, Status, load_experiment
from splitlab.errors import SplitlabError

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Experiment",
    "Problem",
    "SplitlabError",
    "Status",
    "__version__",
    "load_experiment",
]
