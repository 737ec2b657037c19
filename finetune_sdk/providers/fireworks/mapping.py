"""Fireworks wire format <-> our types: JOB_STATE_* map, ids, base-model names, create body,
job mapping, and the "output model already exists" error.

Pure functions over the REST JSON (camelCase), tested without a server.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from datetime import datetime
from typing import Any

from ...errors import APIStatusError, ConfigurationError, DatasetError, status_error
from ...types import Job, JobFailure, JobSpec, JobStatus
from .._wire import wire_parser

__all__ = [
    "PROVIDER",
    "STATUS_MAP",
    "create_body",
    "dataset_id_for",
    "is_already_exists",
    "job_from_wire",
    "job_id_for",
    "output_model_for",
    "output_model_taken",
    "resolve_base_model",
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


_MODEL_NAME = re.compile(r"^accounts/[^/]+/models/[^/#]+$")
EXAMPLE_BASE = "accounts/fireworks/models/gpt-oss-20b"


def resolve_base_model(base_model: str) -> str:
    """The resource name Fireworks takes for ``base_model`` (``accounts/<a>/models/<m>``).

    Users write short names (``gpt-oss-20b``) or Hugging Face ids (``openai/gpt-oss-20b``); the
    API takes neither and says so only at job create, after the upload. A name the catalog lists
    (id or alias, any case) becomes its id; anything else is refused here, in preflight.
    """
    if base_model.startswith("accounts/"):
        if _MODEL_NAME.match(base_model):
            return base_model
        raise ConfigurationError(
            f"fireworks: base model {base_model!r} is not a model name; Fireworks names models"
            f" accounts/<account>/models/<model>, e.g. {EXAMPLE_BASE}")
    from ...facts import load_facts

    facts = load_facts(PROVIDER)
    models = facts.models if facts is not None else ()
    wanted = base_model.strip().lower()
    for model in models:
        if wanted in (name.lower() for name in (model.id, *model.aliases)):
            return model.id
    # Suggest by the part after the org: 'meta-llama/Llama-3.1-8B' is near 'llama-3.1-8b-instruct'.
    short = {name.rsplit("/", 1)[-1].lower(): model.id
             for model in models for name in (model.id, *model.aliases)}
    close = difflib.get_close_matches(wanted.rsplit("/", 1)[-1], list(short), n=1, cutoff=0.6)
    hint = f" Did you mean {short[close[0]]}?" if close else ""
    what = ("a Hugging Face id, and the catalog lists no Fireworks model for it" if "/" in wanted
            else "not a Fireworks model name, and the catalog does not list it")
    raise ConfigurationError(
        f"fireworks: base model {base_model!r} is {what}. Fireworks names models"
        f" accounts/<account>/models/<model>, e.g. {EXAMPLE_BASE} (the Fireworks model library"
        f" shows each model's name; `finetune models --tunable -p fireworks` lists the ones this"
        f" SDK knows).{hint} Nothing was uploaded.")


def output_model_for(spec: JobSpec, account: str) -> str:
    """The model a job for ``spec`` writes: its output name, else the job id (the default)."""
    short = job_id_for(spec.output_name) if spec.output_name else job_id_for(spec.client_ref)
    return f"accounts/{account}/models/{short}"


def output_model_taken(exc: APIStatusError, spec: JobSpec, account: str) -> APIStatusError:
    """The create's "already exists", once no job of ours holds the id: the output model is
    another job's. Same status and class as the vendor's answer (a final failure, never a
    retry), with a message that names the model and the way out."""
    model = output_model_for(spec, account)
    short = model.rsplit("/", 1)[-1]
    if spec.output_name:
        what = f"output_name={spec.output_name!r}"
        fix = f"Pick another output_name (e.g. {short}-v2)"
    else:
        what, fix = "no output_name: the job id names it", "Pass an output_name"
    said = exc.message.removeprefix(f"HTTP {exc.status_code}: ")
    return status_error(
        exc.status_code,
        f"the output model {model} already exists ({what}) and Fireworks never overwrites a"
        f" model, so no job was created. {fix} (`finetune train --suffix`), or delete the old"
        f" model first (`firectl delete model {short}`); the uploaded dataset is kept and"
        f" reused. Fireworks said: {said}",
        provider=PROVIDER, request_id=exc.request_id, body=exc.body,
        provider_code=exc.provider_code)


def is_already_exists(exc: APIStatusError) -> bool:
    """A create refused because a name is taken: 409, or a 400 that says so."""
    text = f"{exc.provider_code or ''} {exc.message}".lower()
    return exc.status_code == 409 or (exc.status_code == 400 and (
        "already exist" in text or "already_exists" in text))


def dataset_id_for(wire_bytes: bytes) -> str:
    """A dataset id from the converted file's content: re-running an upload reuses it."""
    return "ftsdk-" + hashlib.sha256(wire_bytes).hexdigest()[:24]


def create_body(spec: JobSpec, *, account: str, options: Any) -> dict[str, Any]:
    """The ``supervisedFineTuningJobs`` create body (camelCase) for ``spec``."""
    hp = spec.hyperparameters
    body: dict[str, Any] = {
        "baseModel": resolve_base_model(spec.base_model),
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


