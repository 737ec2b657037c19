"""Gemini tuning on Vertex AI through google-genai (``Client(vertexai=True)``), data in GCS.

The Gemini Developer API (an API key from AI Studio) no longer tunes any model, so this adapter
needs a Google Cloud project, a region, a GCS bucket and Google credentials (ADC by default). A
caller who gives only an API key is stopped at construction, before anything is uploaded.

Creates are sent once with google-genai's retries off (its default): ``lifecycle.create_job``
owns their retries. Every other call goes through ``self.retry``, with the SDKs' own retries off
(google-cloud-storage's too, on a storage client we build). Each job carries the label
``ftsdk-client-ref`` so ``find_job`` can find it again after an ambiguous failure. ``timeout``
bounds every request: google-genai sends no client timeout by default, so a hung connection
would otherwise block forever.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import SecretStr

from ..._http import call_translated
from ...config import setting
from ...errors import ConfigurationError, NotFoundError
from ...facts import preflight_catalog
from ...provider import Provider
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
from .._hosted import request_timeout
from . import mapping, storage, tuning
from .reads import GeminiReads

__all__ = ["GeminiOptions", "GeminiProvider", "VERTEX_ONLY_MESSAGE"]

T = TypeVar("T")

DEFAULT_LOCATION = "us-central1"
BUCKET_ENV = "FINETUNE_SDK_GCS_BUCKET"

WHAT_TO_SET = (
    "Set project=... (or GOOGLE_CLOUD_PROJECT), location=... (or GOOGLE_CLOUD_LOCATION, default"
    f" us-central1), bucket=... (or {BUCKET_ENV}, the gs:// bucket for training data), and Google"
    " application-default credentials (`gcloud auth application-default login` or"
    " GOOGLE_APPLICATION_CREDENTIALS), or pass credentials=..."
)
VERTEX_ONLY_MESSAGE = (
    "gemini: tuning runs only on Vertex AI; the Gemini Developer API (an API key from AI Studio)"
    " cannot tune any model, so an API key alone is not enough. " + WHAT_TO_SET
)


class GeminiOptions(ProviderOptions):
    """Vertex-only tuning knobs (``JobSpec.options``)."""

    adapter_size: int | None = None
    """LoRA adapter size: 1, 2, 4, 8, 16 or 32 (same as ``Hyperparameters.lora_rank``)."""
    description: str | None = None
    export_last_checkpoint_only: bool | None = None
    """False keeps every epoch's checkpoint as a servable ``tunedModel.checkpoints[]`` entry."""
    tuning_mode: Literal["TUNING_MODE_FULL", "TUNING_MODE_PEFT_ADAPTER"] | None = None
    service_account: str | None = None


class GeminiProvider(GeminiReads, Provider):
    """Supervised and preference tuning of Gemini models on Vertex AI (the reads: ``reads.py``)."""

    name: ClassVar[str] = "gemini"
    capabilities: ClassVar[Capabilities] = Capabilities(
        methods=frozenset({"sft", "dpo"}),
        hyperparameters=frozenset(
            {"epochs", "learning_rate_multiplier", "lora_rank", "learning_rate", "batch_size",
             "beta"}
        ),
        cancel=True,
        pause_resume=False,
        events=False,
        metrics=True,
        checkpoints=False,
        validation_file=True,
        client_chosen_ids=False,
        hosted=True,
        max_upload_bytes=1024**3,
        needs_deployment=False,
        default_poll_interval=60.0,
    )
    STATUS_MAP: ClassVar[dict[str, JobStatus]] = mapping.STATUS_MAP
    options_type: ClassVar[type[ProviderOptions]] = GeminiOptions

    def __init__(
        self,
        *,
        project: str | None = None,
        location: str | None = None,
        bucket: str | None = None,
        credentials: Any = None,
        access_token: str | SecretStr | None = None,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        http_client: Any = None,
        storage_client: Any = None,
        timeout: float | None = 60.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        """Args:
        project / location: the Vertex project and region (GOOGLE_CLOUD_PROJECT /
            GOOGLE_CLOUD_LOCATION; region default us-central1).
        bucket: where training data goes, ``my-bucket`` or ``gs://my-bucket/prefix``
            (FINETUNE_SDK_GCS_BUCKET). Needed only to upload local files.
        credentials: a ``google.auth`` credentials object; default: application-default creds.
        access_token: a ready OAuth access token instead of ``credentials`` (short sessions, tests).
        api_key: accepted only to explain that it cannot tune (see VERTEX_ONLY_MESSAGE).
        base_url: a Vertex endpoint override (also GOOGLE_VERTEX_BASE_URL).
        http_client: an ``httpx2.Client`` for google-genai (tests pass a mock transport).
        storage_client: a ``google.cloud.storage.Client``-shaped object for uploads.
        timeout: seconds per HTTP request (connect, each read/write) before ``APITimeoutError``;
            also the GCS upload's timeout when the storage client is ours. None: no limit.
        """
        super().__init__(retry=retry)
        self.timeout = request_timeout(self.name, timeout)
        if isinstance(api_key, SecretStr):
            api_key = api_key.get_secret_value()
        has_api_key = bool(setting(api_key, "GOOGLE_API_KEY", "GEMINI_API_KEY"))
        self.project = setting(project, "GOOGLE_CLOUD_PROJECT")
        if not self.project:
            if has_api_key:
                raise ConfigurationError(VERTEX_ONLY_MESSAGE)
            raise ConfigurationError(
                "gemini: no Google Cloud project (Gemini tuning runs on Vertex AI). " + WHAT_TO_SET
            )
        self.location = setting(location, "GOOGLE_CLOUD_LOCATION") or DEFAULT_LOCATION
        bucket_setting = setting(bucket, BUCKET_ENV)
        self.bucket: str | None
        self.bucket, self.prefix = (
            storage.parse_bucket(bucket_setting) if bucket_setting else (None, "")
        )
        if isinstance(access_token, SecretStr):
            access_token = access_token.get_secret_value()
        self._token = SecretStr(access_token) if access_token else None
        self._credentials = credentials
        self.base_url = setting(base_url, "GOOGLE_VERTEX_BASE_URL")  # .env too
        self._http_client = http_client
        self._storage_client = storage_client
        # Only a client we build is known to be google-cloud-storage and to take ``timeout``.
        self._owns_storage_client = storage_client is None
        self._genai: Any = None

    # -- plumbing -------------------------------------------------------------------------
    def _secrets(self) -> list[str | None]:
        # Credentials passed in carry their current token; ADC ones are read off the request.
        return [self._token.get_secret_value() if self._token else None,
                getattr(self._credentials, "token", None)]

    def _google_credentials(self) -> Any:
        if self._credentials is None and self._token is not None:
            from google.oauth2.credentials import Credentials

            # A static token never refreshes; give it a far expiry so google-auth never tries.
            far = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=3650)
            self._credentials = Credentials(token=self._token.get_secret_value(), expiry=far)
        return self._credentials

    def _client(self) -> Any:
        if self._genai is None:
            from google import genai
            from google.genai import types

            options: dict[str, Any] = {}
            if self.base_url:
                options["base_url"] = self.base_url
            if self._http_client is not None:
                options["httpx_client"] = self._http_client
            if self.timeout is not None:
                # HttpOptions.timeout is whole milliseconds; google-genai applies it to every
                # request it builds, on its own client and on one passed as http_client.
                options["timeout"] = max(1, math.ceil(self.timeout * 1000))
            # No retry_options: google-genai then sends each request once (the sync client with
            # retries resends a create on 500 -> duplicate paid jobs). Our RetryPolicy decides.
            self._genai = genai.Client(
                vertexai=True,
                project=self.project,
                location=self.location,
                credentials=self._google_credentials(),
                http_options=types.HttpOptions(**options) if options else None,
            )
        return self._genai

    def _call(self, fn: Callable[[], T], *, idempotent: bool = True, retry: bool = True) -> T:
        def quiet() -> T:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "experimental", "not a valid JobState"
                return fn()

        def translated() -> T:
            return call_translated(
                quiet, lambda exc: mapping.translate_error(exc, self._secrets())
            )

        return self.retry.call(translated, idempotent=idempotent) if retry else translated()

    def _storage(self) -> Any:
        if self._storage_client is None:
            self._storage_client = storage.default_storage_client(
                self.project or "", self._google_credentials()
            )
        return self._storage_client

    # -- datasets -------------------------------------------------------------------------
    def upload_dataset(
        self, path: Path, *, purpose: Literal["train", "validation"] = "train", wait: bool = True
    ) -> DatasetRef:
        """Convert to the Gemini tuning format and upload to ``gs://bucket/prefix/...``.

        An object in the bucket is ready once written: ``wait`` has nothing to wait for.
        """
        if not self.bucket:
            raise ConfigurationError(
                f"gemini: no Cloud Storage bucket for training data. Pass bucket='my-bucket' (or"
                f" 'gs://my-bucket/prefix') or set {BUCKET_ENV}; Vertex reads tuning data only"
                " from GCS."
            )
        from ...data.convert import wire_file
        from .dataset import write_wire_jsonl

        source = Path(path)
        with wire_file(source, write_wire_jsonl, prefix="gemini-wire-") as wire:
            method, count, data = wire.method, wire.examples, wire.data
            digest = hashlib.sha256(data).hexdigest()
            # Content-addressed name: a retried or repeated upload writes the same object.
            name = "/".join(p for p in (self.prefix, f"{digest[:16]}-{purpose}.jsonl") if p)
            bucket = self.bucket

            # google-cloud-storage retries an upload by itself (DEFAULT_RETRY, real sleeps for
            # up to 120 s) inside our retry below: one owner, so its own is off where we can.
            ours = {"timeout": self.timeout, "retry": None} if self._owns_storage_client else {}

            def send() -> str:
                return call_translated(
                    lambda: storage.upload_file(self._storage(), bucket, name, str(wire.path),
                                                **ours),
                    lambda exc: storage.translate_storage_error(exc, self._secrets()),
                )

            uri = self.retry.call(send, idempotent=True)
        return DatasetRef(
            id=uri,
            provider=self.name,
            uri=uri,
            filename=source.name,
            bytes=len(data),
            sha256=digest,
            num_examples=count,
            kind="preference" if method == "dpo" else "chat",
            provider_details={"bucket": bucket, "object": name, "purpose": purpose},
        )

    # -- jobs -----------------------------------------------------------------------------
    def check_spec(self, spec: JobSpec) -> list[str]:
        """Tuning config, then the catalog: a retired base is refused with its successor."""
        self._tuning_config(spec)
        return preflight_catalog(self.name, spec, spec.base_model.rsplit("/", 1)[-1])

    def _tuning_config(self, spec: JobSpec) -> dict[str, Any]:
        return tuning.tuning_config(spec, self.resolve_options(spec), self.unsupported)

    def create_job(self, spec: JobSpec) -> Job:
        """One ``tunings.tune`` request, never retried here (lifecycle.create_job decides)."""
        from google.genai import types

        config = self._tuning_config(spec)
        train_uri = tuning.gcs_uri(spec.training_file, "training_file")
        if spec.validation_file is not None:
            config["validation_dataset"] = types.TuningValidationDataset(
                gcs_uri=tuning.gcs_uri(spec.validation_file, "validation_file")
            )
        if spec.extra_body:
            config["http_options"] = types.HttpOptions(extra_body=spec.extra_body)
        tuning_job = self._call(
            lambda: self._client().tunings.tune(
                base_model=spec.base_model,
                training_dataset=types.TuningDataset(gcs_uri=train_uri),
                config=types.CreateTuningJobConfig(**config),
            ),
            retry=False,
        )
        job = mapping.job_from_vertex(tuning_job)
        # Vertex labels are lowercase; the caller's own spelling of the ref is the useful one.
        return job.model_copy(update={"client_ref": spec.client_ref})

    def cancel_job(self, job_id: str) -> Job:
        name = self._job_name(job_id)
        self._call(lambda: self._client().tunings.cancel(name=name))
        return self.get_job(name)

    def resolve_model(self, job: Job) -> ModelRef:
        """The tuned model's endpoint: pass it as ``model=`` to ``generate_content``."""
        tuned = (job.provider_details or {}).get("tuned_model") or {}
        if not tuned:
            tuned = self._get(job.id).model_dump(mode="json", exclude_none=True).get(
                "tuned_model"
            ) or {}
        endpoint, model = tuned.get("endpoint"), tuned.get("model")
        tuned_id = endpoint or model
        if not tuned_id:
            raise NotFoundError(
                f"Vertex job {job.id} reports no tuned model yet (state {job.provider_status})",
                provider=self.name,
            )
        return ModelRef(
            id=tuned_id,
            provider=self.name,
            base_model=job.base_model,
            job_id=job.id,
            ready_for_inference=bool(endpoint),
            needs_deployment=not endpoint,
            endpoint=endpoint,
            how_to_serve=(
                "genai.Client(vertexai=True, project=..., location=...).models.generate_content("
                f"model={endpoint!r}, contents=...)"
                if endpoint
                else f"deploy the model {model} to a Vertex endpoint first"
            ),
            provider_details={"model": model, "checkpoints": tuned.get("checkpoints", [])},
        )

    def close(self) -> None:
        if self._genai is not None:
            self._genai.close()
            self._genai = None

    def __repr__(self) -> str:
        return (
            f"GeminiProvider(project={self.project!r}, location={self.location!r},"
            f" bucket={self.bucket!r})"
        )
