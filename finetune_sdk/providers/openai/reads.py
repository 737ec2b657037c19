"""The read side of the OpenAI adapter: jobs, their events, checkpoints and metrics.

``OpenAIReads`` is a mixin of ``OpenAIProvider`` (``adapter.py``), which supplies the plumbing
it uses: the lazily built SDK client (``_client``), the retried, error-translating call
(``_call``), wire parsing (``_wire``, ``_job``). Every method here is a read, so each request
retries; lists walk OpenAI's ``after`` cursor one request per page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ...types import Checkpoint, Job, JobEvent, JobStatus, MetricPoint
from . import mapping

__all__ = ["OpenAIReads"]

T = TypeVar("T")


class OpenAIReads:
    """``get_job``, ``list_jobs``, ``find_job``, ``list_events``, ``list_checkpoints``,
    ``get_metrics`` over ``fine_tuning.jobs``."""

    if TYPE_CHECKING:  # supplied by OpenAIProvider
        name: ClassVar[str]

        def _client(self) -> Any: ...

        def _call(
            self, fn: Callable[[], T], *, idempotent: bool = True, retry: bool = True
        ) -> T: ...

        def _wire(self, parse: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

        def _job(self, raw: Any) -> Job: ...

    def get_job(self, job_id: str) -> Job:
        """The job; while it runs, ``progress`` comes from its newest metrics event."""
        client = self._client()
        raw = self._call(lambda: client.fine_tuning.jobs.retrieve(job_id))
        job = self._job(raw)
        if job.status is JobStatus.RUNNING:
            page = self._call(lambda: client.fine_tuning.jobs.list_events(job_id, limit=10))
            events = self._wire(mapping.page_items, page)
            progress = self._wire(mapping.progress_from_events, events)
            if progress is not None:
                job = job.model_copy(update={"progress": progress})
        return job

    def _pages(self, fetch: Callable[[str | None], Any]) -> Iterator[dict[str, Any]]:
        """Walk an ``after``-cursor list, one retried request per page."""
        after: str | None = None
        while True:
            page = self._call(partial(fetch, after))  # a retry re-reads this same page
            items = self._wire(mapping.page_items, page)
            yield from items
            if not page.has_more or not items:
                return
            after = items[-1]["id"]

    def list_jobs(
        self, *, limit: int | None = None, metadata: dict[str, str] | None = None
    ) -> Iterator[Job]:
        client = self._client()
        extra: dict[str, Any] = {"metadata": metadata} if metadata else {}

        def fetch(after: str | None) -> Any:
            kwargs: dict[str, Any] = dict(extra)
            if after:
                kwargs["after"] = after
            if limit is not None:
                kwargs["limit"] = min(limit, 100)
            return client.fine_tuning.jobs.list(**kwargs)

        for count, raw in enumerate(self._pages(fetch), 1):
            yield self._job(raw)
            if limit is not None and count >= limit:
                return

    def find_job(self, client_ref: str) -> Job | None:
        """The job whose metadata carries ``client_ref`` (server-side metadata filter)."""
        for job in self.list_jobs(metadata={mapping.CLIENT_REF_KEY: client_ref}):
            if job.client_ref == client_ref:
                return job
        return None

    def list_events(self, job_id: str, *, limit: int | None = None) -> Iterator[JobEvent]:
        """Oldest first (OpenAI pages newest first); ``limit`` keeps the most recent ones."""
        client = self._client()

        def fetch(after: str | None) -> Any:
            kwargs: dict[str, Any] = {"after": after} if after else {}
            return client.fine_tuning.jobs.list_events(job_id, **kwargs)

        newest_first: list[JobEvent] = []
        for raw in self._pages(fetch):
            newest_first.append(self._wire(mapping.event_from_wire, job_id, raw))
            if limit is not None and len(newest_first) >= limit:
                break
        return iter(reversed(newest_first))

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        client = self._client()

        def fetch(after: str | None) -> Any:
            kwargs: dict[str, Any] = {"after": after} if after else {}
            return client.fine_tuning.jobs.checkpoints.list(job_id, **kwargs)

        found = [self._wire(mapping.checkpoint_from_wire, raw) for raw in self._pages(fetch)]
        return sorted(found, key=lambda c: c.step or 0)

    def get_metrics(self, job_id: str) -> list[MetricPoint]:
        """Per-step metrics from ``metrics`` events, completed by checkpoint metrics."""
        return mapping.metric_points(self.list_events(job_id), self.list_checkpoints(job_id))
