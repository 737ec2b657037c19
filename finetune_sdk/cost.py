"""What a fine-tuning job will cost, before it is launched, and the ``max_usd`` guard.

Prices are data with provenance (see :mod:`finetune_sdk.pricing` for the table and its layers,
:mod:`finetune_sdk.facts` for the per-provider files). An entry with ``usd: null`` means "no
trustworthy price known": the estimate then says so (USD fields are NaN) instead of inventing
a number, and a ``max_usd`` guard refuses to launch because it cannot be checked.

* ``1M_tokens``: usd = billed_tokens / 1e6 * price, billed_tokens = tokens * epochs; a vendor
  that prices by model size (Fireworks, Together) is looked up by the model's size tier.
* ``gpu_hour`` (HF Jobs flavors, local): hours = billed_tokens / tokens_per_s / 3600, from a
  measured throughput in the entry, else the provider's assumed throughput per flavor (said
  so); no throughput -> unknown.
* ``job_minimum``: the estimate is never below it.

Token counts come from :mod:`finetune_sdk.data.tokens` (a real tokenizer when one is on this
machine, else about 4 characters per token), streaming the file line by line; a known count
can be passed instead of a file. An estimated count widens the USD range by
``ESTIMATE_SPREAD`` either side. The estimate warns when its price is older than
``facts.STALE_DAYS`` days or comes from a secondary source, and about the model's sunset.

After a job, :func:`actual_cost` turns the tokens the vendor says it trained into what it most
likely billed (the manifest and the ledger record it next to the estimate).
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from . import facts as _facts
from .errors import BudgetExceededError, ConfigurationError, DatasetError, FinetuneError
from .pricing import (
    PRICES_ENV,
    Price,
    PricedEstimate,
    bundled_prices,
    clear_registered_prices,
    find_price,
    load_live_prices,
    load_prices,
    price_table_markdown,
    register_price,
)
from .types import CostEstimate, DatasetRef, Job, JobSpec

__all__ = ["DEFAULT_EPOCHS", "ESTIMATE_SPREAD", "PRICES_ENV", "ActualCost", "Price",
           "PricedEstimate", "actual_cost", "bundled_prices", "clear_registered_prices",
           "count_dataset_tokens",
           "enforce_budget", "estimate", "find_price", "load_prices", "price_table_markdown",
           "register_price"]

ESTIMATE_SPREAD = 0.25
"""+-25 %: how far a chars/4 token estimate may be off for chat data (why the band is wide)."""
DEFAULT_EPOCHS = 3
"""Assumed when neither the caller nor the spec sets epochs (vendors pick "auto" themselves)."""
BYTES_PER_TOKEN = 4.0
"""For an already-uploaded dataset known only by its size: JSON bytes / 4 (over-counts)."""


def count_dataset_tokens(path: str | Path,
                         base_model: str | None = None) -> tuple[int, int, str, bool]:
    """(tokens, examples, counter name, exact?) for one pass over a chat/preference JSONL file.

    The single place cost estimates count tokens (delegates to ``finetune_sdk.data.tokens``).
    """
    from .data.formats import iter_examples
    from .data.tokens import count_example_tokens, get_counter

    counter = get_counter(base_model)
    tokens = examples = 0
    for _line, example in iter_examples(path):
        tokens += count_example_tokens(example, counter)
        examples += 1
    return tokens, examples, counter.name, bool(counter.exact)


def _dataset_tokens(source: Any, base_model: str, notes: list[str]) -> tuple[int, bool]:
    if isinstance(source, DatasetRef):
        if source.bytes:
            notes.append(f"dataset {source.id} is already uploaded: tokens estimated from its size"
                         f" ({source.bytes:,} bytes / {BYTES_PER_TOKEN:g};"
                         " JSON syntax over-counts)")
            return math.ceil(source.bytes / BYTES_PER_TOKEN), False
        raise ConfigurationError(f"cannot estimate cost: dataset {source.id} has no local file"
                                 " and no size; pass the local JSONL path instead")
    path = Path(source)
    if not path.is_file():
        raise DatasetError("no such file (expected a JSONL dataset)", file=str(path))
    tokens, examples, counter, exact = count_dataset_tokens(path, base_model)
    notes.append(f"{examples:,} examples, {tokens:,} tokens per epoch counted with {counter}")
    if not exact:
        notes.append(f"token count is an estimate: USD range widened by +-{ESTIMATE_SPREAD:.0%}")
    return tokens, exact


def _provider_name(provider: str) -> str:
    """The registered name for a provider or alias (``vertex`` -> ``gemini``); a name that is
    not registered is accepted only when the price table has rows for it (a user's own)."""
    from .registry import canonical_name

    try:
        return canonical_name(provider)
    except ConfigurationError:
        if any(p.provider == provider for p in load_prices()):
            return provider
        raise


def _tokens_given(tokens: int, notes: list[str]) -> tuple[int, bool]:
    if isinstance(tokens, bool) or tokens < 0:
        raise ConfigurationError(f"a token count must be a whole number >= 0, not {tokens!r}")
    notes.append(f"{tokens:,} tokens per epoch, as given (no file read)")
    return tokens, True


def _option(spec: JobSpec | None, name: str) -> Any:
    """A provider option such as HF's ``flavor`` from the spec, whatever shape it was given in."""
    options = spec.options if spec is not None else None
    if isinstance(options, dict):
        return options.get(name)
    return getattr(options, name, None)


def _price_warnings(price: Price, on: date) -> list[str]:
    found = []
    if price.date:
        age = (on - date.fromisoformat(price.date)).days
        if age > _facts.STALE_DAYS:
            found.append(f"the price is from {price.date}, {age} days ago (over"
                         f" {_facts.STALE_DAYS}): check {price.source}")
    if price.confidence == "secondary":
        found.append(f"the price comes from a secondary source (a third party's reading of the"
                     f" vendor's page): check {price.source}")
    return found


def _throughput(provider: str, price: Price, flavor: str | None
                ) -> tuple[tuple[float, float] | None, dict[str, Any] | None]:
    if price.tokens_per_s is not None:
        return price.tokens_per_s, None
    info = _facts.load_facts(provider)
    for row in (info.throughput if info else []):
        if flavor and fnmatch.fnmatchcase(flavor, row["flavor"]):
            low, high = row["tokens_per_s"]
            return (float(low), float(high)), row
    return None, None


def _job_flavor(provider: str, spec: JobSpec | None, base_model: str, method: str | None,
                adapter: str | None, source: Any, notes: list[str], warns: list[str]) -> str | None:
    """The hardware the job will get when none was chosen, where the vendor's plan says."""
    hook = _facts.estimate_hook(provider, "job_flavor")
    if hook is None:
        return None
    flavor, said, warned = hook(spec, base_model=base_model, method=method, adapter=adapter,
                                training_file=source)
    notes += said
    warns += warned
    return str(flavor) if flavor else None


def _resolve(provider: str, base_model: str, notes: list[str]) -> tuple[str, str | None]:
    """The catalog id of an alias, and the size tier where the vendor prices by size."""
    info = _facts.load_facts(provider)
    if info is None:
        return base_model, None
    model = info.find(base_model)
    if model is not None and model.id != base_model:
        notes.append(f"{base_model} is {model.id} in the {info.display_name} catalog")
        base_model = model.id
    tier, how = info.tier_for(base_model)
    if how:
        notes.append(how)
    return base_model, tier


def estimate(spec_or_dataset: JobSpec | DatasetRef | str | Path | int, provider: str,
             base_model: str | None = None, epochs: int | None = None, *,
             method: str | None = None, adapter: str | None = None, flavor: str | None = None,
             live: bool = False) -> PricedEstimate:
    """Estimate tokens, billed tokens, USD (low/high) and duration for one training job.

    ``spec_or_dataset`` is a JobSpec, a JSONL path (streamed, never loaded whole), an uploaded
    DatasetRef (sized by bytes) or an int: tokens per epoch already counted. ``adapter``
    (lora/full) and ``flavor`` (HF Jobs hardware) pick the price row; ``live=True`` asks the
    vendor for current prices first where it offers that (the table stays the fallback).
    """
    notes: list[str] = []
    provider = _provider_name(provider)
    spec = spec_or_dataset if isinstance(spec_or_dataset, JobSpec) else None
    if spec is not None:
        base_model = base_model or spec.base_model
        epochs = epochs or spec.hyperparameters.epochs
        method = method or spec.method
        source: Any = spec.training_file
    else:
        source = spec_or_dataset
    if not base_model:
        raise ConfigurationError("estimate needs base_model (the model to fine-tune)")
    if epochs is None:
        epochs = DEFAULT_EPOCHS
        notes.append(f"epochs not set: assumed {DEFAULT_EPOCHS} (the vendor may choose another"
                     " number with 'auto'); pass epochs= for a firm figure")
    if epochs < 1:
        raise ConfigurationError(f"epochs must be >= 1, not {epochs}")
    tokens, exact = (_tokens_given(source, notes) if isinstance(source, int)
                     else _dataset_tokens(source, base_model, notes))
    billed = tokens * epochs
    spread = 0.0 if exact else ESTIMATE_SPREAD
    notes.append(f"billed tokens = {tokens:,} tokens x {epochs} epochs = {billed:,}")
    on = _facts.today()
    info = _facts.load_facts(provider)
    adapter = adapter or (info.default_adapter if info else None)
    if info and info.default_adapter and adapter == info.default_adapter:
        notes.append(f"priced as {adapter} training (pass adapter='full' for full-parameter)")
    planned: list[str] = []  # the vendor's warnings on the hardware it priced
    flavor = flavor or _option(spec, "flavor") or _job_flavor(
        provider, spec, base_model, method, adapter, source, notes, planned) or (
        info.default_flavor if info else None)
    if live:
        load_live_prices(provider, notes)
    priced_model, tier = _resolve(provider, base_model, notes)
    price = find_price(provider, priced_model, method=method, adapter=adapter, tier=tier,
                       flavor=flavor)
    warns = _facts.lifecycle_warnings(provider, base_model, on) + planned
    nan = float("nan")
    usd_low = usd_high = nan
    dur_low = dur_high = None
    if price is None or price.usd is None:
        why = price.source if price else f"no price entry for {provider} / {base_model}"
        notes.append(f"price unknown ({why}); add one with register_price({provider!r},"
                     f" {base_model!r}, usd=...) or {PRICES_ENV}")
    elif price.unit == "1M_tokens":
        usd = billed / 1e6 * price.usd
        usd_low, usd_high = usd * (1 - spread), usd * (1 + spread)
        row = " ".join(x for x in (price.model, price.tier) if x and x != "*") or "any model"
        notes.append(f"price {price.usd:g} USD per 1M training tokens ({row})")
        warns += _price_warnings(price, on)
    else:
        if price.usd == 0:  # your own machine: no bill whatever the speed
            usd_low = usd_high = 0.0
            notes.append(f"no charge ({price.source})")
        else:
            warns += _price_warnings(price, on)
        speed, assumed = _throughput(provider, price, flavor or price.flavor)
        shown_flavor = f" ({flavor or price.flavor})" if (flavor or price.flavor) else ""
        if speed is None:
            notes.append("no training throughput (tokens_per_s) known for this entry"
                         f"{shown_flavor}, so the duration" + (
                             " is" if price.usd == 0 else " and USD are") + " unknown")
        else:
            slow, fast = speed
            dur_low = billed * (1 - spread) / fast
            dur_high = billed * (1 + spread) / slow
            usd_low, usd_high = dur_low / 3600 * price.usd, dur_high / 3600 * price.usd
            how = "measured" if assumed is None else f"{assumed['confidence']}: {assumed['source']}"
            notes.append(f"{price.usd:g} USD per GPU-hour{shown_flavor} x an estimated duration"
                         f" at {slow:g}-{fast:g} training tokens/s ({how})")
            if assumed is not None:
                warns.append(f"the duration range rests on an assumed throughput of {slow:g}-"
                             f"{fast:g} tokens/s{shown_flavor}, not a measurement; register your"
                             " own with register_price(..., tokens_per_s=(low, high))")
    vendor = _vendor_estimate(provider, source, base_model, epochs, method, adapter, notes) \
        if live else None
    if vendor is not None:  # the vendor's own figure for this very file beats any table
        usd_low = usd_high = float(vendor["usd"])
        notes.append(f"{provider}'s own estimate for this file: {usd_high:.2f} USD"
                     f" ({vendor['source']}, {vendor['date']}); the table is not used")
    minimum = find_price(provider, priced_model, unit="job_minimum", method=method)
    if minimum is not None and minimum.usd and not math.isnan(usd_high):
        if usd_low < minimum.usd:
            notes.append(f"raised to the {minimum.usd:g} USD minimum per job ({minimum.source})")
        usd_low, usd_high = max(usd_low, minimum.usd), max(usd_high, minimum.usd)
    return PricedEstimate(
        provider=provider, base_model=base_model, tokens=tokens, epochs=epochs,
        billed_tokens=billed, usd_low=usd_low, usd_high=usd_high,
        duration_s_low=dur_low, duration_s_high=dur_high,
        price_source=vendor["source"] if vendor else price.source if price else None,
        price_date=date.fromisoformat(vendor["date"]) if vendor else (
            date.fromisoformat(price.date) if price and price.date else None),
        assumptions=notes, price_usd=price.usd if price else None,
        price_unit=price.unit if price else None,
        price_confidence=vendor["confidence"] if vendor else (
            price.confidence if price else None),
        min_charge_usd=minimum.usd if minimum else None, warnings=warns,
    )


def _vendor_estimate(provider: str, source: Any, base_model: str, epochs: int,
                     method: str | None, adapter: str | None,
                     notes: list[str]) -> dict[str, Any] | None:
    """The vendor's own estimate for a local file (Together's estimate-price), or None.

    Only with ``live=True``: the file is uploaded to be priced (and deleted again), so the
    sensitive-data gate applies. Any failure (no key, offline, refused) keeps the table's figure.
    """
    lookup = _facts.live_function(provider, "job_estimate")
    if lookup is None or not isinstance(source, (str, Path)):
        return None
    try:
        found = lookup(Path(source), base_model, epochs=epochs, method=method or "sft",
                       adapter=adapter)
    except FinetuneError as exc:
        notes.append(f"{provider}'s own estimate failed ({type(exc).__name__}: {exc}); the"
                     " table's figure is used")
        return None
    if found.get("usd") is None:
        notes.append(f"{provider} gave no estimate for this file; the table's figure is used")
        return None
    return found


def enforce_budget(spec: JobSpec, provider: str, training_path: Path | None) -> CostEstimate | None:
    """Refuse to launch when ``spec.max_usd`` is set and the upper estimate is above it.

    Returns the estimate (None when no ``max_usd`` is set). An unknown price cannot be checked,
    so that refuses too: a guard that silently passes would be worse than none.
    """
    if spec.max_usd is None:
        return None
    source: Any = training_path if training_path is not None else spec.training_file
    est = estimate(spec.model_copy(update={"training_file": source}), provider)
    if math.isnan(est.usd_high):
        raise BudgetExceededError(
            f"max_usd={spec.max_usd:g} cannot be checked: no price known for {provider} /"
            f" {spec.base_model}. Register one (finetune_sdk.cost.register_price, or a JSON file"
            " named by FINETUNE_SDK_PRICES) or drop max_usd.",
            est,
        )
    if est.usd_high > spec.max_usd:
        raise BudgetExceededError(
            f"estimated cost up to {est.usd_high:.2f} USD (low {est.usd_low:.2f}) for"
            f" {est.billed_tokens:,} billed tokens is above max_usd={spec.max_usd:g};"
            " not launched", est,
        )
    return est


@dataclass(frozen=True)
class ActualCost:
    """What a finished job most likely cost, and on what that figure rests."""

    usd: float
    trained_tokens: int
    basis: str
    """E.g. ``2,000,000 trained tokens x 5 USD per 1M (price of 2025-08-21, primary-copy,
    openai.com/api/pricing)``: the price's date and source, so a stored figure stays honest."""


def _short_source(source: str | None) -> str:
    """The source without its parenthesised provenance (the URL or who said it)."""
    return (source or "unknown source").split(" (", 1)[0]


def actual_cost(job: Job, estimate: CostEstimate | None = None) -> ActualCost | None:
    """Trained tokens x the per-token price: what the vendor most likely billed for ``job``.

    The price is the estimate's when one is given, else the price table's (registered prices
    and ``FINETUNE_SDK_PRICES`` included) for the job's provider, model, method and size tier.
    None when the vendor reports no trained tokens, the price is unknown, or it is per hour
    (tokens say nothing about hours); a price of 0 (the fake, your own machine) is 0, not None.
    A per-job minimum (Together) applies as it does to the estimate.
    """
    tokens = job.trained_tokens
    if not tokens or tokens < 0:
        return None
    usd = getattr(estimate, "price_usd", None)
    if usd is not None and estimate is not None:
        unit, how = (getattr(estimate, k, None) for k in ("price_unit", "price_confidence"))
        when = estimate.price_date.isoformat() if estimate.price_date else None
        source, model = estimate.price_source, estimate.base_model
    elif job.base_model:
        model, tier = _resolve(job.provider, job.base_model, [])
        info = _facts.load_facts(job.provider)
        price = find_price(job.provider, model, method=job.method, tier=tier,
                           adapter=info.default_adapter if info else None)
        if price is None or price.usd is None:
            return None
        usd, unit, when, how, source = (price.usd, price.unit, price.date, price.confidence,
                                        price.source)
    else:
        return None
    provenance = ", ".join(str(x) for x in (when or "undated", how, _short_source(source)) if x)
    if usd == 0 and unit != "job_minimum":
        return ActualCost(0.0, tokens, f"no charge (price of {provenance})")
    if unit != "1M_tokens":
        return None
    amount = tokens / 1e6 * usd
    basis = f"{tokens:,} trained tokens x {usd:g} USD per 1M (price of {provenance})"
    minimum = find_price(job.provider, model, unit="job_minimum", method=job.method)
    if minimum is not None and minimum.usd and amount < minimum.usd:
        amount = minimum.usd
        basis += f"; raised to the {minimum.usd:g} USD minimum per job"
    return ActualCost(round(amount, 6), tokens, basis)
