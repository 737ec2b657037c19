"""Which base model replaces the source's on a target, and how its hyperparameters carry over.

The equivalence table is data (``migrate_map.json``): per source model, per target provider, a
catalog id with family, size, context and why. A base model it does not list is matched in the
target's catalog: the same family if there is one, then the nearest size, active entries only.
``--to PROVIDER:MODEL`` always wins.

Hyperparameters carry over by these rules (``convert_hyperparameters``), each applied change
noted in the plan:

1. ``epochs`` as the source *ran* them (OpenAI's ``n_epochs``; "auto" resolved to the number
   the job reports, else the target's default).
2. A learning-rate *multiplier* (OpenAI, Vertex Gemini) scales the vendor's own default. A
   target that takes a multiplier keeps it; a target that takes an absolute rate gets
   multiplier x its documented default (``learning_rate_defaults``); with no known default it is
   left to the target. An absolute rate goes to targets taking one as it is, and to multiplier
   targets as rate / the source's documented default.
3. ``batch_size`` (examples per step) as it is (Fireworks: ``batchSizeSamples``).
4. LoRA rank/alpha/dropout, seed, DPO beta, max sequence length, warmup: as they are where the
   target takes them; OpenAI reports no adapter settings, so the target's default rank applies.
5. Anything the target does not take is left out (never sent), with a note.
6. The caller's overrides come last.
"""

from __future__ import annotations

import functools
import json
import math
import re
from importlib import resources
from typing import Any

from ..errors import ConfigurationError

__all__ = ["convert_hyperparameters", "equivalence_table_markdown", "learning_rate_default",
           "load_map", "map_base_model"]

_FAMILIES = ("gpt-oss", "llama", "qwen", "mistral", "mixtral", "gemma", "phi", "deepseek",
             "gemini", "nova", "claude")


@functools.cache
def load_map() -> dict[str, Any]:
    """The bundled ``migrate_map.json``."""
    text = resources.files(__package__).joinpath("migrate_map.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _catalog_id(provider: str, model: str) -> str:
    from ..facts import load_facts

    facts = load_facts(provider)
    found = facts.find(model) if facts else None
    return found.id if found else model


def _family(model: str) -> str | None:
    name = model.rsplit("/", 1)[-1].lower()
    return next((f for f in _FAMILIES if f in name), None)


def _nearest(source_provider: str, source_model: str, target: str) -> tuple[str, str] | None:
    """Same family first, then nearest size, among the target catalog's active models."""
    from ..facts import load_facts, today

    facts, src = load_facts(target), load_facts(source_provider)
    if facts is None or not facts.models:
        return None
    size = (src.size_of(source_model)[0] if src else None)
    if size is None:
        from ..facts import parse_size_b

        size = parse_size_b(source_model)
    if size is None:
        return None
    family = _family(source_model)
    on = today()
    scored = []
    for model in facts.models:
        other = model.size_b or (facts.size_of(model.id)[0])
        if other is None or model.status_on(on) == "retired":
            continue
        scored.append(((_family(model.id) != family, abs(math.log(other / size))), model.id,
                       other))
    if not scored:
        return None
    (miss, _), best, other = min(scored)
    same = "" if miss else f"the same family ({family}), "
    return best, (f"{same}the nearest size in the {facts.display_name} catalog ({other:g}B for"
                  f" a {size:g}B source); not in the equivalence table")


def map_base_model(source_provider: str, source_model: str, target: str,
                   override: str | None = None) -> tuple[str, str]:
    """(target base model, why) for the source's base model on ``target``."""
    if override:
        return override, "chosen by you (--to PROVIDER:MODEL)"
    if target == source_provider:
        return source_model, f"the same model: {target} is the source's own provider"
    if target == "fake":
        return source_model, "the same id: the offline fake provider takes any model id"
    model = _catalog_id(source_provider, source_model)
    for group in load_map()["sources"]:
        if group["provider"] == source_provider and model in group["models"]:
            entry = group["targets"].get(target)
            if entry:
                chosen = model if entry["model"] == "$source" else entry["model"]
                return chosen, (f"{entry['why']} (source: {group['family']}, {group['size']},"
                                f" {group['context']} context; target: {entry['size']},"
                                f" {entry['context']} context)")
    if target in ("local", "huggingface") and source_provider in ("local", "huggingface"):
        return source_model, "the same Hub model"
    found = _nearest(source_provider, source_model, target)
    if found is None:
        raise ConfigurationError(
            f"no known {target} equivalent of {source_provider} {source_model!r} (not in the"
            f" equivalence table, and its size is unknown): name one, --to {target}:MODEL")
    return found


def learning_rate_default(provider: str, model: str | None = None) -> dict[str, Any] | None:
    """The documented default absolute learning rate of ``provider`` (``local:tiny`` first)."""
    table = load_map()["learning_rate_defaults"]
    found: dict[str, Any] | None = table.get(f"{provider}:{model}") or table.get(provider)
    return found


def _learning_rate(source: str, source_model: str, hp: dict[str, Any], target: str,
                   target_model: str, honoured: frozenset[str], out: dict[str, Any],
                   notes: list[str]) -> None:
    takes_multiplier = (target in load_map()["multiplier_targets"]
                        and "learning_rate_multiplier" in honoured)
    multiplier, rate = hp.get("learning_rate_multiplier"), hp.get("learning_rate")
    if multiplier is not None:
        if takes_multiplier:
            out["learning_rate_multiplier"] = multiplier
            notes.append(f"learning_rate_multiplier {multiplier:g} kept: {target} scales its own"
                         " default the same way")
            return
        default = learning_rate_default(target, target_model)
        if default is not None and "learning_rate" in honoured:
            out["learning_rate"] = float(f"{multiplier * default['value']:.6g}")
            notes.append(f"learning_rate_multiplier {multiplier:g} x the {target} default rate"
                         f" {default['value']:g} ({default['source']}) = learning_rate"
                         f" {out['learning_rate']:g}")
        else:
            notes.append(f"learning_rate_multiplier {multiplier:g} left out: no documented"
                         f" default rate for {target} to scale: {target} picks its own")
    elif rate is not None:
        if "learning_rate" in honoured and not takes_multiplier:
            out["learning_rate"] = rate
            notes.append(f"learning_rate {rate:g} kept (the best rate depends on the base"
                         " model: worth a second run at x0.5 and x2)")
            return
        default = learning_rate_default(source, source_model)
        if takes_multiplier and default is not None:
            out["learning_rate_multiplier"] = float(f"{rate / default['value']:.4g}")
            notes.append(f"learning_rate {rate:g} / the {source} default {default['value']:g} ="
                         f" learning_rate_multiplier {out['learning_rate_multiplier']:g}")
        else:
            notes.append(f"learning_rate {rate:g} left out: {target} does not take it")
    else:
        notes.append(f"learning rate: the source used its provider's default, so {target}'s"
                     " default applies")


def convert_hyperparameters(source: str, source_model: str, hp: dict[str, Any], target: str,
                            target_model: str, overrides: dict[str, Any] | None = None
                            ) -> tuple[dict[str, Any], list[str]]:
    """The target's hyperparameters and one note per rule applied (module docstring)."""
    from ..registry import get_provider_class

    honoured = get_provider_class(target).capabilities.hyperparameters
    out: dict[str, Any] = {}
    notes: list[str] = []
    if hp.get("epochs") is not None and "epochs" in honoured:
        out["epochs"] = hp["epochs"]
        notes.append(f"epochs {hp['epochs']} (as the source ran them)")
    elif "epochs" in honoured:
        notes.append(f"epochs: the source left them to its provider ('auto'), so {target}'s"
                     " default applies")
    _learning_rate(source, source_model, hp, target, target_model, honoured, out, notes)
    for name in ("batch_size", "lora_rank", "lora_alpha", "lora_dropout", "seed", "beta",
                 "max_seq_length", "warmup_ratio"):
        if hp.get(name) is None:
            continue
        if name in honoured:
            out[name] = hp[name]
            notes.append(f"{name} {hp[name]} kept" + (" (examples per step)"
                                                      if name == "batch_size" else ""))
        else:
            notes.append(f"{name} {hp[name]} left out: {target} does not take it")
    if "lora_rank" in honoured and "lora_rank" not in out and source in ("openai",
                                                                         "azure-openai"):
        notes.append(f"OpenAI does not say how it trains (full or adapter): {target} trains a"
                     " LoRA adapter with its default rank")
    for name, value in (overrides or {}).items():
        out[name] = value
        notes.append(f"{name}={value} (your override)")
    return out, notes


def equivalence_table_markdown() -> str:
    """The table of docs/migrate.md, generated from ``migrate_map.json`` (a test compares)."""
    lines = ["| Source model | Target | Target base model | Size, context | Why |",
             "|---|---|---|---|---|"]
    for group in load_map()["sources"]:
        models = ", ".join(f"`{m}`" for m in group["models"])
        for target, entry in group["targets"].items():
            model = "the same id" if entry["model"] == "$source" else f"`{entry['model']}`"
            why = re.sub(r"\s+", " ", entry["why"]).replace("|", "/")
            lines.append(f"| {models} | {target} | {model} | {entry['size']}, {entry['context']}"
                         f" | {why} |")
    return "\n".join(lines) + "\n"
