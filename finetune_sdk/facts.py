"""Provider facts as dated data: tunable-model catalogs, sunsets, size tiers and prices.

Each vendor keeps one file, ``finetune_sdk/providers/<vendor>/facts.json``, with a ``date`` at
the top (when its facts were last checked) and a source, source date and confidence on every
entry. This module is the only reader; it knows no vendor by name. Vendor code that needs a
network call (a live price list, a model's shutdown date) lives next to the data and is named
in the file's ``live`` map as ``"module:function"``; vendor code that shapes an estimate offline
(which hardware the job will get) is ``providers/<vendor>/estimate.py`` (:func:`estimate_hook`).

Dates are compared with :func:`today`, a module-level function so tests can monkeypatch it
(``monkeypatch.setattr(finetune_sdk.facts, "today", lambda: date(2027, 1, 7))``).

Preflight uses :func:`check_base_model`: a retired model is refused with its successor named,
a winding-down one warns with the days left, and an id the catalog does not know only warns:
catalogs go stale, and the user may know better.
"""

from __future__ import annotations

import datetime
import functools
import importlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import Any

from .errors import ConfigurationError, UnsupportedFeatureError

__all__ = ["CONFIDENCE", "STALE_DAYS", "ProviderFacts", "TunableModel", "check_base_model",
           "check_facts", "days_until", "estimate_hook", "lifecycle_warnings", "live_function",
           "load_facts", "parse_size_b", "preflight_catalog", "providers_with_facts",
           "sunset_summary", "today"]

CONFIDENCE = ("primary", "primary-copy", "secondary")
"""primary: the vendor's own page or repo; primary-copy: a dated verbatim copy kept by someone
else; secondary: a third party's reading of it."""
STALE_DAYS = 180
"""A price whose source is older than this gets a warning (vendors change prices yearly)."""
STATUSES = ("active", "winding_down", "retired")


def today() -> date:
    """The date every sunset and staleness check uses (monkeypatch it in tests)."""
    return date.today()


def days_until(day: date, on: date | None = None) -> int:
    return (day - (on or today())).days


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


@dataclass(frozen=True)
class TunableModel:
    """One base model a provider can fine-tune, with its lifecycle."""

    id: str
    aliases: tuple[str, ...]
    status: str
    """As the vendor last announced: active / winding_down / retired."""
    jobs_until: date | None
    """From this day on no new tuning jobs are accepted for it."""
    shutdown: date | None
    methods: tuple[str, ...]
    size_b: float | None
    """Parameters in billions (sets the price tier where a vendor prices by size)."""
    size_tier: str | None
    context_length: int | None
    successor: str | None
    notes: str
    source: str
    source_date: date | None
    confidence: str | None

    def status_on(self, on: date) -> str:
        """The status for a new job on ``on``: the dates win over the recorded status."""
        if self.status == "retired" or any(d is not None and on >= d
                                           for d in (self.jobs_until, self.shutdown)):
            return "retired"
        return self.status


@dataclass(frozen=True)
class ProviderFacts:
    """The contents of one provider's facts file."""

    provider: str
    display_name: str
    date: date
    about: str
    sunset: dict[str, Any] | None
    models: tuple[TunableModel, ...]
    prices: list[dict[str, Any]]
    tiers: list[dict[str, Any]] = field(default_factory=list)
    throughput: list[dict[str, Any]] = field(default_factory=list)
    live: dict[str, str] = field(default_factory=dict)
    default_flavor: str | None = None
    default_adapter: str | None = None
    any_model: bool = False
    """True where any id is trainable (the Hugging Face Hub): unknown ids are normal."""

    @property
    def new_jobs_until(self) -> datetime.date | None:  # `date` here names the field above
        """The provider-wide day from which no new jobs are accepted, if announced."""
        return _day((self.sunset or {}).get("new_jobs_until"))

    def find(self, model_id: str) -> TunableModel | None:
        """The catalog entry for an id or alias."""
        for model in self.models:
            if model_id == model.id or model_id in model.aliases:
                return model
        return None

    def size_of(self, model_id: str) -> tuple[float | None, str]:
        """(billions of parameters, where that came from)."""
        model = self.find(model_id)
        if model is not None and model.size_b is not None:
            return model.size_b, "catalog"
        size = parse_size_b(model_id)
        return size, "the model id" if size is not None else "unknown"

    def tier_for(self, model_id: str) -> tuple[str | None, str]:
        """The price tier of a model (None when the provider has no tiers or the size is
        unknown), and a note saying how it was chosen."""
        model = self.find(model_id)
        if model is not None and model.size_tier:
            return model.size_tier, f"size tier {model.size_tier} (catalog)"
        if not self.tiers:
            return None, ""
        size, where = self.size_of(model_id)
        if size is None:
            return None, (f"model size unknown (not in the catalog, none in the id): no"
                          f" {self.display_name} size tier applies")
        for tier in self.tiers:
            if tier.get("max_b") is None or size <= tier["max_b"]:
                return tier["name"], f"size tier {tier['name']} ({size:g}B, from {where})"
        return None, ""


_SIZE = re.compile(r"(?<![a-z0-9.])(\d+(?:[p.]\d+)?)([bm])(?![a-z0-9])")


def parse_size_b(model_id: str) -> float | None:
    """Billions of parameters named in an id: ``llama-v3p1-8b-instruct`` -> 8,
    ``SmolLM2-135M`` -> 0.135; None when the id names no size."""
    name = model_id.rsplit("/", 1)[-1].lower()
    found = _SIZE.findall(name)
    if not found:
        return None
    number, unit = found[-1]
    value = float(number.replace("p", "."))
    return value / 1000 if unit == "m" else value


def check_facts(data: dict[str, Any], where: str) -> list[str]:
    """Every problem of one facts file: each entry needs a source and a date, a known status
    and confidence (tests/test_catalog_facts.py runs this over the bundled files)."""
    problems = []
    if not data.get("date"):
        problems.append(f"{where}: no top-level date")
    for i, model in enumerate(data.get("models", [])):
        label = f"{where}: models[{i}] ({model.get('id')})"
        for key in ("id", "source", "source_date"):
            if not model.get(key):
                problems.append(f"{label}: no {key}")
        if model.get("status") not in STATUSES:
            problems.append(f"{label}: status must be one of {STATUSES}")
        if model.get("confidence") not in CONFIDENCE:
            problems.append(f"{label}: confidence must be one of {CONFIDENCE}")
    for i, price in enumerate(data.get("prices", [])):
        label = f"{where}: prices[{i}]"
        for key in ("source", "date", "unit"):
            if not price.get(key):
                problems.append(f"{label}: no {key}")
        if price.get("usd") is not None and price.get("confidence") not in CONFIDENCE:
            problems.append(f"{label}: a known price needs a confidence in {CONFIDENCE}")
    for i, row in enumerate(data.get("throughput", [])):
        if not row.get("source") or not row.get("date"):
            problems.append(f"{where}: throughput[{i}]: no source or date")
    return problems


def _model(raw: dict[str, Any]) -> TunableModel:
    return TunableModel(
        id=raw["id"], aliases=tuple(raw.get("aliases", ())), status=raw["status"],
        jobs_until=_day(raw.get("jobs_until")), shutdown=_day(raw.get("shutdown")),
        methods=tuple(raw.get("methods", ("sft",))), size_b=raw.get("size_b"),
        size_tier=raw.get("size_tier"), context_length=raw.get("context_length"),
        successor=raw.get("successor"), notes=raw.get("notes", ""), source=raw["source"],
        source_date=_day(raw.get("source_date")), confidence=raw.get("confidence"))


def providers_with_facts() -> list[str]:
    """Every provider package that ships a facts file (with or without an adapter)."""
    root = resources.files("finetune_sdk.providers")
    return sorted(item.name for item in root.iterdir()
                  if item.is_dir() and item.joinpath("facts.json").is_file())


@functools.cache
def load_facts(provider: str) -> ProviderFacts | None:
    """The provider's facts (None when it ships none: local, fake, third-party adapters)."""
    if provider not in providers_with_facts():
        return None
    where = f"finetune_sdk/providers/{provider}/facts.json"
    text = resources.files("finetune_sdk.providers").joinpath(provider, "facts.json").read_text(
        encoding="utf-8")
    try:
        data = json.loads(text)
        problems = check_facts(data, where)
        if problems:  # a broken bundled file is a packaging bug: say which entry
            raise ConfigurationError("; ".join(problems[:3]))
        return ProviderFacts(
            provider=provider, display_name=data.get("display_name", provider),
            date=date.fromisoformat(data["date"]), about=data.get("about", ""),
            sunset=data.get("sunset"), models=tuple(_model(m) for m in data.get("models", [])),
            prices=[{**row, "provider": provider} for row in data.get("prices", [])],
            tiers=data.get("tiers", []), throughput=data.get("throughput", []),
            live=data.get("live", {}), default_flavor=data.get("default_flavor"),
            default_adapter=data.get("default_adapter"), any_model=data.get("any_model", False))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"{where} is broken: {exc}") from None


def live_function(provider: str, name: str) -> Callable[..., Any] | None:
    """The vendor's live lookup ``name`` (e.g. ``prices``), when its facts file names one."""
    facts = load_facts(provider)
    target = facts.live.get(name) if facts else None
    if not target:
        return None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def estimate_hook(provider: str, name: str) -> Callable[..., Any] | None:
    """The function ``name`` of ``finetune_sdk.providers.<provider>.estimate``, where the vendor
    ships that module (e.g. ``job_flavor``: the hardware a job will get); None elsewhere."""
    if not resources.files("finetune_sdk.providers").joinpath(provider, "estimate.py").is_file():
        return None
    module = importlib.import_module(f"finetune_sdk.providers.{provider}.estimate")
    found: Callable[..., Any] | None = getattr(module, name, None)
    return found


def sunset_summary(provider: str) -> str | None:
    """One line for `finetune providers`: the provider-wide sunset or caveat, if any."""
    facts = load_facts(provider)
    if facts is None or not facts.sunset:
        return None
    summary = str(facts.sunset.get("summary", ""))
    until = facts.new_jobs_until
    if until is not None:
        left = days_until(until)
        summary += f" - {left} days left" if left > 0 else " - closed"
    return summary


def _retired(facts: ProviderFacts, model: TunableModel, on: date) -> UnsupportedFeatureError:
    if model.shutdown is not None and on >= model.shutdown:
        why = f"retired on {model.shutdown.isoformat()}"
    elif model.jobs_until is not None and on >= model.jobs_until:
        why = f"closed to new tuning jobs since {model.jobs_until.isoformat()}" + (
            f" (retires {model.shutdown.isoformat()})" if model.shutdown else "")
    else:
        why = "retired"
    if model.successor:
        hint = f"Use {model.successor} instead"
    else:
        hint = (f"No {facts.display_name} successor is tunable: move the training to another"
                " provider (`finetune migrate`)")
    return UnsupportedFeatureError(
        facts.provider, f"tuning {model.id} ({why})",
        f"{hint}; `finetune models --tunable -p {facts.provider}` lists what is tunable.")


def _winding_down(facts: ProviderFacts, model: TunableModel, on: date) -> list[str]:
    found = []
    if model.jobs_until is not None and model.jobs_until != facts.new_jobs_until:
        found.append(f"{model.id} is winding down: no new jobs from"
                     f" {model.jobs_until.isoformat()} - {days_until(model.jobs_until, on)}"
                     " days left")
    if model.shutdown is not None:
        found.append(f"{model.id} and every model fine-tuned from it shut down on"
                     f" {model.shutdown.isoformat()}")
    return found


def check_base_model(provider: str, base_model: str, method: str = "sft", *,
                     on: date | None = None, allow_unknown: bool = True) -> list[str]:
    """Preflight against the catalog: raise for a retired model (successor named), return
    warnings for a winding-down or unknown one. Providers without facts: no findings."""
    facts = load_facts(provider)
    if facts is None:
        return []
    on = on or today()
    model = facts.find(base_model)
    if model is None:
        if facts.any_model or not facts.models:  # open hub, or prices without a catalog
            return []
        listed = ", ".join(m.id for m in facts.models if m.status_on(on) != "retired")
        if not allow_unknown:
            raise UnsupportedFeatureError(provider, f"the base model {base_model!r}",
                                          f"Tunable models: {listed}.")
        return [f"{base_model!r} is not in the list of tunable {facts.display_name} models"
                f" ({listed}). The catalog is dated {facts.date.isoformat()} and may be stale:"
                " upgrade finetune-sdk for newer data, or go ahead (this is only a warning)"]
    if model.status_on(on) == "retired":
        raise _retired(facts, model, on)
    found = _winding_down(facts, model, on) if model.status == "winding_down" else []
    if method not in model.methods:
        found.append(f"{facts.display_name} does not list {model.id!r} for {method.upper()}")
    return found


def lifecycle_warnings(provider: str, base_model: str, on: date | None = None) -> list[str]:
    """What `finetune estimate` says about the model's and provider's dates (never raises)."""
    facts = load_facts(provider)
    if facts is None:
        return []
    on = on or today()
    found = []
    until = facts.new_jobs_until
    if until is not None:
        left = days_until(until, on)
        found.append(f"{facts.display_name}: no new fine-tuning jobs from {until.isoformat()}"
                     + (f" - {left} days left" if left > 0 else " - closed now") +
                     " (`finetune migrate` moves the training elsewhere)")
    try:
        found += [w for w in check_base_model(provider, base_model, on=on)
                  if "does not list" not in w]
    except UnsupportedFeatureError as exc:
        found.append(str(exc))
    return found


def preflight_catalog(provider: str, spec: Any, model_id: str | None = None) -> list[str]:
    """``check_spec``'s catalog step for an adapter: refuse a retired base model, warn (as
    PreflightWarning) on a winding-down or unknown one; returns the warnings."""
    import warnings

    from .provider import PreflightWarning

    found = check_base_model(provider, model_id or spec.base_model, spec.method)
    for message in found:
        warnings.warn(message, PreflightWarning, stacklevel=4)
    return found
