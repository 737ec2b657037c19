"""What a fine-tuning job will cost, before it is launched, and the ``max_usd`` guard.

Prices are data: ``prices.json`` next to this module (each entry dated, with its source), then a
JSON file named by ``FINETUNE_SDK_PRICES``, then :func:`register_price` calls; later entries win.
An entry with ``usd: null`` means "no trustworthy price known": the estimate then says so in its
assumptions (USD fields are NaN) instead of inventing a number, and a ``max_usd`` guard refuses to
launch because it cannot be checked.

Two units:

* ``1M_tokens``: usd = billed_tokens / 1e6 * price, billed_tokens = tokens * epochs.
* ``gpu_hour`` (HF Jobs flavors, local): hours = billed_tokens / tokens_per_s / 3600, from a
  measured throughput (``tokens_per_s`` low/high in the entry); no throughput -> unknown.

Token counts come from :mod:`finetune_sdk.data.tokens` (a real tokenizer when one is on this
machine, else about 4 characters per token). An estimated count widens the USD range by
``ESTIMATE_SPREAD`` either side.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
from dataclasses import asdict, dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from .errors import BudgetExceededError, ConfigurationError, DatasetError
from .types import CostEstimate, DatasetRef, JobSpec

__all__ = ["DEFAULT_EPOCHS", "ESTIMATE_SPREAD", "PRICES_ENV", "Price", "bundled_prices",
           "count_dataset_tokens",
           "enforce_budget", "estimate", "find_price", "load_prices", "price_table_markdown",
           "register_price"]

PRICES_ENV = "FINETUNE_SDK_PRICES"
ESTIMATE_SPREAD = 0.25
"""+-25 %: how far a chars/4 token estimate may be off for chat data (why the band is wide)."""
DEFAULT_EPOCHS = 3
"""Assumed when neither the caller nor the spec sets epochs (vendors pick "auto" themselves)."""
BYTES_PER_TOKEN = 4.0
"""For an already-uploaded dataset known only by its size: JSON bytes / 4 (over-counts)."""

Unit = Literal["1M_tokens", "gpu_hour"]


@dataclass(frozen=True)
class Price:
    """One row of the price table."""

    provider: str
    model: str
    """fnmatch pattern over the base model id (``gpt-4o-mini*``, ``*``)."""
    unit: Unit
    usd: float | None
    """None: unknown (the estimate says so; no number is made up)."""
    date: str | None
    source: str
    flavor: str | None = None
    """For ``gpu_hour`` entries on HF Jobs: the hardware flavor priced."""
    tokens_per_s: tuple[float, float] | None = None
    """Measured training throughput (low, high) for ``gpu_hour`` entries."""
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Price:
        if not isinstance(data, dict):
            raise ConfigurationError(f"bad price entry in {where}: expected an object with"
                                     f" provider, unit and usd, not {data!r}")
        try:
            unit = data["unit"]
            if unit not in ("1M_tokens", "gpu_hour"):
                raise ValueError(f"unit must be '1M_tokens' or 'gpu_hour', not {unit!r}")
            tps = data.get("tokens_per_s")
            if isinstance(tps, (int, float)):
                tps = (float(tps), float(tps))
            elif tps is not None:
                tps = (float(tps[0]), float(tps[1]))
            usd = data.get("usd")
            return cls(provider=str(data["provider"]), model=str(data.get("model", "*")),
                       unit=unit, usd=None if usd is None else float(usd),
                       date=data.get("date"), source=str(data.get("source", "user")),
                       flavor=data.get("flavor"), tokens_per_s=tps,
                       notes=list(data.get("notes", [])))
        except KeyError as exc:
            raise ConfigurationError(f"bad price entry in {where}: missing field {exc}; expected"
                                     f" provider, unit and usd (entry: {data})") from None
        except (TypeError, ValueError, IndexError) as exc:
            raise ConfigurationError(f"bad price entry in {where}: {exc} (entry: {data})") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_registered: list[Price] = []


def _read_table(text: str, where: str) -> list[Price]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"price file {where} is not valid JSON: {exc}") from None
    rows = data.get("prices") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise ConfigurationError(f"price file {where}: expected {{'prices': [...]}} or a list")
    return [Price.from_dict(row, where) for row in rows]


def _layers() -> list[list[Price]]:
    layers = [bundled_prices(), []]
    user_file = os.environ.get(PRICES_ENV)
    if user_file:
        path = Path(user_file).expanduser()
        if not path.is_file():
            raise ConfigurationError(f"{PRICES_ENV}={user_file}: no such file (expected a JSON"
                                     " price table, see docs/costs.md)")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ConfigurationError(f"{PRICES_ENV}={user_file}: not UTF-8 text (expected a JSON"
                                     " price table, see docs/costs.md)") from None
        layers[1] = _read_table(text, str(path))
    return layers + [list(_registered)]


def bundled_prices() -> list[Price]:
    """Only the table shipped with the package (what docs/costs.md shows)."""
    text = resources.files("finetune_sdk").joinpath("prices.json").read_text(encoding="utf-8")
    return _read_table(text, "finetune_sdk/prices.json")


def load_prices() -> list[Price]:
    """The whole table, lowest precedence first: bundled, FINETUNE_SDK_PRICES, registered."""
    return [price for layer in _layers() for price in layer]


def register_price(provider: str, model: str = "*", *, usd: float | None,
                   unit: Unit = "1M_tokens", date: str | None = None, source: str = "user",
                   tokens_per_s: float | tuple[float, float] | None = None,
                   flavor: str | None = None) -> Price:
    """Add or override a price for this process (wins over the bundled table and the file)."""
    row: dict[str, Any] = {"provider": provider, "model": model, "usd": usd, "unit": unit,
                           "date": date, "source": source, "tokens_per_s": tokens_per_s,
                           "flavor": flavor}
    price = Price.from_dict(row, "register_price()")
    _registered.append(price)
    return price


def clear_registered_prices() -> None:
    """Forget every :func:`register_price` call (tests)."""
    _registered.clear()


def find_price(provider: str, base_model: str) -> Price | None:
    """The entry that applies: the last registered, then the most specific pattern."""
    candidates = [(layer, len(p.model.rstrip("*")), i, p)
                  for layer, rows in enumerate(_layers()) for i, p in enumerate(rows)
                  if p.provider == provider and fnmatch.fnmatchcase(base_model, p.model)]
    # A later layer (the user's file, then register_price) overrides; within a layer the more
    # specific pattern wins, then the later row.
    return max(candidates, key=lambda c: c[:3])[3] if candidates else None


def price_table_markdown(prices: list[Price] | None = None) -> str:
    """The table as markdown (docs/costs.md embeds the bundled one; a test keeps them equal)."""
    rows = ["| provider | model | unit | USD | date | source |", "|---|---|---|---|---|---|"]
    for p in prices if prices is not None else load_prices():
        usd = "unknown" if p.usd is None else f"{p.usd:g}"
        unit = "per 1M training tokens" if p.unit == "1M_tokens" else (
            f"per GPU-hour{f' ({p.flavor})' if p.flavor else ''}")
        rows.append(f"| {p.provider} | `{p.model}` | {unit} | {usd} | {p.date or '-'} |"
                    f" {p.source} |")
    return "\n".join(rows) + "\n"


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
        if any(p.provider == provider for layer in _layers() for p in layer):
            return provider
        raise


def estimate(spec_or_dataset: JobSpec | DatasetRef | str | Path, provider: str,
             base_model: str | None = None, epochs: int | None = None) -> CostEstimate:
    """Estimate tokens, billed tokens, USD (low/high) and duration for one training job."""
    notes: list[str] = []
    provider = _provider_name(provider)
    if isinstance(spec_or_dataset, JobSpec):
        spec = spec_or_dataset
        base_model = base_model or spec.base_model
        epochs = epochs or spec.hyperparameters.epochs
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
    tokens, exact = _dataset_tokens(source, base_model, notes)
    billed = tokens * epochs
    spread = 0.0 if exact else ESTIMATE_SPREAD
    notes.append(f"billed tokens = {tokens:,} tokens x {epochs} epochs = {billed:,}")
    price = find_price(provider, base_model)
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
        notes.append(f"price {price.usd:g} USD per 1M training tokens ({price.model})")
    else:
        if price.usd == 0:  # your own machine: no bill whatever the speed
            usd_low = usd_high = 0.0
            notes.append(f"no charge ({price.source})")
        if price.tokens_per_s is None:
            notes.append("no measured training throughput (tokens_per_s) recorded for this"
                         " entry, so the duration" + (" is" if price.usd == 0 else
                                                     " and USD are") + " unknown")
        else:
            slow, fast = price.tokens_per_s
            dur_low = billed * (1 - spread) / fast
            dur_high = billed * (1 + spread) / slow
            usd_low, usd_high = dur_low / 3600 * price.usd, dur_high / 3600 * price.usd
            flavor = f" ({price.flavor})" if price.flavor else ""
            notes.append(f"{price.usd:g} USD per GPU-hour{flavor}"
                         f" at {slow:g}-{fast:g} training tokens/s (measured)")
    return CostEstimate(
        provider=provider, base_model=base_model, tokens=tokens, epochs=epochs,
        billed_tokens=billed, usd_low=usd_low, usd_high=usd_high,
        duration_s_low=dur_low, duration_s_high=dur_high,
        price_source=price.source if price else None,
        price_date=date.fromisoformat(price.date) if price and price.date else None,
        assumptions=notes,
    )


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
