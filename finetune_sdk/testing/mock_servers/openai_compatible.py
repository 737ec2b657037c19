"""The OpenAI mock playing an OpenAI-compatible fine-tuning service: Azure OpenAI, Nebius, or a
server of your own making.

Everything of ``OpenAIMockServer`` holds (files, jobs, events, checkpoints, faults, the three
mounts); the settings change where the API lives and what it refuses:

- ``route_prefix``: Azure serves the API under ``/openai/v1``; other paths answer 404, so a
  client with the wrong base URL finds nothing.
- ``model_ids="azure"``: fine-tuned models are ``<base>.ft-<32 hex>``, checkpoints
  ``ftchkpt-<32 hex>``.
- ``max_suffix``: a longer ``suffix`` is a 400 (Azure: 18).
- ``training_types``: the accepted ``trainingType`` values (Azure's training tier); any other
  value, or the field where none is accepted, is a 400. The value is kept on the job
  (``server.jobs[id]["trainingType"]``), not shown in answers.
- ``keeps_metadata=False``: a service that drops job ``metadata`` and ignores the list filter
  (so a lost create cannot be found by its client_ref).
- ``uploads_api=False``: ``/uploads`` answers 404 (one ``POST /files`` per dataset).

``OpenAICompatibleMockServer.azure()`` and ``.nebius()`` are the presets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Any

import httpx2

from .base import route
from .openai import OpenAIMockServer

__all__ = ["OpenAICompatibleMockServer"]

AZURE_TRAINING_TYPES = ("Standard", "GlobalStandard", "developerTier")


class OpenAICompatibleMockServer(OpenAIMockServer):
    """OpenAI's fine-tuning API under another prefix, with another service's rules."""

    def __init__(
        self,
        *,
        base_url: str = "https://compatible.mock.invalid/v1",
        route_prefix: str = "/v1",
        model_ids: str = "openai",
        max_suffix: int | None = None,
        training_types: Collection[str] | None = None,
        keeps_metadata: bool = True,
        uploads_api: bool = True,
        auto_advance: bool = False,
    ) -> None:
        super().__init__(auto_advance=auto_advance)
        self.base_url = base_url
        self.route_prefix = route_prefix.rstrip("/")
        if model_ids not in ("openai", "azure"):
            raise ValueError(f"model_ids must be 'openai' or 'azure', not {model_ids!r}")
        self.model_ids = model_ids
        self.max_suffix = max_suffix
        self.training_types = frozenset(training_types or ())
        self.keeps_metadata = keeps_metadata
        self.uploads_api = uploads_api

    @classmethod
    def azure(cls, resource: str = "ftsdk-mock", **settings: Any) -> OpenAICompatibleMockServer:
        """Azure OpenAI's v1 API at ``https://<resource>.openai.azure.com/openai/v1``."""
        preset: dict[str, Any] = dict(
            base_url=f"https://{resource}.openai.azure.com/openai/v1", route_prefix="/openai/v1",
            model_ids="azure", max_suffix=18, training_types=AZURE_TRAINING_TYPES,
            uploads_api=False)
        server = cls(**{**preset, **settings})
        server.requires_deployment = True  # its data plane serves deployments, not model ids
        return server

    @classmethod
    def nebius(cls, **settings: Any) -> OpenAICompatibleMockServer:
        """Nebius Token Factory at ``https://api.tokenfactory.nebius.com/v1`` (OpenAI-shaped)."""
        preset: dict[str, Any] = dict(base_url="https://api.tokenfactory.nebius.com/v1",
                                      uploads_api=False)
        return cls(**{**preset, **settings})

    # -- routing --------------------------------------------------------------------------
    def _dispatch(self, request: httpx2.Request) -> httpx2.Response:
        """The routes are written for ``/v1``: a path under ``route_prefix`` is matched as if it
        were there; any other path is a 404."""
        path = request.url.path
        if path.startswith(self.route_prefix + "/"):
            routed = "/v1" + path[len(self.route_prefix):]
            if self.uploads_api or not routed.startswith("/v1/uploads"):
                for method, pattern, handler in self._routes:
                    match = pattern.match(routed)
                    if match and method == request.method:
                        with self.lock:
                            response = handler(request, **match.groupdict())
                        response.request = request
                        return response
        return self.json(404, self.error_body(404, f"no route for {request.method} {path}"))

    # -- jobs -----------------------------------------------------------------------------
    @route("POST", r"/v1/fine_tuning/jobs")
    def create_job(self, request: httpx2.Request) -> httpx2.Response:
        body = self.body(request)
        suffix = body.get("suffix") or ""
        if self.max_suffix is not None and len(suffix) > self.max_suffix:
            return self._error(400, f"suffix must be at most {self.max_suffix} characters",
                               param="suffix", code="invalid_suffix")
        kind = body.get("trainingType")
        if kind is not None and kind not in self.training_types:
            return self._error(400, f"invalid trainingType {kind!r}", param="trainingType")
        before = set(self.jobs)
        response = super().create_job(request)
        for job_id in set(self.jobs) - before:  # the one job this request made
            job = self.jobs[job_id]
            job["trainingType"] = kind
            if not self.keeps_metadata:
                job["metadata"] = None
                response = self.json(200, self._public(job))
        return response

    @route("GET", r"/v1/fine_tuning/jobs")
    def list_jobs(self, request: httpx2.Request) -> httpx2.Response:
        if not self.keeps_metadata:  # the filter is ignored: every job is listed
            url = request.url
            for key in {k for k in url.params if k.startswith("metadata[")}:
                url = url.copy_remove_param(key)
            request = httpx2.Request(request.method, url, headers=request.headers)
        return super().list_jobs(request)

    @staticmethod
    def _public(job: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in job.items() if k not in ("suffix", "trainingType")}

    # -- ids ------------------------------------------------------------------------------
    @staticmethod
    def _hex(seed: str) -> str:
        return hashlib.sha256(seed.encode()).hexdigest()[:32]

    def _model_id(self, job: dict[str, Any]) -> str:
        if self.model_ids == "azure":  # gpt-4.1-2025-04-14.ft-<32 hex>
            return f"{job['model']}.ft-{self._hex(job['id'])}"
        return super()._model_id(job)

    def _checkpoint_id(self, job_id: str, step: int) -> str:
        if self.model_ids == "azure":
            return f"ftchkpt-{self._hex(f'{job_id}:{step}')}"
        return super()._checkpoint_id(job_id, step)
