"""Vertex tuning jobs <-> our types: state map, TuningJob -> Job / MetricPoint, errors.

Kept apart from the adapter so the rules (quota waits are QUEUED, Vertex labels are lowercase,
an unknown state is UNKNOWN) are readable in one place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from ...errors import (
    APIError,
    APIResponseValidationError,
    AuthenticationError,
    ConfigurationError,
    redact,
    redact_body,
    status_error,
)
from ...retry import parse_retry_after
from ...types import Job, JobFailure, JobStatus, Method, MetricPoint
from .._wire import wire_parser

__all__ = [
    "ADAPTER_SIZES",
    "CLIENT_REF_LABEL",
    "QUOTA_SUBSTATES",
    "STATUS_MAP",
    "job_from_vertex",
    "label_value",
    "metrics_from_vertex",
    "translate_error",
]

PROVIDER = "gemini"

STATUS_MAP: dict[str, JobStatus] = {
    "JOB_STATE_UNSPECIFIED": JobStatus.UNKNOWN,
    "JOB_STATE_QUEUED": JobStatus.QUEUED,
    "JOB_STATE_PENDING": JobStatus.QUEUED,
    "JOB_STATE_RUNNING": JobStatus.RUNNING,
    "JOB_STATE_SUCCEEDED": JobStatus.SUCCEEDED,
    # A tuning job that "partially succeeded" still produced a tuned model; resolve_model says
    # whether its endpoint exists.
    "JOB_STATE_PARTIALLY_SUCCEEDED": JobStatus.SUCCEEDED,
    "JOB_STATE_FAILED": JobStatus.FAILED,
    "JOB_STATE_EXPIRED": JobStatus.FAILED,
    # Cancellation is asynchronous: the job keeps running until Vertex says CANCELLED.
    "JOB_STATE_CANCELLING": JobStatus.RUNNING,
    "JOB_STATE_CANCELLED": JobStatus.CANCELLED,
    "JOB_STATE_PAUSED": JobStatus.PAUSED,
    "JOB_STATE_UPDATING": JobStatus.RUNNING,
}

# Sub-states (``tuningJobState``) that mean "waiting for a slot", however long: shown as QUEUED.
QUOTA_SUBSTATES = frozenset(
    {"TUNING_JOB_STATE_WAITING_FOR_QUOTA", "TUNING_JOB_STATE_WAITING_FOR_CAPACITY"}
)
VALIDATING_SUBSTATES = frozenset({"TUNING_JOB_STATE_PROCESSING_DATASET"})

# adapterSize is an enum on the wire; these are the only ranks Vertex accepts.
ADAPTER_SIZES: dict[int, str] = {
    1: "ADAPTER_SIZE_ONE",
    2: "ADAPTER_SIZE_TWO",
    4: "ADAPTER_SIZE_FOUR",
    8: "ADAPTER_SIZE_EIGHT",
    16: "ADAPTER_SIZE_SIXTEEN",
    32: "ADAPTER_SIZE_THIRTY_TWO",
}

CLIENT_REF_LABEL = "ftsdk-client-ref"
_LABEL_OK = re.compile(r"^[a-z0-9_-]{0,63}$")


def label_value(client_ref: str) -> str:
    """client_ref as a Vertex label value (labels allow only lowercase letters, digits, - and _)."""
    return client_ref.lower()


def check_labels(labels: dict[str, str]) -> None:
    """Refuse labels Vertex would reject, before anything is uploaded."""
    for key, value in labels.items():
        valid = bool(key) and key[0].islower() and _LABEL_OK.match(key) and _LABEL_OK.match(value)
        if not valid:
            raise ConfigurationError(
                f"gemini: label {key}={value!r} is not a valid Vertex label (keys and values: at"
                " most 63 lowercase letters, digits, '-' or '_'; keys start with a letter)"
            )


def _raw(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


@wire_parser(PROVIDER, "a Vertex tuning job")
def job_from_vertex(tj: Any) -> Job:
    """A google-genai ``TuningJob`` as our Job (raw state and payload kept)."""
    raw_state = _raw(tj.state)
    sub_state = _raw(tj.tuning_job_state)
    status = STATUS_MAP.get(raw_state or "", JobStatus.UNKNOWN)
    if status in (JobStatus.QUEUED, JobStatus.RUNNING) and sub_state in QUOTA_SUBSTATES:
        status = JobStatus.QUEUED
    elif status is JobStatus.QUEUED and sub_state in VALIDATING_SUBSTATES:
        status = JobStatus.VALIDATING
    spec = tj.supervised_tuning_spec or tj.preference_optimization_spec
    hyper = getattr(spec, "hyper_parameters", None) if spec is not None else None
    hyper_dict = hyper.model_dump(mode="json", exclude_none=True) if hyper is not None else {}
    meta = tj.tuning_job_metadata
    progress = None
    epochs = hyper_dict.get("epoch_count")
    if meta is not None and meta.completed_epoch_count is not None and epochs:
        progress = min(1.0, meta.completed_epoch_count / epochs)
    if status is JobStatus.SUCCEEDED:
        progress = 1.0
    stats = _supervised_stats(tj)
    error = None
    if tj.error is not None and (tj.error.message or tj.error.code):
        error = JobFailure(message=tj.error.message or "no message", code=_raw(tj.error.code))
    labels = dict(tj.labels or {})
    tuned = tj.tuned_model
    method: Method = "dpo" if tj.preference_optimization_spec is not None else "sft"
    return Job(
        id=tj.name or "",
        provider=PROVIDER,
        status=status,
        provider_status=raw_state,
        base_model=tj.base_model,
        method=method,
        output_model=(tuned.endpoint or tuned.model) if tuned is not None else None,
        created_at=tj.create_time,
        started_at=tj.start_time,
        finished_at=tj.end_time,
        progress=progress,
        trained_tokens=getattr(stats, "total_billable_token_count", None),
        hyperparameters=hyper_dict,
        labels=labels,
        client_ref=labels.get(CLIENT_REF_LABEL),
        error=error,
        provider_details=tj.model_dump(
            mode="json", exclude_none=True, exclude={"sdk_http_response"}
        ),
    )


def _supervised_stats(tj: Any) -> Any:
    stats = tj.tuning_data_stats
    return getattr(stats, "supervised_tuning_data_stats", None) if stats is not None else None


@wire_parser(PROVIDER, "Vertex tuning metrics")
def metrics_from_vertex(tj: Any) -> list[MetricPoint]:
    """What Vertex reports through the API: progress counters and the dataset statistics.

    Vertex has no per-step loss endpoint (the loss curve lives in Vertex Experiments / the
    ``gcsMetricsUri`` files), so this is one point at the latest completed step, or none.
    """
    meta = tj.tuning_job_metadata
    stats = _supervised_stats(tj)
    extra: dict[str, float] = {}
    if stats is not None:
        for name in (
            "tuning_dataset_example_count",
            "total_billable_token_count",
            "total_tuning_character_count",
            "total_truncated_example_count",
            "tuning_step_count",
        ):
            value = getattr(stats, name, None)
            if value is not None:
                extra[name] = float(value)
    step = getattr(meta, "completed_step_count", None) if meta is not None else None
    epoch = getattr(meta, "completed_epoch_count", None) if meta is not None else None
    if step is None and not extra:
        return []
    return [MetricPoint(step=int(step or 0), epoch=float(epoch) if epoch is not None else None,
                        extra=extra)]


def translate_error(exc: BaseException, secrets: Iterable[str | None] = ()) -> BaseException:
    """A google-genai / google-auth / transport exception as our error (anything else unchanged)."""
    import httpx2
    from google.genai import errors as genai_errors

    from ..._http import sent_credentials

    # What the request carried, too: a key the adapter never saw is masked all the same.
    secrets = [*secrets, *sent_credentials(exc)]

    if isinstance(exc, APIError):
        return exc
    if isinstance(exc, genai_errors.APIError):
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or {}
        from ..._http import excerpt, request_id

        # A non-JSON body (a proxy's HTML page) becomes the whole message: masked, then cut.
        message = excerpt(str(exc.message or exc.status or "error"), secrets, limit=500)
        return status_error(
            int(exc.code or 500),
            message,
            provider=PROVIDER,
            request_id=request_id(headers),
            body=redact_body(exc.details, secrets),
            provider_code=exc.status,
            retry_after=parse_retry_after(dict(headers)),
        )
    if isinstance(exc, httpx2.TransportError):
        from ..._http import translate_transport

        return translate_transport(exc, provider=PROVIDER, secrets=secrets)
    if isinstance(exc, json.JSONDecodeError):  # google-genai parses every body as JSON
        return APIResponseValidationError(
            f"the Vertex API answered a body that is not JSON ({exc.msg})", provider=PROVIDER
        )
    import pydantic

    if isinstance(exc, (pydantic.ValidationError, AttributeError, TypeError)):
        # google-genai validates the body into its models (or calls .get on a non-object); a
        # ValidationError quotes the offending values, so they are masked before the cut.
        from ..._http import excerpt

        detail = excerpt(" ".join(str(exc).split()), secrets, limit=200)
        return APIResponseValidationError(
            f"the Vertex API answered a body google-genai cannot read ({type(exc).__name__}:"
            f" {detail})",
            provider=PROVIDER,
        )
    try:
        from google.auth import exceptions as auth_errors
    except ImportError:  # pragma: no cover - google-auth comes with google-genai
        return exc
    if isinstance(exc, auth_errors.DefaultCredentialsError):
        return ConfigurationError(
            "gemini: no Google Cloud credentials found. Run `gcloud auth application-default"
            " login`, set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or pass"
            " credentials=..."
        )
    if isinstance(exc, auth_errors.RefreshError):
        return AuthenticationError(
            redact(f"could not refresh Google credentials: {exc}", secrets), provider=PROVIDER
        )
    return exc


