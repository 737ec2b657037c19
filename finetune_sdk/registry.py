"""Provider names -> adapter classes, imported lazily, with install hints for missing extras.

Third-party adapters register through the entry-point group ``finetune_sdk.providers``
(``name = "package.module:Class"``), read only on a lookup miss so ``import finetune_sdk``
stays fast.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from importlib import metadata
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError, ProviderNotInstalledError

if TYPE_CHECKING:
    from .provider import Provider

__all__ = [
    "ProviderEntry",
    "available_providers",
    "create_provider",
    "get_provider_class",
    "known_providers",
    "register_provider",
]

ENTRY_POINT_GROUP = "finetune_sdk.providers"


@dataclass(frozen=True)
class ProviderEntry:
    """Where a provider lives and which extra installs its dependencies."""

    path: str
    extra: str | None = None
    aliases: tuple[str, ...] = ()


_registry: dict[str, ProviderEntry] = {
    "fake": ProviderEntry("finetune_sdk.providers.fake:FakeProvider"),
    "local": ProviderEntry("finetune_sdk.providers.local:LocalProvider", "local"),
    "openai": ProviderEntry("finetune_sdk.providers.openai.adapter:OpenAIProvider", "openai"),
    "openai-compatible": ProviderEntry(
        "finetune_sdk.providers.openai_compatible.adapter:OpenAICompatibleProvider", "openai"
    ),
    "azure-openai": ProviderEntry(
        "finetune_sdk.providers.openai_compatible.adapter:AzureOpenAIProvider", "openai", ("azure",)
    ),
    "nebius": ProviderEntry(
        "finetune_sdk.providers.openai_compatible.adapter:NebiusProvider", "openai"
    ),
    "fireworks": ProviderEntry("finetune_sdk.providers.fireworks.adapter:FireworksProvider"),
    "gemini": ProviderEntry(
        "finetune_sdk.providers.gemini.adapter:GeminiProvider", "google", ("vertex", "google")
    ),
    "huggingface": ProviderEntry(
        "finetune_sdk.providers.huggingface.adapter:HuggingFaceProvider", "hf", ("autotrain", "hf")
    ),
    "together": ProviderEntry(
        "finetune_sdk.providers.together.adapter:TogetherProvider", "together"
    ),
    "bedrock": ProviderEntry("finetune_sdk.providers.bedrock.adapter:BedrockProvider", "aws"),
}
known_providers = MappingProxyType(_registry)
_entry_points_loaded = False


def register_provider(name: str, path_or_class: str | type, *, clobber: bool = False) -> None:
    """Add a provider under ``name`` ("module:Class" or the class itself)."""
    if name in _registry and not clobber:
        raise ConfigurationError(f"provider {name!r} is already registered (pass clobber=True)")
    if isinstance(path_or_class, type):
        _classes[name] = path_or_class
        path = f"{path_or_class.__module__}:{path_or_class.__qualname__}"
    else:
        path = path_or_class
    _registry[name] = ProviderEntry(path)


_classes: dict[str, type] = {}


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        _registry.setdefault(ep.name, ProviderEntry(ep.value))


def canonical_name(name: str) -> str:
    """The registered name for ``name`` or one of its aliases."""
    key = name.strip().lower()
    if key in _registry:
        return key
    for canonical, entry in _registry.items():
        if key in entry.aliases:
            return canonical
    _load_entry_points()
    if key in _registry:
        return key
    names = sorted(_registry) + [a for e in _registry.values() for a in e.aliases]
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    known = ", ".join(sorted(_registry))
    raise ConfigurationError(f"unknown provider {name!r}. Known: {known}.{hint}")


def get_provider_class(name: str) -> type[Provider]:
    """Import and return the adapter class for ``name`` (raises with a pip hint if missing)."""
    key = canonical_name(name)
    if key in _classes:
        return _classes[key]
    entry = _registry[key]
    module_name, _, attr = entry.path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = entry.extra or key
        raise ProviderNotInstalledError(
            f"the {key!r} provider needs extra packages ({exc.name or exc}):"
            f' pip install "finetune-sdk[{extra}]"'
        ) from exc
    cls = getattr(module, attr)
    _classes[key] = cls
    return cls


def create_provider(name: str, **kwargs: Any) -> Provider:
    """Instantiate the provider ``name`` with credentials/options from ``kwargs``."""
    return get_provider_class(name)(**kwargs)


def available_providers() -> list[str]:
    """Every registered provider name (built-in and entry points)."""
    _load_entry_points()
    return sorted(_registry)
