"""Sticky assignment: once exposed, a unit keeps its variant (opt-in; bandits always).

The assignment service asks a :class:`StickyStore` for the variant a unit was first given
before hashing. A store that fails must not hand the unit a second variant silently: the
service then answers with no variant and the reason ``sticky_unavailable`` (the application
serves its default and records no exposure), and says so in its log and metrics. A rollback,
toggle or ship overrides stickiness (the status decides before the store is asked).

Implementations: :class:`MemoryStickyStore` here (one process); the server's store keeps
them in its database (``splitlab.store.sticky``).
"""

from __future__ import annotations

import threading
from typing import Protocol


class StickyStoreError(Exception):
    """The sticky store could not answer (the assignment says ``sticky_unavailable``)."""


class StickyStore(Protocol):
    """Where the first variant of each (experiment, unit) is kept."""

    def get(self, experiment_id: str, unit_id: str) -> str | None:
        """The variant this unit was given, or None if it has none; StickyStoreError if unsure."""
        ...

    def put(self, experiment_id: str, unit_id: str, variant: str) -> str:
        """Keep ``variant`` unless the unit already has one; return the unit's variant."""
        ...


class MemoryStickyStore:
    """A sticky store in this process's memory (tests, single-process services)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._variants: dict[tuple[str, str], str] = {}

    def get(self, experiment_id: str, unit_id: str) -> str | None:
        with self._lock:
            return self._variants.get((experiment_id, unit_id))

    def put(self, experiment_id: str, unit_id: str, variant: str) -> str:
        with self._lock:
            return self._variants.setdefault((experiment_id, unit_id), variant)
