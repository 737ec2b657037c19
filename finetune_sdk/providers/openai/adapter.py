"""OpenAI fine-tuning through the official ``openai`` SDK (imported lazily; extra ``[openai]``).

The SDK's own retries are off (``max_retries=0``): it resends a POST after a dropped connection,
which makes two paid jobs. Reads retry through ``self.retry``; the create is sent once and
``lifecycle.create_job`` finds it again by the ``ftsdk_client_ref`` metadata after an ambiguous
failure. Files above ``single_upload_limit`` go through the Uploads API in parts.

OpenAI stops accepting new jobs on 2027-01-06: preflight warns before, refuses after.
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import SecretStr

from ..._http import call_translated
from ...config import resolve_secret, setting
from ...errors import DatasetError, JobError, PermissionDeniedError, ProviderNotInstalledError
from ...provider import PreflightWarning, Provider
from ...retry import RetryPolicy
from ...types import (
    Capabilities,
    Checkpoint,
    DatasetRef,
    Job,
    JobEvent,
    JobSpec,
    JobStatus,
    MetricPoint,
    ModelRef,
    ProviderOptions,
)
from . import files, mapping, rules
from .files import MAX_FILE_BYTES, MAX_PART_BYTES, MAX_UPLOAD_BYTES

__all__ = ["OpenAIOptions", "OpenAIProvider"]

T = TypeVar("T")

_LORA_FIELDS = ("lora_rank", "lora_alpha", "lora_dropout", "lora_target_modules")


class OpenAIOptions(ProviderOptions):
    """OpenAI-only job settings (``JobSpec.options``)."""

    integrations: list[dict[str, Any]] | None = None
    """E.g. ``[{"type": "wandb", "wandb": {"project": "..."}}]`` (at most 5)."""
    allow_unlisted_model: bool = True
    """False: refuse base models missing from SUPPORTED_BASE_MODELS instead of warning."""


class OpenAIProvider(Provider):
    """OpenAI ``fine_tuning.jobs`` with files / chunked uploads."""

    name: ClassVar[str] = "openai"
    capabilities: ClassVar[Capabilities] = Capabilities(
        methods=frozenset({"sft", "dpo"}),
        hyperparameters=frozenset(
            {"epochs", "batch_size", "learning_rate_multiplier", "beta", "seed"}
        ),
        cancel=True,
        pause_resume=True,
        events=True,
        metrics=True,
        checkpoints=True,
        validation_file=True,
        client_chosen_ids=False,
        hosted=True,
        max_upload_bytes=MAX_UPLOAD_BYTES,
        needs_deployment=False,
        default_poll_interval=15.0,
        new_jobs_until=rules.NEW_JOBS_UNTIL,
    )
    STATUS_MAP: ClassVar[dict[str, JobStatus]] = mapping.STATUS_MAP
    options_type: ClassVar[type[ProviderOptions]] = OpenAIOptions
    SUPPORTED_BASE_MODELS: ClassVar[frozenset[str]] = rules.SUPPORTED_BASE_MODELS

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        http_client: Any = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        single_upload_limit: int = MAX_FILE_BYTES,
        upload_part_size: int = MAX_PART_BYTES,
        file_poll_interval: float = 2.0,
        file_wait_timeout: float = 600.0,
        today: Callable[[], date] = date.today,
    ) -> None:
        """Args:
        api_key: the API key (else OPENAI_API_KEY from the environment or .env).
        base_url: API root (else OPENAI_BASE_URL, else https://api.openai.com/v1).
        organization / project: sent as OpenAI-Organization / OpenAI-Project
            (else OPENAI_ORG_ID / OPENAI_PROJECT_ID).
        http_client: an ``httpx2.Client`` for the SDK (proxies, tests' mock transports).
        single_upload_limit: files above this many bytes use the chunked Uploads API.
        upload_part_size: bytes per part in a chunked upload (at most 64 MiB).
        today: the date source of the sunset check (tests inject one).
        """
        super().__init__(retry=retry)
        if importlib.util.find_spec("openai") is None:
            raise ProviderNotInstalledError(
                'the openai provider needs the openai SDK: pip install "finetune-sdk[openai]"'
            )
        self._api_key = resolve_secret(api_key, "OPENAI_API_KEY", provider=self.name)
        self.base_url = (
            base_url or setting(None, "OPENAI_BASE_URL") or "https://api.openai.com/v1"
        ).rstrip("/")
        self.organization = setting(organization, "OPENAI_ORG_ID")
        self.project = setting(project, "OPENAI_PROJECT_ID")
        self.timeout = timeout
        if not 0 < upload_part_size <= MAX_PART_BYTES:
            raise ValueError(f"upload_part_size must be 1..{MAX_PART_BYTES} bytes")
        self.single_upload_limit = min(single_upload_limit, MAX_FILE_BYTES)
        self.upload_part_size = upload_part_size
        self.file_poll_interval = file_poll_interval
        self.file_wait_timeout = file_wait_timeout
        self.today = today
        self._http_client = http_client
        self._sdk: Any = None

    # -- plumbing -------------------------------------------------------------------------
    def _client(self) -> Any:
        if self._sdk is None:
            import openai

            self._sdk = openai.OpenAI(
                api_key=self._api_key.get_secret_value(),
                base_url=self.base_url,
                organization=self.organization,
                project=self.project,
                http_client=self._http_client,
                timeout=self.timeout,
                max_retries=0,  # our RetryPolicy decides; the SDK would resend creates
            )
        return self._sdk

    def _call(self, fn: Callable[[], T], *, idempotent: bool = True, retry: bool = True) -> T:
        secret = self._api_key.get_secret_value()

        def translated() -> T:
            return call_translated(
                lambda: mapping.ensure_parsed(fn(), [secret]),
                lambda exc: mapping.translate_error(exc, [secret]),
            )

        return self.retry.call(translated, idempotent=idempotent) if retry else translated()

    def close(self) -> None:
        """Close the SDK's connections; an ``http_client`` you passed in stays yours to close."""
        if self._sdk is not None and self._http_client is None:
            self._sdk.close()
        self._sdk = None

    def __repr__(self) -> str:
        return f"OpenAIProvider(name={self.name!r}, base_url={self.base_url!r})"

    # -- datasets -------------------------------------------------------------------------
    def upload_dataset(
        self, path: Path, *, purpose: Literal["train", "validation"] = "train"
    ) -> DatasetRef:
        """Convert to OpenAI's chat/preference JSONL, upload (chunked when large), wait for it."""
        from ...data.convert import wire_file
        from .dataset import write_wire_jsonl

        source = Path(path)
        with wire_file(source, write_wire_jsonl, prefix="openai-wire-") as wire:
            method, count, data = wire.method, wire.examples, wire.data
        client = self._client()
        file_obj = files.upload_file(
            client,
            self._call,
            f"{source.stem}.jsonl",
            data,
            single_limit=self.single_upload_limit,
            part_size=self.upload_part_size,
        )
        file_obj = files.wait_processed(
            client,
            self._call,
            file_obj,
            source,
            poll_interval=self.file_poll_interval,
            timeout=self.file_wait_timeout,
        )
        return DatasetRef(
            id=file_obj["id"],
            provider=self.name,
            uri=f"{self.base_url}/files/{file_obj['id']}",
            filename=source.name,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            num_examples=count,
            kind="preference" if method == "dpo" else "chat",
            provider_details=file_obj,
        )

    # -- preflight ------------------------------------------------------------------------
    def preflight(self, spec: JobSpec) -> list[str]:
        lora = [n for n in _LORA_FIELDS if getattr(spec.hyperparameters, n) is not None]
        if lora and spec.strict:
            raise self.unsupported(
                f"LoRA hyperparameters ({', '.join(lora)})",
                "OpenAI chooses the adapter itself and has no rank/alpha/dropout knob; remove"
                " them, or train on fireworks / gemini / huggingface / local for LoRA control.",
            )
        return super().preflight(spec)

    def check_spec(self, spec: JobSpec) -> list[str]:
        """Sunset, base-model list, ranges, DPO-only beta, metadata limits (see rules.py)."""
        options: OpenAIOptions = self.resolve_options(spec)
        found = rules.check_spec(
            spec,
            today=self.today(),
            supported=self.SUPPORTED_BASE_MODELS,
            allow_unlisted=options.allow_unlisted_model,
        )
        for message in found:
            warnings.warn(message, PreflightWarning, stacklevel=3)
        return found

    # -- jobs -----------------------------------------------------------------------------
    def create_job(self, spec: JobSpec) -> Job:
        """One ``POST /fine_tuning/jobs``; never retried here (see lifecycle.create_job)."""
        options: OpenAIOptions = self.resolve_options(spec)
        training = _file_id(spec.training_file, "training_file")
        validation = (
            _file_id(spec.validation_file, "validation_file") if spec.validation_file else None
        )
        body = mapping.create_body(spec, training, validation)
        if options.integrations:
            body.setdefault("integrations", options.integrations)
        client = self._client()
        known = {
            "model",
            "training_file",
            "validation_file",
            "method",
            "metadata",
            "suffix",
            "seed",
            "integrations",
            "hyperparameters",
        }
        kwargs = {k: v for k, v in body.items() if k in known}
        extra = {k: v for k, v in body.items() if k not in known}
        try:
            job = self._call(
                lambda: client.fine_tuning.jobs.create(**kwargs, extra_body=extra or None),
                retry=False,
            )
        except PermissionDeniedError as exc:  # the wind-down's "training not available"
            raise rules.from_permission_denied(exc) from None
        return mapping.job_from_wire(job.model_dump(mode="json", warnings=False))

    def get_job(self, job_id: str) -> Job:
        """The job; while it runs, ``progress`` comes from its newest metrics event."""
        client = self._client()
        raw = self._call(lambda: client.fine_tuning.jobs.retrieve(job_id))
        job = mapping.job_from_wire(raw.model_dump(mode="json", warnings=False))
        if job.status is JobStatus.RUNNING:
            page = self._call(lambda: client.fine_tuning.jobs.list_events(job_id, limit=10))
            events = mapping.page_items(page)
            progress = mapping.progress_from_events(events)
            if progress is not None:
                job = job.model_copy(update={"progress": progress})
        return job

    def _pages(self, fetch: Callable[[str | None], Any]) -> Iterator[dict[str, Any]]:
        """Walk an ``after``-cursor list, one retried request per page."""
        after: str | None = None
        while True:
            page = self._call(lambda after=after: fetch(after))
            items = mapping.page_items(page)
            yield from items
            if not page.has_more or not items:
                return
            after = items[-1]["id"]

    def list_jobs(
        self, *, limit: int | None = None, metadata: dict[str, str] | None = None
    ) -> Iterator[Job]:
        client = self._client()
        extra: dict[str, Any] = {"metadata": metadata} if metadata else {}

        def fetch(after: str | None) -> Any:
            kwargs: dict[str, Any] = dict(extra)
            if after:
                kwargs["after"] = after
            if limit is not None:
                kwargs["limit"] = min(limit, 100)
            return client.fine_tuning.jobs.list(**kwargs)

        for count, raw in enumerate(self._pages(fetch), 1):
            yield mapping.job_from_wire(raw)
            if limit is not None and count >= limit:
                return

    def find_job(self, client_ref: str) -> Job | None:
        """The job whose metadata carries ``client_ref`` (server-side metadata filter)."""
        for job in self.list_jobs(metadata={mapping.CLIENT_REF_KEY: client_ref}):
            if job.client_ref == client_ref:
                return job
        return None

    def cancel_job(self, job_id: str) -> Job:
        client = self._client()
        job = self._call(lambda: client.fine_tuning.jobs.cancel(job_id))
        return mapping.job_from_wire(job.model_dump(mode="json", warnings=False))

    def pause_job(self, job_id: str) -> Job:
        client = self._client()
        job = self._call(lambda: client.fine_tuning.jobs.pause(job_id))
        return mapping.job_from_wire(job.model_dump(mode="json", warnings=False))

    def resume_job(self, job_id: str) -> Job:
        client = self._client()
        job = self._call(lambda: client.fine_tuning.jobs.resume(job_id))
        return mapping.job_from_wire(job.model_dump(mode="json", warnings=False))

    def list_events(self, job_id: str, *, limit: int | None = None) -> Iterator[JobEvent]:
        """Oldest first (OpenAI pages newest first); ``limit`` keeps the most recent ones."""
        client = self._client()

        def fetch(after: str | None) -> Any:
            kwargs: dict[str, Any] = {"after": after} if after else {}
            return client.fine_tuning.jobs.list_events(job_id, **kwargs)

        newest_first: list[JobEvent] = []
        for raw in self._pages(fetch):
            newest_first.append(mapping.event_from_wire(job_id, raw))
            if limit is not None and len(newest_first) >= limit:
                break
        return iter(reversed(newest_first))

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        client = self._client()

        def fetch(after: str | None) -> Any:
            kwargs: dict[str, Any] = {"after": after} if after else {}
            return client.fine_tuning.jobs.checkpoints.list(job_id, **kwargs)

        found = [mapping.checkpoint_from_wire(raw) for raw in self._pages(fetch)]
        return sorted(found, key=lambda c: c.step or 0)

    def get_metrics(self, job_id: str) -> list[MetricPoint]:
        """Per-step metrics from ``metrics`` events, completed by checkpoint metrics."""
        return mapping.metric_points(self.list_events(job_id), self.list_checkpoints(job_id))

    def resolve_model(self, job: Job) -> ModelRef:
        model = job.output_model or (job.provider_details or {}).get("fine_tuned_model")
        if not model:
            job = self.get_job(job.id)
            model = job.output_model
        if not model:
            raise JobError(f"OpenAI job {job.id} reports no fine_tuned_model yet", job)
        return ModelRef(
            id=model,
            provider=self.name,
            base_model=job.base_model,
            job_id=job.id,
            ready_for_inference=True,
            needs_deployment=False,
            base_url=self.base_url,
            how_to_serve=f"chat.completions.create(model={model!r}) - serverless, no deployment",
        )


def _file_id(ref: Any, field: str) -> str:
    if isinstance(ref, DatasetRef):
        return ref.id
    if isinstance(ref, str) and ref.startswith("file-"):
        return ref
    raise DatasetError(
        f"expected an uploaded OpenAI file (DatasetRef or 'file-...'), got {ref!r};"
        " upload it with client.datasets.upload first",
        field=field,
    )
