"""The price table: dated, sourced entries, the layers that override them, and the lookup.

Layers, lowest precedence first: the bundled table (``prices.json`` for ``local``/``fake`` plus
the ``prices`` of every ``providers/<vendor>/facts.json``), live vendor prices when asked for
(``estimate(..., live=True)``), a JSON file named by ``FINETUNE_SDK_PRICES``, then
:func:`register_price` calls. A later layer wins; within one, the more specific entry wins.

Units: ``1M_tokens`` (per 1M training tokens, billed tokens = dataset tokens x epochs),
``gpu_hour`` (per hour of a hardware flavor, or of training wall-clock) and ``job_minimum``
(the least a job is charged). ``usd: null`` means no trustworthy price is known.
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigurationError
from .types import CostEstimate

__all__ = ["PRICES_ENV", "UNITS", "Price", "PricedEstimate", "bundled_prices",
           "clear_registered_prices", "find_price", "load_live_prices", "load_prices",
           "price_table_markdown", "register_price"]

PRICES_ENV = "FINETUNE_SDK_PRICES"
Unit = Literal["1M_tokens", "gpu_hour", "job_minimum"]
UNITS = ("1M_tokens", "gpu_hour", "job_minimum")


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
    """When the source said it (ISO date)."""
    source: str
    """Where: the URL first, then who read it."""
    confidence: str | None = None
    """primary / primary-copy / secondary (None: the user's own, or unknown)."""
    method: str | None = None
    """sft / dpo / rft; None: any method."""
    adapter: str | None = None
    """lora / full; None: either."""
    tier: str | None = None
    """A vendor's size tier (``<=16B``); None: any size."""
    flavor: str | None = None
    """For ``gpu_hour`` entries: the hardware flavor priced (a pattern)."""
    tokens_per_s: tuple[float, float] | None = None
    """Measured training throughput (low, high) for ``gpu_hour`` entries."""
    quote: str | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Price:
        if not isinstance(data, dict):
            raise ConfigurationError(f"bad price entry in {where}: expected an object with"
                                     f" provider, unit and usd, not {data!r}")
        try:
            unit = data["unit"]
            if unit not in UNITS:
                raise ValueError(f"unit must be '1M_tokens', 'gpu_hour' or 'job_minimum', not"
                                 f" {unit!r}")
            tps = data.get("tokens_per_s")
            if isinstance(tps, (int, float)):
                tps = (float(tps), float(tps))
            elif tps is not None:
                tps = (float(tps[0]), float(tps[1]))
            usd = data.get("usd")
            return cls(provider=str(data["provider"]), model=str(data.get("model", "*")),
                       unit=unit, usd=None if usd is None else float(usd),
                       date=data.get("date"), source=str(data.get("source", "user")),
                       confidence=data.get("confidence"), method=data.get("method"),
                       adapter=data.get("adapter"), tier=data.get("tier"),
                       flavor=data.get("flavor"), tokens_per_s=tps, quote=data.get("quote"),
                       notes=list(data.get("notes", [])))
        except KeyError as exc:
            raise ConfigurationError(f"bad price entry in {where}: missing field {exc}; expected"
                                     f" provider, unit and usd (entry: {data})") from None
        except (TypeError, ValueError, IndexError) as exc:
            raise ConfigurationError(f"bad price entry in {where}: {exc} (entry: {data})") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def specificity(self) -> int:
        """How narrowly the row applies: each set key counts more than a longer pattern."""
        keys = (self.method, self.adapter, self.tier,
                self.flavor if self.flavor not in (None, "*") else None)
        return 1000 * sum(k is not None for k in keys) + len(self.model.rstrip("*"))


class PricedEstimate(CostEstimate):
    """A CostEstimate with the price's provenance and the warnings to show with it."""

    price_usd: float | None = None
    price_unit: str | None = None
    price_confidence: str | None = None
    min_charge_usd: float | None = None
    warnings: list[str] = []


_registered: list[Price] = []
_live: dict[str, list[Price]] = {}


def _read_table(text: str, where: str) -> list[Price]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"price file {where} is not valid JSON: {exc}") from None
    rows = data.get("prices") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise ConfigurationError(f"price file {where}: expected {{'prices': [...]}} or a list")
    return [Price.from_dict(row, where) for row in rows]


def bundled_prices() -> list[Price]:
    """Only the tables shipped with the package (what docs/costs.md shows)."""
    from .facts import load_facts, providers_with_facts

    text = resources.files("finetune_sdk").joinpath("prices.json").read_text(encoding="utf-8")
    rows = []
    for name in providers_with_facts():
        facts = load_facts(name)
        assert facts is not None
        where = f"finetune_sdk/providers/{name}/facts.json"
        rows += [Price.from_dict(row, where) for row in facts.prices]
    return rows + _read_table(text, "finetune_sdk/prices.json")


def set_live_prices(provider: str, prices: list[Price] | None) -> None:
    """Install (or with None drop) the live prices of one provider for this process."""
    if prices is None:
        _live.pop(provider, None)
    else:
        _live[provider] = list(prices)


def load_live_prices(provider: str, notes: list[str]) -> None:
    """Replace the bundled prices of ``provider`` by the vendor's live list, if it has one."""
    from .facts import live_function

    lookup = live_function(provider, "prices")
    if lookup is None:
        notes.append(f"{provider} has no live price lookup: bundled table used")
        return
    try:
        rows = [Price.from_dict({**row, "provider": provider}, f"{provider} live prices")
                for row in lookup()]
    except Exception as exc:  # offline, no token, a changed API: the table still answers
        notes.append(f"live price lookup failed ({type(exc).__name__}: {exc}); bundled table"
                     " used")
        return
    set_live_prices(provider, rows)
    notes.append(f"live prices: {len(rows)} entries from {provider}")


def _layers() -> list[list[Price]]:
    layers = [bundled_prices(), [p for rows in _live.values() for p in rows], []]
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
        layers[2] = _read_table(text, str(path))
    return layers + [list(_registered)]


def load_prices() -> list[Price]:
    """The whole table, lowest precedence first: bundled, live, FINETUNE_SDK_PRICES, registered."""
    return [price for layer in _layers() for price in layer]


def register_price(provider: str, model: str = "*", *, usd: float | None,
                   unit: Unit = "1M_tokens", date: str | None = None, source: str = "user",
                   tokens_per_s: float | tuple[float, float] | None = None,
                   flavor: str | None = None, method: str | None = None,
                   adapter: str | None = None, tier: str | None = None,
                   confidence: str | None = None) -> Price:
    """Add or override a price for this process (wins over the bundled table and the file)."""
    row: dict[str, Any] = {"provider": provider, "model": model, "usd": usd, "unit": unit,
                           "date": date, "source": source, "tokens_per_s": tokens_per_s,
                           "flavor": flavor, "method": method, "adapter": adapter,
                           "tier": tier, "confidence": confidence}
    price = Price.from_dict(row, "register_price()")
    _registered.append(price)
    return price


def clear_registered_prices() -> None:
    """Forget every :func:`register_price` call and live price (tests)."""
    _registered.clear()
    _live.clear()


def _applies(p: Price, provider: str, model: str, unit: str | None, method: str | None,
             adapter: str | None, tier: str | None, flavor: str | None) -> bool:
    if p.provider != provider or not fnmatch.fnmatchcase(model, p.model):
        return False
    if (p.unit == "job_minimum") != (unit == "job_minimum"):
        return False
    if p.method is not None and p.method != (method or "sft"):
        return False
    if p.adapter is not None and p.adapter != adapter:
        return False
    if p.tier is not None and p.tier != tier:
        return False
    return p.flavor is None or flavor is None or fnmatch.fnmatchcase(flavor, p.flavor)


def find_price(provider: str, base_model: str, *, method: str | None = None,
               adapter: str | None = None, tier: str | None = None,
               flavor: str | None = None, unit: str | None = None) -> Price | None:
    """The entry that applies: the latest layer, then the most specific row, then the later.

    ``unit="job_minimum"`` looks up the per-job minimum instead of the price.
    """
    candidates = [(layer, p.specificity(), i, p)
                  for layer, rows in enumerate(_layers()) for i, p in enumerate(rows)
                  if _applies(p, provider, base_model, unit, method, adapter, tier, flavor)]
    return max(candidates, key=lambda c: c[:3])[3] if candidates else None


_UNIT_TEXT = {"1M_tokens": "per 1M training tokens", "gpu_hour": "per GPU-hour",
              "job_minimum": "minimum per job"}


def price_table_markdown(prices: list[Price] | None = None) -> str:
    """The table as markdown (docs/costs.md embeds the bundled one; a test keeps them equal)."""
    rows = ["| provider | model / tier | method | unit | USD | date | confidence | source |",
            "|---|---|---|---|---|---|---|---|"]
    for p in prices if prices is not None else load_prices():
        usd = "unknown" if p.usd is None else f"{p.usd:g}"
        what = " ".join(x for x in (f"`{p.model}`", p.tier, p.flavor and f"({p.flavor})") if x)
        method = " ".join(x for x in (p.method, p.adapter) if x) or "any"
        source = p.source.replace("|", "/")
        rows.append(f"| {p.provider} | {what} | {method} | {_UNIT_TEXT[p.unit]} | {usd} |"
                    f" {p.date or '-'} | {p.confidence or '-'} | {source} |")
    return "\n".join(rows) + "\n"
