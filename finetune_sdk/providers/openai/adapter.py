"""OpenAI fine-tuning through the official ``openai`` SDK (imported lazily; extra ``[openai]``).

The SDK's own retries are off (``max_retries=0``): it resends a POST after a dropped connection,
which makes two paid jobs. Reads retry through ``self.retry``; the create is sent once and
``lifecycle.create_job`` finds it again by the ``ftsdk_client_ref`` metadata after an ambiguous
failure. Files above ``single_upload_limit`` go through the Uploads API in parts.

OpenAI stops accepting new jobs on 2027-01-06: preflight warns before, refuses after.

Every vendor fact comes from the class's ``profile`` (``profile.py``): a subclass with another
profile is an OpenAI-compatible service (``providers/openai_compatible``: Azure OpenAI, Nebius,
any server speaking this API), with its own keys, base URL, limits, catalog and no OpenAI sunset.
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import SecretStr

from ..._http import call_translated
from ...config import resolve_secret, setting
from ...errors import (
    ConfigurationError,
    DatasetError,
    JobError,
    PermissionDeniedError,
    ProviderNotInstalledError,
)
from ...provider import PreflightWarning, Provider
from ...retry import RetryPolicy
from ...types import (
    Capabilities,
    DatasetRef,
    Job,
    JobSpec,
    JobStatus,
    ModelRef,
    ProviderOptions,
)
from . import files, mapping, rules
from .files import MAX_FILE_BYTES, MAX_PART_BYTES
from .profile import OPENAI, Profile
from .reads import OpenAIReads

__all__ = ["OpenAIOptions", "OpenAIProvider"]

T = TypeVar("T")

_LORA_FIELDS = ("lora_rank", "lora_alpha", "lora_dropout", "lora_target_modules")
_SDK_CREATE_ARGS = frozenset({"model", "training_file", "validation_file", "method", "metadata",
                              "suffix", "seed", "integrations", "hyperparameters"})
"""Body fields ``jobs.create`` takes as arguments; the rest travel in ``extra_body``."""


class OpenAIOptions(ProviderOptions):
    """OpenAI-only job settings (``JobSpec.options``)."""

    integrations: list[dict[str, Any]] | None = None
    """E.g. ``[{"type": "wandb", "wandb": {"project": "..."}}]`` (at most 5)."""
    allow_unlisted_model: bool = True
    """False: refuse base models missing from SUPPORTED_BASE_MODELS instead of warning."""


class OpenAIProvider(OpenAIReads, Provider):
    """OpenAI ``fine_tuning.jobs`` with files / chunked uploads (the reads: ``reads.py``)."""

    profile: ClassVar[Profile] = OPENAI
    """The service's facts; a subclass setting another one gets its name and capabilities."""
    name: ClassVar[str] = OPENAI.name
    capabilities: ClassVar[Capabilities] = OPENAI.capabilities
    STATUS_MAP: ClassVar[dict[str, JobStatus]] = mapping.STATUS_MAP
    options_type: ClassVar[type[ProviderOptions]] = OpenAIOptions
    SUPPORTED_BASE_MODELS: ClassVar[frozenset[str] | None] = rules.SUPPORTED_BASE_MODELS
    """None: the profile's catalog (subclasses)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "profile" in cls.__dict__:  # one source of truth: the profile
            cls.name = cls.profile.name
            cls.capabilities = cls.profile.capabilities
            if "SUPPORTED_BASE_MODELS" not in cls.__dict__:
                cls.SUPPORTED_BASE_MODELS = None

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
        api_key: the API key (else OPENAI_API_KEY from the environment or .env; a profile
            names its own variable).
        base_url: API root (else OPENAI_BASE_URL, else https://api.openai.com/v1).
        organization / project: sent as OpenAI-Organization / OpenAI-Project
            (else OPENAI_ORG_ID / OPENAI_PROJECT_ID); OpenAI only.
        http_client: an ``httpx2.Client`` for the SDK (proxies, tests' mock transports).
        single_upload_limit: files above this many bytes use the chunked Uploads API.
        upload_part_size: bytes per part in a chunked upload (at most 64 MiB).
        today: the date source of the sunset check (tests inject one).
        """
        super().__init__(retry=retry)
        profile = self.profile
        if importlib.util.find_spec("openai") is None:
            raise ProviderNotInstalledError(
                f"the {self.name} provider needs the openai SDK:"
                ' pip install "finetune-sdk[openai]"'
            )
        if (organization or project) and not (profile.org_env or profile.project_env):
            raise ConfigurationError(
                f"{self.name}: organization/project are OpenAI's headers; this service takes none"
            )
        self._api_key = resolve_secret(api_key, *profile.key_env, provider=self.name)
        self.base_url = profile.resolve_base_url(base_url)
        self.organization = setting(organization, *profile.org_env) if profile.org_env else None
        self.project = setting(project, *profile.project_env) if profile.project_env else None
        self.timeout = timeout
        if not 0 < upload_part_size <= MAX_PART_BYTES:
            raise ValueError(f"upload_part_size must be 1..{MAX_PART_BYTES} bytes")
        most = profile.limits.max_file_bytes
        # Without the Uploads API every file is one POST /files, whatever the caller asked.
        chunked = profile.limits.chunked_uploads
        self.single_upload_limit = min(single_upload_limit, most) if chunked else most
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

            sdk = openai.OpenAI(
                api_key=self._api_key.get_secret_value(),
                base_url=self.base_url,
                organization=self.organization,
                project=self.project,
                http_client=self._http_client,
                timeout=self.timeout,
                max_retries=0,  # our RetryPolicy decides; the SDK would resend creates
            )
            if not self.profile.org_env:
                # The SDK fills these from OPENAI_ORG_ID / OPENAI_PROJECT_ID / OPENAI_ADMIN_KEY
                # by itself: none of them is for another vendor's server.
                sdk.organization = sdk.project = sdk.admin_api_key = None
            self._sdk = sdk
        return self._sdk

    def _call(self, fn: Callable[[], T], *, idempotent: bool = True, retry: bool = True) -> T:
        secret = self._api_key.get_secret_value()
        name = self.name

        def translated() -> T:
            return call_translated(
                lambda: mapping.ensure_parsed(fn(), [secret], provider=name),
                lambda exc: mapping.translate_error(exc, [secret], provider=name),
            )

        return self.retry.call(translated, idempotent=idempotent) if retry else translated()

    def _wire(self, parse: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return mapping.parse_as(self.name, parse, *args, **kwargs)

    def _job(self, raw: Any) -> Job:
        data = raw if isinstance(raw, dict) else raw.model_dump(mode="json", warnings=False)
        return self._wire(mapping.job_from_wire, data, provider=self.name)

    def close(self) -> None:
        """Close the SDK's connections; an ``http_client`` you passed in stays yours to close."""
        if self._sdk is not None and self._http_client is None:
            self._sdk.close()
        self._sdk = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, base_url={self.base_url!r})"

    # -- datasets -------------------------------------------------------------------------
    def upload_dataset(
        self, path: Path, *, purpose: Literal["train", "validation"] = "train", wait: bool = True
    ) -> DatasetRef:
        """Convert to OpenAI's chat/preference JSONL, upload (chunked when large).

        The ref is ``processing`` until OpenAI has checked the file: ``wait=False`` returns it so
        (the client polls ``get_dataset``); ``wait=True``, for direct callers, hands it to
        ``lifecycle.wait_for_dataset`` (a rejected file is deleted and raised as DatasetError).
        """
        import importlib

        from ...data.convert import wire_file

        wire_module = importlib.import_module(self.profile.wire_module)
        source = Path(path)
        with wire_file(source, wire_module.write_wire_jsonl, prefix=f"{self.name}-wire-") as wire:
            method, count, data = wire.method, wire.examples, wire.data
        self.profile.limits.check_upload(len(data), self.profile.display_name, source)
        client = self._client()
        file_obj = files.upload_file(
            client,
            self._call,
            f"{source.stem}.jsonl",
            data,
            single_limit=self.single_upload_limit,
            part_size=self.upload_part_size,
        )
        ref = files.with_state(DatasetRef(
            id=file_obj["id"],
            provider=self.name,
            uri=f"{self.base_url}/files/{file_obj['id']}",
            filename=source.name,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            num_examples=count,
            kind="preference" if method == "dpo" else "chat",
        ), file_obj)
        if not wait:
            return ref
        from ...lifecycle import wait_for_dataset

        return wait_for_dataset(self, ref)

    def get_dataset(self, ref: DatasetRef) -> DatasetRef:
        """``ref`` as OpenAI reports the file now: one read, no waiting (the lifecycle polls)."""
        client = self._client()
        raw = self._call(lambda: client.files.retrieve(ref.id))
        return files.with_state(ref, raw.model_dump(mode="json"))

    def discard_dataset(self, ref: DatasetRef) -> None:
        """Delete a file that will never train (rejected, or unreadable): it is billed storage."""
        files.delete_file(self._client(), self._call, ref.id)

    def download_file(self, file_id: str) -> bytes:
        """The bytes of an uploaded file (``GET /files/{id}/content``): what a job trained on,
        for ``finetune migrate``. A read, retried like every read."""
        client = self._client()
        return bytes(self._call(lambda: client.files.content(file_id).content))

    # Provider declares these two as plain attributes; here they are the constructor's
    # ``file_*`` arguments under the lifecycle's names, settable like the base's.
    @property
    def dataset_poll_interval(self) -> float:
        """The lifecycle's dataset wait reads these two (``file_*`` in the constructor)."""
        return self.file_poll_interval

    @dataset_poll_interval.setter
    def dataset_poll_interval(self, seconds: float) -> None:
        self.file_poll_interval = seconds

    @property
    def dataset_wait_timeout(self) -> float:
        return self.file_wait_timeout

    @dataset_wait_timeout.setter
    def dataset_wait_timeout(self, seconds: float) -> None:
        self.file_wait_timeout = seconds

    # -- preflight ------------------------------------------------------------------------
    def preflight(self, spec: JobSpec) -> list[str]:
        lora = [n for n in _LORA_FIELDS if getattr(spec.hyperparameters, n) is not None]
        if lora and spec.strict:
            raise self.unsupported(
                f"LoRA hyperparameters ({', '.join(lora)})", self.profile.lora_hint or None
            )
        return super().preflight(spec)

    def check_spec(self, spec: JobSpec) -> list[str]:
        """Sunset, base-model list, ranges, DPO-only beta, metadata limits (see rules.py)."""
        options = self.resolve_options(spec)
        found = rules.check_spec(
            spec,
            today=self.today(),
            supported=self.SUPPORTED_BASE_MODELS,
            allow_unlisted=getattr(options, "allow_unlisted_model", True),
            profile=self.profile,
        )
        for message in found:
            warnings.warn(message, PreflightWarning, stacklevel=3)
        return found

    # -- jobs -----------------------------------------------------------------------------
    def create_job(self, spec: JobSpec) -> Job:
        """One ``POST /fine_tuning/jobs``; never retried here (see lifecycle.create_job)."""
        options = self.resolve_options(spec)
        shown = self.profile.display_name
        training = _file_id(spec.training_file, "training_file", shown)
        validation = (
            _file_id(spec.validation_file, "validation_file", shown)
            if spec.validation_file
            else None
        )
        body = mapping.create_body(spec, training, validation)
        for key, value in self.option_fields(options).items():
            body.setdefault(key, value)  # an explicit extra_body wins
        client = self._client()
        kwargs = {k: v for k, v in body.items() if k in _SDK_CREATE_ARGS}
        extra = {k: v for k, v in body.items() if k not in _SDK_CREATE_ARGS}
        try:
            job = self._call(
                lambda: client.fine_tuning.jobs.create(**kwargs, extra_body=extra or None),
                retry=False,
            )
        except PermissionDeniedError as exc:  # the wind-down's "training not available"
            if not self.profile.openai_wind_down:
                raise
            raise rules.from_permission_denied(exc) from None
        return self._job(job)

    def option_fields(self, options: Any) -> dict[str, Any]:
        """Create-body fields from the typed options (OpenAI: ``integrations``)."""
        integrations = getattr(options, "integrations", None)
        return {"integrations": integrations} if integrations else {}

    def cancel_job(self, job_id: str) -> Job:
        client = self._client()
        job = self._call(lambda: client.fine_tuning.jobs.cancel(job_id))
        return self._job(job)

    def pause_job(self, job_id: str) -> Job:
        client = self._client()
        if not self.capabilities.pause_resume:
            raise self.unsupported("pause/resume")
        job = self._call(lambda: client.fine_tuning.jobs.pause(job_id))
        return self._job(job)

    def resume_job(self, job_id: str) -> Job:
        client = self._client()
        if not self.capabilities.pause_resume:
            raise self.unsupported("pause/resume")
        job = self._call(lambda: client.fine_tuning.jobs.resume(job_id))
        return self._job(job)

    def resolve_model(self, job: Job) -> ModelRef:
        model = job.output_model or (job.provider_details or {}).get("fine_tuned_model")
        if not model:
            job = self.get_job(job.id)
            model = job.output_model
        if not model:
            raise JobError(
                f"{self.profile.display_name} job {job.id} reports no fine_tuned_model yet", job
            )
        deploy = self.capabilities.needs_deployment
        return ModelRef(
            id=model,
            provider=self.name,
            base_model=job.base_model,
            job_id=job.id,
            ready_for_inference=not deploy,
            needs_deployment=deploy,
            base_url=self.base_url,
            how_to_serve=self.profile.serve_hint.format(model=model),
            provider_details=self.serving_details(model),
        )

    def serving_details(self, model: str) -> dict[str, Any]:
        """Extra facts for the ModelRef (Azure: the ARM deployment request to send)."""
        return {}


def _file_id(ref: Any, field: str, shown: str = "OpenAI") -> str:
    if isinstance(ref, DatasetRef):
        return ref.id
    if isinstance(ref, str) and ref.startswith("file-"):
        return ref
    raise DatasetError(
        f"expected an uploaded {shown} file (DatasetRef or 'file-...'), got {ref!r};"
        " upload it with client.datasets.upload first",
        field=field,
    )
