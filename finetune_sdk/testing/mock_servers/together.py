"""A stateful fake of Together's files and fine-tuning API (the ``/v1`` paths together 3.1.1
calls), driven through the official SDK in tests.

Files: ``_together_files.py`` (presigned uploads, then ``preprocess`` validates).

Fine-tuning: ``GET /v1/fine-tunes/models/limits`` (404 for a model not in ``models``),
``POST /v1/fine-tunes/estimate-price`` (bytes / 4 tokens x epochs x ``price_per_million``;
``allowed_to_proceed`` against ``credit_limit``), ``POST /v1/fine-tunes`` (job ``pending``; the
training file must exist and be processed), ``GET /v1/fine-tunes`` (every job, no pages, oldest
first: the adapter sorts), ``GET /v1/fine-tunes/{id}`` (with its events), ``/cancel``
(``cancel_requested``, then ``cancelled`` on the next read), ``/events``, ``/checkpoints``,
``/metrics``; ``POST /v1/chat/completions`` (a fine-tune answers once it is in ``served``).
Errors are ``{"error": {"message", "type", "param", "code"}}``; the shapes follow the SDK's
response types (the server's exact error body is an assumption).

``auto_advance``: every read of a job moves it one step (pending, queued, running,
compressing, uploading, completed). ``late_output_name``: a completed job shows its
``model_output_name`` only from the second read on (Together can fill it in late).
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2

from ...types import JobStatus
from ._lookup import with_record
from ._together_files import TogetherFileRoutes
from .base import MockServer, route

__all__ = ["DEFAULT_LIMITS", "TogetherMockServer"]

_JOB = r"/v1/fine-tunes/(?P<job_id>ft-[^/]+)"
_RAW = {JobStatus.VALIDATING: "pending", JobStatus.QUEUED: "queued",
        JobStatus.RUNNING: "running", JobStatus.SUCCEEDED: "completed",
        JobStatus.FAILED: "error", JobStatus.CANCELLED: "cancelled"}
_NEXT = {"pending": "queued", "queued": "running", "running": "compressing",
         "compressing": "uploading", "uploading": "completed", "cancel_requested": "cancelled"}
_TERMINAL = {"completed", "error", "user_error", "cancelled"}
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found",
                429: "rate_limit_exceeded"}
_EPOCH = datetime(2026, 11, 1, tzinfo=UTC)

DEFAULT_LIMITS: dict[str, Any] = {
    "default_gradient_accumulation_steps": 1,
    "lora_training": {"default_rank": 16, "max_batch_size": 96, "max_batch_size_dpo": 48,
                      "max_rank": 64, "min_batch_size": 8,
                      "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj",
                                         "down_proj", "gate_proj"]},
    "full_training": {"max_batch_size": 32, "max_batch_size_dpo": 16, "min_batch_size": 8},
    "max_learning_rate": 1.0, "min_learning_rate": 1e-8, "max_num_checkpoints": 10,
    "max_num_epochs": 20, "max_num_evals": 10, "max_seq_length_dpo": 8192,
    "max_seq_length_sft": 16384, "merge_output_lora": True, "min_max_seq_length": 512,
    "supports_full_training": True, "supports_reasoning": False, "supports_tools": True,
    "supports_vision": False,
}


class TogetherMockServer(TogetherFileRoutes, MockServer):
    """Together fine-tuning with its real status strings, presigned uploads and estimates."""

    base_url = "https://together.mock.invalid"

    def __init__(self, *, auto_advance: bool = False, late_output_name: bool = False) -> None:
        super().__init__()
        self.auto_advance = auto_advance
        self.late_output_name = late_output_name
        self.models: dict[str, dict[str, Any]] = {
            m: {**DEFAULT_LIMITS, "model_name": m} for m in (
                "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
                "meta-llama/Llama-3.2-3B-Instruct", "Qwen/Qwen3-8B")}
        self.files: dict[str, dict[str, Any]] = {}
        self.file_bytes: dict[str, bytes] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.creates: list[dict[str, Any]] = []
        """Every create body that made a job, in order."""
        self.put_headers: list[dict[str, str]] = []
        self.file_rejection: str | None = None
        """Set to a reason: new files fail validation with it (INVALID_FORMAT)."""
        self.processing_reads = 0
        """Reads of a new file that still show it RUNNING before its validation result."""
        self.price_per_million = 0.48
        self.served: set[str] = set()
        """Fine-tuned model names that answer chat (as if on a dedicated endpoint)."""
        self.credit_limit = 100.0
        self._counter = 0
        self._clock = 0
        self._unread: set[str] = set()
        self._ids = threading.Lock()

    # -- helpers --------------------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        with self._ids:
            self._counter += 1
            return f"{prefix}{self._counter:08d}-mock"

    def _now(self) -> str:
        self._clock += 1  # strictly increasing, so "newest first" is well defined
        return (_EPOCH + timedelta(seconds=self._clock)).isoformat().replace("+00:00", "Z")

    def error_body(self, status: int, message: str) -> Any:
        return {"error": {"message": message, "type": _ERROR_TYPES.get(status, "server_error"),
                          "param": None, "code": None}}

    def _error(self, status: int, message: str) -> httpx2.Response:
        return self.json(status, self.error_body(status, message))

    # -- limits and estimates -------------------------------------------------------------
    @route("GET", r"/v1/fine-tunes/models/limits")
    def model_limits(self, request: httpx2.Request) -> httpx2.Response:
        name = request.url.params.get("model_name", "")
        if name not in self.models:
            return self._error(404, f"model {name} is not available for fine-tuning")
        return self.json(200, self.models[name])

    @route("POST", r"/v1/fine-tunes/estimate-price")
    def estimate_price(self, request: httpx2.Request) -> httpx2.Response:
        body = self.body(request)
        file = self.files.get(body.get("training_file", ""))
        if file is None:
            return self._error(400, "training_file not found")
        if file["processing_status"] != "COMPLETED":
            return self.json(200, {"estimation_available": False,
                                   "unavailable_reason": "train_file_not_validated"})
        tokens = file["bytes"] / 4 * int(body.get("n_epochs") or 1)
        rate = self.price_per_million * (2.5 if (body.get("training_method") or {}).get(
            "method") == "dpo" else 1.0)
        price = round(tokens / 1e6 * rate, 6)
        return self.json(200, {"estimation_available": True, "estimated_total_price": price,
                               "estimated_train_token_count": tokens,
                               "estimated_eval_token_count": 0,
                               "allowed_to_proceed": price <= self.credit_limit,
                               "user_limit": self.credit_limit})

    # -- jobs -----------------------------------------------------------------------------
    def _new_job(self, body: dict[str, Any], status: str = "pending") -> dict[str, Any]:
        job_id = self._id("ft-")
        model = body.get("model") or "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
        now = self._now()
        job = {
            "id": job_id, "status": status, "created_at": now, "updated_at": now,
            "user_id": "user-mock", "owner_address": "mock@example.invalid", "model": model,
            "model_output_name": None, "suffix": body.get("suffix"),
            "training_file": body.get("training_file"),
            "validation_file": body.get("validation_file") or None,
            "n_epochs": body.get("n_epochs", 1), "n_evals": body.get("n_evals", 0),
            "n_checkpoints": body.get("n_checkpoints", 1),
            "batch_size": 16 if body.get("batch_size", "max") == "max" else body["batch_size"],
            "learning_rate": body.get("learning_rate"), "warmup_ratio": body.get("warmup_ratio"),
            "max_seq_length": body.get("max_seq_length"),
            "random_seed": body.get("random_seed"), "lr_scheduler": body.get("lr_scheduler"),
            "training_method": body.get("training_method") or {"method": "sft",
                                                               "train_on_inputs": "auto"},
            "training_type": body.get("training_type") or {
                "type": "Lora", "lora_r": 16, "lora_alpha": 32, "lora_dropout": 0.0,
                "lora_trainable_modules": "all-linear"},
            "token_count": None, "total_price": None, "epochs_completed": 0,
            "events": [], "checkpoints": [],
        }
        self.jobs[job_id] = job
        self._event(job, "Fine tune request created", "job_pending")
        return job

    def _event(self, job: dict[str, Any], message: str, type_: str, level: str = "info",
               **extra: Any) -> None:
        job["events"].append({"object": "fine-tune-event", "created_at": self._now(),
                              "level": level, "message": message, "type": type_,
                              "hash": f"evt-{len(job['events']) + 1}", **extra})

    @staticmethod
    def _public(job: dict[str, Any], *, full: bool = True) -> dict[str, Any]:
        hidden = {"checkpoints", "metrics"} | (set() if full else {"events"})
        return {k: v for k, v in job.items() if k not in hidden}

    def _job_or_404(self, job_id: str) -> dict[str, Any] | httpx2.Response:
        job = self.jobs.get(job_id)
        if job is None:
            return self._error(404, f"fine-tune job {job_id} not found")
        return job

    @route("POST", r"/v1/fine-tunes")
    def create_job(self, request: httpx2.Request) -> httpx2.Response:
        body = self.body(request)
        file = self.files.get(body.get("training_file") or "")
        if file is None:
            return self._error(400, f"training_file {body.get('training_file')} not found")
        if file["processing_status"] != "COMPLETED":
            return self._error(400, f"training_file {file['id']} is not processed"
                                    f" ({file['processing_status']})")
        if body.get("model") and body["model"] not in self.models:
            return self._error(400, f"model {body['model']} is not available for fine-tuning")
        suffix = body.get("suffix")
        if suffix is not None and len(suffix) > 40:
            return self._error(400, "suffix must be at most 40 characters")
        self.creates.append(body)
        return self.json(200, self._public(self._new_job(body), full=False))

    @route("GET", r"/v1/fine-tunes")
    def list_jobs(self, request: httpx2.Request) -> httpx2.Response:
        return self.json(200, {"data": [self._public(j, full=False)
                                        for j in self.jobs.values()]})

    @route("GET", _JOB)
    @with_record("_job_or_404")
    def retrieve_job(self, request: httpx2.Request, job: dict[str, Any]) -> httpx2.Response:
        if job["status"] == "cancel_requested":  # Together stops the job a moment later
            self._set(job, "cancelled")
        if job["id"] in self._unread:
            self._unread.discard(job["id"])
            answer = self.json(200, {**self._public(job), "model_output_name": None})
        else:
            answer = self.json(200, self._public(job))
        step = _NEXT.get(job["status"]) if self.auto_advance else None
        if step is not None:
            self._set(job, step)
        return answer

    @route("POST", _JOB + "/cancel")
    @with_record("_job_or_404")
    def cancel_job(self, request: httpx2.Request, job: dict[str, Any]) -> httpx2.Response:
        if job["status"] in _TERMINAL:
            return self._error(400, f"job {job['id']} is already {job['status']}")
        self._set(job, "cancel_requested")
        return self.json(200, self._public(job, full=False))

    @route("GET", _JOB + "/events")
    @with_record("_job_or_404")
    def list_events(self, request: httpx2.Request, job: dict[str, Any]) -> httpx2.Response:
        return self.json(200, {"data": job["events"]})

    @route("GET", _JOB + "/checkpoints")
    @with_record("_job_or_404")
    def list_checkpoints(self, request: httpx2.Request, job: dict[str, Any]) -> httpx2.Response:
        return self.json(200, {"data": job["checkpoints"]})

    @route("GET", _JOB + "/metrics")
    @with_record("_job_or_404")
    def list_metrics(self, request: httpx2.Request, job: dict[str, Any]) -> httpx2.Response:
        return self.json(200, {"metrics": job.get("metrics", [])})

    # -- inference ------------------------------------------------------------------------
    @route("POST", r"/v1/chat/completions")
    def chat(self, request: httpx2.Request) -> httpx2.Response:
        """An OpenAI-shaped completion; fine-tunes answer only once ``served`` names them."""
        body = self.body(request)
        model = body.get("model", "")
        tuned = {j["model_output_name"] for j in self.jobs.values() if j["model_output_name"]}
        if model in tuned and model not in self.served:
            return self._error(400, f"model {model} is not deployed: create a dedicated"
                                    " endpoint for it")
        last = (body.get("messages") or [{}])[-1].get("content", "")
        return self.json(200, {
            "id": self._id("chat-"), "object": "chat.completion", "created": 1764547200,
            "model": model, "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": f"[{model}] you said: {last}"}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}})

    # -- state changes --------------------------------------------------------------------
    def _set(self, job: dict[str, Any], raw: str) -> None:
        before, job["status"] = job["status"], raw
        job["updated_at"] = self._now()
        if raw == "running" and before != "running":
            self._event(job, "Training started", "training_start")
            job["metrics"] = [{"global_step": s, "train_loss": 2.0 / s, "learning_rate": 1e-5,
                               "epoch": s / 2} for s in (1, 2)]
        if raw == "cancelled":
            self._event(job, "Job cancelled", "job_stopped")
        if raw == "completed":
            self._complete(job)

    def _complete(self, job: dict[str, Any]) -> None:
        digest = hashlib.sha256(job["id"].encode()).hexdigest()[:8]
        base = job["model"].rsplit("/", 1)[-1]
        job["model_output_name"] = "mockuser/" + "-".join(
            p for p in (base, job.get("suffix"), digest) if p)
        job["epochs_completed"] = job["n_epochs"]
        job["token_count"] = 4096
        job["metrics"] = job.get("metrics", []) + [
            {"global_step": s, "train_loss": 2.0 / s, "eval_loss": 2.2 / s, "epoch": s / 2}
            for s in (3, 4)]
        for step in (2, 4):
            job["checkpoints"].append({
                "checkpoint_type": "Final" if step == 4 else f"Intermediate (step {step})",
                "created_at": self._now(), "path": f"s3://mock/{job['id']}/step-{step}",
                "step": step, "checkpoint": "adapter"})
        self._event(job, f"Epoch {job['n_epochs']} complete", "epoch_complete", step=4,
                    total_steps=4)
        self._event(job, "Job finished", "job_complete")
        if self.late_output_name:
            self._unread.add(job["id"])

    # -- neutral hooks --------------------------------------------------------------------
    def advance(self, job_id: str, status: JobStatus) -> None:
        with self.lock:
            self._set(self.jobs[job_id], _RAW[status])

    def fail_job(self, job_id: str, message: str) -> None:
        with self.lock:
            job = self.jobs[job_id]
            self._event(job, message, "job_error", level="error")
            self._set(job, "error")

    def set_raw_status(self, job_id: str, raw: str) -> None:
        with self.lock:
            self.jobs[job_id]["status"] = raw

    def seed_jobs(self, count: int) -> None:
        with self.lock:
            for i in range(count):
                job = self._new_job({"suffix": f"seeded-{i}"})
                self._set(job, "completed")

    def job_count(self) -> int:
        return len(self.jobs)
