"""Together AI fine-tuning through the official ``together`` SDK (imported lazily; extra
``[together]``).

The SDK's own retries are off (``max_retries=0``): together 3.1.x re-POSTs a dropped or
500-answered create by itself, which makes two paid jobs. Its ``fine_tuning.create`` also reads
the model limits and asks for a price estimate before it POSTs; here those are separate steps
(retried like reads), and the create is one ``POST /v1/fine-tunes`` with the body the SDK's own
``create_finetune_request`` builds (``request.py``). A failure before that POST is
``CreateNotSentError``: the lifecycle then knows nothing was created.

Together has no client-chosen ids, labels or metadata: the intent key rides in ``suffix``
(``mapping.suffix_for``) and ``find_job`` reads it back from the job list. Uploads run Together's
own local file check after ours (``files.py``); nothing here sleeps (the lifecycle polls
``get_dataset`` and ``get_job``).
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import SecretStr

from ..._http import call_translated
from ...config import resolve_secret, setting
from ...errors import (
    APIResponseValidationError,
    BudgetExceededError,
    ConfigurationError,
    DatasetError,
    FinetuneError,
    JobError,
    ProviderNotInstalledError,
)
from ...facts import check_base_model
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
from . import files, mapping
from .dataset import MAX_FILE_BYTES
from .request import LORA_FIELDS, CreateNotSentError, TogetherOptions, build_request, not_sent

__all__ = ["CreateNotSentError", "TogetherOptions", "TogetherProvider"]

T = TypeVar("T")
logger = logging.getLogger("finetune_sdk")

DEFAULT_BASE_URL = "https://api.together.ai"


class TogetherProvider(Provider):
    """Together ``/v1/files`` and ``/v1/fine-tunes`` (SFT and DPO, LoRA or full)."""

    name: ClassVar[str] = "together"
    capabilities: ClassVar[Capabilities] = Capabilities(
        methods=frozenset({"sft", "dpo"}),
        hyperparameters=frozenset({
            "epochs", "learning_rate", "batch_size", "lora_rank", "lora_alpha", "lora_dropout",
            "lora_target_modules", "warmup_ratio", "max_seq_length", "beta", "seed"}),
        cancel=True,
        pause_resume=False,
        events=True,
        metrics=True,
        checkpoints=True,
        validation_file=True,
        client_chosen_ids=False,
        hosted=True,
        max_upload_bytes=MAX_FILE_BYTES,
        # Fine-tuned models are hosted on a dedicated endpoint billed per minute (docs,
        # fine-tuning pricing); serverless LoRA exists for some bases (uncertain which).
        needs_deployment=True,
        default_poll_interval=30.0,
    )
    STATUS_MAP: ClassVar[dict[str, JobStatus]] = mapping.STATUS_MAP
    options_type: ClassVar[type[ProviderOptions]] = TogetherOptions

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        base_url: str | None = None,
        project_id: str | None = None,
        http_client: Any = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        wandb_api_key: str | SecretStr | None = None,
        dataset_poll_interval: float = 2.0,
        dataset_wait_timeout: float = 600.0,
    ) -> None:
        """Args:
        api_key: the API key (else TOGETHER_API_KEY from the environment or .env).
        base_url: API root without ``/v1`` (else TOGETHER_BASE_URL, else api.together.ai).
        project_id: the SDK's project (else TOGETHER_PROJECT_ID).
        http_client: an ``httpx2.Client`` (bridged to the SDK's httpx) or an ``httpx.Client``.
        wandb_api_key: sent only when the options ask for W&B logging (else WANDB_API_KEY).
        dataset_poll_interval / dataset_wait_timeout: how the lifecycle waits for Together to
            validate an uploaded file.
        """
        super().__init__(retry=retry)
        if importlib.util.find_spec("together") is None:
            raise ProviderNotInstalledError('the together provider needs the together SDK:'
                                            ' pip install "finetune-sdk[together]"')
        self._api_key = resolve_secret(api_key, "TOGETHER_API_KEY", provider=self.name)
        self.base_url = (base_url or setting(None, "TOGETHER_BASE_URL")
                         or DEFAULT_BASE_URL).rstrip("/").removesuffix("/v1")
        self.project_id = setting(project_id, "TOGETHER_PROJECT_ID")
        self.timeout = timeout
        if isinstance(wandb_api_key, SecretStr):
            wandb_api_key = wandb_api_key.get_secret_value()
        wandb = setting(wandb_api_key, "WANDB_API_KEY")
        self._wandb_key = SecretStr(wandb) if wandb else None
        self.dataset_poll_interval = dataset_poll_interval
        self.dataset_wait_timeout = dataset_wait_timeout
        self._http_client = http_client
        self._sdk: Any = None

    # -- plumbing -------------------------------------------------------------------------
    def _secrets(self) -> list[str]:
        return [k.get_secret_value() for k in (self._api_key, self._wandb_key) if k is not None]

    def _client(self) -> Any:
        if self._sdk is None:
            import together

            from .bridge import httpx_client
            from .logs import protect

            protect(*self._secrets())  # the SDK logs request bodies (a W&B key) at DEBUG
            http = None if self._http_client is None else httpx_client(self._http_client)
            self._sdk = together.Together(
                api_key=self._api_key.get_secret_value(), base_url=self.base_url,
                project_id=self.project_id, timeout=self.timeout, http_client=http,
                max_retries=0)  # our RetryPolicy decides; the SDK would resend creates
        return self._sdk

    def _call(self, fn: Callable[[], T], *, idempotent: bool = True, retry: bool = True) -> T:
        secrets = self._secrets()

        def translated() -> T:
            return call_translated(lambda: mapping.ensure_parsed(fn(), secrets),
                                   lambda exc: mapping.translate_error(exc, secrets))

        return self.retry.call(translated, idempotent=idempotent) if retry else translated()

    def close(self) -> None:
        """Close the SDK's connections; an ``http_client`` you passed in stays yours."""
        if self._sdk is not None and self._http_client is None:
            self._sdk.close()
        self._sdk = None

    def __repr__(self) -> str:
        return f"TogetherProvider(name={self.name!r}, base_url={self.base_url!r})"

    # -- datasets -------------------------------------------------------------------------
    def upload_dataset(
        self, path: Path, *, purpose: Literal["train", "validation"] = "train", wait: bool = True
    ) -> DatasetRef:
        """Convert to Together JSONL, run Together's own file check, upload. The ref is
        ``processing`` while Together validates it: ``wait=False`` returns it so (the client
        polls ``get_dataset``); ``wait=True`` hands it to ``lifecycle.wait_for_dataset``."""
        ref = files.upload(self, Path(path))
        if not wait or ref.status == "ready":
            return ref
        from ...lifecycle import wait_for_dataset

        return wait_for_dataset(self, ref)

    def get_dataset(self, ref: DatasetRef) -> DatasetRef:
        """``ref`` as Together reports it now: one read, no waiting."""
        client = self._client()
        raw = files.dump(self._call(lambda: client.files.retrieve(ref.id)))
        state = files.state_of(raw)
        return ref.model_copy(update={
            "status": state, "error": files.rejection(raw) if state == "failed" else None,
            "provider_details": raw})

    def discard_dataset(self, ref: DatasetRef) -> None:
        """Delete an uploaded file (one Together will never train on)."""
        client = self._client()
        self._call(lambda: client.files.delete(ref.id))

    # -- preflight ------------------------------------------------------------------------
    def check_spec(self, spec: JobSpec) -> list[str]:
        """LoRA knobs against ``lora=False``, DPO-only beta, W&B needing a key, the catalog,
        labels (Together has none) and an output name cut short by the suffix limit."""
        options: TogetherOptions = self.resolve_options(spec)
        lora = [n for n in LORA_FIELDS if getattr(spec.hyperparameters, n) is not None]
        if lora and options.lora is False:
            raise self.unsupported(f"LoRA hyperparameters ({', '.join(lora)}) with lora=False",
                                   "Drop them for full fine-tuning, or leave lora unset.")
        if spec.hyperparameters.beta is not None and spec.method != "dpo":
            raise self.unsupported("beta with method='sft'", "beta is the DPO temperature.")
        if (options.wandb_project_name or options.wandb_name) and self._wandb_key is None:
            raise ConfigurationError("together: W&B logging was asked for but no key is set;"
                                     " pass wandb_api_key=... or set WANDB_API_KEY")
        found = check_base_model(self.name, spec.base_model, spec.method)
        if spec.labels:
            found.append(f"Together jobs have no labels; {sorted(spec.labels)} stay in the"
                         " local ledger")
        suffix = mapping.suffix_for(spec)
        if spec.output_name and suffix[:-31] != mapping.slug(spec.output_name):
            found.append(f"output_name {spec.output_name!r} becomes the suffix {suffix!r}:"
                         f" Together keeps {mapping.SUFFIX_MAX} characters and the intent key"
                         " takes 31 of them")
        for message in found:
            warnings.warn(message, PreflightWarning, stacklevel=3)
        return found

    # -- jobs -----------------------------------------------------------------------------
    def _request(self, spec: JobSpec) -> Any:
        client = self._client()
        limits = self._call(lambda: client.fine_tuning.model_limits(model_name=spec.base_model))
        wandb = self._wandb_key.get_secret_value() if self._wandb_key else None
        return build_request(spec, self.resolve_options(spec), limits, wandb_key=wandb)

    def price_estimate(self, spec: JobSpec, request: Any = None) -> dict[str, Any]:
        """Together's own estimate for ``spec`` (its files uploaded), as Together answered:
        ``estimated_total_price`` (USD), ``allowed_to_proceed``, token counts."""
        from .request import estimate_kwargs

        client = self._client()
        kwargs = estimate_kwargs(request if request is not None else self._request(spec))
        return files.dump(self._call(lambda: client.fine_tuning.estimate_price(**kwargs)))

    def create_job(self, spec: JobSpec) -> Job:
        """One ``POST /v1/fine-tunes``, never retried here (see lifecycle.create_job), after
        the model limits, the files' state and Together's price estimate were read."""
        client = self._client()
        try:
            request = self._request(spec)
            for ref in (spec.training_file, spec.validation_file):
                if isinstance(ref, DatasetRef) and ref.status == "processing":
                    now = self.get_dataset(ref)  # from upload(wait=False): check it once
                    if now.status == "failed":
                        raise DatasetError(now.error or "rejected", file=ref.filename)
        except FinetuneError as exc:
            raise not_sent(exc, "reading the model limits and the files") from None
        estimate = self._estimate(spec, request)
        body = request.model_dump(exclude_none=True)
        body.update(spec.extra_body)
        from together.types import FinetuneResponse

        raw = self._call(lambda: client.post("/v1/fine-tunes", body=body,
                                             cast_to=FinetuneResponse), retry=False)
        job = mapping.job_from_wire(files.dump(raw), client_ref=spec.client_ref)
        if estimate is not None:
            details = {**job.provider_details, "price_estimate": estimate}
            job = job.model_copy(update={"provider_details": details})
        return job

    def _estimate(self, spec: JobSpec, request: Any) -> dict[str, Any] | None:
        """Together's estimate, best effort (it only informs), except that a price above
        ``max_usd`` stops the create."""
        try:
            found = self.price_estimate(spec, request)
        except FinetuneError as exc:
            logger.info("together: no price estimate (%s); creating the job anyway", exc)
            return None
        price = found.get("estimated_total_price")
        if found.get("estimation_available") and isinstance(price, (int, float)):
            if spec.max_usd is not None and price > spec.max_usd:
                raise BudgetExceededError(
                    f"Together estimates this job at {price:.2f} USD, above max_usd="
                    f"{spec.max_usd:g}; nothing was started", found)
            if found.get("allowed_to_proceed") is False:
                logger.warning("together: the estimated price (%.2f USD) is above your credit"
                               " limit and balance; Together will likely cancel the job", price)
        return found

    def get_job(self, job_id: str) -> Job:
        client = self._client()
        return mapping.job_from_wire(files.dump(self._call(
            lambda: client.fine_tuning.retrieve(job_id))))

    def list_jobs(self, *, limit: int | None = None) -> Iterator[Job]:
        """Newest first. Together's list has no pages: one request returns every job."""
        client = self._client()
        page = self._call(lambda: client.fine_tuning.list())
        jobs = [mapping.job_from_wire(raw) for raw in _items(page)]
        jobs.sort(key=lambda j: j.created_at.timestamp() if j.created_at else 0.0, reverse=True)
        return iter(jobs[:limit] if limit is not None else jobs)

    def find_job(self, client_ref: str) -> Job | None:
        """The job whose ``suffix`` ends with the intent's tag (see ``mapping.suffix_for``)."""
        tag = mapping.ref_tag(client_ref)
        for job in self.list_jobs():
            if mapping.tag_of(job.provider_details.get("suffix")) == tag:
                return job.model_copy(update={"client_ref": client_ref})
        return None

    def cancel_job(self, job_id: str) -> Job:
        """Together answers ``cancel_requested``; ``cancelled`` follows."""
        client = self._client()
        return mapping.job_from_wire(files.dump(self._call(
            lambda: client.fine_tuning.cancel(job_id))))

    def list_events(self, job_id: str, *, limit: int | None = None) -> Iterator[JobEvent]:
        """Oldest first; ``limit`` keeps the most recent ones."""
        client = self._client()
        page = self._call(lambda: client.fine_tuning.list_events(job_id))
        events = [mapping.event_from_wire(job_id, raw) for raw in _items(page)]
        return iter(events[-limit:] if limit else events)

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        client = self._client()
        page = self._call(lambda: client.fine_tuning.list_checkpoints(job_id))
        found = [mapping.checkpoint_from_wire(job_id, raw) for raw in _items(page)]
        return sorted(found, key=lambda c: c.step or 0)

    def get_metrics(self, job_id: str) -> list[MetricPoint]:
        client = self._client()
        answer = files.dump(self._call(lambda: client.fine_tuning.list_metrics(job_id)))
        rows = answer.get("metrics") or []
        if not isinstance(rows, list):
            raise APIResponseValidationError("'metrics' is not a list", provider=self.name)
        return mapping.metric_points(rows)

    def resolve_model(self, job: Job) -> ModelRef:
        """The output model name; read again when the job object had none yet (Together can
        fill it in a little after the job completed)."""
        model = job.output_model
        if not model:
            job = self.get_job(job.id)
            model = job.output_model
        if not model:
            raise JobError(f"Together job {job.id} reports no model_output_name yet"
                           f" (status {job.provider_status}); resolve it again shortly", job)
        lora = (job.provider_details.get("training_type") or {}).get("type") != "Full"
        serverless = ("; LoRA adapters of some bases can also be called serverless (check the"
                      " model page)") if lora else ""
        return ModelRef(
            id=model, provider=self.name, base_model=job.base_model, job_id=job.id,
            ready_for_inference=False, needs_deployment=True, base_url=f"{self.base_url}/v1",
            how_to_serve=(f"create a dedicated endpoint for it (`together endpoints create"
                          f" --model {model}`, billed per minute), then chat.completions with"
                          f" model={model!r}{serverless}"),
            provider_details={"training_type": "lora" if lora else "full"})


def _items(page: Any) -> list[dict[str, Any]]:
    """The ``data`` list of a list answer as plain dicts."""
    data = getattr(page, "data", None)
    if not isinstance(data, list):
        raise APIResponseValidationError(
            f"expected a list under 'data', got {type(data).__name__}", provider="together")
    items = [files.dump(item) if hasattr(item, "model_dump") else item for item in data]
    if not all(isinstance(i, dict) for i in items):
        raise APIResponseValidationError("a list item is not an object", provider="together")
    return items
