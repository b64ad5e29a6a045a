"""Experiment definitions: typed models, loading, validation and the JSON Schema."""

from splitlab.config.errors import ConfigError, Problem
from splitlab.config.loading import load_experiment, parse_experiment, parse_json
from splitlab.config.models import (
    AssignmentConfig,
    Direction,
    Evaluation,
    Experiment,
    Guardrail,
    Metric,
    Metrics,
    MetricType,
    Rollback,
    Sequential,
    Status,
    Targeting,
    Variant,
)
from splitlab.config.schema import experiment_schema, experiment_schema_text

__all__ = [
    "AssignmentConfig",
    "ConfigError",
    "Direction",
    "Evaluation",
    "Experiment",
    "Guardrail",
    "Metric",
    "MetricType",
    "Metrics",
    "Problem",
    "Rollback",
    "Sequential",
    "Status",
    "Targeting",
    "Variant",
    "experiment_schema",
    "experiment_schema_text",
    "load_experiment",
    "parse_experiment",
    "parse_json",
]
