"""The read side of the Bedrock adapter: customization jobs, the job found by its client ref,
metrics.

``BedrockReads`` is a mixin of ``BedrockProvider`` (``adapter.py``), which supplies the plumbing
it uses: ``_call``, one botocore operation translated and retried under the provider's policy.
Every method here is a read, so each request retries; lists walk Bedrock's ``nextToken`` one
request per page.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from ...errors import APIResponseValidationError
from ...types import Job, MetricPoint
from .._hosted import token_pages
from . import mapping

__all__ = ["BedrockReads"]


class BedrockReads:
    """``get_job``, ``list_jobs``, ``find_job``, ``get_metrics`` over model customization jobs."""

    if TYPE_CHECKING:  # supplied by BedrockProvider
        name: ClassVar[str]

        def _call(self, service: str, operation: str, *, retry: bool = True,
                  **params: Any) -> Any: ...

    def get_job(self, job_id: str) -> Job:
        return mapping.job_from_bedrock(self._get(job_id))

    def _get(self, job_id: str) -> dict[str, Any]:
        return self._call("bedrock", "get_model_customization_job", jobIdentifier=job_id)

    def list_jobs(self, *, limit: int | None = None,
                  name_contains: str | None = None) -> Iterator[Job]:
        """Newest first, one retried request per page."""

        def fetch_page(token: str | None, page_size: int) -> tuple[Iterable[Any], str | None]:
            params: dict[str, Any] = {"maxResults": page_size,
                                      "sortBy": "CreationTime", "sortOrder": "Descending"}
            if token:
                params["nextToken"] = token
            if name_contains:
                params["nameContains"] = name_contains
            page = self._call("bedrock", "list_model_customization_jobs", **params)
            summaries = page.get("modelCustomizationJobSummaries")
            if not isinstance(summaries, list):
                raise APIResponseValidationError(
                    "the job list has no modelCustomizationJobSummaries", provider=self.name)
            return summaries, page.get("nextToken")

        for item in token_pages(fetch_page, limit=limit):
            yield mapping.job_from_bedrock(item)

    def find_job(self, client_ref: str) -> Job | None:
        """The job named after ``client_ref`` (a nameContains query, then an exact match)."""
        name = mapping.job_name(client_ref)
        for job in self.list_jobs(name_contains=name):
            if job.provider_details.get("jobName") != name:
                continue
            full = self._get(job.id)
            token = full.get("clientRequestToken")
            if token not in (None, mapping.request_token(client_ref)):
                continue  # same name, another sender's token: not our intent
            return mapping.job_from_bedrock(full, client_ref=client_ref)
        return None

    def get_metrics(self, job_id: str) -> list[MetricPoint]:
        return mapping.metrics_of(self._get(job_id))
