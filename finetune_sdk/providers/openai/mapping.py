"""OpenAI wire format <-> our types: status map, job/event/checkpoint mapping, create body, errors.

Pure functions over plain dicts (what the SDK objects dump to), so they are tested without a server.
OpenAI-compatible services (Azure OpenAI, Nebius, ...) share them: ``provider=`` names the service
on the jobs and errors they produce.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ...errors import APIError, APIResponseValidationError, redact, redact_body, status_error
from ...retry import parse_retry_after
from ...types import (
    Checkpoint,
    Job,
    JobEvent,
    JobFailure,
    JobSpec,
    JobStatus,
    Method,
    MetricPoint,
)
from .._wire import wire_parser

__all__ = [
    "CLIENT_REF_KEY",
    "PROVIDER",
    "STATUS_MAP",
    "checkpoint_from_wire",
    "create_body",
    "ensure_parsed",
    "event_from_wire",
    "job_from_wire",
    "metric_points",
    "page_items",
    "parse_as",
    "progress_from_events",
    "translate_error",
]

PROVIDER = "openai"
CLIENT_REF_KEY = "ftsdk_client_ref"
"""The ``metadata`` key that carries our client_ref (``jobs.list(metadata=...)`` finds it)."""

STATUS_MAP: dict[str, JobStatus] = {
    "validating_files": JobStatus.VALIDATING,
    "queued": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "succeeded": JobStatus.SUCCEEDED,
    "failed": JobStatus.FAILED,
    "cancelled": JobStatus.CANCELLED,
    # Not in the published enum although /pause exists: tolerated if the API reports it.
    "paused": JobStatus.PAUSED,
}

_METHOD_TYPES = {"sft": "supervised", "dpo": "dpo"}
_METHODS_BACK: dict[str, Method] = {"supervised": "sft", "dpo": "dpo"}
_LEVELS = {"info": "info", "warn": "warning", "warning": "warning", "error": "error"}


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, (int, float)) else None


def create_body(
    spec: JobSpec, training_file_id: str, validation_file_id: str | None
) -> dict[str, Any]:
    """The ``POST /fine_tuning/jobs`` body: ``method`` object, metadata carrying client_ref."""
    hp = spec.hyperparameters
    method_type = _METHOD_TYPES[spec.method]
    params: dict[str, Any] = {}
    if hp.epochs is not None:
        params["n_epochs"] = hp.epochs
    if hp.batch_size is not None:
        params["batch_size"] = hp.batch_size
    if hp.learning_rate_multiplier is not None:
        params["learning_rate_multiplier"] = hp.learning_rate_multiplier
    if spec.method == "dpo" and hp.beta is not None:
        params["beta"] = hp.beta
    method: dict[str, Any] = {"type": method_type, method_type: {}}
    if params:
        method[method_type]["hyperparameters"] = params
    metadata = {k: v for k, v in spec.labels.items()}
    metadata[CLIENT_REF_KEY] = spec.client_ref
    body: dict[str, Any] = {
        "model": spec.base_model,
        "training_file": training_file_id,
        "method": method,
        "metadata": metadata,
    }
    if validation_file_id:
        body["validation_file"] = validation_file_id
    if spec.output_name:
        body["suffix"] = spec.output_name[:64]
    if hp.seed is not None:
        body["seed"] = hp.seed
    body.update(spec.extra_body)
    return body


def parse_as(service: str, parse: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Run one of these parsers for another OpenAI-compatible service: a shape error names it
    (the parsers themselves say ``openai``)."""
    try:
        return parse(*args, **kwargs)
    except APIResponseValidationError as exc:
        if exc.provider == service:
            raise
        error = APIResponseValidationError(exc.message, provider=service)
    raise error from None  # outside the except: nothing of the vendor body on __context__


@wire_parser(PROVIDER, "an OpenAI fine-tuning job")
def job_from_wire(raw: dict[str, Any], *, provider: str = PROVIDER) -> Job:
    """A ``fine_tuning.job`` object as our Job (unknown status -> UNKNOWN, raw kept)."""
    status_raw = raw.get("status")
    metadata = dict(raw.get("metadata") or {})
    client_ref = metadata.pop(CLIENT_REF_KEY, None)
    method = raw.get("method") or {}
    method_type = method.get("type")
    hyper = (
        dict((method.get(method_type) or {}).get("hyperparameters") or {}) if method_type else {}
    )
    if not hyper:
        hyper = dict(raw.get("hyperparameters") or {})
    error = raw.get("error") or None
    failure = None
    if isinstance(error, dict) and (error.get("message") or error.get("code")):
        failure = JobFailure(
            message=str(error.get("message") or error.get("code")),
            code=error.get("code"),
            param=error.get("param"),
        )
    status = STATUS_MAP.get(status_raw or "", JobStatus.UNKNOWN)
    return Job(
        id=raw["id"],
        provider=provider,
        status=status,
        provider_status=status_raw,
        base_model=raw.get("model"),
        method=_METHODS_BACK.get(method_type or "supervised"),
        output_model=raw.get("fine_tuned_model"),
        created_at=_ts(raw.get("created_at")),
        finished_at=_ts(raw.get("finished_at")),
        progress=1.0 if status is JobStatus.SUCCEEDED else None,
        trained_tokens=raw.get("trained_tokens"),
        hyperparameters={k: v for k, v in hyper.items() if v is not None},
        labels={str(k): str(v) for k, v in metadata.items()},
        client_ref=client_ref,
        error=failure,
        provider_details=raw,
    )


@wire_parser(PROVIDER, "a page of an OpenAI list")
def page_items(page: Any) -> list[dict[str, Any]]:
    """The items of an SDK list page as plain dicts (the SDK builds pages without checking)."""
    data = page.data
    if not isinstance(data, list):
        raise TypeError(f"'data' is a {type(data).__name__}, not a list")
    items = []
    for item in data:
        dumped = item
        if hasattr(item, "model_dump"):
            dumped = item.model_dump(mode="json", warnings=False)
        if not isinstance(dumped, dict):
            raise TypeError(f"a list item is a {type(dumped).__name__}, not an object")
        items.append(dumped)
    return items


@wire_parser(PROVIDER, "OpenAI job events")
def progress_from_events(newest_first: list[dict[str, Any]]) -> float | None:
    """``step / total_steps`` of the newest metrics event (OpenAI puts both in ``data``)."""
    for event in newest_first:
        data = event.get("data") or {}
        step, total = data.get("step"), data.get("total_steps")
        if event.get("type") == "metrics" and isinstance(step, (int, float)) and total:
            return max(0.0, min(1.0, float(step) / float(total)))
    return None


@wire_parser(PROVIDER, "an OpenAI job event")
def event_from_wire(job_id: str, raw: dict[str, Any]) -> JobEvent:
    """A ``fine_tuning.job.event`` as our JobEvent."""
    return JobEvent(
        job_id=job_id,
        id=raw.get("id"),
        message=str(raw.get("message") or ""),
        created_at=_ts(raw.get("created_at")),
        level=_LEVELS.get(str(raw.get("level")), "info"),  # type: ignore[arg-type]
        type=raw.get("type"),
        data=dict(raw.get("data") or {}),
    )


@wire_parser(PROVIDER, "an OpenAI checkpoint")
def checkpoint_from_wire(raw: dict[str, Any]) -> Checkpoint:
    """A ``fine_tuning.job.checkpoint`` as our Checkpoint (its model id is servable)."""
    metrics = {
        k: float(v)
        for k, v in (raw.get("metrics") or {}).items()
        if isinstance(v, (int, float)) and k != "step"
    }
    return Checkpoint(
        id=raw["id"],
        job_id=raw.get("fine_tuning_job_id") or "",
        step=raw.get("step_number"),
        model_id=raw.get("fine_tuned_model_checkpoint"),
        created_at=_ts(raw.get("created_at")),
        metrics=metrics,
    )


_KNOWN_METRICS = {"step", "train_loss", "valid_loss", "full_valid_loss", "learning_rate", "epoch"}


@wire_parser(PROVIDER, "OpenAI metrics")
def metric_points(
    events: Iterable[JobEvent], checkpoints: Iterable[Checkpoint] = ()
) -> list[MetricPoint]:
    """Loss curve from ``metrics`` events, filled in with checkpoint metrics; sorted by step."""
    points: dict[int, MetricPoint] = {}
    for event in events:
        data = event.data
        if event.type != "metrics" or not isinstance(data.get("step"), (int, float)):
            continue
        step = int(data["step"])
        points[step] = MetricPoint(
            step=step,
            epoch=data.get("epoch"),
            train_loss=data.get("train_loss"),
            valid_loss=data.get("valid_loss", data.get("full_valid_loss")),
            learning_rate=data.get("learning_rate"),
            at=event.created_at,
            extra={
                k: float(v)
                for k, v in data.items()
                if k not in _KNOWN_METRICS and isinstance(v, (int, float))
            },
        )
    for ckpt in checkpoints:
        if ckpt.step is None or ckpt.step in points:
            continue
        m = ckpt.metrics
        points[ckpt.step] = MetricPoint(
            step=ckpt.step,
            train_loss=m.get("train_loss"),
            valid_loss=m.get("valid_loss", m.get("full_valid_loss")),
            at=ckpt.created_at,
            extra={k: v for k, v in m.items() if k not in _KNOWN_METRICS},
        )
    return [points[s] for s in sorted(points)]


def translate_error(
    exc: BaseException, secrets: Iterable[str | None] = (), *, provider: str = PROVIDER
) -> BaseException:
    """An ``openai`` SDK exception as our error tree, vendor message and request id kept."""
    import openai

    from ..._http import excerpt, request_id, sent_credentials, translate_transport

    if isinstance(exc, APIError):
        return exc
    # What the request carried, too: a key the adapter never saw is masked all the same.
    secrets = [*secrets, *sent_credentials(exc)]
    if isinstance(exc, openai.APIStatusError):
        body = exc.body
        message = exc.message
        if isinstance(body, dict) and body.get("message"):
            message = str(body["message"])
        headers = exc.response.headers
        return status_error(
            exc.status_code,
            # A non-JSON body (a proxy's HTML page) is the whole message: masked, then cut.
            excerpt(str(message), secrets, limit=500),
            provider=provider,
            request_id=exc.request_id or request_id(headers),
            body=redact_body(body, secrets),
            provider_code=exc.code,
            retry_after=parse_retry_after(dict(headers)),
        )
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        if isinstance(exc, openai.APITimeoutError) and not isinstance(cause, Exception):
            return translate_transport(
                TimeoutError(exc.message), provider=provider, secrets=secrets
            )
        return translate_transport(
            cause if isinstance(cause, Exception) else exc, provider=provider, secrets=secrets
        )
    if isinstance(exc, openai.APIResponseValidationError):
        from ...errors import APIResponseValidationError

        return APIResponseValidationError(redact(str(exc), secrets), provider=provider)
    if _is_unparsed_body(exc):
        from ...errors import APIResponseValidationError

        return APIResponseValidationError(
            f"the API answered something that is not the JSON it documents ({type(exc).__name__})",
            provider=provider,
        )
    return exc


def _is_unparsed_body(exc: BaseException) -> bool:
    """A body the SDK could not parse: bad JSON under a JSON content type (JSONDecodeError), or
    a non-JSON content type, for which the SDK hands back the text and then fails on it."""
    import json

    if isinstance(exc, json.JSONDecodeError):
        return True
    return isinstance(exc, AttributeError) and bool(
        re.match(r"'(str|list|dict|int|float|bool|NoneType)' object has no attribute", str(exc))
    )


def ensure_parsed(
    result: Any, secrets: Iterable[str | None] = (), *, provider: str = PROVIDER
) -> Any:
    """The SDK's answer, or APIResponseValidationError when it is raw text instead of a model
    (the server sent a non-JSON body, e.g. a proxy's HTML error page with status 200, which
    may echo the request's Authorization header: the quoted start is masked)."""
    if isinstance(result, str):
        from ..._http import excerpt
        from ...errors import APIResponseValidationError

        raise APIResponseValidationError(
            f"expected a JSON body, got {excerpt(result, secrets)!r}", provider=provider
        )
    if isinstance(result, (list, dict, int, float, bool)):  # JSON, but not an object
        from ...errors import APIResponseValidationError

        raise APIResponseValidationError(
            f"expected a JSON object, got a {type(result).__name__}", provider=provider
        )
    return result


