"""An offline, deterministic provider for your own tests, docs and demos. No key, no network.

Each ``get_job`` moves a job one step along its timeline (validating -> queued -> running ... ->
succeeded), with events and a decreasing loss curve. State lives in JSON files under
``$FINETUNE_SDK_HOME/fake`` so ``finetune wait <id>`` reattaches from another process. Script
outcomes with ``FakeOptions`` (``fail_with=...``) or drive it from a test with ``provider.control``
(the same hooks the vendor mock servers offer: advance, fail_job, fail_next, ...).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from ..errors import APIConnectionError, APIResponseValidationError, APITimeoutError, status_error
from ..provider import Provider
from ..retry import RetryPolicy
from ..testing.faults import Fault, FaultQueue
from ..types import (
    Capabilities,
    DatasetRef,
    Hyperparameters,
    Job,
    JobEvent,
    JobFailure,
    JobSpec,
    JobStatus,
    MetricPoint,
    ModelRef,
    ProviderOptions,
)

__all__ = ["FakeControl", "FakeOptions", "FakeProvider"]

_TIMELINE = ["validating", "queued", "running", "running", "running", "succeeded"]


class FakeOptions(ProviderOptions):
    """How a fake job behaves."""

    timeline: list[str] = list(_TIMELINE)
    """Raw statuses the job walks through, one per poll."""
    fail_with: str | None = None
    """If set, the job fails at the end of the timeline with this message."""
    auto_advance: bool = True
    """False: the job stays put until ``provider.control.advance`` moves it."""


class FakeProvider(Provider):
    """The ``fake`` provider: every operation, deterministic, offline."""

    name: ClassVar[str] = "fake"
    capabilities: ClassVar[Capabilities] = Capabilities(
        methods=frozenset({"sft", "dpo"}),
        hyperparameters=frozenset(Hyperparameters.model_fields),
        cancel=True,
        pause_resume=True,
        events=True,
        metrics=True,
        checkpoints=False,
        validation_file=True,
        client_chosen_ids=False,
        hosted=True,
        default_poll_interval=0.05,
    )
    STATUS_MAP: ClassVar[dict[str, JobStatus]] = {
        "validating": JobStatus.VALIDATING,
        "queued": JobStatus.QUEUED,
        "running": JobStatus.RUNNING,
        "paused": JobStatus.PAUSED,
        "succeeded": JobStatus.SUCCEEDED,
        "failed": JobStatus.FAILED,
        "cancelled": JobStatus.CANCELLED,
    }
    options_type = FakeOptions

    def __init__(
        self,
        *,
        root: str | Path | None = None,
        api_key: str | None = None,
        auto_advance: bool | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        """Args:
        root: where job state is kept (default ``$FINETUNE_SDK_HOME/fake``).
        api_key: accepted and ignored, so code written for real providers runs unchanged.
        auto_advance: override every job's ``FakeOptions.auto_advance``.
        """
        super().__init__(retry=retry)
        from ..config import home_dir

        self.root = Path(root) if root is not None else home_dir() / "fake"
        (self.root / "jobs").mkdir(parents=True, exist_ok=True)
        self._has_key = api_key is not None
        self._auto_advance = auto_advance
        self.control = FakeControl(self)

    # -- storage -------------------------------------------------------------------------
    def _path(self, job_id: str) -> Path:
        if not re.fullmatch(r"ftjob-fake-[0-9a-f]{16}", job_id):
            raise self._error(404, f"no fake job {job_id!r}")
        return self.root / "jobs" / f"{job_id}.json"

    def _load(self, job_id: str) -> dict[str, Any]:
        path = self._path(job_id)
        if not path.is_file():
            raise self._error(404, f"no fake job {job_id!r}")
        return json.loads(path.read_text(encoding="utf-8"))

    def _save(self, state: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root / "jobs", prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state, handle)
        os.replace(tmp, self._path(state["id"]))

    def _error(self, status: int, message: str) -> Exception:
        return status_error(status, message, provider=self.name, request_id="req_fake")

    def _request(self, key: str) -> None:
        """One pretend API request: an injected fault may fire here."""
        self.control._fire(key, processed=False)

    # -- Provider interface --------------------------------------------------------------
    def upload_dataset(
        self, path: Path, *, purpose: Literal["train", "validation"] = "train", wait: bool = True
    ) -> DatasetRef:
        """A ready ref at once (the fake checks nothing after the upload), whatever ``wait``."""
        from ..data.formats import detect_format, iter_examples

        # Read it as the real adapters do (they convert to the vendor's JSONL first), so a CSV
        # or a broken line fails here too, with the line number, and not only in production.
        kind: Literal["chat", "preference"] = (
            "preference" if detect_format(path) == "preference" else "chat")
        lines = sum(1 for _ in iter_examples(path))
        data = Path(path).read_bytes()
        self.retry.call(lambda: self._request("POST /files"))
        digest = hashlib.sha256(data).hexdigest()
        return DatasetRef(
            kind=kind,
            id=f"file-fake-{digest[:16]}",
            provider=self.name,
            filename=Path(path).name,
            bytes=len(data),
            sha256=digest,
            num_examples=lines,
            provider_details={"purpose": purpose},
        )

    def create_job(self, spec: JobSpec) -> Job:
        self._request("POST /jobs")
        options: FakeOptions = self.resolve_options(spec)
        auto = options.auto_advance if self._auto_advance is None else self._auto_advance
        training = spec.training_file
        now = datetime.now(UTC).isoformat()
        state = {
            "id": f"ftjob-fake-{uuid.uuid4().hex[:16]}",
            "base_model": spec.base_model,
            "method": spec.method,
            "timeline": options.timeline,
            "position": 0,
            "raw": options.timeline[0],
            "fail_with": options.fail_with,
            "auto_advance": auto,
            "client_ref": spec.client_ref,
            "labels": spec.labels,
            "hyperparameters": spec.hyperparameters.set_fields(),
            "suffix": spec.output_name or "",
            "examples": training.num_examples if isinstance(training, DatasetRef) else None,
            "created_at": now,
            "events": [{"at": now, "message": "Job created", "level": "info"}],
        }
        self._save(state)
        self.control._fire("POST /jobs", processed=True)
        return self._to_job(state)

    def get_job(self, job_id: str) -> Job:
        return self.retry.call(lambda: self._get(job_id))

    def _get(self, job_id: str) -> Job:
        self._request(f"GET /jobs/{job_id}")
        with self.control.lock:
            state = self._load(job_id)
            if state["auto_advance"] and state["raw"] not in {"paused", "cancelled", "failed"}:
                self._step(state)
            return self._to_job(state)

    def list_jobs(self, *, limit: int | None = None) -> Iterator[Job]:
        files = sorted(
            (self.root / "jobs").glob("ftjob-fake-*.json"),
            key=lambda p: (p.stat().st_mtime_ns, p.name),
            reverse=True,
        )
        page = self.control.page_size
        yielded = 0
        for start in range(0, max(len(files), 1), page):  # an empty list is one request too
            self.retry.call(lambda: self._request("GET /jobs"))
            for file in files[start : start + page]:
                if limit is not None and yielded >= limit:
                    return
                yielded += 1
                yield self._to_job(json.loads(file.read_text(encoding="utf-8")))

    def cancel_job(self, job_id: str) -> Job:
        return self.retry.call(lambda: self._transition(job_id, "cancelled", "Job cancelled"))

    def pause_job(self, job_id: str) -> Job:
        return self.retry.call(lambda: self._transition(job_id, "paused", "Job paused"))

    def resume_job(self, job_id: str) -> Job:
        return self.retry.call(lambda: self._transition(job_id, "running", "Job resumed"))

    def list_events(self, job_id: str, *, limit: int | None = None) -> Iterator[JobEvent]:
        self.retry.call(lambda: self._request(f"GET /jobs/{job_id}/events"))
        state = self._load(job_id)
        for i, event in enumerate(state["events"][:limit]):
            yield JobEvent(
                id=f"{job_id}-ev{i}",
                job_id=job_id,
                message=event["message"],
                level=event["level"],
                created_at=datetime.fromisoformat(event["at"]),
            )

    def get_metrics(self, job_id: str) -> list[MetricPoint]:
        self.retry.call(lambda: self._request(f"GET /jobs/{job_id}/metrics"))
        state = self._load(job_id)
        running = state["timeline"].count("running") or 1
        done = min(state["position"], len(state["timeline"]) - 1)
        steps = 10 * min(done, running) if state["raw"] != "succeeded" else 10 * running
        return [
            MetricPoint(step=s, epoch=s / (10 * running), train_loss=_loss(s), learning_rate=1e-4)
            for s in range(1, steps + 1)
        ]

    def resolve_model(self, job: Job) -> ModelRef:
        model = job.output_model or f"fake:ft-{job.id}"
        return ModelRef(
            id=model,
            provider=self.name,
            base_model=job.base_model,
            job_id=job.id,
            ready_for_inference=True,
        )

    # -- helpers -------------------------------------------------------------------------
    def _step(self, state: dict[str, Any]) -> None:
        timeline = state["timeline"]
        if state["position"] >= len(timeline) - 1:
            return
        state["position"] += 1
        raw = timeline[state["position"]]
        if raw == "succeeded" and state["fail_with"]:
            raw = "failed"
            state["error"] = state["fail_with"]
        self._set(state, raw)

    def _set(self, state: dict[str, Any], raw: str, message: str | None = None) -> None:
        if raw != state["raw"]:
            text = message or f"Status changed to {raw}"
            level = "error" if raw == "failed" else "info"
            state["events"].append({"at": datetime.now(UTC).isoformat(), "message": text,
                                    "level": level})
        state["raw"] = raw
        self._save(state)

    def _transition(self, job_id: str, raw: str, message: str) -> Job:
        self._request(f"POST /jobs/{job_id}/{raw}")
        with self.control.lock:
            state = self._load(job_id)
            if self.map_status(state["raw"]).is_terminal:
                raise self._error(400, f"job {job_id} already finished ({state['raw']})")
            self._set(state, raw, message)
            return self._to_job(state)

    def _to_job(self, state: dict[str, Any]) -> Job:
        raw = state["raw"]
        status = self.map_status(raw)
        timeline = state["timeline"]
        succeeded = status is JobStatus.SUCCEEDED
        examples = state.get("examples") or 0
        return Job(
            id=state["id"],
            provider=self.name,
            status=status,
            provider_status=raw,
            base_model=state["base_model"],
            method=state["method"],
            output_model=f"fake:ft-{state['id']}" if succeeded else None,
            created_at=datetime.fromisoformat(state["created_at"]),
            progress=1.0 if succeeded else state["position"] / max(1, len(timeline) - 1),
            trained_tokens=examples * 64 if succeeded else None,
            hyperparameters=state["hyperparameters"],
            labels=state["labels"],
            client_ref=state["client_ref"],
            error=JobFailure(message=state["error"]) if status is JobStatus.FAILED else None,
        )

    def __repr__(self) -> str:
        return f"FakeProvider(root={str(self.root)!r})"


def _loss(step: int) -> float:
    return round(2.5 * math.exp(-step / 25) + 0.4, 4)


class FakeControl:
    """Test hooks: the neutral mock-server interface, for the fake provider."""

    page_size = 2

    def __init__(self, provider: FakeProvider) -> None:
        self._provider = provider
        self.lock = threading.RLock()
        self.faults = FaultQueue(self.lock)  # the mock servers' queue: same arguments, same firing

    def fail_next(
        self,
        status: int | None = 500,
        *,
        times: int = 1,
        retry_after: float | None = None,
        match: str | None = None,
        timeout: bool = False,
        after_processing: bool = False,
        malformed: bool = False,
        body: Any = None,
    ) -> None:
        """Make the next ``times`` matching operations fail ("METHOD /path" regex); ``body``
        is the vendor's error body (its ``error.message`` becomes the exception's message)."""
        self.faults.add(Fault(status, retry_after, body, match, timeout, after_processing,
                              malformed), times)

    def _fire(self, key: str, *, processed: bool) -> None:
        fault = self.faults.take(key, after_processing=processed)
        if fault is None:
            return
        name = self._provider.name
        if fault.timeout:
            if fault.after_processing:
                raise APITimeoutError("fake: response lost after the request arrived",
                                      provider=name)
            raise APIConnectionError("fake: connection refused", provider=name)
        if fault.malformed:
            raise APIResponseValidationError("fake: malformed response body", provider=name)
        retry_after = float(fault.retry_after) if fault.retry_after is not None else None
        raise status_error(fault.status or 500, _fault_message(fault.body), provider=name,
                           request_id="req_fake_fault", body=fault.body, retry_after=retry_after)

    def advance(self, job_id: str, status: JobStatus) -> None:
        """Put the job in the raw status meaning ``status``."""
        raw = {v: k for k, v in FakeProvider.STATUS_MAP.items()}[status]
        with self.lock:
            state = self._provider._load(job_id)
            if raw in state["timeline"]:
                state["position"] = state["timeline"].index(raw)
            self._provider._set(state, raw)

    def fail_job(self, job_id: str, message: str) -> None:
        """Fail the job with ``message``."""
        with self.lock:
            state = self._provider._load(job_id)
            state["error"] = message
            self._provider._set(state, "failed", message)

    def set_raw_status(self, job_id: str, raw: str) -> None:
        """Put any raw status string on the job."""
        with self.lock:
            state = self._provider._load(job_id)
            state["auto_advance"] = False
            self._provider._set(state, raw)

    def seed_jobs(self, count: int) -> None:
        """Add ``count`` finished jobs."""
        for i in range(count):
            spec = JobSpec(base_model="seeded-base", training_file=f"seed-{i}.jsonl")
            job = self._provider.create_job(spec)
            self.advance(job.id, JobStatus.SUCCEEDED)

    def job_count(self) -> int:
        """How many jobs exist."""
        return len(list((self._provider.root / "jobs").glob("ftjob-fake-*.json")))


def _fault_message(body: Any) -> str:
    """The message a vendor error body carries (``{"error": {"message": ...}}`` and kin)."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(error, str):
            return error
    return body if isinstance(body, str) and body else "injected fault"
