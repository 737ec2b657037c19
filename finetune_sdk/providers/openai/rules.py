"""OpenAI's rules for a job spec: the 2027-01-06 sunset, tunable base models and their
retirements (data: ``facts.json`` next to this module), hyperparameter ranges, metadata limits.

``check_spec`` raises UnsupportedFeatureError for what OpenAI would refuse and returns warnings.
Given another service's ``Profile`` it applies that one's limits and catalog instead, and the
OpenAI-only wind-down not at all.
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
from ...facts import ProviderFacts, check_base_model, load_facts
from ...types import JobSpec
from .profile import OPENAI, Profile

__all__ = [
    "BASE_MODEL_RETIREMENTS",
    "DPO_BASE_MODELS",
    "NEW_JOBS_UNTIL",
    "SUPPORTED_BASE_MODELS",
    "check_dates",
    "check_spec",
    "eligibility_error",
    "from_permission_denied",
    "tunable_ids",
]

PROVIDER = "openai"

_LOADED = load_facts(PROVIDER)
assert _LOADED is not None and _LOADED.new_jobs_until is not None  # shipped with the package
_FACTS: ProviderFacts = _LOADED

NEW_JOBS_UNTIL: date = _LOADED.new_jobs_until
"""OpenAI accepts no new fine-tuning jobs from this day on (deprecations page, 2026-05-07)."""


def tunable_ids(facts: ProviderFacts) -> frozenset[str]:
    """Ids and aliases of the catalog's models that are not retired."""
    return frozenset(
        name for m in facts.models if m.status != "retired" for name in (m.id, *m.aliases)
    )


SUPPORTED_BASE_MODELS: frozenset[str] = tunable_ids(_FACTS)
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


def _sunset(today: date) -> list[str]:
    """OpenAI's wind-down: refuse on/after NEW_JOBS_UNTIL, warn before."""
    if today >= NEW_JOBS_UNTIL:
        raise FineTuningEligibilityError(
            f"new fine-tuning jobs are refused since {NEW_JOBS_UNTIL.isoformat()}: OpenAI shut"
            f" down self-serve fine-tuning. {MIGRATE_HINT}",
            provider=PROVIDER,
            cutoff=NEW_JOBS_UNTIL,
        )
    days = (NEW_JOBS_UNTIL - today).days
    return [
        f"OpenAI stops accepting new fine-tuning jobs on {NEW_JOBS_UNTIL.isoformat()} ({days} days"
        " left; organizations without recent fine-tuning activity are already refused). Plan a"
        " move to fireworks, gemini, huggingface or local (`finetune migrate`)."
    ]


def check_dates(base_model: str, today: date, method: str = "sft") -> list[str]:
    """The sunset rule: refuse on/after NEW_JOBS_UNTIL, warn before; then the catalog's dates
    for the base model (a retired one is refused with its successor)."""
    found = _sunset(today)
    _, base = OPENAI.fine_tune_base(base_model)
    if base in SUPPORTED_BASE_MODELS or _FACTS.find(base) is not None:
        found += check_base_model(PROVIDER, base, method, on=today)
    return found


def check_spec(
    spec: JobSpec,
    *,
    today: date,
    supported: Collection[str] | None = None,
    allow_unlisted: bool = True,
    profile: Profile = OPENAI,
) -> list[str]:
    """Refuse what the service would refuse (before any upload); return the warnings.

    ``supported``: the tunable base models (default: the profile's catalog).
    """
    name, shown, limits = profile.name, profile.display_name, profile.limits
    hp = spec.hyperparameters
    if hp.learning_rate is not None and spec.strict:
        raise UnsupportedFeatureError(
            name,
            "an absolute learning_rate",
            f"{shown} takes learning_rate_multiplier (relative to its default).",
        )
    if hp.beta is not None and spec.method != "dpo":
        raise UnsupportedFeatureError(
            name, "beta with method='sft'", "beta is the DPO temperature."
        )
    batch = hp.batch_size
    if limits.max_batch_size and batch is not None and batch > limits.max_batch_size:
        raise UnsupportedFeatureError(
            name, f"batch_size={batch}", f"{shown} allows 1..{limits.max_batch_size}."
        )
    if limits.max_epochs and hp.epochs is not None and hp.epochs > limits.max_epochs:
        raise UnsupportedFeatureError(
            name, f"epochs={hp.epochs}", f"{shown} allows 1..{limits.max_epochs}."
        )
    if limits.max_beta and hp.beta is not None and hp.beta > limits.max_beta:
        raise UnsupportedFeatureError(
            name, f"beta={hp.beta}", f"{shown} allows 0 < beta <= {limits.max_beta:g}."
        )
    if spec.output_name is not None and len(spec.output_name) > limits.max_suffix:
        raise UnsupportedFeatureError(
            name,
            f"an output_name over {limits.max_suffix} characters",
            "It becomes the suffix."
            + ("" if profile is OPENAI else f" {shown} takes at most {limits.max_suffix}."),
        )
    long = [k for k, v in spec.labels.items() if len(k) > 64 or len(v) > 512]
    if len(spec.labels) > 15 or long:
        raise UnsupportedFeatureError(
            name,
            f"these labels ({len(spec.labels)} given; too long: {long or 'none'})",
            "Labels become job metadata: at most 15 pairs (one is kept for client_ref),"
            " keys up to 64 and values up to 512 characters.",
        )
    found = _sunset(today) if profile.openai_wind_down else []
    return found + _check_catalog(spec, profile, today, supported, allow_unlisted)


def _check_catalog(
    spec: JobSpec,
    profile: Profile,
    today: date,
    supported: Collection[str] | None,
    allow_unlisted: bool,
) -> list[str]:
    """The catalog's dates for the base model (or the base of a fine-tune being continued);
    an id the catalog lacks warns (or, with ``allow_unlisted=False``, is refused)."""
    facts = load_facts(profile.facts) if profile.facts else None
    if facts is None:  # a generic server: the caller knows its models, we do not
        return []
    tunable = supported if supported is not None else tunable_ids(facts)
    model = spec.base_model
    fine_tune, base = profile.fine_tune_base(model)
    if base in tunable or facts.find(base) is not None:
        return check_base_model(facts.provider, base, spec.method, on=today)
    if fine_tune:
        return []
    listed = ", ".join(sorted(tunable))
    if not allow_unlisted:
        raise UnsupportedFeatureError(
            profile.name, f"the base model {model!r}", f"Tunable models: {listed}."
        )
    return [
        f"{model!r} is not in the list of tunable {facts.display_name} models ({listed}). The"
        f" catalog is dated {facts.date.isoformat()} and may be stale: upgrade finetune-sdk for"
        " newer data, or go ahead (this is only a warning)"
    ]
