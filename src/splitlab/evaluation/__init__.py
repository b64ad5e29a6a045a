"""Evaluation: looks at experiments, decisions, the looks ledger, lifecycle and schedule.

Entry points: :func:`run_look` (store -> stats -> decision, recorded), :func:`replay_look`,
:func:`change_status` and :func:`set_toggle` (the one place where status and toggle change),
:func:`launch_check` (the article's dry run before scaling traffic), :func:`parse_schedule`
and :class:`Scheduler` (looks when they are due).
"""

from splitlab.evaluation.errors import (
    EvaluationError,
    PeekLimitError,
    ScheduleError,
    ToggleError,
    TransitionError,
)
from splitlab.evaluation.launch import LaunchReport, launch_check
from splitlab.evaluation.lifecycle import (
    TRANSITIONS,
    change_status,
    history,
    register,
    set_toggle,
    update_definition,
)
from splitlab.evaluation.look import LookStore, replay_look, run_look
from splitlab.evaluation.schedule import Schedule, parse_schedule
from splitlab.evaluation.scheduler import Scheduler, due_looks
from splitlab.store.registry import Change, LookRecord, Registry

__all__ = [
    "TRANSITIONS",
    "Change",
    "EvaluationError",
    "LaunchReport",
    "LookRecord",
    "LookStore",
    "PeekLimitError",
    "Registry",
    "Schedule",
    "ScheduleError",
    "Scheduler",
    "ToggleError",
    "TransitionError",
    "change_status",
    "due_looks",
    "history",
    "launch_check",
    "parse_schedule",
    "register",
    "replay_look",
    "run_look",
    "set_toggle",
    "update_definition",
]
