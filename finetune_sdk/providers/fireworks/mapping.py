"""Fireworks wire format <-> our types: JOB_STATE_* map, ids, create body, job mapping.

Pure functions over the REST JSON (camelCase), tested without a server.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from ...errors import DatasetError
from ...types import Job, JobFailure, JobSpec, JobStatus
from .._wire import wire_parser

__all__ = [
    "PROVIDER",
    "STATUS_MAP",
    "create_body",
    "dataset_id_for",
    "job_from_wire",
    "job_id_for",
]

PROVIDER = "fireworks"

STATUS_MAP: dict[str, JobStatus] = {
    "JOB_STATE_UNSPECIFIED": JobStatus.UNKNOWN,
    "JOB_STATE_CREATING": JobStatus.QUEUED,
    "JOB_STATE_PENDING": JobStatus.QUEUED,
    "JOB_STATE_RE_QUEUEING": JobStatus.QUEUED,
    "JOB_STATE_IDLE": JobStatus.QUEUED,
    "JOB_STATE_VALIDATING": JobStatus.VALIDATING,
    "JOB_STATE_CREATING_INPUT_DATASET": JobStatus.VALIDATING,
    "JOB_STATE_RUNNING": JobStatus.RUNNING,
    "JOB_STATE_WRITING_RESULTS": JobStatus.RUNNING,
    "JOB_STATE_PAUSED": JobStatus.PAUSED,
    "JOB_STATE_COMPLETED": JobStatus.SUCCEEDED,
    # Early stopping still produces a model: a success, not a failure.
    "JOB_STATE_EARLY_STOPPED": JobStatus.SUCCEEDED,
    "JOB_STATE_FAILED": JobStatus.FAILED,
    "JOB_STATE_EXPIRED": JobStatus.FAILED,
    "JOB_STATE_CANCELLING": JobStatus.RUNNING,
    "JOB_STATE_CANCELLED": JobStatus.CANCELLED,
    "JOB_STATE_DELETING": JobStatus.CANCELLED,
    "JOB_STATE_DELETING_CLEANING_UP": JobStatus.CANCELLED,
}
"""Every documented ``state`` value (18). CANCELLING is not terminal yet, so it stays RUNNING."""

_ID_OK = re.compile(r"^[a-z][a-z0-9-]*$")
MAX_ID_LENGTH = 63


def job_id_for(client_ref: str) -> str:
    """The client-chosen job id for ``client_ref``: ``^[a-z][a-z0-9-]*$``, at most 63 chars.

    Deterministic, so a resent create (or ``find_job``) names the same job.
    """
    candidate = client_ref.lower().replace("_", "-")
    if not candidate[:1].isalpha():
        candidate = "j-" + candidate
    if len(candidate) > MAX_ID_LENGTH or not _ID_OK.match(candidate):
        digest = hashlib.sha256(client_ref.encode()).hexdigest()[:16]
        candidate = f"ftsdk-{digest}"
    return candidate


def dataset_id_for(wire_bytes: bytes) -> str:
    """A dataset id from the converted file's content: re-running an upload reuses it."""
    return "ftsdk-" + hashlib.sha256(wire_bytes).hexdigest()[:24]


def create_body(spec: JobSpec, *, account: str, options: Any) -> dict[str, Any]:
    """The ``supervisedFineTuningJobs`` create body (camelCase) for ``spec``."""
    hp = spec.hyperparameters
    body: dict[str, Any] = {
        "baseModel": spec.base_model,
        "dataset": _dataset_name(spec.training_file, account),
        "displayName": spec.output_name or spec.client_ref,
    }
    if spec.validation_file is not None:
        body["evaluationDataset"] = _dataset_name(spec.validation_file, account)
    if spec.output_name:
        body["outputModel"] = job_id_for(spec.output_name)
    for ours, theirs in (
        ("epochs", "epochs"),
        ("learning_rate", "learningRate"),
        ("lora_rank", "loraRank"),
        ("max_seq_length", "maxContextLength"),
    ):
        value = getattr(hp, ours)
        if value is not None:
            body[theirs] = value
    if hp.batch_size is not None:
        # Fireworks' batchSize is (likely) tokens per packed batch; ours is examples.
        body["batchSizeSamples"] = hp.batch_size
    if options is not None:
        if options.batch_size_tokens is not None:
            body["batchSize"] = options.batch_size_tokens
        if options.early_stop is not None:
            body["earlyStop"] = options.early_stop
        if options.eval_auto_carveout is not None:
            body["evalAutoCarveout"] = options.eval_auto_carveout
        if options.learning_rate_warmup_steps is not None:
            body["learningRateWarmupSteps"] = options.learning_rate_warmup_steps
        if options.region:
            body["region"] = options.region
        if options.is_turbo is not None:
            body["isTurbo"] = options.is_turbo
    body.update(spec.extra_body)
    return body


def _dataset_name(ref: Any, account: str) -> str:
    from ...types import DatasetRef

    value = ref.id if isinstance(ref, DatasetRef) else str(ref)
    if value.startswith("accounts/"):
        return value
    if "/" in value or value.endswith(".jsonl"):
        raise DatasetError(
            f"expected an uploaded Fireworks dataset (DatasetRef or dataset id), got {value!r};"
            " upload it with client.datasets.upload first"
        )
    return f"accounts/{account}/datasets/{value}"


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@wire_parser(PROVIDER, "a Fireworks fine-tuning job")
def job_from_wire(raw: dict[str, Any], *, client_ref: str | None = None) -> Job:
    """A ``SupervisedFineTuningJob`` as our Job (unknown state -> UNKNOWN, raw kept)."""
    state = raw.get("state")
    status = STATUS_MAP.get(state or "", JobStatus.UNKNOWN)
    name = str(raw.get("name", ""))
    account = name.split("/")[1] if name.startswith("accounts/") else None
    job_id = name.rsplit("/", 1)[-1]
    progress_raw = raw.get("jobProgress") or {}
    progress: float | None = None
    if isinstance(progress_raw.get("percent"), (int, float)):
        progress = max(0.0, min(1.0, float(progress_raw["percent"]) / 100))
    if status is JobStatus.SUCCEEDED:
        progress = 1.0
    tokens = progress_raw.get("inputTokens")
    output = raw.get("outputModel") or job_id
    if output and not output.startswith("accounts/") and account:
        output = f"accounts/{account}/models/{output}"
    failure = None
    detail = raw.get("status") or {}
    if status is JobStatus.FAILED:
        failure = JobFailure(
            message=str(detail.get("message") or state or "failed"), code=detail.get("code")
        )
    hyper = {
        k: raw[k]
        for k in (
            "epochs",
            "learningRate",
            "loraRank",
            "batchSize",
            "batchSizeSamples",
            "maxContextLength",
        )
        if raw.get(k) is not None
    }
    return Job(
        id=job_id,
        provider=PROVIDER,
        status=status,
        provider_status=state,
        base_model=raw.get("baseModel"),
        method="sft",
        output_model=output if status is JobStatus.SUCCEEDED else None,
        created_at=_time(raw.get("createTime")),
        finished_at=_time(raw.get("completedTime")),
        progress=progress,
        trained_tokens=int(tokens)
        if isinstance(tokens, (int, str)) and str(tokens).isdigit()
        else None,
        hyperparameters=hyper,
        client_ref=client_ref or job_id,
        error=failure,
        provider_details=raw,
    )


