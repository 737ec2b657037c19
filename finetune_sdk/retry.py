"""The one retry policy (on tenacity): Retry-After aware, with idempotency rules.

Rules, in one place:
- idempotent calls (GET, DELETE, creates with a client-chosen id) are retried on connect errors,
  timeouts, 408/429/5xx;
- a non-idempotent create is retried only when it surely never arrived or was refused before any
  work (connect error, 408, 429; a 503 after one lookup); after an ambiguous failure (read
  timeout, 500/502/504, a garbled 2xx) ``lifecycle.create_job`` looks the job up over
  ``lookup_window`` and never resends: that is how paid jobs get duplicated.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import tenacity

from . import _cancel
from .errors import APIConnectionError, APIStatusError, APITimeoutError, RateLimitError

__all__ = ["RetryPolicy", "parse_retry_after"]

T = TypeVar("T")


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP-date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failed API call.

    ``sleep`` is injectable so tests (and notebooks in a hurry) never really wait.
    """

    max_attempts: int = 4
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    """A server's Retry-After is honoured up to this many seconds."""
    retry_statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
    lookup_window: float = 15.0
    """After an ambiguous create, keep looking the job up for about this many seconds (vendors
    may list a new job a few seconds late) before declaring the outcome unknown."""
    sleep: Callable[[float], None] = field(default=_cancel.sleep, repr=False, compare=False)
    """How backoff waits: wakes at once when an AsyncClient call running it is cancelled."""

    def is_retryable(self, exc: BaseException, *, idempotent: bool) -> bool:
        """Whether ``exc`` may be retried for a call of this kind."""
        if isinstance(exc, RateLimitError):
            return True
        if isinstance(exc, APITimeoutError):
            return idempotent
        if isinstance(exc, APIConnectionError):
            return True
        if isinstance(exc, APIStatusError):
            return idempotent and exc.status_code in self.retry_statuses
        return False

    def delay_for(self, exc: BaseException | None, attempt: int) -> float:
        """Seconds before attempt ``attempt + 1``: the server's hint, else jittered backoff."""
        hint = getattr(exc, "retry_after", None)
        if hint is not None:
            return min(float(hint), self.max_retry_after)
        backoff = min(self.initial_delay * 2 ** (attempt - 1), self.max_delay)
        return backoff * (0.75 + random.random() / 2)

    def call(self, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        """Run ``fn`` and retry it under this policy; the last error propagates unchanged."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            retry=tenacity.retry_if_exception(
                lambda exc: self.is_retryable(exc, idempotent=idempotent)
            ),
            wait=lambda state: self.delay_for(
                state.outcome.exception() if state.outcome else None, state.attempt_number
            ),
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(fn)

    def with_sleep(self, sleep: Callable[[float], None]) -> RetryPolicy:
        """A copy that sleeps with ``sleep`` (tests pass a recorder)."""
        import dataclasses

        return dataclasses.replace(self, sleep=sleep)

    def lookup_delays(self) -> list[float]:
        """Pauses before each lookup after an ambiguous create: 0, 0.5, 1, 2, ... within the
        window. A fixed list, not a clock, so a test's recording ``sleep`` ends it too."""
        delays, total, step = [0.0], 0.0, 0.5
        while total + step <= self.lookup_window:
            delays.append(step)
            total += step
            step = min(step * 2, self.max_delay)
        if self.lookup_window - total > 0.05:
            delays.append(self.lookup_window - total)  # the last look at the window's end
        return delays
