"""Fine-tuning on Hugging Face: data in a private Hub dataset repo, training on HF Jobs.

Two backends (``HuggingFaceOptions(backend=...)``): ``autotrain`` runs the AutoTrain image with
``autotrain llm --train ...``; ``sdk`` runs this package's own trainer with ``run_uv_job``. Both
push the result to the Hub model repo ``{namespace}/{project}``, which is the model id.

huggingface_hub never retries a POST, so ``run_job`` is sent exactly once; a dropped connection
(``httpx2.RemoteProtocolError``) becomes APITimeoutError and the lifecycle looks the job up by its
``ftsdk-client-ref`` label. Every other call retries through ``self.retry`` alone: huggingface_hub's
own ``http_backoff`` (it sleeps for real, outside our RetryPolicy) is off inside ``_call``, see
``hub_retries``. ``timeout`` bounds each request (huggingface_hub's shared client has none); see
``http_timeout`` for how without global changes.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field, SecretStr

from ..._http import call_translated
from ...config import setting
from ...errors import NotFoundError
from ...provider import PreflightWarning, Provider
from ...retry import RetryPolicy
from ...types import (
    Capabilities,
    DatasetRef,
    Job,
    JobEvent,
    JobSpec,
    JobStatus,
    MetricPoint,
    ModelRef,
    ProviderOptions,
)
from .._hosted import request_timeout as checked_timeout
from .._hosted import token_pages
from . import commands, hardware, mapping
from .http_timeout import request_timeout
from .hub_retries import hub_retries_off
from .token import require_token

__all__ = ["HuggingFaceOptions", "HuggingFaceProvider"]

T = TypeVar("T")

AUTOTRAIN_IMAGE = "huggingface/autotrain-advanced:latest"


class HuggingFaceOptions(ProviderOptions):
    """Where and how the HF Job runs (``JobSpec.options``)."""

    backend: Literal["autotrain", "sdk"] = "autotrain"
    flavor: str | None = None
    """HF Jobs hardware (``a10g-small``, ``l40sx1``, ``a100-large``, ``h200``...). None: the
    smallest that holds the memory estimate (``hardware.py``); a flavor too small is refused."""
    timeout: str | int | None = None
    """Job time limit: seconds, or ``"90m"`` / ``"2h"``. None: from the data size and the
    flavor's slowest assumed speed (x 1.5, + 30 min, at least 1 h)."""
    model_params_b: float | None = Field(None, gt=0)
    """The base model's size in billions of parameters, when neither its id nor the Hub says."""
    check_memory: bool = True
    """False: run on ``flavor`` even when the memory estimate says it will not fit."""
    labels: dict[str, str] = Field(default_factory=dict)
    image: str = AUTOTRAIN_IMAGE
    """The AutoTrain image (backend ``autotrain``)."""
    text_column: str = "messages"
    chat_template: Literal["tokenizer", "chatml", "zephyr"] | None = "tokenizer"
    peft: bool | None = None
    """None: LoRA when any lora_* hyperparameter is set; True/False force it."""
    quantization: Literal["int4", "int8"] | None = None
    mixed_precision: Literal["fp16", "bf16"] | None = None
    gradient_accumulation: int | None = Field(None, ge=1)
    extra_args: list[str] = Field(default_factory=list)
    """More ``autotrain llm`` flags, passed as given."""
    sdk_requirement: str = "finetune-sdk[local,hf]"
    """What ``uv`` installs in the job (backend ``sdk``); pin a version for reproducibility."""
    python: str = "3.12"


class HuggingFaceProvider(Provider):
    """HF Jobs (AutoTrain image or our trainer), with data and results on the Hub."""

    name: ClassVar[str] = "huggingface"
    capabilities: ClassVar[Capabilities] = Capabilities(
        methods=frozenset({"sft", "dpo"}),
        hyperparameters=frozenset({
            "epochs", "learning_rate", "batch_size", "lora_rank", "lora_alpha", "lora_dropout",
            "lora_target_modules", "warmup_ratio", "max_seq_length", "seed", "beta",
        }),
        cancel=True,
        pause_resume=False,
        events=True,
        metrics=True,
        checkpoints=False,
        validation_file=True,
        client_chosen_ids=False,
        hosted=True,
        needs_deployment=True,
        default_poll_interval=30.0,
    )
    STATUS_MAP: ClassVar[dict[str, JobStatus]] = mapping.STATUS_MAP
    options_type: ClassVar[type[ProviderOptions]] = HuggingFaceOptions

    def __init__(
        self,
        token: str | SecretStr | None = None,
        *,
        namespace: str | None = None,
        endpoint: str | None = None,
        dataset_repo: str | None = None,
        timeout: float | None = 60.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        """Args:
        token: a Hub token with write access; default: HF_TOKEN (environment, then .env), then
            the token saved by ``hf auth login`` (see ``token.find_token``).
        namespace: the user or org that owns jobs and repos (HF_NAMESPACE); default: whoami.
        endpoint: the Hub URL (HF_ENDPOINT), for a mirror or tests.
        dataset_repo: the private dataset repo for uploads
            (default ``{namespace}/finetune-sdk-data``).
        timeout: seconds each Hub request may take to connect and per read/write before
            ``APITimeoutError`` (None: no limit, huggingface_hub's default). Not the job's time
            limit, which is ``HuggingFaceOptions.timeout``.
        """
        super().__init__(retry=retry)
        self.timeout = checked_timeout("huggingface", timeout)
        self._token = require_token(token)
        self.endpoint = (setting(endpoint, "HF_ENDPOINT")  # .env too, like the token
                         or "https://huggingface.co").rstrip("/")
        self._namespace = setting(namespace, "HF_NAMESPACE")
        self._dataset_repo = dataset_repo
        self._api: Any = None
        self._sizes: dict[str, float | None] = {}

    # -- plumbing -------------------------------------------------------------------------
    def _hf(self) -> Any:
        if self._api is None:
            from huggingface_hub import HfApi

            self._api = HfApi(endpoint=self.endpoint, token=self._token.get_secret_value(),
                              library_name="finetune-sdk")
        return self._api

    def _call(self, fn: Callable[[], T], *, idempotent: bool = True, retry: bool = True) -> T:
        secret = self._token.get_secret_value()

        def timed() -> T:
            # One retry owner: huggingface_hub's http_backoff must not retry inside self.retry.
            with request_timeout(self.timeout), hub_retries_off():
                return fn()

        def translated() -> T:
            return call_translated(timed, lambda exc: mapping.translate_error(exc, [secret]))

        return self.retry.call(translated, idempotent=idempotent) if retry else translated()

    @property
    def namespace(self) -> str:
        """The owner of jobs and repos; asked of the Hub once when not configured."""
        if not self._namespace:
            self._namespace = self._call(lambda: self._hf().whoami()["name"])
        return self._namespace

    @property
    def dataset_repo(self) -> str:
        return self._dataset_repo or f"{self.namespace}/finetune-sdk-data"

    # -- datasets -------------------------------------------------------------------------
    def upload_dataset(
        self, path: Path, *, purpose: Literal["train", "validation"] = "train", wait: bool = True
    ) -> DatasetRef:
        """Convert to the chat/preference JSONL AutoTrain reads; upload to a private repo.

        The commit is the whole upload: the ref is ``ready`` whatever ``wait`` says.
        """
        from ...data.convert import wire_file
        from .dataset import write_wire_jsonl

        source = Path(path)
        with wire_file(source, write_wire_jsonl, prefix="hf-wire-") as wire:
            method, count, data = wire.method, wire.examples, wire.data
        digest = hashlib.sha256(data).hexdigest()
        # One folder per content hash: a repeated upload is the same file, and each job
        # mounts exactly its own folder.
        path_in_repo = f"{digest[:16]}/{purpose}.jsonl"
        repo_id = self.dataset_repo
        api = self._hf()
        self._call(lambda: api.create_repo(repo_id, repo_type="dataset", private=True,
                                           exist_ok=True))
        commit = self._call(lambda: api.upload_file(
            path_or_fileobj=data, path_in_repo=path_in_repo, repo_id=repo_id,
            repo_type="dataset", commit_message=f"finetune-sdk: {purpose} data {digest[:16]}",
        ))
        revision = getattr(commit, "oid", None)
        return DatasetRef(
            # repo, file and the commit that holds it: a job mounts exactly this revision.
            id=f"{repo_id}:{path_in_repo}" + (f"@{revision}" if revision else ""),
            provider=self.name,
            uri=f"{self.endpoint}/datasets/{repo_id}/blob/{revision or 'main'}/{path_in_repo}",
            filename=source.name,
            bytes=len(data),
            sha256=digest,
            num_examples=count,
            kind="preference" if method == "dpo" else "chat",
            provider_details={"repo_id": repo_id, "path": path_in_repo, "revision": revision},
        )

    # -- jobs -----------------------------------------------------------------------------
    def check_spec(self, spec: JobSpec) -> list[str]:
        options: HuggingFaceOptions = self.resolve_options(spec)
        if options.backend == "sdk" and spec.method != "sft":
            raise self.unsupported(f"method={spec.method!r} with backend='sdk'",
                                   "Use backend='autotrain' for DPO.")
        if spec.extra_body:
            # huggingface_hub builds the run_job payload itself; nothing would carry these.
            raise self.unsupported(
                "JobSpec.extra_body",
                "Use HuggingFaceOptions(extra_args=[...]) for more `autotrain llm` flags.",
            )
        commands.project_name(spec)
        notes = self._plan(spec, options).notes
        for note in notes:
            warnings.warn(f"huggingface: {note}", PreflightWarning, stacklevel=3)
        return notes

    def _plan(self, spec: JobSpec, options: HuggingFaceOptions) -> hardware.Plan:
        """Flavor and timeout: memory preflight against the model's size (hardware.py)."""
        return hardware.plan_job(spec, options, hub_size=self._hub_size)

    def _hub_size(self, repo_id: str) -> float | None:
        """Billions of parameters in the repo's safetensors (the Hub counts them), or None."""
        if repo_id not in self._sizes:
            try:
                info = self._call(lambda: self._hf().model_info(repo_id, expand=["safetensors"]))
                total = getattr(getattr(info, "safetensors", None), "total", None)
                self._sizes[repo_id] = total / 1e9 if total else None
            except Exception:  # noqa: BLE001 - a size we cannot read only skips the check
                self._sizes[repo_id] = None
        return self._sizes[repo_id]

    def create_job(self, spec: JobSpec) -> Job:
        """One ``run_job`` / ``run_uv_job`` request, never retried here."""
        from huggingface_hub import Volume

        options: HuggingFaceOptions = self.resolve_options(spec)
        if not self.is_prepared(spec):  # a direct call; through the lifecycle it ran once
            self.check_spec(spec)
        plan = self._plan(spec, options)
        namespace = self.namespace
        output_repo = f"{namespace}/{commands.project_name(spec)}"
        labels = {**spec.labels, **options.labels, **mapping.ref_labels(spec.client_ref)}
        env = {"FTSDK_OUTPUT_REPO": output_repo, "FTSDK_BACKEND": options.backend,
               "FTSDK_BASE_MODEL": spec.base_model}
        secrets = {"HF_TOKEN": self._token.get_secret_value()}
        api = self._hf()
        common: dict[str, Any] = dict(env=env, secrets=secrets, flavor=plan.flavor,
                                      timeout=plan.timeout, labels=labels, namespace=namespace)
        if options.backend == "autotrain":
            command, volumes = commands.autotrain_command(spec, options, namespace=namespace)
            common["volumes"] = [Volume(**v) for v in volumes]
            info = self._call(lambda: api.run_job(image=options.image, command=command, **common),
                              retry=False)
        else:
            volumes, _ = commands.mounted_files(spec)
            common["volumes"] = [Volume(**v) for v in volumes]
            info = self._call(lambda: _quiet(api.run_uv_job)(
                "python",
                script_args=["-m", "finetune_sdk.providers.huggingface.remote_train",
                             *commands.sdk_script_args(spec, output_repo=output_repo)],
                dependencies=[options.sdk_requirement],
                python=options.python,
                **common,
            ), retry=False)
        return mapping.job_from_info(info)

    def _split_id(self, job_id: str) -> tuple[str, str]:
        namespace, _, bare = job_id.rpartition("/")
        return (namespace or self.namespace), bare

    def get_job(self, job_id: str) -> Job:
        namespace, bare = self._split_id(job_id)
        info = self._call(lambda: self._hf().inspect_job(job_id=bare, namespace=namespace))
        return mapping.job_from_info(info)

    def list_jobs(
        self, *, limit: int | None = None, labels: dict[str, str] | None = None
    ) -> Iterator[Job]:
        """Newest first; follows the ``Link: rel=next`` pages, one retried request each."""
        first = [("label", f"{k}={v}") for k, v in (labels or {}).items()]
        start = f"{self.endpoint}/api/jobs/{self.namespace}"
        secret = self._token.get_secret_value()

        def page(next_url: str | None, _size: int) -> tuple[list[Any], str | None]:
            # The Hub picks the page size; the next link carries the query already.
            return self._call(lambda: mapping.fetch_page(
                next_url or start, [] if next_url else first, secret))

        for item in token_pages(page, limit=limit):
            yield mapping.job_from_info(mapping.job_info(item, self.endpoint, [secret]))

    def find_job(self, client_ref: str) -> Job | None:
        for job in self.list_jobs(labels=mapping.ref_labels(client_ref)):
            if job.client_ref == client_ref:
                return job
        return None

    def cancel_job(self, job_id: str) -> Job:
        namespace, bare = self._split_id(job_id)
        self._call(lambda: self._hf().cancel_job(job_id=bare, namespace=namespace))
        return self.get_job(job_id)

    def _log_lines(self, job_id: str) -> list[str]:
        namespace, bare = self._split_id(job_id)
        return self._call(lambda: list(
            self._hf().fetch_job_logs(job_id=bare, namespace=namespace, follow=False)
        ))

    def list_events(self, job_id: str, *, limit: int | None = None) -> Iterator[JobEvent]:
        """The job's log, one event per line (secrets redacted)."""
        lines = self._log_lines(job_id)
        for number, line in enumerate(lines[:limit] if limit else lines, 1):
            yield mapping.event_from_line(job_id, number, line, [self._token.get_secret_value()])

    def get_metrics(self, job_id: str) -> list[MetricPoint]:
        """Loss lines parsed from the log (HF Jobs report no training metrics of their own)."""
        return commands.parse_metrics(self._log_lines(job_id))

    def resolve_model(self, job: Job) -> ModelRef:
        """The pushed Hub repo, once it exists (a completed job whose push failed has none)."""
        repo_id = job.output_model or (job.provider_details.get("environment") or {}).get(
            "FTSDK_OUTPUT_REPO")
        if not repo_id:
            raise NotFoundError(f"HF job {job.id} names no output repo", provider=self.name)
        api = self._hf()
        try:
            self._call(lambda: api.model_info(repo_id))
        except NotFoundError:
            raise NotFoundError(
                f"HF job {job.id} finished but the model repo {repo_id} does not exist: the push"
                " to the Hub failed or has not finished; see `finetune events` for the log",
                provider=self.name,
            ) from None
        return ModelRef(
            id=repo_id,
            provider=self.name,
            base_model=job.base_model,
            job_id=job.id,
            ready_for_inference=False,
            needs_deployment=True,
            base_url=f"{self.endpoint}/{repo_id}",
            how_to_serve=(
                "a private Hub repo: load it with transformers/PEFT, or create an Inference"
                f" Endpoint (HfApi().create_inference_endpoint(..., repository={repo_id!r}))"
            ),
            provider_details={"backend": (job.provider_details.get("environment") or {}).get(
                "FTSDK_BACKEND")},
        )

    def __repr__(self) -> str:
        return f"HuggingFaceProvider(namespace={self._namespace!r}, endpoint={self.endpoint!r})"


def _quiet(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` without huggingface_hub's "experimental" warning (run_uv_job is marked so)."""

    def call(*args: Any, **kwargs: Any) -> T:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is experimental.*")
            return fn(*args, **kwargs)

    return call
