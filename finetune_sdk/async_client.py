"""``AsyncClient``: the ``Client`` surface with awaitable methods.

Vendor calls run in worker threads (``anyio.to_thread``), so the sync adapters serve both. The
waits (a job until it ends, a dataset until it is processed) are written out again so that they
sleep on the event loop between polls: a cancelled task stops polling at once. A call that must
stay in one thread (``jobs.create`` uploads local files, then waits for them) is abandoned on
cancellation and told so through ``_cancel``: its next pause raises there, so it stops too.
``jobs.list`` / ``jobs.events`` are lazy async iterators, one item (and so at most one page
request) per step; awaiting them still gives the whole list.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, Generic, Literal, ParamSpec, TypeVar

from . import _cancel, lifecycle
from .client import Client, Datasets, Jobs, LedgerArg, Models
from .errors import FinetuneError, WaitTimeoutError
from .provider import Provider
from .retry import RetryPolicy
from .types import DatasetRef, Job, JobEvent, JobSpec

if TYPE_CHECKING:
    from .deployments import Deployment

__all__ = ["AsyncClient", "AsyncDatasets", "AsyncJobs", "AsyncModels", "AsyncPages"]

P = ParamSpec("P")
S = TypeVar("S")
T = TypeVar("T")


async def _in_thread(fn: Callable[[], T], *, abandon: bool = True) -> T:
    """``fn()`` in a worker thread. Cancelled, the task returns at once (``abandon``) and the
    thread's next ``_cancel.sleep`` raises, so it does not poll or retry on unseen."""
    import anyio

    cancelled = threading.Event()

    def run() -> T:
        with _cancel.cancel_with(cancelled):  # in the thread's copy of our context
            return fn()

    try:
        return await anyio.to_thread.run_sync(run, abandon_on_cancel=abandon)
    except anyio.get_cancelled_exc_class():
        cancelled.set()
        raise


def _threaded(
    method: Callable[Concatenate[S, P], T],
) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]:
    """The async twin of a sync facade method: same signature, run in a worker thread."""

    @functools.wraps(method)
    async def run(self: Any, *args: P.args, **kwargs: P.kwargs) -> T:
        bound: Callable[P, T] = getattr(self._sync, method.__name__)
        return await _in_thread(functools.partial(bound, *args, **kwargs))

    return run


_END = object()


class AsyncPages(Generic[T]):
    """A sync iterator walked lazily from async code: ``async for`` advances it one item per
    worker-thread hop (the vendor's pages are fetched as the sync iterator needs them), and
    ``await pages`` collects the rest into a list (what ``list``/``events`` used to return)."""

    def __init__(self, start: Callable[[], Iterable[T]]) -> None:
        self._start = start
        self._items: Iterator[T] | None = None

    def _iterator(self) -> Iterator[T]:
        if self._items is None:
            self._items = iter(self._start())  # the first request may happen here
        return self._items

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        # Not abandoned on cancel: a generator must not run in two threads at once.
        item = await _in_thread(lambda: next(self._iterator(), _END), abandon=False)
        if item is _END:
            raise StopAsyncIteration
        return item  # type: ignore[return-value]

    def __await__(self) -> Generator[Any, None, list[T]]:
        return _in_thread(lambda: [*self._iterator()], abandon=False).__await__()


class AsyncDatasets:
    """Async ``client.datasets``; the processing wait sleeps with the event loop."""

    def __init__(self, sync: Datasets) -> None:
        self._sync = sync

    async def upload(
        self,
        path: str | Path,
        *,
        purpose: Literal["train", "validation"] = "train",
        sensitive: bool | None = None,
        allow_sensitive: bool = False,
        wait: bool = True,
        timeout: float | None = None,
        poll_interval: float | None = None,
    ) -> DatasetRef:
        """Like ``Client.datasets.upload``; cancelling it stops the processing wait at once."""
        ref = await _in_thread(functools.partial(
            self._sync._start, path, purpose=purpose, sensitive=sensitive,
            allow_sensitive=allow_sensitive))
        if not wait:
            return ref
        return await self.wait(ref, timeout=timeout, poll_interval=poll_interval)

    async def wait(
        self, ref: DatasetRef, *, timeout: float | None = None, poll_interval: float | None = None
    ) -> DatasetRef:
        """Like ``Client.datasets.wait``, without blocking the event loop between polls."""
        import anyio

        provider = self._sync._client.provider
        state = lifecycle.dataset_wait_state(provider, timeout=timeout,
                                             poll_interval=poll_interval)
        current = ref
        try:
            while (delay := state.observe(current)) is not None:
                await anyio.sleep(delay)
                current = await _in_thread(
                    functools.partial(lifecycle.refresh_dataset, provider, current))
        except WaitTimeoutError:
            raise
        except FinetuneError:  # the same rule as lifecycle.wait_for_dataset
            await _in_thread(functools.partial(lifecycle.discard_dataset, provider, current))
            raise
        return await _in_thread(functools.partial(lifecycle.settle_dataset, provider, current))


class AsyncJobs:
    """Async ``client.jobs``; ``wait`` sleeps with the event loop, polls in a thread."""

    def __init__(self, sync: Jobs) -> None:
        self._sync = sync

    create = _threaded(Jobs.create)
    get = _threaded(Jobs.get)
    cancel = _threaded(Jobs.cancel)
    pause = _threaded(Jobs.pause)
    resume = _threaded(Jobs.resume)
    metrics = _threaded(Jobs.metrics)
    checkpoints = _threaded(Jobs.checkpoints)

    def list(self, *, limit: int | None = None, all_providers: bool = False) -> AsyncPages[Job]:
        """Like ``Client.jobs.list``, lazily: ``async for job in client.jobs.list()`` (or
        ``await`` it for a list)."""
        return AsyncPages(functools.partial(self._sync.list, limit=limit,
                                            all_providers=all_providers))

    def events(self, job_id: str, *, limit: int | None = None) -> AsyncPages[JobEvent]:
        """Like ``Client.jobs.events``, lazily (``async for``; ``await`` for a list)."""
        return AsyncPages(functools.partial(self._sync.events, job_id, limit=limit))

    async def wait(
        self,
        job: Job | str,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        on_update: Callable[[Job], None] | None = None,
        progress: bool | None = None,
    ) -> Job:
        """Like ``Client.jobs.wait``, without blocking the event loop between polls."""
        import anyio

        provider = self._sync._provider
        with self._sync._watching(job, progress, on_update) as (job_id, observe):
            state = lifecycle.WaitState(
                interval=provider.poll_interval() if poll_interval is None else poll_interval,
                timeout=timeout, on_update=observe,
            )
            while True:
                current = await _in_thread(functools.partial(provider.get_job, job_id))
                delay = state.observe(current)
                if delay is None:
                    return current
                await anyio.sleep(delay)

    async def run(
        self,
        spec: JobSpec | None = None,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        on_update: Callable[[Job], None] | None = None,
        progress: bool | None = None,
        new: bool = False,
        validate: bool = True,
        **fields: Any,
    ) -> Job:
        """Create (once per intent, see ``Client.jobs.create``), wait, and raise unless the job
        succeeded."""
        job = await self.create(spec, new=new, validate=validate, **fields)
        final = await self.wait(
            job, timeout=timeout, poll_interval=poll_interval, on_update=on_update,
            progress=progress,
        )
        return final.raise_for_status()


class AsyncModels:
    """Async ``client.models``."""

    def __init__(self, sync: Models) -> None:
        self._sync = sync

    resolve = _threaded(Models.resolve)
    deploy = _threaded(Models.deploy)
    undeploy = _threaded(Models.undeploy)
    list_deployments = _threaded(Models.list_deployments)

    async def wait_ready(self, deployment: Deployment, *, timeout: float | None = None,
                         poll_interval: float | None = None) -> Deployment:
        """Like ``Client.models.wait_ready``, pausing on the event loop between polls."""
        import anyio

        from .deployments import lifecycle as dl
        from .deployments.api import store_of

        if deployment.serverless:
            return deployment
        client = self._sync._client
        store = store_of(client.ledger)
        state = dl.ready_state(client.provider, timeout=timeout, poll_interval=poll_interval,
                               on_update=store.update if store is not None else None)
        current = deployment
        while (delay := state.observe(current)) is not None:
            await anyio.sleep(delay)
            current = await _in_thread(functools.partial(client.provider.get_deployment,
                                                         current.id))
        return dl.settle(current)


class AsyncClient:
    """The same surface as ``Client`` with awaitable methods (vendor calls run in threads)."""

    def __init__(
        self,
        provider: str | Provider = "fake",
        *,
        ledger: LedgerArg = None,
        retry: RetryPolicy | None = None,
        **credentials: Any,
    ) -> None:
        self._client = Client(provider, ledger=ledger, retry=retry, **credentials)
        self.provider = self._client.provider
        self.ledger = self._client.ledger
        self.datasets = AsyncDatasets(self._client.datasets)
        self.jobs = AsyncJobs(self._client.jobs)
        self.models = AsyncModels(self._client.models)

    async def aclose(self) -> None:
        """Release the provider's connections."""
        self._client.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncClient(provider={self.provider!r})"
