"""Hugging Face Inference Endpoints through huggingface_hub: a pushed fine-tune (a private Hub
repo) served on a dedicated instance, billed per hour while it runs (not while paused or scaled
to zero).

The create names the endpoint (our name, unique per namespace): a resend answers 409 and we read
the endpoint the first one made. huggingface_hub never retries a POST, and it is sent once here;
the deployment lifecycle retries and waits (``get`` reads once). The price comes from the
vendor at deploy time (``list_inference_endpoints_hardware``: ``pricePerHour``). Defaults lean
cheap: one ``nvidia-a10g`` x1 on AWS us-east-1 that scales to zero after an hour idle.
``pause``/``resume`` stop and restart the bill without deleting the endpoint.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

from ...deployments.model import Deployment, DeploymentSpec, DeploymentStatus
from ...errors import ConflictError, FinetuneError, NotFoundError
from ...types import ModelRef

if TYPE_CHECKING:
    from .adapter import HuggingFaceProvider

__all__ = ["STATES", "delete", "deploy", "find", "get", "list_all", "pause", "resume"]

STATES = {
    "pending": DeploymentStatus.CREATING, "initializing": DeploymentStatus.CREATING,
    "updating": DeploymentStatus.CREATING, "running": DeploymentStatus.READY,
    "scaledToZero": DeploymentStatus.READY,  # wakes on the first request (a cold start)
    "paused": DeploymentStatus.PAUSED, "failed": DeploymentStatus.FAILED,
    "updateFailed": DeploymentStatus.FAILED,
}
DEFAULTS = {"vendor": "aws", "region": "us-east-1", "accelerator": "gpu",
            "instance_type": "nvidia-a10g", "framework": "pytorch", "task": "text-generation"}
DEFAULT_SCALE_TO_ZERO_MIN = 60


def _short(deployment_id: str) -> str:
    return deployment_id.rsplit("/", 1)[-1]


def deploy(provider: HuggingFaceProvider, model: ModelRef, spec: DeploymentSpec) -> Deployment:
    """One ``create_inference_endpoint`` named ``spec.name`` (409 -> the one it made)."""
    api, namespace = provider._hf(), provider.namespace
    options = {**DEFAULTS, **spec.options}
    if spec.hardware:
        options["instance_type"] = spec.hardware
    if spec.region:
        options["region"] = spec.region
    min_replica = 0 if spec.min_replicas is None else spec.min_replicas
    scale = spec.scale_to_zero_after
    kwargs: dict[str, Any] = {
        **options, "name": spec.name, "repository": model.id, "namespace": namespace,
        "instance_size": f"x{spec.accelerator_count or 1}", "min_replica": min_replica,
        "max_replica": spec.max_replicas or 1,
        "scale_to_zero_timeout": (max(1, round(scale / 60)) if scale
                                  else DEFAULT_SCALE_TO_ZERO_MIN) if min_replica == 0 else None,
    }
    accepted = set(inspect.signature(api.create_inference_endpoint).parameters)
    kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    try:
        made = provider._call(lambda: api.create_inference_endpoint(**kwargs), retry=False,
                              idempotent=False)
        raw = made.raw
    except ConflictError:  # our name: the endpoint a lost answer already made
        raw = provider._call(lambda: api.get_inference_endpoint(spec.name,
                                                                namespace=namespace)).raw
    found = to_deployment(provider, raw)
    return found.model_copy(update=_price(provider, raw))


def _price(provider: HuggingFaceProvider, raw: dict[str, Any]) -> dict[str, Any]:
    """The vendor's own hourly price for this instance (best effort: None when unreadable)."""
    compute, where = raw.get("compute") or {}, raw.get("provider") or {}
    api = provider._hf()
    try:
        rows = provider._call(lambda: api.list_inference_endpoints_hardware(
            namespace=provider.namespace))
    except (FinetuneError, AttributeError):  # AttributeError: an older huggingface_hub
        return {}
    for hw in rows:
        if (hw.vendor, hw.region, hw.instance_type, hw.instance_size) == (
                where.get("vendor"), where.get("region"), compute.get("instanceType"),
                compute.get("instanceSize")):
            return {"price_per_hour": hw.price_per_hour, "price_date": date.today(),
                    "price_source": "Hugging Face API (list_inference_endpoints_hardware:"
                                    " pricePerHour), read at deploy time"}
    return {}


def get(provider: HuggingFaceProvider, deployment_id: str) -> Deployment:
    api = provider._hf()
    try:
        raw = provider._call(lambda: api.get_inference_endpoint(
            _short(deployment_id), namespace=provider.namespace)).raw
    except NotFoundError:
        return Deployment(id=deployment_id, provider=provider.name,
                          status=DeploymentStatus.DELETED, model="", endpoint="")
    return to_deployment(provider, raw)


def delete(provider: HuggingFaceProvider, deployment_id: str) -> Deployment:
    api = provider._hf()
    provider._call(lambda: api.delete_inference_endpoint(_short(deployment_id),
                                                         namespace=provider.namespace))
    return get(provider, deployment_id)


def pause(provider: HuggingFaceProvider, deployment_id: str) -> Deployment:
    """Stop it (and its bill) without deleting it; ``resume`` starts it again."""
    api = provider._hf()
    raw = provider._call(lambda: api.pause_inference_endpoint(
        _short(deployment_id), namespace=provider.namespace)).raw
    return to_deployment(provider, raw)


def resume(provider: HuggingFaceProvider, deployment_id: str) -> Deployment:
    api = provider._hf()
    raw = provider._call(lambda: api.resume_inference_endpoint(
        _short(deployment_id), namespace=provider.namespace)).raw
    return to_deployment(provider, raw)


def list_all(provider: HuggingFaceProvider) -> Iterator[Deployment]:
    api = provider._hf()
    for endpoint in provider._call(lambda: api.list_inference_endpoints(
            namespace=provider.namespace)):
        yield to_deployment(provider, endpoint.raw)


def find(provider: HuggingFaceProvider, name: str) -> Deployment | None:
    found = get(provider, name)
    return None if found.status is DeploymentStatus.DELETED else found


def to_deployment(provider: HuggingFaceProvider, raw: dict[str, Any]) -> Deployment:
    status = raw.get("status") or {}
    compute = raw.get("compute") or {}
    scaling = compute.get("scaling") or {}
    state = status.get("state") or ""
    ident = f"{provider.namespace}/{raw['name']}"
    url = status.get("url")
    idle = (f"scales to zero after {scaling.get('scaleToZeroTimeout')} min idle (not billed"
            " then; the next request waits for a cold start)"
            if not scaling.get("minReplica") and scaling.get("scaleToZeroTimeout")
            else "always on: billed every hour it runs")
    return Deployment(
        id=ident, provider=provider.name, status=STATES.get(state, DeploymentStatus.UNKNOWN),
        provider_status=state or None, model=(raw.get("model") or {}).get("repository") or "",
        endpoint=url or ident, base_url=url,
        hardware=f"{compute.get('instanceType')} {compute.get('instanceSize')}".strip(),
        created_at=status.get("createdAt"),
        error=status.get("message") if state in ("failed", "updateFailed") else None,
        note=f"Hugging Face Inference Endpoint, billed per hour while it runs; {idle}. Pause:"
             f" finetune undeploy {ident} --pause; tear down: finetune undeploy {ident}",
        provider_details=raw)
