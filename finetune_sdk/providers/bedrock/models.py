"""What differs per Bedrock base model: the data schema, the hyperparameter names and ranges,
the example counts and the regions that tune it.

Bedrock takes ``hyperParameters`` as a string map whose names depend on the model (Nova:
``learningRate``; Claude 3 Haiku: ``learningRateMultiplier``; ``batchSize`` is fixed at 1 for
Llama), so a spec is checked against its family here, before anything is uploaded. Sources: the
"Custom model hyperparameters" pages of the Bedrock user guide (2026-12) and the aws-samples
dataset validators; Nova 2 Lite's names are assumed to be Nova's (uncertain).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from typing import TYPE_CHECKING, Any

from ...errors import ConfigurationError
from ...types import Hyperparameters

if TYPE_CHECKING:
    from .dataset import Schema

__all__ = ["FAMILIES", "Family", "family_for", "hyper_parameters", "regions_for"]


@dataclass(frozen=True)
class Family:
    """One group of base models that share a data schema and hyperparameter names."""

    name: str
    prefixes: tuple[str, ...]
    schema: Schema
    names: dict[str, tuple[str, float | None, float | None]]
    """Our Hyperparameters field -> (Bedrock name, minimum, maximum)."""
    extra: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Bedrock-only names accepted through ``BedrockOptions.hyper_parameters``."""
    min_examples: int = 1
    max_examples: int | None = None
    validation_file: bool = True
    known: bool = True


FAMILIES: tuple[Family, ...] = (
    Family("Amazon Nova 2", ("amazon.nova-2-",), "conversation",
           {"epochs": ("epochCount", 1, 5), "learning_rate": ("learningRate", 1e-6, 1e-4)},
           {"learningRateWarmupSteps": (0, 100)}, 8, 20_000, validation_file=False),
    Family("Amazon Nova", ("amazon.nova-micro", "amazon.nova-lite", "amazon.nova-pro"),
           "conversation",
           {"epochs": ("epochCount", 1, 5), "learning_rate": ("learningRate", 1e-6, 1e-4)},
           {"learningRateWarmupSteps": (0, 100)}, 8, 20_000),
    Family("Anthropic Claude 3 Haiku", ("anthropic.claude-3-haiku",), "messages",
           {"epochs": ("epochCount", 1, 10), "batch_size": ("batchSize", 4, 256),
            "learning_rate_multiplier": ("learningRateMultiplier", 0.1, 2)},
           {"earlyStoppingThreshold": (0, 0.1), "earlyStoppingPatience": (1, 10)}, 32, 10_000),
    Family("Meta Llama 3.1", ("meta.llama3-1-",), "prompt_completion",
           {"epochs": ("epochCount", 1, 10), "batch_size": ("batchSize", 1, 1),
            "learning_rate": ("learningRate", 5e-6, 0.1)}, {}, 1, 10_000),
    Family("Meta Llama 3.2", ("meta.llama3-2-",), "conversation",
           {"epochs": ("epochCount", 1, 10), "batch_size": ("batchSize", 1, 1),
            "learning_rate": ("learningRate", 5e-6, 0.1)}, {}, 1, 10_000),
)

# A base model we do not know (a new id, or a custom model ARN to tune further): Bedrock's
# common names, no range checks; the server has the last word.
_UNKNOWN = Family(
    "an unlisted Bedrock model", (), "conversation",
    {"epochs": ("epochCount", None, None), "learning_rate": ("learningRate", None, None),
     "learning_rate_multiplier": ("learningRateMultiplier", None, None),
     "batch_size": ("batchSize", None, None)}, {}, known=False)


def model_id(base_model: str) -> str:
    """The model id inside a foundation-model ARN (``...:foundation-model/<id>``), else as is."""
    return base_model.rsplit("foundation-model/", 1)[-1]


def family_for(base_model: str) -> Family:
    """The family of ``base_model`` (an id with or without its ``:128k`` context suffix)."""
    name = model_id(base_model).lower()
    for family in FAMILIES:
        if name.startswith(family.prefixes):
            return family
    return _UNKNOWN


def _number(value: float) -> str:
    """A hyperparameter as the string Bedrock wants (``2``, ``1e-05``, ``0.5``)."""
    if isinstance(value, bool):
        raise ConfigurationError(f"bedrock: expected a number, got {value!r}")
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and value >= 1):
        return str(int(value))
    # Decimal notation: "0.00001", never "1e-05" (the console and the docs write decimals).
    return format(Decimal(repr(float(value))), "f")


def _in_range(name: str, value: float, low: float | None, high: float | None,
              family: Family) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigurationError(
            f"bedrock: {name}={value!r} is outside {family.name}'s range {low:g} to {high:g}")


def hyper_parameters(hp: Hyperparameters, extra: dict[str, Any], family: Family,
                     unsupported: Any, *, strict: bool = True) -> tuple[dict[str, str], list[str]]:
    """(``hyperParameters`` for the create request, warnings): names the family lacks are
    refused (``unsupported(feature, hint)``, the provider's error), or with ``strict=False``
    left out with a warning; values out of range are always refused.
    """
    ignored: list[str] = []
    out: dict[str, str] = {}
    for ours, value in hp.set_fields().items():
        if ours not in family.names:
            if not strict:
                ignored.append(f"bedrock ignores the hyperparameter {ours!r} for {family.name}")
                continue
            raise unsupported(f"the hyperparameter {ours!r} for {family.name}",
                              f"{family.name} takes {sorted(family.names)}.")
        theirs, low, high = family.names[ours]
        _in_range(ours, value, low, high, family)
        out[theirs] = _number(value)
    for name, value in extra.items():
        if family.known and name not in family.extra:
            if name in {t for t, _, _ in family.names.values()}:
                raise ConfigurationError(
                    f"bedrock: set {name} through Hyperparameters, not hyper_parameters")
            raise unsupported(f"the Bedrock hyperparameter {name!r} for {family.name}",
                              f"Extra names it takes: {sorted(family.extra) or 'none'}.")
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            raise ConfigurationError(f"bedrock: hyper_parameters[{name!r}] must be a number")
        if name in family.extra and not isinstance(value, str):
            _in_range(name, value, *family.extra[name], family)
        out[name] = value if isinstance(value, str) else _number(value)
    return out, ignored


@functools.cache
def _facts() -> dict[str, Any]:
    text = resources.files("finetune_sdk.providers").joinpath("bedrock", "facts.json")
    return json.loads(text.read_text(encoding="utf-8"))


def regions_for(base_model: str) -> tuple[str, ...]:
    """The regions the catalog says tune ``base_model`` (empty when it does not know)."""
    name = model_id(base_model)
    for model in _facts().get("models", []):
        if name == model["id"] or name in model.get("aliases", ()):
            return tuple(model.get("regions", ()))
    return ()
