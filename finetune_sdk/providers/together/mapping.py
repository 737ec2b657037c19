"""Together wire format <-> our types: status map, the intent tag in ``suffix``, job / event /
checkpoint / metric mapping, and the together SDK's exceptions as our error tree.

Pure functions over plain dicts (what the SDK's models dump to with ``by_alias=True``); only
``translate_error`` imports the SDK (lazily), so the rest is tested without a server.

Together has no client-chosen id, labels or metadata on a job. Of what ``GET /v1/fine-tunes``
returns, only ``suffix`` is both set by the caller and listed back (the together SDK's list item
type carries it), so the intent key goes there: ``[<output-name>-]ftsdk-<24 hex>``, 40 characters
at most (the SDK documents "up to 40 character suffix"; the server limit is **uncertain**).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ...errors import APIError, APIResponseValidationError, redact, redact_body, status_error
from ...retry import parse_retry_after
from ...types import Checkpoint, Job, JobEvent, JobFailure, JobSpec, JobStatus, MetricPoint
from .._wire import wire_parser

__all__ = [
    "PROVIDER",
    "STATUS_MAP",
    "SUFFIX_MAX",
    "checkpoint_from_wire",
    "ensure_parsed",
    "event_from_wire",
    "failure_from_events",
    "job_from_wire",
    "metric_points",
    "ref_tag",
    "slug",
    "suffix_for",
    "tag_of",
    "translate_error",
]

PROVIDER = "together"
SUFFIX_MAX = 40
"""Characters Together keeps in ``suffix`` (the SDK's docstring; uncertain on the server)."""

STATUS_MAP: dict[str, JobStatus] = {
    "pending": JobStatus.QUEUED,
    "queued": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    # After training Together still compresses and uploads the model: not done yet.
    "compressing": JobStatus.RUNNING,
    "uploading": JobStatus.RUNNING,
    # The job keeps running until Together stops it; provider_status says why.
    "cancel_requested": JobStatus.RUNNING,
    "cancelled": JobStatus.CANCELLED,
    "error": JobStatus.FAILED,
    "user_error": JobStatus.FAILED,
    "completed": JobStatus.SUCCEEDED,
}

_TAG = re.compile(r"ftsdk-[0-9a-f]{24}")
_LEVELS = {"info": "info", "warning": "warning", "error": "error", "legacy_info": "info",
           "legacy_iwarning": "warning", "legacy_ierror": "error"}
MAX_POLL_HINT = 60.0


def ref_tag(client_ref: str) -> str:
    """The 30-character tag of an intent key: a derived key (``ftsdk-`` + 24 hex) as it is, any
    other ``client_ref`` hashed into the same shape (fixed length, so it is read back exactly)."""
    if _TAG.fullmatch(client_ref):
        return client_ref
    return "ftsdk-" + hashlib.sha256(client_ref.encode()).hexdigest()[:24]


def slug(name: str) -> str:
    """``name`` in the characters a suffix keeps (letters, digits, single dashes)."""
    return re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9-]", "-", name)).strip("-")


def suffix_for(spec: JobSpec) -> str:
    """``suffix``: the output name (cut to what fits) then the intent tag."""
    tag = ref_tag(spec.client_ref)
    room = SUFFIX_MAX - len(tag) - 1
    name = slug(spec.output_name or "")[:room].strip("-")
    return f"{name}-{tag}" if name else tag


def tag_of(suffix: Any) -> str | None:
    """The intent tag at the end of a job's ``suffix`` (None when it carries none)."""
    if not isinstance(suffix, str):
        return None
    tail = suffix[-30:].lower()
    if _TAG.fullmatch(tail) and (len(suffix) == 30 or suffix[-31] == "-"):
        return tail
    return None


def _dt(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def failure_from_events(events: Iterable[dict[str, Any]]) -> str | None:
    """The newest error message in a job's events (Together puts the reason there)."""
    found = None
    for event in events:
        level = str(event.get("level") or "").lower()
        if "error" in level or str(event.get("type") or "").lower() in ("job_error",
                                                                          "job_user_error"):
            found = str(event.get("message") or "") or found
    return found


@wire_parser(PROVIDER, "a Together fine-tuning job")
def job_from_wire(raw: dict[str, Any], *, client_ref: str | None = None) -> Job:
    """A fine-tune object as our Job (unknown status -> UNKNOWN, raw kept).

    The output model name is reported only once the job completed: Together may show it
    earlier (it names the model to come) or only a little after completion.
    """
    status_raw = raw.get("status")
    status = STATUS_MAP.get(status_raw or "", JobStatus.UNKNOWN)
    ttype = raw.get("training_type") or {}
    method = (raw.get("training_method") or {}).get("method")
    hyper = {
        "epochs": raw.get("n_epochs"), "learning_rate": raw.get("learning_rate"),
        "batch_size": raw.get("batch_size"), "warmup_ratio": raw.get("warmup_ratio"),
        "max_seq_length": raw.get("max_seq_length"), "seed": raw.get("random_seed"),
        "lora_rank": ttype.get("lora_r"), "lora_alpha": ttype.get("lora_alpha"),
        "lora_dropout": ttype.get("lora_dropout"),
        "lora_target_modules": ttype.get("lora_trainable_modules"),
        "training_type": ttype.get("type"),
        "beta": (raw.get("training_method") or {}).get("dpo_beta"),
    }
    progress = None
    if status is JobStatus.SUCCEEDED:
        progress = 1.0
    elif status is JobStatus.RUNNING and raw.get("epochs_completed") is not None \
            and raw.get("n_epochs"):
        progress = max(0.0, min(1.0, float(raw["epochs_completed"]) / float(raw["n_epochs"])))
    hint = raw.get("progress") or {}
    poll_after = None
    if hint.get("estimate_available") and (hint.get("seconds_remaining") or 0) > 0:
        poll_after = min(max(float(hint["seconds_remaining"]), 1.0), MAX_POLL_HINT)
    failure = None
    if status is JobStatus.FAILED:
        message = failure_from_events(raw.get("events") or []) or (
            f"Together reports status {status_raw!r} and gave no message")
        failure = JobFailure(message=message, code=status_raw)
    finished = _dt(raw.get("updated_at")) if status.is_terminal else None
    return Job(
        id=raw["id"],
        provider=PROVIDER,
        status=status,
        provider_status=status_raw,
        base_model=raw.get("model"),
        method=method if method in ("sft", "dpo") else None,
        output_model=raw.get("model_output_name") if status is JobStatus.SUCCEEDED else None,
        created_at=_dt(raw.get("created_at")),
        started_at=_dt(raw.get("started_at")),
        finished_at=finished,
        progress=progress,
        trained_tokens=raw.get("token_count") if status is JobStatus.SUCCEEDED else None,
        hyperparameters={k: v for k, v in hyper.items() if v is not None},
        client_ref=client_ref or tag_of(raw.get("suffix")),
        error=failure,
        poll_after=poll_after,
        provider_details=raw,
    )


@wire_parser(PROVIDER, "a Together job event")
def event_from_wire(job_id: str, raw: dict[str, Any]) -> JobEvent:
    """A ``fine-tune-event`` as our JobEvent (step / token counts kept in ``data``)."""
    data = {k: raw[k] for k in ("step", "total_steps", "token_count", "param_count",
                                "checkpoint_path", "wandb_url") if raw.get(k) is not None}
    return JobEvent(
        job_id=job_id,
        id=raw.get("hash"),
        message=str(raw.get("message") or ""),
        created_at=_dt(raw.get("created_at")),
        level=_LEVELS.get(str(raw.get("level") or "info").lower(), "info"),  # type: ignore[arg-type]
        type=raw.get("type"),
        data=data,
    )


@wire_parser(PROVIDER, "a Together checkpoint")
def checkpoint_from_wire(job_id: str, raw: dict[str, Any]) -> Checkpoint:
    """A checkpoint; its id ``<job id>:<step>`` is what ``from_checkpoint`` takes."""
    step = int(raw["step"])
    return Checkpoint(id=f"{job_id}:{step}", job_id=job_id, step=step,
                      model_id=raw.get("object_name"), created_at=_dt(raw.get("created_at")))


# The metric names of GET /fine-tunes/{id}/metrics are not documented (dicts of floats): these
# are the names seen in the SDK's filters (global_step) and common trainer logs (uncertain).
_STEP_KEYS = ("global_step", "step")
_NAMED = {"train_loss": ("train_loss", "loss"), "valid_loss": ("eval_loss", "valid_loss"),
          "learning_rate": ("learning_rate", "lr"), "epoch": ("epoch",)}


@wire_parser(PROVIDER, "Together training metrics")
def metric_points(rows: Iterable[dict[str, Any]]) -> list[MetricPoint]:
    """The ``metrics`` rows as MetricPoints, one per step (later rows fill earlier gaps)."""
    points: dict[int, dict[str, Any]] = {}
    for row in rows:
        step_key = next((k for k in _STEP_KEYS if isinstance(row.get(k), (int, float))), None)
        if step_key is None:
            continue
        step = int(row[step_key])
        point = points.setdefault(step, {"step": step, "extra": {}})
        used = {step_key}
        for field, names in _NAMED.items():
            for name in names:
                if isinstance(row.get(name), (int, float)):
                    point[field] = float(row[name])
                    used.add(name)
                    break
        point["extra"].update({k: float(v) for k, v in row.items()
                               if k not in used and isinstance(v, (int, float))})
    return [MetricPoint(**points[s]) for s in sorted(points)]


def _transport(cause: BaseException, secrets: list[str | None]) -> APIError:
    """A transport failure: never sent (the connection never opened) or ambiguous (anything
    else, a dropped connection included: the server may have acted)."""
    import httpx

    from ...errors import APIConnectionError, APITimeoutError

    detail = redact(f"{type(cause).__name__}: {cause}", secrets)
    if isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return APIConnectionError(f"could not connect ({detail})", provider=PROVIDER)
    return APITimeoutError(f"no complete answer after the request was sent ({detail})",
                           provider=PROVIDER)


def translate_error(exc: BaseException, secrets: Iterable[str | None] = ()) -> BaseException:
    """A together SDK (or raw httpx) exception as our error tree, vendor message kept."""
    import httpx
    import together

    from ..._http import error_message, excerpt, request_id, sent_credentials

    if isinstance(exc, APIError):
        return exc
    secrets = [*secrets, *sent_credentials(exc)]
    if isinstance(exc, together.APIStatusError):
        body = exc.body
        message, code = error_message(body)
        headers = exc.response.headers
        return status_error(
            exc.status_code,
            excerpt(str(message or exc.message), secrets, limit=500),
            provider=PROVIDER,
            request_id=request_id(headers),
            body=redact_body(body, secrets),
            provider_code=code,
            retry_after=parse_retry_after(dict(headers)),
        )
    if isinstance(exc, together.APIConnectionError):  # APITimeoutError included
        cause = exc.__cause__
        return _transport(cause if cause is not None else exc, secrets)
    if isinstance(exc, httpx.TransportError):  # the upload's PUT goes through httpx directly
        return _transport(exc, secrets)
    if isinstance(exc, together.APIResponseValidationError):
        return APIResponseValidationError(redact(str(exc), secrets), provider=PROVIDER)
    from together.lib import FileTypeError

    if isinstance(exc, FileTypeError):  # the SDK's own refusal of a file (size, extension)
        from ...errors import DatasetError

        return DatasetError(f"together: {redact(str(exc), secrets)}")
    if _is_unparsed_body(exc):
        return APIResponseValidationError(
            f"the API answered something that is not the JSON it documents ({type(exc).__name__})",
            provider=PROVIDER)
    return exc


def _is_unparsed_body(exc: BaseException) -> bool:
    """Bad JSON under a JSON content type, or text where the SDK expected an object."""
    import json

    if isinstance(exc, json.JSONDecodeError):
        return True
    return isinstance(exc, AttributeError) and bool(
        re.match(r"'(str|list|dict|int|float|bool|NoneType)' object has no attribute", str(exc)))


def ensure_parsed(result: Any, secrets: Iterable[str | None] = ()) -> Any:
    """The SDK's answer, or APIResponseValidationError when it is raw text or bare JSON (a
    proxy's HTML page with status 200 may echo the Authorization header: the start is masked)."""
    from ..._http import excerpt

    if isinstance(result, str):
        raise APIResponseValidationError(
            f"expected a JSON body, got {excerpt(result, secrets)!r}", provider=PROVIDER)
    if isinstance(result, (list, dict, int, float, bool)):
        raise APIResponseValidationError(
            f"expected a JSON object, got a {type(result).__name__}", provider=PROVIDER)
    return result
