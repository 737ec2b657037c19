"""The read side of the Gemini adapter: tuning jobs, the job found by its client ref, metrics.

``GeminiReads`` is a mixin of ``GeminiProvider`` (``adapter.py``), which supplies the plumbing
it uses: the lazily built google-genai client (``_client``), the retried, error-translating call
(``_call``) and the Vertex project and region. Every method here is a read, so each request
retries; lists walk google-genai's page token one request per page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ...errors import BadRequestError, NotFoundError
from ...types import Job, MetricPoint
from .._hosted import token_pages
from . import mapping

__all__ = ["GeminiReads"]

T = TypeVar("T")


class GeminiReads:
    """``get_job``, ``list_jobs``, ``find_job``, ``get_metrics`` over ``tunings``."""

    if TYPE_CHECKING:  # supplied by GeminiProvider
        name: ClassVar[str]
        project: str | None
        location: str

        def _client(self) -> Any: ...

        def _call(
            self, fn: Callable[[], T], *, idempotent: bool = True, retry: bool = True
        ) -> T: ...

    def get_job(self, job_id: str) -> Job:
        return mapping.job_from_vertex(self._get(job_id))

    def _get(self, job_id: str) -> Any:
        name = self._job_name(job_id)
        return self._call(lambda: self._client().tunings.get(name=name))

    def _job_name(self, job_id: str) -> str:
        if job_id.startswith("projects/"):
            return job_id
        if not job_id.isdigit():
            raise NotFoundError(
                f"{job_id!r} is not a Vertex tuning job (expected"
                " projects/P/locations/L/tuningJobs/ID or the numeric ID)",
                provider=self.name,
            )
        return f"projects/{self.project}/locations/{self.location}/tuningJobs/{job_id}"

    def list_jobs(self, *, limit: int | None = None, filter: str | None = None) -> Iterator[Job]:
        """Newest first, one retried request per page."""

        def list_page(config: dict[str, Any]) -> Any:
            return self._client().tunings.list(config=config)

        def fetch_page(token: str | None, page_size: int) -> tuple[Iterable[Any], str | None]:
            config: dict[str, Any] = {"page_size": page_size}
            if token:
                config["page_token"] = token
            if filter:
                config["filter"] = filter
            pager = self._call(partial(list_page, config))  # a retry re-reads this same page
            return pager.page, _next_token(pager)

        for item in token_pages(fetch_page, limit=limit):
            yield mapping.job_from_vertex(item)

    def find_job(self, client_ref: str) -> Job | None:
        """The job labelled with ``client_ref`` (a filtered list; falls back to a full walk)."""
        value = mapping.label_value(client_ref)
        try:
            candidates = list(
                self.list_jobs(filter=f'labels.{mapping.CLIENT_REF_LABEL}="{value}"')
            )
        except BadRequestError:
            # The filter syntax is not documented for tuningJobs; never let it block dedupe.
            candidates = list(self.list_jobs())
        for job in candidates:
            if job.labels.get(mapping.CLIENT_REF_LABEL) == value:
                return job.model_copy(update={"client_ref": client_ref})
        return None

    def get_metrics(self, job_id: str) -> list[MetricPoint]:
        return mapping.metrics_from_vertex(self._get(job_id))


def _next_token(pager: Any) -> str | None:
    # google-genai's Pager keeps the next page's token in the config of the next request.
    return (pager.config or {}).get("page_token") or None
