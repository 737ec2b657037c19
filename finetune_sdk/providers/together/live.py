"""Together's own price estimate for a local dataset, for ``finetune estimate`` with a key.

``POST /v1/fine-tunes/estimate-price`` prices a job from an *uploaded* file, so this uploads
the file, asks, and deletes the file again (it was only sent to be priced). Named in
``facts.json`` (``live.job_estimate``); any failure (no key, offline, a changed API) is the
caller's to fall back on the bundled table.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

__all__ = ["job_estimate"]


def job_estimate(path: str | Path, base_model: str, *, epochs: int | None = None,
                 method: str = "sft", adapter: str | None = None, sensitive: bool | None = None,
                 allow_sensitive: bool = False, provider: Any = None,
                 **provider_kwargs: Any) -> dict[str, Any]:
    """Together's estimate for training ``base_model`` on ``path``: its answer plus ``usd``,
    ``source`` and ``date`` (today) in the shape of a price-table note. ``provider`` is a
    TogetherProvider (else one is made from ``provider_kwargs`` / the environment).

    The file leaves the machine, so the sensitive-data gate of every upload applies first
    (SensitiveDataError for unscrubbed patient data unless ``allow_sensitive``).
    """
    from ...data.privacy import check_upload_allowed
    from ...errors import FinetuneError
    from ...facts import today
    from ...lifecycle import wait_for_dataset
    from ...types import Hyperparameters, JobSpec
    from .adapter import TogetherProvider

    check_upload_allowed(Path(path), provider="together", hosted=True, sensitive=sensitive,
                         allow_sensitive=allow_sensitive)
    own = provider is None
    provider = provider or TogetherProvider(**provider_kwargs)
    ref = provider.upload_dataset(Path(path), wait=False)
    try:
        ref = wait_for_dataset(provider, ref)
        spec = JobSpec(base_model=base_model, training_file=ref, method=method,  # type: ignore[arg-type]
                       hyperparameters=Hyperparameters(epochs=epochs),
                       options={"lora": False} if adapter == "full" else None)
        answer = provider.price_estimate(spec)
    finally:
        try:
            provider.discard_dataset(ref)
        except FinetuneError:  # already gone (a rejected file is discarded by the wait)
            pass
        if own:
            provider.close()
    day: date = today()
    return {**answer, "usd": answer.get("estimated_total_price"), "date": day.isoformat(),
            "confidence": "primary",
            "source": f"{provider.base_url}/v1/fine-tunes/estimate-price (live)"}
