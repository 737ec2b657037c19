"""Bedrock customization jobs <-> our types: statuses, names derived from client_ref, Job.

Bedrock has five job states and no percentage; ``statusDetails`` (validation, data processing,
training: each NotStarted/InProgress/Completed/...) tells validating from training, so an
``InProgress`` job is VALIDATING until its training step starts. ``Stopping`` is still running
(cancellation is asynchronous, like Vertex's CANCELLING).

Names: ``jobName`` and ``clientRequestToken`` are derived from ``client_ref`` alone, so
``find_job`` can look the job up by name after an ambiguous create, and a resent create carries
the same token (Bedrock ignores a repeated token: the create is idempotent). Both are the
client_ref itself when it fits Bedrock's patterns (every derived intent key does), else a hash.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ...types import Job, JobFailure, JobStatus, MetricPoint
from .._wire import wire_parser
from .models import model_id

__all__ = ["STATUS_MAP", "custom_model_name", "job_from_bedrock", "job_name", "metrics_of",
           "request_token"]

PROVIDER = "bedrock"

STATUS_MAP: dict[str, JobStatus] = {
    "InProgress": JobStatus.RUNNING,
    "Completed": JobStatus.SUCCEEDED,
    "Failed": JobStatus.FAILED,
    "Stopping": JobStatus.RUNNING,
    "Stopped": JobStatus.CANCELLED,
}

_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9+\-.])*")
_TOKEN = re.compile(r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?")
_MODEL_NAME_BAD = re.compile(r"[^0-9a-zA-Z]+")


def _hashed(client_ref: str) -> str:
    return "ftsdk-" + hashlib.sha256(client_ref.encode()).hexdigest()[:24]


def job_name(client_ref: str) -> str:
    """The ``jobName`` of the job for ``client_ref`` (at most 63 characters)."""
    return client_ref if _JOB_NAME.fullmatch(client_ref) else _hashed(client_ref)


def request_token(client_ref: str) -> str:
    """The ``clientRequestToken`` of the create for ``client_ref``."""
    return client_ref if _TOKEN.fullmatch(client_ref) else _hashed(client_ref)


def custom_model_name(client_ref: str, output_name: str | None) -> str:
    """``customModelName``: the output name (Bedrock's alphabet) plus a short hash of the
    intent, because custom model names are unique per account and region and two intents may
    share an output name."""
    suffix = hashlib.sha256(client_ref.encode()).hexdigest()[:8]
    if not output_name:
        return job_name(client_ref).replace(".", "-").replace("+", "-")[:63]
    stem = _MODEL_NAME_BAD.sub("-", output_name).strip("-")[:54] or "ftsdk"
    return f"{stem}-{suffix}"


def _details_status(raw: dict[str, Any]) -> JobStatus:
    details = raw.get("statusDetails") or {}

    def step(name: str) -> str | None:
        value = details.get(name)
        return value.get("status") if isinstance(value, dict) else None

    training = step("trainingDetails")
    if training in ("InProgress", "Completed"):
        return JobStatus.RUNNING
    if step("validationDetails") is not None or step("dataProcessingDetails") is not None:
        return JobStatus.VALIDATING
    return JobStatus.RUNNING


def _when(value: Any) -> Any:
    return value or None


@wire_parser(PROVIDER, "a Bedrock model customization job")
def job_from_bedrock(raw: dict[str, Any], *, client_ref: str | None = None) -> Job:
    """A GetModelCustomizationJob answer or a list summary as our Job."""
    job_id = raw["jobArn"]
    status_raw = raw["status"]
    if not isinstance(job_id, str) or not isinstance(status_raw, str):
        raise TypeError("jobArn and status must be strings")
    status = STATUS_MAP.get(status_raw, JobStatus.UNKNOWN)
    if status_raw == "InProgress":
        status = _details_status(raw)
    error = None
    if status_raw == "Failed" or raw.get("failureMessage"):
        error = JobFailure(message=str(raw.get("failureMessage") or "no message"))
    model = raw.get("outputModelArn") or raw.get("customModelArn")
    base = raw.get("baseModelArn")
    details = {k: v for k, v in raw.items() if k != "ResponseMetadata"}
    return Job(
        id=job_id,
        provider=PROVIDER,
        status=status,
        provider_status=status_raw,
        base_model=model_id(base) if isinstance(base, str) else None,
        method="sft",
        output_model=model if status is JobStatus.SUCCEEDED else None,
        created_at=_when(raw.get("creationTime")),
        started_at=_when(((raw.get("statusDetails") or {}).get("trainingDetails") or {})
                         .get("creationTime")),
        finished_at=_when(raw.get("endTime")) if status.is_terminal else None,
        progress=1.0 if status is JobStatus.SUCCEEDED else None,
        hyperparameters=dict(raw.get("hyperParameters") or {}),
        client_ref=client_ref or raw.get("clientRequestToken"),
        error=error,
        provider_details=_jsonable(details),
    )


def _jsonable(value: Any) -> Any:
    """botocore answers hold datetimes; provider_details stays JSON (ledger, --json)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@wire_parser(PROVIDER, "Bedrock training metrics")
def metrics_of(raw: dict[str, Any]) -> list[MetricPoint]:
    """The final training/validation loss Bedrock reports on a finished job (no curve: the
    per-step metrics are CSV files under the job's outputDataConfig S3 prefix)."""
    train = (raw.get("trainingMetrics") or {}).get("trainingLoss")
    valid: list[Any] = [v.get("validationLoss") for v in raw.get("validationMetrics") or []
             if isinstance(v, dict) and v.get("validationLoss") is not None]
    if train is None and not valid:
        return []
    return [MetricPoint(step=0, train_loss=float(train) if train is not None else None,
                        valid_loss=float(valid[0]) if valid else None)]
