"""Live HF Jobs prices: ``huggingface_hub``'s ``list_jobs_hardware()`` (``GET /api/jobs/hardware``).

Named in ``facts.json`` (``live.prices``). Returns price rows in the table's shape, per hour
(the API prices per minute), so ``finetune estimate --live`` can put them above the bundled
table; any failure leaves the bundled table in charge.
"""

from __future__ import annotations

from datetime import date
from typing import Any

__all__ = ["hardware_prices"]

_PER_HOUR = {"minute": 60.0, "hour": 1.0, "second": 3600.0}


def hardware_prices(endpoint: str | None = None, token: str | None = None) -> list[dict[str, Any]]:
    """One ``gpu_hour`` row per flavor the Hub lists now (HF_ENDPOINT, ``find_token``)."""
    from huggingface_hub import HfApi

    from ...config import setting
    from ...facts import today
    from .token import find_token

    api = HfApi(endpoint=setting(endpoint, "HF_ENDPOINT"),
                token=find_token(token))
    rows = []
    for hw in api.list_jobs_hardware():
        factor = _PER_HOUR.get(str(hw.unit_label).lower())
        if factor is None:  # a unit we do not know: better no row than a wrong one
            continue
        day: date = today()
        rows.append({
            "flavor": hw.name, "unit": "gpu_hour", "usd": round(hw.unit_cost_usd * factor, 6),
            "date": day.isoformat(), "confidence": "primary",
            "source": f"{api.endpoint}/api/jobs/hardware (live, {hw.unit_cost_usd:g} USD per"
                      f" {hw.unit_label})",
        })
    return rows
