"""Public data types: what goes into a job (JobSpec) and what comes back (Job, ModelRef, ...).

Request types forbid unknown fields so a typo fails loudly; response types are frozen and keep
the vendor's raw payload in ``provider_details``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from .errors import JobCancelledError, JobFailedError

__all__ = [
    "Capabilities",
    "Checkpoint",
    "CostEstimate",
    "DatasetRef",
    "Hyperparameters",
    "Job",
    "JobEvent",
    "JobFailure",
    "JobSpec",
    "JobStatus",
    "MetricPoint",
    "Method",
    "ModelRef",
    "ProviderOptions",
    "TERMINAL_STATUSES",
]

Method = Literal["sft", "dpo"]


class JobStatus(str, Enum):  # noqa: UP042 - values live in ledgers: no behaviour change
    """The provider-neutral lifecycle of a job. Vendor strings map here; unknown ones to UNKNOWN."""

    VALIDATING = "validating"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """True once the job can no longer change (succeeded, failed or cancelled)."""
        return self in TERMINAL_STATUSES

    def __str__(self) -> str:
        return self.value


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ProviderOptions(_Request):
    """Base class of the typed per-vendor options (``OpenAIOptions``, ``LocalOptions``, ...)."""


class Hyperparameters(_Request):
    """Training knobs shared by every provider. ``None`` means "the provider's default".

    An adapter refuses a field it cannot honour (``UnsupportedFeatureError``) before anything is
    uploaded, unless the spec says ``strict=False``.
    """

    epochs: int | None = Field(None, ge=1)
    learning_rate: float | None = Field(None, gt=0)
    """Absolute learning rate (Fireworks, Hugging Face, local)."""
    learning_rate_multiplier: float | None = Field(None, gt=0)
    """Relative to the vendor's default (OpenAI, Vertex)."""
    batch_size: int | None = Field(None, ge=1)
    lora_rank: int | None = Field(None, ge=1)
    lora_alpha: int | None = Field(None, ge=1)
    lora_dropout: float | None = Field(None, ge=0, lt=1)
    lora_target_modules: list[str] | None = None
    warmup_ratio: float | None = Field(None, ge=0, lt=1)
    max_seq_length: int | None = Field(None, ge=8)
    beta: float | None = Field(None, gt=0)
    """DPO temperature."""
    seed: int | None = None

    def set_fields(self) -> dict[str, Any]:
        """The fields the caller actually set (not ``None``)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class DatasetRef(_Response):
    """A dataset the provider can train on (an uploaded file, a bucket URI, a Hub repo...)."""

    id: str
    provider: str
    uri: str | None = None
    filename: str | None = None
    bytes: int | None = None
    sha256: str | None = None
    num_examples: int | None = None
    kind: Literal["chat", "preference"] = "chat"
    status: Literal["processing", "ready", "failed"] = "ready"
    """``processing`` until the vendor has checked the file (``client.datasets.wait`` polls it);
    ``failed`` when it rejected it, with the vendor's reason in ``error``."""
    error: str | None = None
    provider_details: dict[str, Any] = Field(default_factory=dict)


class JobSpec(_Request):
    """Everything needed to start one fine-tuning job, in provider-neutral terms."""

    base_model: str
    training_file: DatasetRef | Path | str
    """A local JSONL path (uploaded for you) or a DatasetRef from ``client.datasets.upload``."""
    validation_file: DatasetRef | Path | str | None = None
    method: Method = "sft"
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    output_name: str | None = None
    """Becomes the suffix / output model id / display name / Hub repo name."""
    labels: dict[str, str] = Field(default_factory=dict)
    client_ref: str = Field(default_factory=lambda: "ftsdk-" + uuid.uuid4().hex[:20])
    """Dedupe key: one intent, at most one vendor job. Pass your own to make re-runs idempotent."""
    options: ProviderOptions | dict[str, Any] | None = None
    """Typed per-vendor options (e.g. ``FireworksOptions``) or a plain dict of them."""
    extra_body: dict[str, Any] = Field(default_factory=dict)
    """Raw fields merged into the vendor's create request (escape hatch)."""
    strict: bool = True
    """When False, unsupported hyperparameters become warnings instead of errors."""
    max_usd: float | None = Field(None, gt=0)
    """Refuse to launch when the cost estimate's upper bound is above this."""
    allow_sensitive: bool = False
    """Allow uploading a dataset marked sensitive without scrubbing (hosted providers)."""
    _prepared_for: str | None = PrivateAttr(default=None)
    """The provider whose ``prepare`` checked this spec and typed its options (model_copy keeps
    it): later steps take the spec as it is and never check or parse again."""
    _warnings: tuple[str, ...] = PrivateAttr(default=())
    _typed_options: tuple[Any, Any] | None = PrivateAttr(default=None)
    """(the ``options`` object as given, its typed model): ``options`` itself is kept as the
    caller wrote it, so the ledger, the intent key and ``spec_hash`` see what was asked."""

    @property
    def preflight_warnings(self) -> tuple[str, ...]:
        """What ``Provider.prepare`` warned about (empty before it ran)."""
        return self._warnings

    @field_validator("client_ref")
    @classmethod
    def _client_ref_shape(cls, value: str) -> str:
        if not value or len(value) > 63 or not all(c.isalnum() or c in "-_" for c in value):
            raise ValueError("client_ref must be 1-63 characters of letters, digits, '-' or '_'")
        return value

    def spec_hash(self) -> str:
        """A stable hash of what would be trained (not of client_ref)."""
        data = self.model_dump(mode="json", exclude={"client_ref"}, serialize_as_any=True)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class JobFailure(_Response):
    """Why a job failed, as the vendor said it."""

    message: str
    code: str | None = None
    param: str | None = None


class Job(_Response):
    """A fine-tuning job as the provider reports it, in provider-neutral terms."""

    id: str
    provider: str
    status: JobStatus
    provider_status: str | None = None
    """The vendor's raw status string."""
    base_model: str | None = None
    method: Method | None = None
    output_model: str | None = None
    """The servable model id once the job succeeded (see ``client.models.resolve``)."""
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: float | None = Field(None, ge=0, le=1)
    trained_tokens: int | None = None
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    client_ref: str | None = None
    error: JobFailure | None = None
    poll_after: float | None = None
    """Server hint: seconds until the next poll is worth making."""
    provider_details: dict[str, Any] = Field(default_factory=dict, repr=False)

    def _repr_html_(self) -> str:
        from .display import html_table

        rows = [
            ("status", f"{self.status.value} ({self.provider_status})"),
            ("base model", self.base_model),
            ("model", self.output_model),
            ("progress", f"{self.progress:.0%}" if self.progress is not None else None),
            ("trained tokens", self.trained_tokens),
            ("error", self.error.message if self.error else None),
            ("client_ref", self.client_ref),
        ]
        shown = [r for r in rows if r[1] is not None]
        return html_table(shown, title=f"{self.provider} job {self.id}")

    def raise_for_status(self) -> Job:
        """Raise JobFailedError / JobCancelledError for those outcomes; otherwise return self."""
        if self.status is JobStatus.FAILED:
            reason = self.error.message if self.error else "no reason given"
            raise JobFailedError(f"{self.provider} job {self.id} failed: {reason}", self)
        if self.status is JobStatus.CANCELLED:
            raise JobCancelledError(f"{self.provider} job {self.id} was cancelled", self)
        return self


class JobEvent(_Response):
    """One line of a job's event log."""

    job_id: str
    message: str
    id: str | None = None
    created_at: datetime | None = None
    level: Literal["debug", "info", "warning", "error"] = "info"
    type: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class MetricPoint(_Response):
    """Training metrics at one step."""

    step: int
    epoch: float | None = None
    train_loss: float | None = None
    valid_loss: float | None = None
    learning_rate: float | None = None
    tokens_per_second: float | None = None
    at: datetime | None = None
    extra: dict[str, float] = Field(default_factory=dict)


class Checkpoint(_Response):
    """An intermediate model saved during training."""

    id: str
    job_id: str
    step: int | None = None
    model_id: str | None = None
    created_at: datetime | None = None
    metrics: dict[str, float] = Field(default_factory=dict)


class ModelRef(_Response):
    """The fine-tuned model, and whether it can be called yet.

    "Job succeeded" is not "servable": Fireworks needs a deployment, Vertex an endpoint.
    """

    id: str
    """The string you pass to inference (``ft:...``, ``accounts/a/models/m``, ``user/repo``...)."""
    provider: str
    base_model: str | None = None
    job_id: str | None = None
    ready_for_inference: bool = True
    needs_deployment: bool = False
    endpoint: str | None = None
    base_url: str | None = None
    how_to_serve: str | None = None
    provider_details: dict[str, Any] = Field(default_factory=dict, repr=False)

    def _repr_html_(self) -> str:
        from .display import html_table

        rows = [("id", self.id), ("base model", self.base_model), ("job", self.job_id),
                ("ready for inference", self.ready_for_inference), ("endpoint", self.endpoint),
                ("how to serve", self.how_to_serve)]
        return html_table([r for r in rows if r[1] is not None], title=f"{self.provider} model")


class Capabilities(_Response):
    """What a provider can do, as data: preflight, the CLI matrix and the docs read it."""

    methods: frozenset[str] = frozenset({"sft"})
    hyperparameters: frozenset[str] = frozenset()
    """Names of Hyperparameters fields the provider honours."""
    cancel: bool = True
    pause_resume: bool = False
    events: bool = True
    metrics: bool = False
    checkpoints: bool = False
    validation_file: bool = True
    client_chosen_ids: bool = False
    hosted: bool = True
    """False for the local provider: data never leaves the machine."""
    max_upload_bytes: int | None = None
    needs_deployment: bool = False
    default_poll_interval: float = 10.0
    new_jobs_until: date | None = None
    """Last day the vendor accepts new fine-tuning jobs (a sunset), when announced."""


class CostEstimate(_Response):
    """What a job will likely cost, with the assumptions behind the numbers."""

    provider: str
    base_model: str
    tokens: int
    """Training tokens in one pass over the dataset."""
    epochs: int
    billed_tokens: int
    usd_low: float
    usd_high: float
    duration_s_low: float | None = None
    duration_s_high: float | None = None
    price_source: str | None = None
    price_date: date | None = None
    assumptions: list[str] = Field(default_factory=list)


def describe_validation_error(exc: Any, what: str,
                              names: dict[tuple[str, ...], set[str]]) -> str:
    """A pydantic ``ValidationError`` as one line: each problem by field path, and for an
    unknown field the closest known name (``names`` maps a path prefix to the fields there)."""
    import difflib

    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or what
        if error["type"] == "extra_forbidden":
            known = names.get(tuple(str(p) for p in error["loc"][:-1]), set())
            close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
            problems.append(f"{where}: unknown field"
                            + (f" (did you mean {close[0]!r}?)" if close else ""))
        elif error["type"] == "missing":
            problems.append(f"{where}: required")
        else:
            problems.append(f"{where}: {error['msg']} (got {error.get('input')!r:.60})")
    return f"invalid {what}: " + "; ".join(problems)
