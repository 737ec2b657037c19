"""What a bakeoff or a migration trains on: targets written ``provider[:model]``, the default
base model of a target that names none, and how many jobs run at once per provider.

The defaults are data (``defaults.json``): every default base model is a catalog id of that
provider, and the concurrency caps are this SDK's conservative choices, overridable per run.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ..errors import ConfigurationError

__all__ = ["Target", "concurrency_caps", "default_base_model", "load_defaults", "parse_caps",
           "parse_target", "slug"]


@dataclass
class Target:
    """One provider (and base model) to train on, with optional per-target settings."""

    provider: str
    base_model: str | None = None
    """None: the default of ``defaults.json`` (bakeoff) or the equivalence table (migrate)."""
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    """Overrides, in ``Hyperparameters`` field names, applied last."""
    options: Any = None
    """The provider's typed options or a dict of them (``LocalOptions(max_steps=...)``)."""
    name: str | None = None
    """How the target is shown (default ``provider:model``); unique within a run."""

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return f"{self.provider}:{self.base_model}" if self.base_model else self.provider


def parse_target(value: str | Target | dict[str, Any]) -> Target:
    """A Target from ``"provider"``, ``"provider:model"`` (only the first ``:`` splits, so
    ``bedrock:amazon.nova-lite-v1:0:300k`` works), a dict of Target fields, or a Target."""
    from ..registry import canonical_name

    if isinstance(value, Target):
        target = value
    elif isinstance(value, dict):
        try:
            target = Target(**value)
        except TypeError as exc:
            raise ConfigurationError(f"invalid target {value!r}: {exc}") from None
    elif isinstance(value, str) and value.strip():
        provider, _, model = value.strip().partition(":")
        target = Target(provider=provider, base_model=model.strip() or None)
    else:
        raise ConfigurationError(f"a target is 'provider' or 'provider:model', not {value!r}")
    name = canonical_name(target.provider)
    if name != target.provider:
        target = Target(name, target.base_model, dict(target.hyperparameters), target.options,
                        target.name)
    return target


@functools.cache
def load_defaults() -> dict[str, Any]:
    """The bundled ``defaults.json`` (base models per provider, concurrency caps)."""
    text = resources.files(__package__).joinpath("defaults.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def default_base_model(provider: str) -> str | None:
    """The base model a target of ``provider`` gets when it names none (None: name one)."""
    found: str | None = load_defaults()["base_models"].get(provider)
    return found


def concurrency_caps(overrides: dict[str, int] | None = None) -> dict[str, int]:
    """Jobs in flight at once per provider: the defaults, then ``overrides`` (``default``
    applies to providers not named)."""
    caps = {k: int(v) for k, v in load_defaults()["concurrency"].items()}
    for key, value in (overrides or {}).items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigurationError(f"concurrency cap for {key!r} must be a whole number >= 1,"
                                     f" not {value!r}")
        caps[key] = value
    return caps


def parse_caps(values: list[str] | None) -> dict[str, int]:
    """``["fireworks=3", "local=1"]`` (the CLI's ``--cap``) as a dict."""
    caps: dict[str, int] = {}
    for item in values or ():
        key, sep, number = item.partition("=")
        if not sep or not number.strip().isdigit() or int(number) < 1:
            raise ConfigurationError(f"--cap expects PROVIDER=N with N >= 1, got {item!r}")
        caps[key.strip()] = int(number)
    return caps


def slug(label: str) -> str:
    """A folder name for a target label (``fireworks:accounts/x/models/y`` -> ``fireworks-y``)."""
    provider, _, model = label.partition(":")
    tail = model.rsplit("/", 1)[-1] if model else ""
    text = f"{provider}-{tail}" if tail else provider
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:80] or "target"
