"""Live OpenAI facts: a base model's announced ``shutdown_date`` (``GET /v1/models/{id}``).

Named in ``facts.json`` (``live.model_dates``); the bundled catalog is the fallback when the
call fails or the field is absent.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

__all__ = ["model_dates"]


def _as_date(value: Any) -> date | None:
    """The field is documented as a string; accept an ISO date/time or a Unix time too."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC).date()
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC).date()
    return date.fromisoformat(text[:10])


def model_dates(provider: Any, model_id: str) -> dict[str, date | None]:
    """``{"shutdown": date | None}`` for one model, as the API says now (an OpenAIProvider)."""
    client = provider._client()
    model = provider._call(lambda: client.models.retrieve(model_id))
    # Older SDKs' Model lacks the field: read it from the raw JSON then.
    raw = getattr(model, "shutdown_date", None)
    if raw is None:
        raw = (getattr(model, "model_extra", None) or {}).get("shutdown_date")
    return {"shutdown": _as_date(raw)}
