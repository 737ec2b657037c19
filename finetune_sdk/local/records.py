"""A local job directory read as the SDK's types: Job, JobEvent, MetricPoint, Checkpoint.

``providers/local.py`` (``LocalProvider``) finds the directory and decides what to do; this
module turns what the worker wrote (``jobdir.py``: spec, status, events, metrics, checkpoints)
into provider-neutral records, and says what became of a worker that stopped without reporting
an end. Plain stdlib plus the SDK's types: the user's process never imports torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from ..errors import LocalTrainerError
from ..types import Checkpoint, Job, JobEvent, JobFailure, JobStatus, MetricPoint
from .jobdir import JobDir, now_iso
from .launcher import pid_alive
from .resume import lost_hint

__all__ = ["checkpoints_of", "events_of", "job_from_record", "mark_lost", "metric_points",
           "unreadable_job"]

_ENDED = ("succeeded", "failed", "cancelled")
_KNOWN_METRICS = frozenset({"epoch", "train_loss", "valid_loss", "learning_rate",
                            "tokens_per_second"})


def job_from_record(job: JobDir, spec: dict[str, Any], status: dict[str, Any], *,
                    provider: str, mapped: JobStatus) -> Job:
    """The Job for ``spec.json`` + ``status.json``; ``mapped`` is the status's JobStatus."""
    raw = status.get("status", "queued")
    error = status.get("error")
    failure = None
    if error:
        message = error.get("message", "failed")
        if error.get("log_tail"):
            message += "\nlast lines of worker.log:\n" + error["log_tail"]
        failure = JobFailure(message=message, code=error.get("code"))
    return Job(
        id=job.job_id,
        provider=provider,
        status=mapped,
        provider_status=raw,
        base_model=spec.get("base_model"),
        method=spec.get("method", "sft"),
        output_model=status.get("output_model"),
        created_at=_when(spec.get("created_at")),
        started_at=_when(status.get("started_at")),
        finished_at=_when(status.get("finished_at")),
        progress=status.get("progress"),
        trained_tokens=status.get("trained_tokens"),
        hyperparameters=spec.get("train_config", {}),
        labels=spec.get("labels") or {},
        client_ref=spec.get("client_ref"),
        error=failure,
        # Reading a few local files is cheap: no need for the hosted back-off up to 60 s.
        poll_after=None if raw in _ENDED else 1.0,
        provider_details={
            "job_dir": str(job.path), "pid": status.get("pid"), "step": status.get("step"),
            "resume_from_step": status.get("resume_from_step"),
            "train_loss": status.get("train_loss"), "log_file": str(job.log_file),
            "attempts": status.get("attempts"), "result": status.get("result"),
        },
    )


def unreadable_job(job: JobDir, spec: dict[str, Any], reason: str, *, provider: str) -> Job:
    """An UNKNOWN Job while a worker lives (it rewrites the status at its next heartbeat);
    LocalTrainerError when none does, since nothing will repair the file then."""
    if _any_worker_alive(job):
        return Job(id=job.job_id, provider=provider, status=JobStatus.UNKNOWN,
                   provider_status="status-unreadable", base_model=spec.get("base_model"),
                   client_ref=spec.get("client_ref"), provider_details={"problem": reason})
    raise LocalTrainerError(f"{reason}; the worker is not running. Inspect {job.path} or resume"
                            " the job to start over from the last checkpoint.")


def _any_worker_alive(job: JobDir) -> bool:
    # Without a readable status we only know pids from the event log.
    for event in reversed(job.read_events()):
        pid = (event.get("data") or {}).get("pid")
        if pid:
            return pid_alive(pid)
    return False


def mark_lost(job: JobDir, status: dict[str, Any]) -> dict[str, Any]:
    """Record a worker that stopped without reporting an end as FAILED (``worker_lost``), with
    its log tail and what a resume would start from; returns the new status."""
    tail = job.log_tail()
    steps = job.checkpoint_steps()
    message = (f"the worker (pid {status.get('pid')}) stopped without reporting an end"
               " (killed, out of memory, or the machine restarted); "
               + lost_hint(steps[-1] if steps else None))
    job.append_event(message, level="error", type="status",
                     data={"log_tail": tail} if tail else None)
    return job.update_status(status="failed", finished_at=now_iso(),
                             error={"message": message, "code": "worker_lost", "log_tail": tail})


def events_of(job: JobDir, *, limit: int | None = None) -> Iterator[JobEvent]:
    """``events.jsonl`` oldest first; ``limit`` keeps the first ones."""
    events = job.read_events()
    for index, event in enumerate(events[:limit] if limit is not None else events):
        yield JobEvent(job_id=job.job_id, id=str(index), message=str(event.get("message", "")),
                       created_at=_when(event.get("created_at")),
                       level=event.get("level", "info"), type=event.get("type"),
                       data=event.get("data") or {})


def metric_points(job: JobDir) -> list[MetricPoint]:
    """One point per step: the training and eval lines of a step are merged."""
    by_step: dict[int, dict[str, Any]] = {}
    for point in job.read_metrics():
        if isinstance(point.get("step"), int):
            merged = by_step.setdefault(point["step"], {})
            merged.update({k: v for k, v in point.items() if v is not None})
    return [_metric(step, values) for step, values in sorted(by_step.items())]


def checkpoints_of(job: JobDir) -> list[Checkpoint]:
    """The complete checkpoints, oldest first; each model id names its adapter folder."""
    return [Checkpoint(id=f"{job.job_id}:step-{step}", job_id=job.job_id, step=step,
                       model_id=f"local:{job.checkpoint_dir / f'step-{step}' / 'adapter'}")
            for step in job.checkpoint_steps()]


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _metric(step: int, values: dict[str, Any]) -> MetricPoint:
    extra = {k: float(v) for k, v in values.items()
             if k not in _KNOWN_METRICS | {"step", "at"} and isinstance(v, (int, float))}
    return MetricPoint(step=step, at=_when(values.get("at")), extra=extra,
                       **{k: values[k] for k in _KNOWN_METRICS if k in values})
