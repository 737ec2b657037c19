"""A stateful fake of OpenAI's files, uploads and fine-tuning API (``/v1`` paths the SDK calls).

Routes: ``POST /v1/files`` (multipart; the file reads ``uploaded`` once, then ``processed``, or
``error`` when a line is not a chat/preference example), ``GET /v1/files`` (newest first),
``GET`` / ``DELETE /v1/files/{id}``, the Uploads API
(``POST /v1/uploads``, ``/parts``, ``/complete`` which checks byte count and md5, ``/cancel``),
``/v1/fine_tuning/jobs`` create / list (``after`` cursor, ``metadata[k]=v`` filter) / retrieve /
cancel / pause / resume / events (newest first, paged) / checkpoints, and
``GET /v1/models/{id}`` with its ``shutdown_date``, ``POST /v1/chat/completions``
(``_openai_chat.py``). Responses follow the
published schemas (``tests/specs/openai-fine-tuning.openapi.json``); the one exception is the
status of a paused job, ``"paused"``, which the spec's enum lacks although ``/pause`` exists.
Errors use OpenAI's ``{"error": {"message", "type", "param", "code"}}``. OpenAI-compatible
services (Azure OpenAI, Nebius) are this server with other settings: ``openai_compatible.py``.

Wire it with ``openai.OpenAI(base_url=server.base_url, http_client=httpx2.Client(
transport=server.transport()))``, ``server.mount(httpx2_mock)`` or ``server.serve()``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx2

from ...types import JobStatus
from ._lookup import with_record
from ._openai_chat import ChatRoutes
from ._openai_files import OpenAIFilesMixin, parse_multipart
from .base import MockServer, route

__all__ = ["OpenAIMockServer", "parse_multipart"]

_JOB = r"/v1/fine_tuning/jobs/(?P<job_id>[^/]+)"
_RAW = {
    JobStatus.VALIDATING: "validating_files",
    JobStatus.QUEUED: "queued",
    JobStatus.RUNNING: "running",
    JobStatus.PAUSED: "paused",
    JobStatus.SUCCEEDED: "succeeded",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
}
_NEXT = {
    "validating_files": JobStatus.QUEUED,
    "queued": JobStatus.RUNNING,
    "running": JobStatus.SUCCEEDED,
}
_TERMINAL = {"succeeded", "failed", "cancelled"}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "server_error",
}


class OpenAIMockServer(ChatRoutes, OpenAIFilesMixin, MockServer):
    """OpenAI fine-tuning with real status strings, files that process, and chunked uploads."""

    base_url = "https://openai.mock.invalid/v1"

    def __init__(self, *, auto_advance: bool = False) -> None:
        super().__init__()
        self.auto_advance = auto_advance
        """True: every read of a job moves it one step (validating -> queued -> running -> done)."""
        self.files: dict[str, dict[str, Any]] = {}
        self.file_bytes: dict[str, bytes] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.parts: dict[str, bytes] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.checkpoints: dict[str, list[dict[str, Any]]] = {}
        self._counter = 0
        self.file_rejection: str | None = None
        """Set to a reason: new files fail processing with it (``status: error``)."""

    def _id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter:06d}mock"

    def error_body(self, status: int, message: str) -> Any:
        return {
            "error": {
                "message": message,
                "type": _ERROR_TYPES.get(status, "api_error"),
                "param": None,
                "code": None,
            }
        }

    def _error(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> httpx2.Response:
        body = self.error_body(status, message)
        body["error"].update(param=param, code=code)
        return self.json(status, body)

    # -- jobs -----------------------------------------------------------------------------
    def _event(
        self,
        job_id: str,
        message: str,
        *,
        level: str = "info",
        type_: str = "message",
        data: dict[str, Any] | None = None,
    ) -> None:
        self.events.setdefault(job_id, []).append(
            {
                "object": "fine_tuning.job.event",
                "id": self._id("ftevent-"),
                "created_at": int(time.time()),
                "level": level,
                "message": message,
                "type": type_,
                "data": data or {},
            }
        )

    def _new_job(self, body: dict[str, Any], status: str = "validating_files") -> dict[str, Any]:
        job_id = self._id("ftjob-")
        method = body.get("method") or {"type": "supervised", "supervised": {}}
        chosen = (method.get(method["type"]) or {}).get("hyperparameters") or {}
        hyper = {
            k: chosen.get(k, "auto") for k in ("batch_size", "learning_rate_multiplier", "n_epochs")
        }
        method = {"type": method["type"], method["type"]: {"hyperparameters": {**hyper, **chosen}}}
        job = {
            "object": "fine_tuning.job",
            "id": job_id,
            "model": body.get("model", "gpt-4o-mini"),
            "created_at": int(time.time()),
            "finished_at": None,
            "fine_tuned_model": None,
            "organization_id": "org-mock",
            "result_files": [],
            "status": status,
            "validation_file": body.get("validation_file"),
            "training_file": body.get("training_file", "file-seeded"),
            "hyperparameters": hyper,
            "trained_tokens": None,
            "error": None,
            "seed": body.get("seed", 42),
            "estimated_finish": None,
            "integrations": [],
            "method": method,
            "metadata": body.get("metadata"),
            "suffix": body.get("suffix"),
        }
        self.jobs[job_id] = job
        self._event(job_id, f"Created fine-tuning job: {job_id}")
        return job

    @staticmethod
    def _public(job: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in job.items() if k != "suffix"}

    @route("POST", r"/v1/fine_tuning/jobs")
    def create_job(self, request: httpx2.Request) -> httpx2.Response:
        body = self.body(request)
        for field in ("training_file", "validation_file"):
            file_id = body.get(field)
            if field == "training_file" and not file_id:
                return self._error(400, "training_file is required", param=field)
            if file_id and (
                file_id not in self.files or self.files[file_id]["purpose"] != "fine-tune"
            ):
                return self._error(
                    400, f"invalid {field}: {file_id}", param=field, code="invalid_file"
                )
        if "method" in body and body["method"].get("type") not in (
            "supervised",
            "dpo",
            "reinforcement",
        ):
            return self._error(400, "invalid method.type", param="method")
        return self.json(200, self._public(self._new_job(body)))

    @route("GET", r"/v1/fine_tuning/jobs")
    def list_jobs(self, request: httpx2.Request) -> httpx2.Response:
        params = request.url.params
        wanted = {
            k[len("metadata[") : -1]: v
            for k, v in params.multi_items()
            if k.startswith("metadata[") and k.endswith("]")
        }
        jobs = [
            j
            for j in reversed(list(self.jobs.values()))
            if all((j.get("metadata") or {}).get(k) == v for k, v in wanted.items())
        ]
        return self._page(jobs, params, self._public)

    def _page(self, items: list[dict[str, Any]], params: Any, shape: Any = None) -> httpx2.Response:
        after = params.get("after")
        start = 0
        if after:
            ids = [i["id"] for i in items]
            start = ids.index(after) + 1 if after in ids else len(items)
        limit = min(int(params.get("limit") or 20), self.page_size)
        page = items[start : start + limit]
        body: dict[str, Any] = {
            "object": "list",
            "data": [shape(i) if shape else i for i in page],
            "has_more": start + limit < len(items),
        }
        return self.json(200, body)

    def _job_or_404(self, job_id: str) -> dict[str, Any] | httpx2.Response:
        job = self.jobs.get(job_id)
        if job is None:
            return self._error(404, f"Could not find fine tune job: {job_id}", param="fine_tune_id")
        return job

    @route("GET", _JOB)
    @with_record("_job_or_404")
    def retrieve_job(self, request: httpx2.Request, job: dict[str, Any]) -> httpx2.Response:
        answer = self.json(200, self._public(job))
        step = _NEXT.get(job["status"]) if self.auto_advance else None
        if step is not None:
            self.advance(job["id"], step)
        return answer

    @route("POST", _JOB + "/cancel")
    @with_record("_job_or_404")
    def cancel_job(self, request: httpx2.Request, job: dict[str, Any]) -> httpx2.Response:
        if job["status"] in _TERMINAL:
            return self._error(400, f"Job {job['id']} has already {job['status']}")
        job["status"] = "cancelled"
        job["finished_at"] = int(time.time())
        self._event(job["id"], "Fine-tuning job cancelled")
        return self.json(200, self._public(job))

    @route("POST", _JOB + "/pause")
    @with_record("_job_or_404")
    def pause_job(self, request: httpx2.Request, job: dict[str, Any]) -> httpx2.Response:
        if job["status"] != "running":
            return self._error(400, f"Only running jobs can be paused (job is {job['status']})")
        job["status"] = "paused"
        self._event(job["id"], "Fine-tuning job paused")
        return self.json(200, self._public(job))

    @route("POST", _JOB + "/resume")
    @with_record("_job_or_404")
    def resume_job(self, request: httpx2.Request, job: dict[str, Any]) -> httpx2.Response:
        if job["status"] != "paused":
            return self._error(400, f"Only paused jobs can be resumed (job is {job['status']})")
        job["status"] = "running"
        self._event(job["id"], "Fine-tuning job resumed")
        return self.json(200, self._public(job))

    @route("GET", _JOB + "/events")
    @with_record("_job_or_404")
    def list_events(self, request: httpx2.Request, job: dict[str, Any]) -> httpx2.Response:
        return self._page(list(reversed(self.events.get(job["id"], []))), request.url.params)

    @route("GET", _JOB + "/checkpoints")
    @with_record("_job_or_404")
    def list_checkpoints(self, request: httpx2.Request, job: dict[str, Any]) -> httpx2.Response:
        newest_first = list(reversed(self.checkpoints.get(job["id"], [])))
        response = self._page(newest_first, request.url.params)
        body = json.loads(response.content)
        body["first_id"] = body["data"][0]["id"] if body["data"] else None
        body["last_id"] = body["data"][-1]["id"] if body["data"] else None
        return self.json(200, body)

    # -- models ---------------------------------------------------------------------------
    @route("GET", r"/v1/models/(?P<model_id>[^/]+)")
    def retrieve_model(self, request: httpx2.Request, model_id: str) -> httpx2.Response:
        """A base model with its optional ``shutdown_date`` (set ``server.model_shutdowns``:
        id -> ISO date or None; ids missing from it answer 404)."""
        known = getattr(self, "model_shutdowns", {"gpt-4.1-mini-2025-04-14": "2027-01-14"})
        if model_id not in known:
            return self._error(404, f"The model '{model_id}' does not exist",
                               code="model_not_found")
        return self.json(200, {"id": model_id, "object": "model", "created": 1744588800,
                               "owned_by": "system", "shutdown_date": known[model_id]})

    # -- neutral hooks --------------------------------------------------------------------
    def advance(self, job_id: str, status: JobStatus) -> None:
        with self.lock:
            job = self.jobs[job_id]
            raw = _RAW[status]
            if raw == "running" and job["status"] != "running":
                self._training_progress(job_id, steps=(1, 2))
            job["status"] = raw
            if raw in _TERMINAL:
                job["finished_at"] = int(time.time())
            if status is JobStatus.SUCCEEDED:
                self._training_progress(job_id, steps=(3, 4))
                job["fine_tuned_model"] = self._model_id(job)
                job["trained_tokens"] = 4096
                job["result_files"] = [
                    self._new_file("step_metrics.csv", b"step,train_loss\n", "fine-tune-results")[
                        "id"
                    ]
                ]
                model = job["fine_tuned_model"]
                for step in (2, 4):
                    self.checkpoints.setdefault(job_id, []).append(
                        {
                            "object": "fine_tuning.job.checkpoint",
                            "id": self._checkpoint_id(job_id, step),
                            "created_at": int(time.time()),
                            "fine_tuning_job_id": job_id,
                            "fine_tuned_model_checkpoint": f"{model}:ckpt-step-{step}",
                            "step_number": step,
                            "metrics": {
                                "step": float(step),
                                "train_loss": 2.0 / step,
                                "valid_loss": 2.2 / step,
                                "train_mean_token_accuracy": 0.5,
                            },
                        }
                    )
                self._event(job_id, f"New fine-tuned model created: {job['fine_tuned_model']}")
                self._event(job_id, "The job has successfully completed")

    def _model_id(self, job: dict[str, Any]) -> str:
        """The ``fine_tuned_model`` of a job that succeeded."""
        suffix = job.get("suffix") or ""
        return f"ft:{job['model']}:mock-org:{suffix}:{job['id'][-10:-4]}"

    def _checkpoint_id(self, job_id: str, step: int) -> str:
        return self._id("ftckpt_")

    def _training_progress(self, job_id: str, steps: tuple[int, ...]) -> None:
        for step in steps:
            self._event(
                job_id,
                f"Step {step}/4: training loss={2.0 / step:.2f}",
                type_="metrics",
                data={
                    "step": step,
                    "train_loss": 2.0 / step,
                    "valid_loss": 2.2 / step,
                    "total_steps": 4,
                    "train_mean_token_accuracy": 0.5,
                },
            )

    def fail_job(self, job_id: str, message: str) -> None:
        with self.lock:
            job = self.jobs[job_id]
            job.update(
                status="failed",
                finished_at=int(time.time()),
                error={
                    "code": "invalid_training_file",
                    "message": message,
                    "param": "training_file",
                },
            )
            self._event(job_id, message, level="error")

    def set_raw_status(self, job_id: str, raw: str) -> None:
        with self.lock:
            self.jobs[job_id]["status"] = raw

    def seed_jobs(self, count: int) -> None:
        with self.lock:
            for i in range(count):
                self._new_job(
                    {"model": "gpt-4o-mini-2024-07-18", "metadata": {"seeded": str(i)}},
                    status="succeeded",
                )

    def job_count(self) -> int:
        return len(self.jobs)
