"""Prometheus metrics of the server, in the text exposition format (version 0.0.4).

Written here rather than with ``prometheus_client`` because four families do not justify a
dependency. The format: ``# HELP`` and ``# TYPE`` lines, then one sample per line,
``name{label="value"} number``; histograms expose cumulative ``_bucket{le=...}`` samples plus
``_sum`` and ``_count`` (https://prometheus.io/docs/instrumenting/exposition_formats/).

Families:
- ``splitlab_http_requests_total{method,route,status}`` (counter)
- ``splitlab_http_request_duration_seconds{route}`` (histogram)
- ``splitlab_events_accepted_total`` (counter: events the collector acknowledged as durable)
- ``splitlab_looks_total{action}`` (counter: looks run, by decision)
- ``splitlab_browser_exposures_checked_total{experiment}``,
  ``splitlab_browser_exposure_mismatches_total{experiment,claimed,served}``,
  ``splitlab_browser_exposures_not_assigned_total{experiment,reason}`` (counters: browser
  exposures recomputed by the server, since this process started; the durable totals are
  ``GET /v1/experiments/{id}/exposure-checks``)
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Latency buckets in seconds: from 0.5 ms (an in-memory assignment) to 10 s (a large look).
BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class _Histogram:
    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0


class ServerMetrics:
    """Counters and histograms of one server; thread-safe; rendered by :meth:`render`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: defaultdict[tuple[str, str, int], int] = defaultdict(int)
        self._latency: dict[str, _Histogram] = {}
        self._events_accepted = 0
        self._looks: defaultdict[str, int] = defaultdict(int)
        self._checked: defaultdict[str, int] = defaultdict(int)
        self._mismatches: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self._not_assigned: defaultdict[tuple[str, str], int] = defaultdict(int)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request and its duration."""
        index = bisect.bisect_left(BUCKETS, seconds)
        with self._lock:
            self._requests[(method, route, status)] += 1
            hist = self._latency.get(route)
            if hist is None:
                hist = self._latency[route] = _Histogram()
            hist.counts[index] += 1
            hist.sum += seconds

    def add_events_accepted(self, count: int) -> None:
        """Count events acknowledged as durable by the collector."""
        with self._lock:
            self._events_accepted += count

    def add_look(self, action: str) -> None:
        """Count one look run, by its decision."""
        with self._lock:
            self._looks[action] += 1

    def add_exposure_checks(self, rows: list[tuple[str, str, str | None, str]]) -> None:
        """Count browser exposures checked: ``(experiment, claimed, served, reason)`` each
        (``served`` None: the server assigns no variant)."""
        with self._lock:
            for experiment, claimed, served, reason in rows:
                self._checked[experiment] += 1
                if served is None:
                    self._not_assigned[(experiment, reason)] += 1
                elif served != claimed:
                    self._mismatches[(experiment, claimed, served)] += 1

    @property
    def events_accepted(self) -> int:
        return self._events_accepted

    def render(self) -> str:
        """The exposition text."""
        with self._lock:
            requests = sorted(self._requests.items())
            latency = sorted((k, list(h.counts), h.sum) for k, h in self._latency.items())
            events = self._events_accepted
            looks = sorted(self._looks.items())
            checked = sorted(self._checked.items())
            mismatches = sorted(self._mismatches.items())
            not_assigned = sorted(self._not_assigned.items())
        lines = [
            "# HELP splitlab_http_requests_total HTTP requests answered, by route and status.",
            "# TYPE splitlab_http_requests_total counter",
        ]
        for (method, route, status), count in requests:
            labels = f'method="{method}",route="{_escape(route)}",status="{status}"'
            lines.append(f"splitlab_http_requests_total{{{labels}}} {count}")
        lines += [
            "# HELP splitlab_http_request_duration_seconds Time to answer a request.",
            "# TYPE splitlab_http_request_duration_seconds histogram",
        ]
        name = "splitlab_http_request_duration_seconds"
        for route, counts, total in latency:
            label = f'route="{_escape(route)}"'
            cumulative = 0
            for bound, count in zip(BUCKETS, counts, strict=False):
                cumulative += count
                lines.append(f'{name}_bucket{{{label},le="{bound}"}} {cumulative}')
            cumulative += counts[-1]
            lines.append(f'{name}_bucket{{{label},le="+Inf"}} {cumulative}')
            lines.append(f"{name}_sum{{{label}}} {total!r}")
            lines.append(f"{name}_count{{{label}}} {cumulative}")
        lines += [
            "# HELP splitlab_events_accepted_total Events acknowledged as durable.",
            "# TYPE splitlab_events_accepted_total counter",
            f"splitlab_events_accepted_total {events}",
            "# HELP splitlab_looks_total Looks run, by decision.",
            "# TYPE splitlab_looks_total counter",
        ]
        lines += [f'splitlab_looks_total{{action="{_escape(a)}"}} {n}' for a, n in looks]
        name = "splitlab_browser_exposures_checked_total"
        lines += [
            f"# HELP {name} Browser exposures recomputed by the server.",
            f"# TYPE {name} counter",
        ]
        lines += [f'{name}{{experiment="{_escape(e)}"}} {n}' for e, n in checked]
        name = "splitlab_browser_exposure_mismatches_total"
        lines += [
            f"# HELP {name} Browser exposures stored with the server's variant, not the claim.",
            f"# TYPE {name} counter",
        ]
        lines += [
            f'{name}{{experiment="{_escape(e)}",claimed="{_escape(c)}",served="{_escape(s)}"}} {n}'
            for (e, c, s), n in mismatches
        ]
        name = "splitlab_browser_exposures_not_assigned_total"
        lines += [
            f"# HELP {name} Browser exposures refused: the server assigns no variant.",
            f"# TYPE {name} counter",
        ]
        lines += [
            f'{name}{{experiment="{_escape(e)}",reason="{_escape(r)}"}} {n}'
            for (e, r), n in not_assigned
        ]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
