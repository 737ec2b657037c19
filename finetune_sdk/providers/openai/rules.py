"""OpenAI's rules for a job spec: the 2027-01-06 sunset, tunable base models and their
retirements (data: ``facts.json`` next to this module), hyperparameter ranges, metadata limits.

``check_spec`` raises UnsupportedFeatureError for what OpenAI would refuse and returns warnings.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from ...errors import (
    APIStatusError,
    FineTuningEligibilityError,
    PermissionDeniedError,
    UnsupportedFeatureError,
)
from ...facts import check_base_model, load_facts
from ...types import JobSpec

__all__ = [
    "BASE_MODEL_RETIREMENTS",
    "DPO_BASE_MODELS",
    "NEW_JOBS_UNTIL",
    "SUPPORTED_BASE_MODELS",
    "check_dates",
    "check_spec",
    "eligibility_error",
    "from_permission_denied",
]

PROVIDER = "openai"

_FACTS = load_facts(PROVIDER)
assert _FACTS is not None and _FACTS.new_jobs_until is not None  # shipped with the package

NEW_JOBS_UNTIL: date = _FACTS.new_jobs_until
"""OpenAI accepts no new fine-tuning jobs from this day on (deprecations page, 2026-05-07)."""

SUPPORTED_BASE_MODELS: frozenset[str] = frozenset(
    name for m in _FACTS.models if m.status != "retired" for name in (m.id, *m.aliases)
)
"""Base models OpenAI documents as tunable, from facts.json (``ft:...`` continue a fine-tune)."""

DPO_BASE_MODELS: frozenset[str] = frozenset(
    name for m in _FACTS.models if "dpo" in m.methods for name in (m.id, *m.aliases)
)

BASE_MODEL_RETIREMENTS: dict[str, date] = {
    m.id: m.shutdown for m in _FACTS.models if m.shutdown is not None
}
"""Base models shut down (with their fine-tunes) on these days, per the deprecation table."""

MIGRATE_HINT = (
    "Existing fine-tuned models keep serving until their base model retires. Train with"
    " provider='fireworks', 'gemini', 'huggingface' or 'local' instead: `finetune migrate`"
    " moves a job spec there."
)


def eligibility_error(
    message: str, *, request_id: str | None = None, body: Any = None, code: str | None = None
) -> FineTuningEligibilityError:
    """The one error for "this organization may not create fine-tuning jobs any more"."""
    return FineTuningEligibilityError(
        f"{message} OpenAI is winding down self-serve fine-tuning: organizations without recent"
        " fine-tuning activity are refused now, and nobody can create jobs from"
        f" {NEW_JOBS_UNTIL.isoformat()}. {MIGRATE_HINT}",
        provider=PROVIDER,
        cutoff=NEW_JOBS_UNTIL,
        request_id=request_id,
        body=body,
        provider_code=code,
    )


def from_permission_denied(exc: PermissionDeniedError) -> APIStatusError:
    """A 403 on job create as the eligibility error, unless it is a key without the scope
    (a restricted project key is fixed by a new key, not by moving provider)."""
    text = str(exc).lower()
    if "scope" in text or "insufficient permissions" in text:
        return exc
    vendor = exc.message.removeprefix(f"HTTP {exc.status_code}: ").rstrip(".")
    return eligibility_error(
        f"job create refused (HTTP 403: {vendor}).",
        request_id=exc.request_id,
        body=exc.body,
        code=exc.provider_code,
    )


def _base_of(model: str) -> str:
    """``ft:gpt-4o-mini-2024-07-18:org:suffix:id`` continues a fine-tune of its base."""
    return model.split(":")[1] if model.startswith("ft:") and model.count(":") >= 2 else model


def check_dates(base_model: str, today: date, method: str = "sft") -> list[str]:
    """The sunset rule: refuse on/after NEW_JOBS_UNTIL, warn before; then the catalog's dates
    for the base model (a retired one is refused with its successor)."""
    if today >= NEW_JOBS_UNTIL:
        raise FineTuningEligibilityError(
            f"new fine-tuning jobs are refused since {NEW_JOBS_UNTIL.isoformat()}: OpenAI shut"
            f" down self-serve fine-tuning. {MIGRATE_HINT}",
            provider=PROVIDER,
            cutoff=NEW_JOBS_UNTIL,
        )
    days = (NEW_JOBS_UNTIL - today).days
    found = [
        f"OpenAI stops accepting new fine-tuning jobs on {NEW_JOBS_UNTIL.isoformat()} ({days} days"
        " left; organizations without recent fine-tuning activity are already refused). Plan a"
        " move to fireworks, gemini, huggingface or local (`finetune migrate`)."
    ]
    base = _base_of(base_model)
    if base in SUPPORTED_BASE_MODELS or _FACTS.find(base) is not None:
        found += check_base_model(PROVIDER, base, method, on=today)
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
    found = check_dates(spec.base_model, today, spec.method)
    model = spec.base_model
    if not model.startswith("ft:") and model not in supported and _FACTS.find(model) is None:
        listed = ", ".join(sorted(supported))
        if not allow_unlisted:
            raise UnsupportedFeatureError(
                PROVIDER, f"the base model {model!r}", f"Tunable models: {listed}."
            )
        found.append(
            f"{model!r} is not in the list of tunable OpenAI models ({listed}). The catalog is"
            f" dated {_FACTS.date.isoformat()} and may be stale: upgrade finetune-sdk for newer"
            " data, or go ahead (this is only a warning)"
        )
    return found
