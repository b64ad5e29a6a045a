"""The webhook delivery worker: sends the outbox's notifications to every subscribed URL.

Each pending delivery (:mod:`splitlab.store.outbox`) is POSTed with the stored JSON body and

* ``Content-Type: application/json``;
* ``Idempotency-Key`` and ``Splitlab-Event-Id``: the notification's id, the same on every
  retry, so a receiver that remembers ids handles each notification exactly once;
* ``Splitlab-Event-Type``: the event type;
* ``Splitlab-Timestamp``: Unix seconds when this attempt was signed;
* ``Splitlab-Signature``: ``v1=<hex HMAC-SHA256 of "<timestamp>.<body>" under the secret>``.

A 2xx answer delivers it. A connection error, a timeout or any other status is retried
with exponential back-off and "equal jitter" (Brooker, "Exponential Backoff And Jitter",
AWS Architecture Blog, 2015): the n-th retry waits ``d/2 + uniform(0, d/2)`` with
``d = min(cap, base * 2**(n-1))``. A delivery still failing ``max_age`` after its first
attempt (24 hours by default) is marked ``dead``. Every attempt is logged.

The worker runs on one thread inside ``splitlab serve``; :meth:`WebhookWorker.stop` ends it
between two attempts (an attempt in flight ends within ``timeout``). Rows left pending
are delivered when a worker starts again: the outbox is in the database, not in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from splitlab import __version__
from splitlab.errors import SplitlabError
from splitlab.store.webhooks import Due, WebhookStore

logger = logging.getLogger(__name__)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``Splitlab-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: float = 300.0,
    now: float | None = None,
) -> bool:  # fmt: skip
    """What a receiver checks: the signature matches and the timestamp is recent."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Back-off, request timeout and how long a delivery is retried before it is dead."""

    base_seconds: float = 10.0
    cap_seconds: float = 3600.0
    max_age_seconds: float = 24 * 3600.0
    timeout_seconds: float = 10.0
    poll_seconds: float = 1.0

    def delay(self, retry: int, rng: random.Random) -> float:
        """The wait before retry number ``retry`` (1 = the first retry), with jitter."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0 ** min(retry - 1, 60))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: a status code or an error text."""

    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx is an answer, not an instruction: urllib would re-send a POST as a body-less GET
    and take its 200 for a delivery."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(due: Due, timeout: float, clock: Callable[[], float] = time.time) -> Outcome:
    """POST one notification, signed; never raises for a network failure."""
    body = due.body.encode()
    timestamp = str(int(clock()))
    request = urllib.request.Request(
        due.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": f"splitlab-webhooks/{__version__}",
            "Idempotency-Key": due.event_id,
            "Splitlab-Event-Id": due.event_id,
            "Splitlab-Event-Type": due.event_type,
            "Splitlab-Timestamp": timestamp,
            "Splitlab-Signature": sign(due.secret, timestamp, body),
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            answer.read(65536)
            return Outcome(int(answer.status), None)
    except urllib.error.HTTPError as exc:
        exc.close()
        return Outcome(int(exc.code), f"HTTP {exc.code}")
    except (OSError, ValueError) as exc:  # refused, reset, timeout, DNS, bad URL
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])


class WebhookWorker:
    """Delivers pending notifications on a thread: ``start()``, ``stop()``, or ``run_once()``."""

    def __init__(
        self, webhooks: WebhookStore, policy: RetryPolicy | None = None, *,
        clock: Callable[[], float] = time.time, seed: int | None = None,
    ) -> None:  # fmt: skip
        self.webhooks = webhooks
        self.policy = policy or RetryPolicy()
        self._clock = clock
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> WebhookWorker:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="splitlab-webhooks", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop between two attempts; waits at most ``timeout`` (default: the request timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout if timeout is not None else self.policy.timeout_seconds + 1)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.run_once()
            except SplitlabError as exc:  # the shared registry unreachable: try again later
                logger.error("webhook delivery pass failed: %s", exc)
                sent = 0
            except Exception:  # a database hiccup must not end the worker
                logger.exception("webhook delivery pass failed")
                sent = 0
            if not sent:
                self._stop.wait(self.policy.poll_seconds)

    def run_once(self) -> int:
        """Attempt every due delivery once; returns how many attempts were made.

        After a failure the subscription's other due rows wait for the next pass, so a
        receiver that is down costs one timeout per pass rather than one per row.
        """
        failed: set[str] = set()
        attempts = 0
        for due in self.webhooks.due(self._clock()):
            if self._stop.is_set():
                break
            if due.webhook_id in failed:
                continue
            lease = 2 * self.policy.timeout_seconds + 5  # servers sharing a registry: once
            if not self.webhooks.claim(due, now=self._clock(), lease_seconds=lease):
                continue
            started = time.perf_counter()
            outcome = post(due, self.policy.timeout_seconds, self._clock)
            duration = (time.perf_counter() - started) * 1000.0
            attempts += 1
            now = self._clock()
            first = due.first_attempt_at if due.first_attempt_at is not None else now
            next_at = None
            if outcome.ok:
                result = "delivered"
            else:
                failed.add(due.webhook_id)
                next_at = now + self.policy.delay(due.attempts + 1, self._rng)
                expired = next_at - first > self.policy.max_age_seconds
                result = "dead" if expired else "retry"
                log = logger.error if expired else logger.warning
                log("webhook %s event %s attempt %d: %s%s", due.webhook_id, due.event_id,
                    due.attempts + 1, outcome.error, " (dead)" if expired else "")  # fmt: skip
            self.webhooks.record_attempt(
                due, outcome=result, status=outcome.status, error=outcome.error,
                duration_ms=duration, at=now, next_attempt_at=next_at,
            )  # fmt: skip
        return attempts
