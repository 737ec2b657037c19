"""Try a model: ``chat(model_ref, messages)`` for every provider (the "test" step).

```python
from finetune_sdk.inference import chat
print(chat(client.models.resolve(job), "How much water should I drink?"))
print(chat("gpt-4o-mini", [{"role": "user", "content": "hi"}], provider="openai"))
```

The vendor code lives in ``providers/<vendor>/inference.py`` (imported lazily, so the SDKs load
only when used); this module picks one by ``ModelRef.provider``. Sampling settings use one
vocabulary everywhere: ``max_tokens`` (alias ``max_new_tokens``), ``temperature``, ``top_p``,
``seed``, ``stop``. Credentials (``api_key``, ``base_url``, ``project``...) pass through.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .errors import (
    ConfigurationError,
    NotFoundError,
    ProviderNotInstalledError,
    UnsupportedFeatureError,
)
from .profiles import BUILTIN_PROFILES, ProviderProfile
from .retry import RetryPolicy
from .types import ModelRef

if TYPE_CHECKING:
    from .deployments.model import Deployment

__all__ = ["JOB_ID_SHAPES", "Messages", "as_messages", "as_model_ref", "chat", "chat_many",
           "guess_provider", "job_model_ref", "job_provider", "resolve_target"]

Messages = list[dict[str, Any]]

def _profiles() -> list[ProviderProfile]:
    """Every provider's profile: built-ins, then registered and entry-point ones."""
    from .registry import available_providers, registered_profile

    profiles = []
    for name in [p.name for p in BUILTIN_PROFILES] + available_providers():
        try:
            profiles.append(registered_profile(name))
        except ProviderNotInstalledError:
            continue  # a third-party package that does not import: it names no model
    return list({p.name: p for p in profiles}.values())


#: Job ids as each vendor writes them (from the provider profiles), so ``finetune chat JOB_ID``
#: knows a job from a model without the ledger (no model id takes these shapes). Checked before
#: ``guess_provider``: a Vertex job ``projects/...`` is not a Gemini model.
JOB_ID_SHAPES = {p.name: p.job_id_shape for p in BUILTIN_PROFILES if p.job_id_shape}


def job_provider(target: str, provider: str | None = None) -> str | None:
    """The provider whose job id ``target`` looks like (only ``provider``'s when given; then
    its short forms count too: a Vertex job's number, the job ids this SDK gives Fireworks)."""
    if provider:
        from .profiles import profile_of

        profile = profile_of(provider)
        return profile.name if profile.is_job_id(target, named=True) else None
    return next((p.name for p in _profiles() if p.is_job_id(target)), None)


def guess_provider(model_id: str) -> str | None:
    """The provider a model id clearly belongs to, or None when it could be several."""
    if model_id == "tiny" or Path(model_id).is_dir():
        return "local"
    return next((p.name for p in _profiles() if model_id.startswith(p.model_prefixes)), None)


def as_model_ref(model: ModelRef | str | Any, provider: str | None = None) -> ModelRef:
    """A ModelRef from a ModelRef, a Deployment (its endpoint; the use is noted for the idle
    warning) or a plain id (``provider=`` when the id does not say)."""
    if hasattr(model, "model_ref") and hasattr(model, "endpoint"):  # a Deployment
        from .deployments.api import note_use

        note_use(cast("Deployment", model))
        model = model.model_ref()
    if isinstance(model, ModelRef):
        if provider and provider != model.provider:
            raise ConfigurationError(
                f"model {model.id} belongs to {model.provider}, not {provider}")
        return model
    name = provider or guess_provider(model)
    if name is None:
        raise ConfigurationError(
            f"cannot tell which provider serves {model!r}: pass provider= (openai, fireworks,"
            " gemini, huggingface, local, fake)")
    return ModelRef(id=model, provider=name)


def as_messages(messages: Messages | str) -> Messages:
    """A string is one user message; anything else must be a list of role/content dicts."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if not isinstance(messages, list) or not all(
            isinstance(m, dict) and "role" in m for m in messages):
        raise ConfigurationError("messages must be a string or a list of {role, content} dicts")
    return messages


def _normalise(params: dict[str, Any]) -> dict[str, Any]:
    params = dict(params)
    if "max_new_tokens" in params:
        params.setdefault("max_tokens", params.pop("max_new_tokens"))
    return params


def _vendor_chat(provider: str) -> tuple[Callable[..., str], bool]:
    """The provider's ``chat`` (from its profile) and whether to retry it."""
    from .profiles import profile_of
    from .registry import available_providers

    try:
        profile = profile_of(provider)
    except ConfigurationError:
        profile = None
    if profile is None or profile.inference is None:
        known = sorted({*(p.name for p in _profiles() if p.inference), "local"})
        close = difflib.get_close_matches(provider, available_providers(), n=1)
        hint = f". Did you mean {close[0]!r}?" if close and close[0] != provider else ""
        raise ConfigurationError(f"no inference for provider {provider!r}"
                                 f" (known: {', '.join(known)}){hint}")
    return profile.chat_function(), profile.retry_inference


def _local_generate() -> Any:
    try:
        return importlib.import_module("finetune_sdk.local.generate")
    except ImportError as exc:
        if exc.name == "finetune_sdk.local.generate":
            raise ConfigurationError("local inference is not available in this build"
                                     " (finetune_sdk.local.generate is missing)") from None
        raise ProviderNotInstalledError(
            f"local inference needs {exc.name}: pip install 'finetune-sdk[local]'") from None


def _local_target(ref: ModelRef) -> str:
    return ref.id.removeprefix("local:")


def _local_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    unsupported = sorted(k for k in ("top_p", "stop") if params.get(k) is not None)
    if unsupported:  # silently sampling differently would skew a base-vs-tuned comparison
        raise UnsupportedFeatureError(
            "local", f"{' and '.join(unsupported)} in generation",
            "Local generation takes max_tokens, temperature and seed.")
    out = {"max_new_tokens": params.get("max_tokens") or 64,
           "temperature": params.get("temperature") or 0.0, "seed": params.get("seed") or 0}
    return out


def chat(model: ModelRef | str, messages: Messages | str, *, provider: str | None = None,
         retry: RetryPolicy | None = None, **params: Any) -> str:
    """The model's answer to ``messages`` (a string is one user turn).

    Hosted calls are retried under ``retry`` (default ``RetryPolicy()``: 429, 5xx, timeouts,
    Retry-After honoured): asking for an answer again changes nothing on the vendor's side.
    """
    ref = as_model_ref(model, provider)
    msgs = as_messages(messages)
    params = _normalise(params)
    if ref.provider == "local":
        return _local_generate().chat_local(_local_target(ref), msgs, **_local_kwargs(params))
    fn, retried = _vendor_chat(ref.provider)
    if not retried:
        return fn(ref, msgs, **params)
    return (retry or RetryPolicy()).call(lambda: fn(ref, msgs, **params), idempotent=True)


def chat_many(model: ModelRef | str, conversations: Sequence[Messages], *,
              provider: str | None = None, max_concurrency: int = 4, **params: Any) -> list[str]:
    """Answers for many conversations, in order: local models load once and run as a batch;
    hosted ones run ``max_concurrency`` requests at a time."""
    ref = as_model_ref(model, provider)
    params = _normalise(params)
    convs = [as_messages(c) for c in conversations]
    if not convs:
        return []
    if ref.provider == "local":
        return list(_local_generate().chat_local_batch(_local_target(ref), convs,
                                                       **_local_kwargs(params)))
    with ThreadPoolExecutor(max_workers=max(1, max_concurrency)) as pool:
        return list(pool.map(lambda c: chat(ref, c, **params), convs))


def job_model_ref(target: str, provider: str | None = None, *, ledger: Any = None,
                  **credentials: Any) -> ModelRef | None:
    """The model of job ``target``, or None when ``target`` is no job id.

    A job is the ledger's (any provider, or ``provider``'s) or an id shaped like a job of
    ``provider`` (or, without one, of any provider: ``JOB_ID_SHAPES``); its model comes from
    ``provider.get_job`` then ``resolve_model``, as ``client.models.resolve`` does.
    """
    from .client import Client
    from .errors import LedgerError
    from .ledger import Ledger

    try:
        opened = ledger if ledger is not None else Ledger()
    except (ConfigurationError, LedgerError):
        opened = None  # no usable ledger here: the id's shape may still say which provider
    row = opened.find_job(target, provider) if opened is not None else None
    if row is None and provider and opened is not None:
        other = opened.find_job(target)
        if other is not None:
            raise ConfigurationError(
                f"job {target} ran on {other.provider} (ledger at {opened.path}), not"
                f" {provider}: pass -p {other.provider}, or no -p")
    name = row.provider if row is not None else job_provider(target, provider)
    if name is None:
        return None
    try:
        client = Client(name, ledger=opened if opened is not None else False, **credentials)
        try:
            return client.models.resolve(target)
        finally:
            client.close()
    except (ConfigurationError, NotFoundError) as exc:
        if row is not None or provider:
            raise
        # Only the id's shape chose the provider: say so, the user may have meant another one.
        why = (f"{target!r} has the shape of {name} job ids (it is not in the ledger), but {exc}."
               " Pass --provider (provider=) if it is another provider's model or job")
        if isinstance(exc, NotFoundError):
            raise NotFoundError(why, provider=name) from None
        raise ConfigurationError(why) from None


def resolve_target(target: ModelRef | str, provider: str | None = None, *,
                   ledger: Any = None, **credentials: Any) -> ModelRef:
    """What ``finetune chat`` / ``eval`` talk to: a ModelRef, a model id, a ``local:`` path or
    model folder, or a job id (see :func:`job_model_ref`), with or without ``provider``."""
    if isinstance(target, ModelRef):
        return as_model_ref(target, provider)
    if target.startswith("local:") or Path(target).is_dir():
        return as_model_ref(target if target.startswith("local:") else f"local:{target}",
                            provider)
    found = job_model_ref(target, provider, ledger=ledger, **credentials)
    return found if found is not None else as_model_ref(target, provider)
