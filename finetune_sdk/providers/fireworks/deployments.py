"""Fireworks deployments: serving a fine-tuned LoRA on dedicated GPUs (billed while it exists).

One POST creates the deployment; ``get_deployment`` reads it once. Waiting for READY is the
lifecycle's (``lifecycle.wait_until``), never a sleep here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import WaitTimeoutError
from ...types import ModelRef

if TYPE_CHECKING:
    from .adapter import FireworksProvider

__all__ = ["deploy", "get_deployment"]


def deploy(provider: FireworksProvider, model: ModelRef | str, *, wait: bool = True) -> ModelRef:
    """Create an on-demand (live-merge) deployment for a fine-tuned model.

    Returns a ModelRef whose id is ``model#deployment``; ``ready_for_inference`` says whether
    it is READY. ``wait=True`` polls it (up to the provider's ``dataset_wait_timeout``) and then
    returns it as it is; ``wait=False`` returns at once.
    """
    model_id = model.id if isinstance(model, ModelRef) else model
    created = provider._api(
        "POST",
        f"{provider._account_path}/deployments",
        idempotent=False,
        json={"baseModel": model_id},
    )
    ref = _deployment_ref(provider, model, model_id, created)
    if not wait or ref.ready_for_inference:
        return ref
    from ...lifecycle import wait_until

    try:
        return wait_until(lambda r: get_deployment(provider, r), ref,
                          lambda r: r.ready_for_inference, what=f"deployment {ref.endpoint}",
                          interval=provider.dataset_poll_interval,
                          timeout=provider.dataset_wait_timeout)
    except WaitTimeoutError as exc:  # not READY yet: the ref says so, as deploy always did
        last: ModelRef = exc.last
        return last


def get_deployment(provider: FireworksProvider, ref: ModelRef) -> ModelRef:
    """``ref`` (from ``deploy``) as Fireworks reports it now."""
    if not ref.endpoint:
        raise ValueError(f"{ref.id!r} is not a deployed model (no endpoint); deploy() it first")
    model_id = ref.id.split("#", 1)[0]
    return _deployment_ref(provider, ref, model_id, provider._api("GET", f"/v1/{ref.endpoint}"))


def _deployment_ref(provider: FireworksProvider, model: ModelRef | str, model_id: str,
                    deployment: dict[str, Any]) -> ModelRef:
    name = deployment["name"]
    return ModelRef(
        id=f"{model_id}#{name}",
        provider=provider.name,
        base_model=model.base_model if isinstance(model, ModelRef) else None,
        job_id=model.job_id if isinstance(model, ModelRef) else None,
        ready_for_inference=deployment.get("state") == "READY",
        needs_deployment=False,
        endpoint=name,
        base_url=f"{provider.base_url}/inference/v1",
        how_to_serve=f"delete with DELETE /v1/{name} when done (billed while it exists)",
        provider_details=deployment,
    )
