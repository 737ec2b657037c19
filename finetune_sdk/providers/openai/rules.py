"""OpenAI's rules for a job spec, as data and one check: the 2027-01-06 sunset, tunable base
models and their retirements, hyperparameter ranges, metadata limits.

``check_spec`` raises UnsupportedFeatureError for what OpenAI would refuse and returns warnings.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from ...errors import UnsupportedFeatureError
from ...types import JobSpec

__all__ = [
    "BASE_MODEL_RETIREMENTS",
    "DPO_BASE_MODELS",
    "NEW_JOBS_UNTIL",
    "SUPPORTED_BASE_MODELS",
    "check_dates",
    "check_spec",
]

PROVIDER = "openai"

NEW_JOBS_UNTIL = date(2027, 1, 6)
"""OpenAI accepts no new fine-tuning jobs from this day on (deprecations page, 2026-05-07)."""

SUPPORTED_BASE_MODELS: frozenset[str] = frozenset(
    {
        "gpt-4.1-2025-04-14",
        "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano-2025-04-14",
        "gpt-4o-2024-08-06",
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini",
        "gpt-3.5-turbo",
        "gpt-3.5-turbo-0125",
        "babbage-002",
        "davinci-002",
    }
)
"""Base models OpenAI documents as tunable (data; ``ft:...`` models continue a fine-tune)."""

DPO_BASE_MODELS: frozenset[str] = frozenset(
    {
        "gpt-4.1-2025-04-14",
        "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano-2025-04-14",
        "gpt-4o-2024-08-06",
        "gpt-4o-mini-2024-07-18",
    }
)

BASE_MODEL_RETIREMENTS: dict[str, date] = {
    "gpt-4o-2024-08-06": date(2027, 1, 14),
    "gpt-4o-2024-11-20": date(2027, 1, 14),
    "gpt-4o-mini-2024-07-18": date(2027, 1, 14),
    "gpt-4.1-2025-04-14": date(2027, 1, 14),
    "gpt-4.1-mini-2025-04-14": date(2027, 1, 14),
}
"""Base models shut down (with their fine-tunes) on these days, per the deprecation table."""


def check_dates(base_model: str, today: date) -> list[str]:
    """The sunset rule: refuse on/after NEW_JOBS_UNTIL, warn before; base-model retirements."""
    if today >= NEW_JOBS_UNTIL:
        raise UnsupportedFeatureError(
            PROVIDER,
            f"new fine-tuning jobs since {NEW_JOBS_UNTIL.isoformat()}",
            "OpenAI shut down self-serve fine-tuning; existing fine-tuned models keep serving"
            " until their base model retires. Train with provider='fireworks', 'gemini',"
            " 'huggingface' or 'local' instead.",
        )
    days = (NEW_JOBS_UNTIL - today).days
    found = [
        f"OpenAI stops accepting new fine-tuning jobs on {NEW_JOBS_UNTIL.isoformat()} ({days} days"
        " left; organizations without recent fine-tuning activity are already refused). Plan a"
        " move to fireworks, gemini, huggingface or local."
    ]
    retires = BASE_MODEL_RETIREMENTS.get(base_model)
    if retires is not None:
        found.append(
            f"{base_model} and every model fine-tuned from it shut down on {retires.isoformat()}"
        )
    return found


def check_spec(
    spec: JobSpec,
    *,
    today: date,
    supported: Collection[str] = SUPPORTED_BASE_MODELS,
    allow_unlisted: bool = True,
) -> list[str]:
    """Refuse what OpenAI would refuse (before any upload); return the warnings."""
    hp = spec.hyperparameters
    if hp.learning_rate is not None and spec.strict:
        raise UnsupportedFeatureError(
            PROVIDER,
            "an absolute learning_rate",
            "OpenAI takes learning_rate_multiplier (relative to its default).",
        )
    if hp.beta is not None and spec.method != "dpo":
        raise UnsupportedFeatureError(
            PROVIDER, "beta with method='sft'", "beta is the DPO temperature."
        )
    if hp.batch_size is not None and hp.batch_size > 256:
        raise UnsupportedFeatureError(
            PROVIDER, f"batch_size={hp.batch_size}", "OpenAI allows 1..256."
        )
    if hp.epochs is not None and hp.epochs > 50:
        raise UnsupportedFeatureError(PROVIDER, f"epochs={hp.epochs}", "OpenAI allows 1..50.")
    if hp.beta is not None and hp.beta > 2:
        raise UnsupportedFeatureError(PROVIDER, f"beta={hp.beta}", "OpenAI allows 0 < beta <= 2.")
    if spec.output_name is not None and len(spec.output_name) > 64:
        raise UnsupportedFeatureError(
            PROVIDER, "an output_name over 64 characters", "It becomes the suffix."
        )
    long = [k for k, v in spec.labels.items() if len(k) > 64 or len(v) > 512]
    if len(spec.labels) > 15 or long:
        raise UnsupportedFeatureError(
            PROVIDER,
            f"these labels ({len(spec.labels)} given; too long: {long or 'none'})",
            "Labels become job metadata: at most 15 pairs (one is kept for client_ref),"
            " keys up to 64 and values up to 512 characters.",
        )
    found = check_dates(spec.base_model, today)
    model = spec.base_model
    if not model.startswith("ft:") and model not in supported:
        listed = ", ".join(sorted(supported))
        if not allow_unlisted:
            raise UnsupportedFeatureError(
                PROVIDER, f"the base model {model!r}", f"Tunable models: {listed}."
            )
        found.append(f"{model!r} is not in the list of tunable OpenAI models ({listed})")
    if spec.method == "dpo" and model in supported and model not in DPO_BASE_MODELS:
        found.append(f"OpenAI does not list {model!r} for DPO")
    return found
