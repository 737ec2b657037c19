"""Provider names -> adapter classes, imported lazily, with install hints for missing extras.

Third-party adapters register through the entry-point group ``finetune_sdk.providers``
(``name = "package.module:Class"``), read only on a lookup miss so ``import finetune_sdk``
stays fast.
"""

from __future__ import annotations

import difflib
from importlib import metadata
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError
from .profiles import BUILTIN_PROFILES, ProviderProfile, third_party_profile

if TYPE_CHECKING:
    from .provider import Provider

__all__ = [
    "ProviderProfile",
    "available_providers",
    "create_provider",
    "get_provider_class",
    "known_providers",
    "register_provider",
]

ENTRY_POINT_GROUP = "finetune_sdk.providers"


_registry: dict[str, ProviderProfile] = {p.name: p for p in BUILTIN_PROFILES}
known_providers = MappingProxyType(_registry)
"""Every registered provider's profile (built-in, registered, and entry points once read)."""
_entry_points_loaded = False
_resolved: set[str] = set(_registry)
"""Names whose profile is final; a third-party one is completed from its class on first use."""


def register_provider(name: str, path_or_class: str | type, *, clobber: bool = False) -> None:
    """Add a provider under ``name`` ("module:Class" or the class itself).

    The class may describe itself with a ``provider_profile`` (a :class:`ProviderProfile`:
    wire module for ``validate``/``convert``, inference module for ``chat``...).
    """
    if name in _registry and not clobber:
        raise ConfigurationError(f"provider {name!r} is already registered (pass clobber=True)")
    _classes.pop(name, None)
    _resolved.discard(name)
    if isinstance(path_or_class, type):
        _classes[name] = path_or_class
        path = f"{path_or_class.__module__}:{path_or_class.__qualname__}"
    else:
        path = path_or_class
    _registry[name] = ProviderProfile(name, path)


_classes: dict[str, type] = {}


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _registry:
            _registry[ep.name] = ProviderProfile(ep.name, ep.value)


def registered_profile(name: str) -> ProviderProfile:
    """The profile registered under the canonical ``name``, completed from a third-party class."""
    profile = _registry[name]
    if name not in _resolved:
        profile = third_party_profile(name, profile.adapter, _classes.get(name))
        _registry[name] = profile
        _resolved.add(name)
    return profile


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
    cls = _registry[key].import_adapter()
    _classes[key] = cls
    return cls


def create_provider(name: str, **kwargs: Any) -> Provider:
    """Instantiate the provider ``name`` with credentials/options from ``kwargs``."""
    return get_provider_class(name)(**kwargs)


def available_providers() -> list[str]:
    """Every registered provider name (built-in and entry points)."""
    _load_entry_points()
    return sorted(_registry)
