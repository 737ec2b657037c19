"""Fireworks AI supervised fine-tuning over REST (httpx2; no fireworks-ai SDK).

Every id is chosen here, so every create is idempotent: a dataset id is the hash of its converted
content (a re-run reuses the READY dataset), a job id derives from ``client_ref`` (a resent create
answers 409 ALREADY_EXISTS, which means "fetch it"; with no such job, the name taken is the
output model, and the error says so). The job create is still sent once per call:
``lifecycle.create_job`` owns its retries (resending is safe here, ``client_chosen_ids``), so a
vendor answering 503 sees at most ``RetryPolicy.max_attempts`` POSTs, not attempts squared.
Every other call retries through ``self.retry``; a 409 is never retried. Nothing here sleeps:
``get_dataset`` reads once and the lifecycle polls it (deployments: ``deployments.py``). Large
files go through a signed URL: the PUT carries no Fireworks credentials. A finished job is a
LoRA addon that needs a deployment to serve. Base models go out as ``accounts/.../models/...``:
preflight resolves short and Hugging Face names through the catalog, or refuses them before any
upload.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx2
from pydantic import SecretStr

from ..._http import call_translated, json_body, raise_for_response, translate_transport
from ...config import resolve_secret, setting
from ...errors import (
    APIStatusError,
    ConfigurationError,
    ConflictError,
    DatasetError,
    JobError,
    NotFoundError,
)
from ...facts import check_base_model
from ...provider import PreflightWarning, Provider
from ...retry import RetryPolicy
from ...types import Capabilities, DatasetRef, Job, JobSpec, JobStatus, ModelRef, ProviderOptions
from . import mapping

__all__ = ["FireworksOptions", "FireworksProvider"]

SINGLE_UPLOAD_LIMIT = 150 * 1024 * 1024
"""``:upload`` takes files below this; larger ones go through a signed URL."""


class FireworksOptions(ProviderOptions):
    """Fireworks-only job settings (``JobSpec.options``)."""

    batch_size_tokens: int | None = None
    """Fireworks ``batchSize`` (tokens per packed batch); ``batch_size`` maps to samples."""
    early_stop: bool | None = None
    eval_auto_carveout: bool | None = None
    learning_rate_warmup_steps: int | None = None
    region: str | None = None
    is_turbo: bool | None = None


class FireworksProvider(Provider):
    """Fireworks ``supervisedFineTuningJobs`` with account-scoped datasets and models."""

    name: ClassVar[str] = "fireworks"
    capabilities: ClassVar[Capabilities] = Capabilities(
        methods=frozenset({"sft"}),
        hyperparameters=frozenset(
            {"epochs", "learning_rate", "batch_size", "lora_rank", "max_seq_length"}
        ),
        cancel=True,
        pause_resume=False,
        events=False,
        metrics=False,
        checkpoints=False,
        validation_file=True,
        client_chosen_ids=True,
        hosted=True,
        max_upload_bytes=None,  # < 150 MB direct upload; larger files through a signed URL
        needs_deployment=True,
        default_poll_interval=20.0,
    )
    STATUS_MAP: ClassVar[dict[str, JobStatus]] = mapping.STATUS_MAP
    options_type: ClassVar[type[ProviderOptions]] = FireworksOptions

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        account_id: str | None = None,
        base_url: str | None = None,
        http_client: httpx2.Client | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        single_upload_limit: int = SINGLE_UPLOAD_LIMIT,
        dataset_poll_interval: float = 2.0,
        dataset_wait_timeout: float = 600.0,
    ) -> None:
        """Args:
        api_key: the API key (else FIREWORKS_API_KEY from the environment or .env).
        account_id: the account that owns datasets, jobs and models (else FIREWORKS_ACCOUNT_ID).
        base_url: API root (else FIREWORKS_BASE_URL, else https://api.fireworks.ai).
        http_client: an ``httpx2.Client`` (proxies, tests' mock transports).
        single_upload_limit: files above this many bytes go through a signed-URL upload.
        dataset_poll_interval / dataset_wait_timeout: the first pause between polls and the
            limit of a dataset or deployment wait (the lifecycle's waits read them).
        """
        super().__init__(retry=retry)
        self._api_key = resolve_secret(api_key, "FIREWORKS_API_KEY", provider=self.name)
        account = setting(account_id, "FIREWORKS_ACCOUNT_ID")
        if not account:
            raise ConfigurationError(
                "fireworks: no account id. Pass account_id=... or set FIREWORKS_ACCOUNT_ID"
                " (the id in https://app.fireworks.ai/account/home)."
            )
        self.account_id = account
        self.base_url = (
            base_url or setting(None, "FIREWORKS_BASE_URL") or "https://api.fireworks.ai"
        ).rstrip("/")
        self.timeout = timeout
        self.single_upload_limit = single_upload_limit
        self.dataset_poll_interval = dataset_poll_interval
        self.dataset_wait_timeout = dataset_wait_timeout
        self._owns_client = http_client is None
        self._http = http_client or httpx2.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"FireworksProvider(name={self.name!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        if self._owns_client:
            self._http.close()

    # -- plumbing -------------------------------------------------------------------------
    @property
    def _account_path(self) -> str:
        return f"/v1/accounts/{self.account_id}"

    def _send(self, method: str, url: str, *, auth: bool = True, **kwargs: Any) -> httpx2.Response:
        """One request, errors translated (secret redacted). No retry here."""
        secret = self._api_key.get_secret_value()
        headers = dict(kwargs.pop("headers", {}) or {})
        if auth:
            headers["Authorization"] = f"Bearer {secret}"
        kwargs.setdefault("timeout", self.timeout)

        def translate(exc: Exception) -> BaseException:
            if isinstance(exc, httpx2.TransportError):
                return translate_transport(exc, provider=self.name, secrets=[secret])
            return exc

        response = call_translated(
            lambda: self._http.request(method, url, headers=headers, **kwargs), translate
        )
        raise_for_response(response, provider=self.name, secrets=[secret])  # body redacted too
        return response

    def _api(self, method: str, path: str, *, idempotent: bool = True, retry: bool = True,
             **kwargs: Any) -> Any:
        """A JSON call to ``{base_url}{path}``, retried unless ``retry=False`` (a caller that
        owns the retries: the lifecycle, for a job create)."""
        url = self.base_url + path

        def once() -> Any:
            response = self._send(method, url, **kwargs)
            if not response.content:
                return {}
            secret = self._api_key.get_secret_value()
            return json_body(response, provider=self.name, secrets=[secret])

        return self.retry.call(once, idempotent=idempotent) if retry else once()

    # -- datasets -------------------------------------------------------------------------
    def upload_dataset(
        self, path: Path, *, purpose: Literal["train", "validation"] = "train", wait: bool = True
    ) -> DatasetRef:
        """Convert, create (409 -> reuse), upload (signed URL when large).

        The ref is ``processing`` until Fireworks says READY: ``wait=False`` returns it so (the
        client polls ``get_dataset``); ``wait=True``, for direct callers, hands it to
        ``lifecycle.wait_for_dataset`` (DatasetError when Fireworks rejects it).
        """
        from ...data.convert import wire_file
        from .dataset import RULES, write_wire_jsonl

        def sft_only(method: str) -> None:
            if method != "sft":
                raise self.unsupported(
                    "preference (DPO) datasets in this adapter", "Only supervised jobs are wired."
                )

        source = Path(path)
        with wire_file(source, write_wire_jsonl, prefix="fireworks-wire-",
                       check_method=sft_only) as wire:
            count, data = wire.examples, wire.data
        if count < RULES.min_examples:  # the rule pack `finetune validate` reports from
            raise DatasetError(
                f"{count} examples; Fireworks needs at least {RULES.min_examples}",
                file=str(source))
        dataset_id = mapping.dataset_id_for(data)
        dataset = self._create_dataset(dataset_id, count)
        # Same content, same id: a READY one from an earlier run is reused as it is; any other
        # (new, half-uploaded, rejected) gets the bytes again and is processing until polled.
        sent = dataset.get("state") != "READY"
        if sent:
            filename = f"{source.stem}.jsonl"
            if len(data) > self.single_upload_limit:
                self._upload_signed(dataset_id, filename, data)
            else:
                self._api(
                    "POST",
                    f"{self._account_path}/datasets/{dataset_id}:upload",
                    files={"file": (filename, data, "application/jsonl")},
                )
        name = dataset.get("name") or f"accounts/{self.account_id}/datasets/{dataset_id}"
        ref = DatasetRef(
            id=name,
            provider=self.name,
            uri=f"{self.base_url}/v1/{name}",
            filename=source.name,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            num_examples=count,
            kind="chat",
            status="processing" if sent else "ready",
            provider_details=dataset,
        )
        if not wait:
            return ref
        from ...lifecycle import wait_for_dataset

        return wait_for_dataset(self, ref)

    def get_dataset(self, ref: DatasetRef) -> DatasetRef:
        """``ref`` as Fireworks reports it now: one read, no waiting (the lifecycle polls)."""
        short = ref.id.rsplit("/", 1)[-1]
        return self._dataset_ref(ref, self._api("GET", f"{self._account_path}/datasets/{short}"))

    def _dataset_ref(self, ref: DatasetRef, dataset: dict[str, Any]) -> DatasetRef:
        """READY is ready, a status code other than OK is a rejection, anything else pending."""
        status = dataset.get("status") or {}
        if status.get("code") not in (None, "OK"):
            reason = status.get("message") or status
            return ref.model_copy(update={
                "status": "failed", "provider_details": dataset,
                "error": f"Fireworks rejected dataset {ref.id.rsplit('/', 1)[-1]}: {reason}"})
        state = "ready" if dataset.get("state") == "READY" else "processing"
        return ref.model_copy(update={"status": state, "error": None,
                                      "provider_details": dataset})

    def _create_dataset(self, dataset_id: str, count: int) -> dict[str, Any]:
        body = {
            "datasetId": dataset_id,
            "dataset": {"userUploaded": {}, "exampleCount": str(count), "format": "CHAT"},
        }
        try:
            return self._api("POST", f"{self._account_path}/datasets", json=body)
        except ConflictError:
            # Same content hash -> same id: an earlier run created it. Reuse it.
            return self._api("GET", f"{self._account_path}/datasets/{dataset_id}")

    def _upload_signed(self, dataset_id: str, filename: str, data: bytes) -> None:
        """``:getUploadEndpoint`` -> PUT to the signed URL (no auth) -> ``:validateUpload``."""
        size = str(len(data))
        base = f"{self._account_path}/datasets/{dataset_id}"
        answer = self._api(
            "POST", f"{base}:getUploadEndpoint", json={"filenameToSize": {filename: size}}
        )
        url = (answer.get("filenameToSignedUrls") or {}).get(filename)
        if not url:
            raise DatasetError(f"Fireworks gave no upload URL for {filename}", file=filename)
        headers = {
            # Both are part of the signature; the Fireworks key must not go to the bucket.
            "Content-Type": "application/octet-stream",
            "X-Goog-Content-Length-Range": f"{size},{size}",
        }
        self.retry.call(
            lambda: self._send(
                "PUT",
                url,
                auth=False,
                headers=headers,
                content=data,
                timeout=max(self.timeout, 600.0),
            )
        )
        self._api("POST", f"{base}:validateUpload", json={})

    # -- jobs -----------------------------------------------------------------------------
    def check_spec(self, spec: JobSpec) -> list[str]:
        """The base model as a Fireworks name (refused when it cannot be one), the catalog
        (retired bases refused, unknown ones warned), and Fireworks jobs carry no labels: say
        so rather than drop them silently."""
        self.resolve_options(spec)
        base = mapping.resolve_base_model(spec.base_model)
        found: list[str] = check_base_model(self.name, base, spec.method)
        if spec.labels:
            found.append(
                f"Fireworks jobs have no labels; {sorted(spec.labels)} stay in the local ledger"
            )
        for message in found:
            warnings.warn(message, PreflightWarning, stacklevel=3)
        return found

    def create_job(self, spec: JobSpec) -> Job:
        """One POST with the id derived from client_ref; a 409 means it exists: one GET.

        Neither is retried here: ``lifecycle.create_job`` resends the whole create (the id
        makes that safe), so retries are counted once.
        """
        options: FireworksOptions = self.resolve_options(spec)
        job_id = mapping.job_id_for(spec.client_ref)
        body = mapping.create_body(spec, account=self.account_id, options=options)
        path = f"{self._account_path}/supervisedFineTuningJobs"
        try:
            raw = self._api("POST", path, retry=False, json=body,
                            params={"supervisedFineTuningJobId": job_id})
        except APIStatusError as exc:
            if not mapping.is_already_exists(exc):  # 409, or a 400 saying "already exists"
                raise
            taken = exc
        else:
            return mapping.job_from_wire(raw, client_ref=spec.client_ref)
        try:
            raw = self._api("GET", f"{path}/{job_id}", retry=False)
        except NotFoundError:
            raw = None  # raised below, outside the except: the 404 is no part of the story
        if raw is None:  # the name taken is the output model, not our job's id
            raise mapping.output_model_taken(taken, spec, self.account_id)
        return mapping.job_from_wire(raw, client_ref=spec.client_ref)

    def _job_path(self, job_id: str) -> str:
        short = job_id.rsplit("/", 1)[-1]
        return f"{self._account_path}/supervisedFineTuningJobs/{short}"

    def get_job(self, job_id: str) -> Job:
        return mapping.job_from_wire(self._api("GET", self._job_path(job_id)))

    def list_jobs(self, *, limit: int | None = None) -> Iterator[Job]:
        token: str | None = None
        count = 0
        while True:
            params: dict[str, Any] = {"pageSize": min(limit or 200, 200)}
            if token:
                params["pageToken"] = token
            page = self._api("GET", f"{self._account_path}/supervisedFineTuningJobs", params=params)
            for raw in page.get("supervisedFineTuningJobs") or []:
                yield mapping.job_from_wire(raw)
                count += 1
                if limit is not None and count >= limit:
                    return
            token = page.get("nextPageToken")
            if not token:
                return

    def find_job(self, client_ref: str) -> Job | None:
        """The job is named after client_ref: one GET, 404 means none."""
        try:
            raw = self._api("GET", self._job_path(mapping.job_id_for(client_ref)))
        except NotFoundError:
            return None
        return mapping.job_from_wire(raw, client_ref=client_ref)

    def cancel_job(self, job_id: str) -> Job:
        self._api("POST", self._job_path(job_id) + ":cancel", json={})
        return self.get_job(job_id)

    def resume_job(self, job_id: str) -> Job:
        """Resume a JOB_STATE_PAUSED job (Fireworks pauses jobs itself; there is no pause call)."""
        self._api("POST", self._job_path(job_id) + ":resume", json={})
        return self.get_job(job_id)

    # -- models ---------------------------------------------------------------------------
    def resolve_model(self, job: Job) -> ModelRef:
        """The LoRA addon model; ``ready_for_inference`` is False until deployed (see deploy)."""
        if job.status is not JobStatus.SUCCEEDED or not job.output_model:
            job = self.get_job(job.id)
        if not job.output_model:
            raise JobError(f"Fireworks job {job.id} has no output model yet", job)
        model = self._api("GET", f"/v1/{job.output_model}")
        return ModelRef(
            id=job.output_model,
            provider=self.name,
            base_model=job.base_model,
            job_id=job.id,
            ready_for_inference=False,
            needs_deployment=True,
            base_url=f"{self.base_url}/inference/v1",
            how_to_serve=(
                "Fine-tuned LoRAs serve only on a dedicated deployment (billed per GPU hour):"
                f" client.models.deploy(model) or `finetune deploy {job.output_model}`; then"
                " chat with the deployment (model '<model>#<deployment>')."
            ),
            provider_details=model,
        )
