"""``AsyncClient``: the ``Client`` surface with awaitable methods.

Vendor calls run in worker threads (``anyio.to_thread``), so the sync adapters serve both; only
``wait`` is written out again, so that it sleeps on the event loop between polls and a cancelled
task stops polling at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from . import lifecycle
from .client import Client, Datasets, Jobs, LedgerArg, Models, _chain
from .provider import Provider
from .retry import RetryPolicy
from .types import Job, JobEvent, JobSpec

__all__ = ["AsyncClient", "AsyncDatasets", "AsyncJobs", "AsyncModels"]

P = ParamSpec("P")
T = TypeVar("T")


def _threaded(method: Callable[P, T]) -> Callable[P, Any]:
    """The async twin of a sync facade method: same signature, run in a worker thread."""

    @functools.wraps(method)
    async def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        import anyio

        bound = getattr(self._sync, method.__name__)
        return await anyio.to_thread.run_sync(functools.partial(bound, *args, **kwargs))

    return run  # type: ignore[return-value]


class AsyncDatasets:
    """Async ``client.datasets``."""

    def __init__(self, sync: Datasets) -> None:
        self._sync = sync

    upload = _threaded(Datasets.upload)


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

    async def list(self, *, limit: int | None = None, all_providers: bool = False) -> list[Job]:
        """Like ``Client.jobs.list``, collected into a list."""
        import anyio

        return await anyio.to_thread.run_sync(
            lambda: [*self._sync.list(limit=limit, all_providers=all_providers)]
        )

    async def events(self, job_id: str, *, limit: int | None = None) -> list[JobEvent]:
        """Like ``Client.jobs.events``, collected into a list."""
        import anyio

        return await anyio.to_thread.run_sync(lambda: [*self._sync.events(job_id, limit=limit)])

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

        from .progress import job_progress

        job_id = job.id if isinstance(job, Job) else job
        provider = self._sync._provider
        with job_progress(job_id, enabled=progress) as show:
            state = lifecycle.WaitState(
                interval=provider.poll_interval() if poll_interval is None else poll_interval,
                timeout=timeout,
                on_update=_chain(self._sync._record, show, on_update),
            )
            while True:
                current = await anyio.to_thread.run_sync(provider.get_job, job_id)
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
