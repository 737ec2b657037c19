"""The meter: what a deployment costs per hour (where known), what it has cost so far, and
whether it sits idle while billed.

Prices come from ``serving_prices.json`` (dated, sourced; ``usd_per_hour: null`` where the vendor
bills per token or we found no source), then from a file named by ``FINETUNE_SDK_SERVING_PRICES``
(same shape; later rows win), and a backend may read the vendor's own live price at deploy time
(Hugging Face lists one per instance). Accrued cost is price x hours since creation: an upper
bound, because time scaled to zero is not billed.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

from ..errors import ConfigurationError
from .model import Deployment

__all__ = ["IDLE_ENV", "SERVING_PRICES_ENV", "ServingPrice", "accrued", "idle_for",
           "idle_limit", "parse_duration", "serving_price"]

SERVING_PRICES_ENV = "FINETUNE_SDK_SERVING_PRICES"
IDLE_ENV = "FINETUNE_SDK_DEPLOY_IDLE_WARN"
DEFAULT_IDLE_S = 3600.0


@dataclass(frozen=True)
class ServingPrice:
    """One hourly price (per replica) of a provider's hardware."""

    provider: str
    hardware: str
    """An fnmatch pattern over the hardware name."""
    usd_per_hour: float | None
    date: date | None
    source: str
    confidence: str | None = None


def _rows(text: str, where: str) -> list[ServingPrice]:
    try:
        data = json.loads(text)
        return [ServingPrice(provider=r["provider"], hardware=r.get("hardware", "*"),
                             usd_per_hour=r.get("usd_per_hour"),
                             date=date.fromisoformat(r["date"]) if r.get("date") else None,
                             source=r.get("source", where), confidence=r.get("confidence"))
                for r in data["prices"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"bad serving price table {where}: {exc}") from None


def _layers() -> list[list[ServingPrice]]:
    bundled = resources.files(__package__).joinpath("serving_prices.json").read_text("utf-8")
    layers = [_rows(bundled, "serving_prices.json")]
    extra = os.environ.get(SERVING_PRICES_ENV)
    if extra:
        layers.append(_rows(Path(extra).read_text(encoding="utf-8"), extra))
    return layers


def serving_price(provider: str, hardware: str | None) -> ServingPrice | None:
    """The row that applies: the override file over the bundled table, then the most specific
    pattern (``NVIDIA_H100_80GB`` over ``*``), or None."""
    found = [(layer, len(row.hardware.rstrip("*")), row)
             for layer, rows in enumerate(_layers()) for row in rows
             if row.provider == provider and fnmatch.fnmatchcase(hardware or "", row.hardware)]
    return max(found, key=lambda f: f[:2])[2] if found else None


def accrued(deployment: Deployment, until: datetime | None = None) -> float | None:
    """USD so far at the known price (see the module docstring); None when unknown."""
    return deployment.accrued_usd(until)


def parse_duration(value: str | float | None) -> float | None:
    """Seconds from ``90``, ``"90s"``, ``"30m"``, ``"2h"``, ``"1d"`` (None stays None)."""
    if value is None or isinstance(value, (int, float)):
        return None if value is None else float(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(value).lower())
    if not match:
        raise ConfigurationError(f"not a duration: {value!r} (use 90, 90s, 30m, 2h or 1d)")
    scale = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * scale


def idle_limit(value: str | float | None = None) -> float:
    """After how long without a chat a live deployment is reported idle: ``value``, else
    FINETUNE_SDK_DEPLOY_IDLE_WARN, else one hour."""
    chosen = value if value is not None else os.environ.get(IDLE_ENV)
    seconds = parse_duration(chosen)
    return DEFAULT_IDLE_S if seconds is None else seconds


def idle_for(last_used: str | None, ready_at: str | None, created_at: str | None,
             now: datetime | None = None) -> float | None:
    """Seconds since the last chat through the SDK (else since it became ready / was made)."""
    stamp = last_used or ready_at or created_at
    if not stamp:
        return None
    then = datetime.fromisoformat(stamp)
    then = then if then.tzinfo else then.replace(tzinfo=UTC)
    return max(0.0, ((now or datetime.now(UTC)) - then).total_seconds())
