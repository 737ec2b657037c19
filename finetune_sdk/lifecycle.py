"""Behaviour shared by every provider, written once: safe create (dedupe), wait, run.

The create path is where paid jobs get duplicated, so it follows one rule: send once; after an
ambiguous failure (timeout, 5xx) look the job up by ``client_ref`` before sending again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .errors import (
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    WaitTimeoutError,
)
from .types import Job, JobSpec

if TYPE_CHECKING:
    from .ledger import Ledger
    from .provider import Provider

__all__ = ["WaitState", "create_job", "wait_for_job"]

MAX_POLL_INTERVAL = 60.0


def _is_ambiguous(exc: BaseException) -> bool:
    """True when the create may have reached the server although we got no answer."""
    if isinstance(exc, APITimeoutError):
        return True
    if isinstance(exc, APIResponseValidationError):  # a garbled 2xx: the job may exist
        return True
    return isinstance(exc, APIStatusError) and (exc.status_code >= 500 or exc.status_code == 408)


def create_job(provider: Provider, spec: JobSpec, *, ledger: Ledger | None = None) -> Job:
    """Create the job for ``spec`` at most once, even across crashes and retries.

    - the ledger already knows this client_ref with a vendor id -> return that job;
    - an intent row is written before the create is sent, the vendor id after;
    - ambiguous failure -> ``provider.find_job(client_ref)``; only if absent, send again.
    """
    if ledger is not None:
        row = ledger.get(spec.client_ref)
        if row is not None and row.job_id:
            return provider.get_job(row.job_id)
        if row is None:
            ledger.record_intent(provider.name, spec)
        else:
            # Intent without id: an earlier process died mid-create. The vendor may have it.
            found = provider.find_job(spec.client_ref)
            if found is not None:
                ledger.attach(spec.client_ref, found)
                return found
    job = _create_once_or_find(provider, spec)
    if ledger is not None:
        ledger.attach(spec.client_ref, job)
    return job


def _create_once_or_find(provider: Provider, spec: JobSpec) -> Job:
    policy = provider.retry
    attempt = 0
    while True:
        attempt += 1
        try:
            return provider.create_job(spec)
        except Exception as exc:
            if _is_ambiguous(exc):
                found = provider.find_job(spec.client_ref)
                if found is not None:
                    return found
                retryable = True
            else:
                retryable = policy.is_retryable(exc, idempotent=False)
            if not retryable or attempt >= policy.max_attempts:
                raise
            policy.sleep(policy.delay_for(exc, attempt))


class WaitState:
    """The polling rules of ``wait``, shared by the sync and async loops.

    ``observe(job)`` returns the seconds to sleep before the next poll, or None when done.
    """

    def __init__(
        self,
        *,
        interval: float,
        timeout: float | None = None,
        max_interval: float = MAX_POLL_INTERVAL,
        on_update: Callable[[Job], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = max(0.0, interval)
        self.max_interval = max_interval
        self.on_update = on_update
        self.clock = clock
        self.deadline = None if timeout is None else clock() + timeout
        self.last: Job | None = None

    def observe(self, job: Job) -> float | None:
        last, self.last = self.last, job
        if self.on_update and (
            last is None or (last.status, last.progress) != (job.status, job.progress)
        ):
            self.on_update(job)
        if job.status.is_terminal:
            return None
        delay = job.poll_after if job.poll_after is not None else self.interval
        self.interval = min(self.interval * 1.5, self.max_interval)
        if self.deadline is not None:
            remaining = self.deadline - self.clock()
            if remaining <= 0:
                raise WaitTimeoutError(
                    f"{job.provider} job {job.id} still {job.status.value} when the wait timed out",
                    job,
                )
            delay = min(delay, remaining)
        return delay


def wait_for_job(
    provider: Provider,
    job_id: str,
    *,
    timeout: float | None = None,
    poll_interval: float | None = None,
    max_interval: float = MAX_POLL_INTERVAL,
    on_update: Callable[[Job], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Job:
    """Poll until the job is terminal and return it (whatever the outcome).

    Raises WaitTimeoutError (carrying the last Job) when ``timeout`` seconds pass first.
    """
    state = WaitState(
        interval=provider.poll_interval() if poll_interval is None else poll_interval,
        timeout=timeout,
        max_interval=max_interval,
        on_update=on_update,
    )
    while True:
        delay = state.observe(provider.get_job(job_id))
        if delay is None:
            assert state.last is not None
            return state.last
        sleep(delay)
