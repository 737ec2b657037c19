"""Every "wait until it is ready" of the SDK, written once: jobs until they end, datasets until
the vendor has processed them.

Adapters never sleep or poll: they upload with ``wait=False`` and answer ``get_dataset(ref)``
with one non-blocking read. The state objects (``WaitState``, ``DatasetWaitState``) hold the
polling rules (backoff, server hints, deadline, change callbacks); the loops that sleep are this
module's (sync, woken by an ``AsyncClient`` cancel, see ``_cancel``) and ``AsyncClient``'s (on
the event loop). ``lifecycle`` re-exports these names.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from . import _cancel
from .errors import DatasetError, FinetuneError, WaitTimeoutError
from .types import DatasetRef, Job

if TYPE_CHECKING:
    from .provider import Provider

__all__ = ["DatasetWaitState", "WaitState", "dataset_wait_state", "discard_dataset",
           "refresh_dataset", "settle_dataset", "start_upload", "wait_for_dataset",
           "wait_for_job", "wait_until"]

logger = logging.getLogger("finetune_sdk")

T = TypeVar("T")

MAX_POLL_INTERVAL = 60.0
DATASET_POLL_S = 2.0
"""First pause between dataset polls: ``Provider.dataset_poll_interval``'s default."""
DATASET_MAX_POLL_S = 10.0
"""Processing takes seconds to minutes: polls never grow further apart than this."""
DATASET_WAIT_S = 600.0
"""How long a dataset may stay processing: ``Provider.dataset_wait_timeout``'s default."""


class _Polling(Generic[T]):
    """Backoff, deadline and change notification for polling one thing until it settles.

    ``observe(item)`` returns the seconds to sleep before the next poll, or None when done; it
    raises WaitTimeoutError (carrying ``item``) once the deadline has passed.
    """

    def __init__(
        self,
        *,
        interval: float,
        timeout: float | None = None,
        max_interval: float = MAX_POLL_INTERVAL,
        on_update: Callable[[T], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = max(0.0, interval)
        self.max_interval = max_interval
        self.on_update = on_update
        self.clock = clock
        self.deadline = None if timeout is None else clock() + timeout
        self.last: T | None = None

    def observe(self, item: T) -> float | None:
        last, self.last = self.last, item
        if self.on_update and (last is None or self._key(last) != self._key(item)):
            self.on_update(item)
        if self._settled(item):
            return None
        hint = self._hint(item)
        delay = hint if hint is not None else self.interval
        self.interval = min(self.interval * 1.5, self.max_interval)
        if self.deadline is not None:
            remaining = self.deadline - self.clock()
            if remaining <= 0:
                raise WaitTimeoutError(self._timed_out(item), item)
            delay = min(delay, remaining)
        return delay

    # What "settled", "changed" and "timed out" mean for the thing polled (subclasses).
    def _settled(self, item: T) -> bool:
        raise NotImplementedError

    def _key(self, item: T) -> Hashable:
        raise NotImplementedError

    def _hint(self, item: T) -> float | None:
        return None

    def _timed_out(self, item: T) -> str:
        raise NotImplementedError


class WaitState(_Polling[Job]):
    """The polling rules of a job wait, shared by the sync and async loops (the server's
    ``poll_after`` hint wins over the backoff; ``on_update`` sees each status/progress change)."""

    def _settled(self, item: Job) -> bool:
        return item.status.is_terminal

    def _key(self, item: Job) -> Hashable:
        return (item.status, item.progress)

    def _hint(self, item: Job) -> float | None:
        return item.poll_after

    def _timed_out(self, item: Job) -> str:
        return f"{item.provider} job {item.id} still {item.status.value} when the wait timed out"


class DatasetWaitState(_Polling[DatasetRef]):
    """The polling rules of a dataset wait: done once the ref is no longer ``processing``."""

    def _settled(self, item: DatasetRef) -> bool:
        return item.status != "processing"

    def _key(self, item: DatasetRef) -> Hashable:
        return item.status

    def _timed_out(self, item: DatasetRef) -> str:
        return (f"{item.provider} dataset {item.id} still processing when the wait timed out;"
                " wait for it again with client.datasets.wait(error.last)")


class _ReadyState(_Polling[T]):
    """Polling rules for anything with a readiness test (a deployment, ...)."""

    def __init__(self, ready: Callable[[T], bool], what: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ready, self.what = ready, what

    def _settled(self, item: T) -> bool:
        return self.ready(item)

    def _key(self, item: T) -> Hashable:
        return self.ready(item)

    def _timed_out(self, item: T) -> str:
        return f"{self.what} still not ready when the wait timed out"


def wait_until(
    fetch: Callable[[T], T],
    item: T,
    ready: Callable[[T], bool],
    *,
    what: str,
    interval: float,
    timeout: float | None = None,
    sleep: Callable[[float], None] = _cancel.sleep,
) -> T:
    """Poll ``fetch(item)`` until ``ready``; WaitTimeoutError (``.last``) after ``timeout``."""
    state = _ReadyState(ready, what, interval=interval, timeout=timeout,
                        max_interval=max(DATASET_MAX_POLL_S, interval))
    while (delay := state.observe(item)) is not None:
        sleep(delay)
        item = fetch(item)
    return item


def wait_for_job(
    provider: Provider,
    job_id: str,
    *,
    timeout: float | None = None,
    poll_interval: float | None = None,
    max_interval: float = MAX_POLL_INTERVAL,
    on_update: Callable[[Job], None] | None = None,
    sleep: Callable[[float], None] = _cancel.sleep,
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


# -- datasets -----------------------------------------------------------------------------
# The surface is Provider's: ``upload_dataset(..., wait=False)`` may answer
# ``status="processing"``, ``get_dataset(ref)`` is one non-blocking read, ``discard_dataset(ref)``
# deletes a dataset that will never train. Its defaults fit uploads that are ready at once.


def start_upload(
    provider: Provider, path: Path, *, purpose: Literal["train", "validation"] = "train"
) -> DatasetRef:
    """Send the data and return at once: the ref may still be ``processing``."""
    return provider.upload_dataset(path, purpose=purpose, wait=False)


def dataset_wait_state(
    provider: Provider,
    *,
    timeout: float | None = None,
    poll_interval: float | None = None,
    on_update: Callable[[DatasetRef], None] | None = None,
) -> DatasetWaitState:
    """The polling rules for one dataset wait; None picks the provider's (or our) defaults."""
    interval = provider.dataset_poll_interval if poll_interval is None else poll_interval
    limit = provider.dataset_wait_timeout if timeout is None else timeout
    return DatasetWaitState(interval=interval, timeout=limit, on_update=on_update,
                            max_interval=max(DATASET_MAX_POLL_S, interval))


def refresh_dataset(provider: Provider, ref: DatasetRef) -> DatasetRef:
    """The ref as the vendor reports it now (one read)."""
    return provider.get_dataset(ref)


def discard_dataset(provider: Provider, ref: DatasetRef) -> None:
    """Best effort: delete a dataset that will never train (vendors bill its storage)."""
    try:
        provider.discard_dataset(ref)
    except FinetuneError as exc:  # already redacted; the wait's own error is what matters
        logger.warning("could not delete dataset %s: %s", ref.id, exc)


def settle_dataset(provider: Provider, ref: DatasetRef) -> DatasetRef:
    """The end of a dataset wait: a ready ref back, a failed one discarded and raised."""
    if ref.status == "failed":
        discard_dataset(provider, ref)
        raise DatasetError(ref.error or f"{provider.name} could not process dataset {ref.id}",
                           file=ref.filename)
    return ref


def wait_for_dataset(
    provider: Provider,
    ref: DatasetRef,
    *,
    timeout: float | None = None,
    poll_interval: float | None = None,
    on_update: Callable[[DatasetRef], None] | None = None,
    sleep: Callable[[float], None] = _cancel.sleep,
) -> DatasetRef:
    """Poll until the vendor has processed ``ref``; returns it ``ready``.

    DatasetError when the vendor rejects it (the dataset is discarded), WaitTimeoutError with
    the last ref after ``timeout`` (default: the provider's ``dataset_wait_timeout``; the
    dataset is kept). A read that still fails after its retries discards it too.
    """
    state = dataset_wait_state(provider, timeout=timeout, poll_interval=poll_interval,
                               on_update=on_update)
    current = ref
    try:
        while (delay := state.observe(current)) is not None:
            sleep(delay)
            current = refresh_dataset(provider, current)
    except WaitTimeoutError:
        raise
    except FinetuneError:
        discard_dataset(provider, current)
        raise
    return settle_dataset(provider, current)
