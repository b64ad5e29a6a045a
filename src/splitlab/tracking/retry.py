"""How long to wait before sending a failed batch again.

Exponential back-off with *full jitter*: before retry ``k`` (1, 2, ...) wait a uniformly random
time in ``[0, min(cap, base * 2**(k-1))]``. Spreading the waits over the whole interval keeps
many clients that failed together from coming back together (Brooker, "Exponential Backoff
And Jitter", AWS Architecture Blog, 2015). When the collector says how long to wait
(``Retry-After``), the wait is at least that long.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

import numpy as np


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential back-off with full jitter, honouring the server's ``Retry-After``."""

    #: Upper end of the first wait, in seconds.
    base: float = 0.5
    #: Upper end of any jittered wait, in seconds.
    cap: float = 60.0
    #: The longest ``Retry-After`` obeyed, in seconds (a misconfigured server cannot stall
    #: the client for days).
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if not self.base > 0:
            raise ValueError(f"backoff base must be a positive number of seconds (got {self.base})")
        if not self.cap >= self.base:
            raise ValueError(f"backoff cap must be at least base={self.base} (got {self.cap})")

    def delay(self, attempt: int, rng: np.random.Generator, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (counting from 1)."""
        ceiling = min(self.cap, self.base * 2.0 ** min(attempt - 1, 60))
        jittered = float(rng.uniform(0.0, ceiling))
        if retry_after is None:
            return jittered
        return max(min(retry_after, self.max_retry_after), jittered)


def parse_retry_after(value: str | None, wall_clock: Callable[[], float]) -> float | None:
    """Seconds from a ``Retry-After`` header: delay-seconds or an HTTP-date (RFC 9110 10.2.3).

    Returns None when the header is absent or unreadable (the caller then backs off on its
    own); a date in the past gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - wall_clock())
