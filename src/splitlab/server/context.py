"""Everything a running server holds: the store, the registry, keys, metrics and the
in-memory view of the experiments that the hot routes read.

The assignment service and the SDK config are rebuilt from the registry by
:meth:`ServerContext.refresh` after every change made through this server (create, update,
status, toggle, rollback, a look that rolled back). They are replaced as whole objects, so a
request on another thread sees either the old view or the new one, never half of each. When
the SDK config's ETag changed, the open config streams are told (:mod:`splitlab.server.notify`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from splitlab.assignment import ExperimentAssignmentService
from splitlab.assignment.sticky import MemoryStickyStore, StickyStore
from splitlab.config import Experiment, Status
from splitlab.server.auth import Sessions
from splitlab.server.gateway import BodyLimits
from splitlab.server.keys import KeyKind, KeyStore
from splitlab.server.metrics import ServerMetrics
from splitlab.server.notify import ConfigNotifier
from splitlab.store import DuckDBStore
from splitlab.store.exposure_checks import ExposureCheckStore
from splitlab.store.registry import Registry
from splitlab.store.registry_backend import RegistryBackend
from splitlab.store.sticky import DuckDBStickyStore

if TYPE_CHECKING:
    from splitlab.store.clickhouse.store import ClickHouseStore

#: Where a server's events go and its looks read them: the ``--db`` file, or ClickHouse.
EventStores: TypeAlias = "DuckDBStore | ClickHouseStore"

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SdkConfig:
    """The SDK config document, its bytes and its entity tag."""

    body: bytes
    etag: str


@dataclass(frozen=True, slots=True)
class View:
    """A consistent snapshot of the experiments for the hot routes."""

    experiments: Mapping[str, Experiment]
    service: ExperimentAssignmentService
    config: SdkConfig
    known: Mapping[str, tuple[str, ...]]


def sdk_config(experiments: list[Experiment]) -> SdkConfig:
    """Every experiment an SDK must know about (all but drafts), with a content ETag.

    Finished experiments are included on purpose: an SDK serves control for ``rolled_back``,
    the shipped variant for ``shipped`` and "not running" (rather than "unknown") otherwise.
    """
    document = {
        "experiments": [_served(e).to_wire() for e in experiments if e.status is not Status.DRAFT],
    }
    body = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    return SdkConfig(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def _served(experiment: Experiment) -> Experiment:
    """`experiment` as SDKs get it: a toggle that a shipped or rolled-back status overrides
    (left in files written before a final status cleared it) is not sent, so the config says
    what ``/v1/assign`` serves."""
    overridden = experiment.status in (Status.SHIPPED, Status.ROLLED_BACK)
    if overridden and experiment.forced_variant is not None:
        return experiment.model_copy(update={"forced_variant": None})
    return experiment


def build_view(experiments: list[Experiment], sticky: StickyStore | None = None) -> View:
    """The snapshot for `experiments`; sticky experiments keep their units in `sticky`."""
    return View(
        experiments={e.id: e for e in experiments},
        service=ExperimentAssignmentService(experiments, sticky=sticky),
        config=sdk_config(experiments),
        known={e.id: e.variant_names for e in experiments},
    )


@dataclass
class ServerContext:
    """The dependencies of one server, passed explicitly (no module-level state)."""

    store: DuckDBStore
    registry: RegistryBackend
    keys: KeyStore
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    limits: BodyLimits = field(default_factory=BodyLimits)
    #: Where sticky experiments (bandits) keep each unit's first variant; one for the whole
    #: server, so that it outlives every rebuilt view.
    sticky: StickyStore = field(default_factory=MemoryStickyStore)
    #: The open ``/v1/config/stream`` connections, woken when the SDK config changes.
    config_changes: ConfigNotifier = field(default_factory=ConfigNotifier)
    #: The shared registry's state for ``/healthz`` (set while a watcher runs: PostgreSQL).
    registry_health: Callable[[], dict[str, Any]] | None = None
    #: The Kafka forwarder's state for ``/healthz`` (set when the server forwards to Kafka).
    kafka_health: Callable[[], dict[str, Any]] | None = None
    sessions: Sessions = field(init=False)
    view: View = field(init=False)
    #: Browser exposures checked against the server's assignment (durable counts).
    exposure_checks: ExposureCheckStore = field(init=False)
    _refresh_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    #: A separate event store (``splitlab serve --clickhouse``), else None: see :attr:`events`.
    event_store: ClickHouseStore | None = None

    def __post_init__(self) -> None:
        self.sessions = Sessions(self.keys)
        self.exposure_checks = ExposureCheckStore.for_store(
            self.store, on_counted=self.metrics.add_exposure_checks
        )
        self.view = build_view(self.registry.experiments(), self.sticky)

    @classmethod
    def open(
        cls, store: DuckDBStore, registry: RegistryBackend | None = None, **kwargs: Any
    ) -> ServerContext:
        """A context over `store`; the registry and keys live in `registry` (by default the
        registry in the store's DuckDB file; a PostgreSQL registry when one is given)."""
        registry = registry if registry is not None else Registry.for_store(store)
        return cls(
            store=store,
            registry=registry,
            keys=KeyStore(registry.connection, registry.lock),
            **{"sticky": DuckDBStickyStore.for_store(store), **kwargs},
        )

    @property
    def events(self) -> EventStores:
        """The event store: what the collector writes and the looks, the dashboard and the
        monitors read. :attr:`store` itself, unless the server was given another
        (``--clickhouse``); :attr:`store` keeps the rest all the same (sticky assignments,
        exposure checks, and the registry unless it is in PostgreSQL)."""
        return self.event_store if self.event_store is not None else self.store

    def refresh(self) -> View:
        """Re-read the experiments after a change and swap in a new view."""
        with self._refresh_lock:
            before = self.view.config.etag
            self.view = view = build_view(self.registry.experiments(), self.sticky)
        if view.config.etag != before:
            self.config_changes.publish()  # the open config streams send the new ETag
        return view

    def bootstrap_admin_key(self) -> str | None:
        """Create and return an admin key when none is active (a fresh installation)."""
        if any(k.kind is KeyKind.ADMIN for k in self.keys.list(include_revoked=False)):
            return None
        return self.keys.create(KeyKind.ADMIN, "bootstrap").secret

    def known(self) -> Mapping[str, tuple[str, ...]]:
        """Experiment id -> variant names (what the collector accepts events for)."""
        return self.view.known
