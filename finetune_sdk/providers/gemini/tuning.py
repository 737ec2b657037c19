"""JobSpec -> google-genai ``CreateTuningJobConfig`` fields, refusing what Vertex would reject.

Runs in preflight (before any upload) and again in ``create_job``, so a bad adapter size or an
invalid label never costs an upload or a request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import ConfigurationError, UnsupportedFeatureError
from ...types import DatasetRef, JobSpec
from . import mapping

__all__ = ["gcs_uri", "tuning_config"]


def tuning_config(
    spec: JobSpec, options: Any, unsupported: Callable[..., UnsupportedFeatureError]
) -> dict[str, Any]:
    """The CreateTuningJobConfig keyword arguments for ``spec`` (``options``: GeminiOptions)."""
    hp = spec.hyperparameters
    config: dict[str, Any] = {
        "method": "PREFERENCE_TUNING" if spec.method == "dpo" else "SUPERVISED_FINE_TUNING",
        "tuned_model_display_name": (spec.output_name or spec.client_ref)[:128],
    }
    if hp.lora_rank is not None and options.adapter_size not in (None, hp.lora_rank):
        raise ConfigurationError(
            f"gemini: lora_rank={hp.lora_rank} and GeminiOptions.adapter_size="
            f"{options.adapter_size} disagree; set one of them"
        )
    size = options.adapter_size if options.adapter_size is not None else hp.lora_rank
    if size is not None:
        if size not in mapping.ADAPTER_SIZES:
            raise unsupported(
                f"adapter size {size}",
                "Vertex accepts adapter sizes (LoRA ranks) "
                + ", ".join(str(s) for s in mapping.ADAPTER_SIZES) + ".",
            )
        config["adapter_size"] = mapping.ADAPTER_SIZES[size]
    # Vertex: Gemini models take a learning-rate multiplier, open models an absolute rate.
    gemini_model = spec.base_model.removeprefix("publishers/google/models/").startswith("gemini")
    if gemini_model and (hp.learning_rate is not None or hp.batch_size is not None):
        raise unsupported(
            "learning_rate/batch_size for Gemini models",
            "Vertex takes learning_rate_multiplier for Gemini; learning_rate and batch_size"
            " only for open models.",
        )
    if not gemini_model and hp.learning_rate_multiplier is not None:
        raise unsupported("learning_rate_multiplier for open models", "Use learning_rate instead.")
    if hp.beta is not None and spec.method != "dpo":
        raise unsupported("beta outside preference tuning (method='dpo')")
    for ours, theirs in (
        ("epochs", "epoch_count"),
        ("learning_rate_multiplier", "learning_rate_multiplier"),
        ("learning_rate", "learning_rate"),
        ("batch_size", "batch_size"),
        ("beta", "beta"),
    ):
        value = getattr(hp, ours)
        if value is not None:
            config[theirs] = value
    labels = {**spec.labels, mapping.CLIENT_REF_LABEL: mapping.label_value(spec.client_ref)}
    mapping.check_labels(labels)
    config["labels"] = labels
    for field in ("description", "export_last_checkpoint_only", "tuning_mode", "service_account"):
        value = getattr(options, field)
        if value is not None:
            config[field] = value
    return config


def gcs_uri(ref: Any, field: str) -> str:
    """The gs:// URI of an uploaded dataset, or a ConfigurationError saying to upload first."""
    uri = (ref.uri or ref.id) if isinstance(ref, DatasetRef) else str(ref)
    if not str(uri).startswith("gs://"):
        raise ConfigurationError(
            f"gemini: JobSpec.{field} must be uploaded to Cloud Storage first (a gs:// DatasetRef"
            f" from client.datasets.upload), got {uri!r}"
        )
    return str(uri)

