"""The job create request: ``JobSpec`` + ``TogetherOptions`` -> the SDK's own
``create_finetune_request`` (its checks against the model's limits included), and what a
failure *before* the create means to the lifecycle.

together 3.1.x's ``fine_tuning.create`` reads the model limits and asks for a price estimate
before it POSTs; the adapter does the same steps one by one so that only the POST is the create.
"""

from __future__ import annotations

from typing import Any, Literal

from ...errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    DatasetError,
    FinetuneError,
    RateLimitError,
    UnsupportedFeatureError,
)
from ...types import DatasetRef, JobSpec, ProviderOptions
from . import mapping

__all__ = ["LORA_FIELDS", "CreateNotSentError", "TogetherOptions", "build_request", "file_id",
           "not_sent"]

LORA_FIELDS = ("lora_rank", "lora_alpha", "lora_dropout", "lora_target_modules")


class TogetherOptions(ProviderOptions):
    """Together-only job settings (``JobSpec.options``); None leaves the SDK's default."""

    lora: bool | None = None
    """None: Together's default (LoRA); False: full fine-tuning; True: LoRA explicitly."""
    n_evals: int | None = None
    """Evaluations on the validation file (default 1 when one is given, else 0)."""
    n_checkpoints: int | None = None
    train_on_inputs: bool | Literal["auto"] | None = None
    lr_scheduler_type: Literal["linear", "cosine"] | None = None
    min_lr_ratio: float | None = None
    weight_decay: float | None = None
    max_grad_norm: float | None = None
    packing: bool | None = None
    from_checkpoint: str | None = None
    """Continue a previous job: ``<job id>`` or ``<job id>:<step>`` (a Checkpoint's id)."""
    wandb_project_name: str | None = None
    """Log to Weights & Biases (the key comes from ``wandb_api_key`` / WANDB_API_KEY)."""
    wandb_name: str | None = None


class CreateNotSentError(APIConnectionError):
    """A step before the job create failed (model limits, the file's state): no create was
    sent, so the lifecycle may safely send it again."""


def file_id(ref: Any, field: str) -> str:
    """The Together file id of an uploaded dataset (a DatasetRef or a ``file-...`` string)."""
    if isinstance(ref, DatasetRef):
        return ref.id
    if isinstance(ref, str) and ref.startswith("file-"):
        return ref
    raise DatasetError(
        f"expected an uploaded Together file (DatasetRef or 'file-...'), got {ref!r};"
        " upload it with client.datasets.upload first", field=field)


def build_request(spec: JobSpec, options: TogetherOptions, limits: Any, *,
                  wandb_key: str | None) -> Any:
    """The SDK's ``FinetuneRequest`` for ``spec`` (UnsupportedFeatureError naming the SDK's
    complaint when a value is outside this model's limits)."""
    from together.lib.resources.fine_tuning import create_finetune_request

    hp = spec.hyperparameters
    training = file_id(spec.training_file, "training_file")
    validation = file_id(spec.validation_file, "validation_file") \
        if spec.validation_file else None
    lora = options.lora
    if lora is None and any(getattr(hp, n) is not None for n in LORA_FIELDS):
        lora = True  # with lora=None the SDK drops the LoRA settings without a word
    wandb = bool(options.wandb_project_name or options.wandb_name)
    kwargs: dict[str, Any] = dict(
        model=None if options.from_checkpoint else spec.base_model,
        from_checkpoint=options.from_checkpoint, training_file=training,
        validation_file=validation or "", n_epochs=hp.epochs or 1,
        batch_size=hp.batch_size or "max", learning_rate=hp.learning_rate,
        warmup_ratio=hp.warmup_ratio, max_seq_length=hp.max_seq_length, lora=lora,
        lora_r=hp.lora_rank, lora_alpha=hp.lora_alpha, lora_dropout=hp.lora_dropout or 0,
        lora_trainable_modules=",".join(hp.lora_target_modules or []) or "all-linear",
        suffix=mapping.suffix_for(spec), random_seed=hp.seed, training_method=spec.method,
        dpo_beta=hp.beta,
        # A validation file without evaluations would be uploaded for nothing.
        n_evals=options.n_evals if options.n_evals is not None else (1 if validation else 0),
        # Said explicitly: left unset the SDK logs a warning on every SFT job.
        train_on_inputs=options.train_on_inputs if options.train_on_inputs is not None
        else ("auto" if spec.method == "sft" else None),
        wandb_project_name=options.wandb_project_name, wandb_name=options.wandb_name,
        wandb_api_key=wandb_key if wandb else None,
    )
    for name in ("n_checkpoints", "lr_scheduler_type", "min_lr_ratio", "weight_decay",
                 "max_grad_norm", "packing"):
        if getattr(options, name) is not None:
            kwargs[name] = getattr(options, name)
    try:
        request, _ttype, _tmethod = create_finetune_request(model_limits=limits, **kwargs)
    except ValueError as exc:  # the SDK's checks against this model's limits
        raise UnsupportedFeatureError(mapping.PROVIDER, f"these settings for {spec.base_model}",
                                      str(exc)) from None
    return request


def estimate_kwargs(request: Any) -> dict[str, Any]:
    """``fine_tuning.estimate_price`` arguments for a request, as the SDK's create sends them."""
    from together.lib.resources.fine_tuning import create_price_estimation_params

    ttype, tmethod = create_price_estimation_params(request)
    kwargs: dict[str, Any] = dict(training_file=request.training_file, model=request.model or "",
                                  n_epochs=request.n_epochs, n_evals=request.n_evals or 0,
                                  training_type=ttype, training_method=tmethod)
    if request.validation_file:
        kwargs["validation_file"] = request.validation_file
    if request.from_checkpoint:
        kwargs["from_checkpoint"] = request.from_checkpoint
    return kwargs


def not_sent(exc: FinetuneError, what: str) -> FinetuneError:
    """A failure before the create was sent, in terms the lifecycle reads correctly: what it
    would take for "the job may exist" (a timeout, a 5xx, a garbled body) becomes "not sent"."""
    if isinstance(exc, RateLimitError) or (
            isinstance(exc, APIConnectionError) and not isinstance(exc, APITimeoutError)):
        return exc  # already "not sent"
    ambiguous = isinstance(exc, (APITimeoutError, APIResponseValidationError)) or (
        isinstance(exc, APIStatusError) and (exc.status_code >= 500 or exc.status_code == 408))
    if not ambiguous:
        return exc
    return CreateNotSentError(f"{what} failed, so the job create was not sent ({exc})",
                              provider=mapping.PROVIDER)
