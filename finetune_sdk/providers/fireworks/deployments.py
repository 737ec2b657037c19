"""Fireworks on-demand deployments: a fine-tuned LoRA served on dedicated GPUs, billed per GPU
hour while the deployment exists (scaled to zero it is not billed).

The create is ``POST /v1/accounts/{a}/deployments?deploymentId=<our name>``: the id is ours, so a
resend answers 409 ALREADY_EXISTS and we read the deployment it made (never a second one). It is
sent once here; the deployment lifecycle retries and waits (``get`` reads once). A deployment
answers chat as ``<model>#accounts/{a}/deployments/{id}`` on ``{base}/inference/v1``. Defaults
lean cheap: one H100, scale to zero after an hour idle (``min_replicas=0``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ...deployments.meter import serving_price
from ...deployments.model import Deployment, DeploymentSpec, DeploymentStatus
from ...errors import ConflictError, NotFoundError
from ...types import ModelRef

if TYPE_CHECKING:
    from .adapter import FireworksProvider

__all__ = ["DEFAULT_ACCELERATOR", "STATES", "delete", "deploy", "find", "get", "list_all"]

DEFAULT_ACCELERATOR = "NVIDIA_H100_80GB"
DEFAULT_SCALE_TO_ZERO_S = 3600
STATES = {
    "CREATING": DeploymentStatus.CREATING,
    "UPDATING": DeploymentStatus.READY,  # serving while it changes replicas or settings
    "READY": DeploymentStatus.READY,
    "DELETING": DeploymentStatus.DELETING,
    "DELETED": DeploymentStatus.DELETED,
    "FAILED": DeploymentStatus.FAILED,
}


def _path(provider: FireworksProvider, name: str) -> str:
    short = name.rsplit("/", 1)[-1]
    return f"{provider._account_path}/deployments/{short}"


def deploy(provider: FireworksProvider, model: ModelRef, spec: DeploymentSpec) -> Deployment:
    """One create, keyed by ``spec.name`` (409 -> the deployment it already made)."""
    body: dict[str, Any] = {
        "baseModel": model.id,
        "displayName": spec.name,
        "acceleratorType": spec.hardware or DEFAULT_ACCELERATOR,
        "acceleratorCount": spec.accelerator_count or 1,
        "minReplicaCount": 0 if spec.min_replicas is None else spec.min_replicas,
        "maxReplicaCount": spec.max_replicas or 1,
        "autoscalingPolicy": {
            "scaleToZeroWindow": f"{int(spec.scale_to_zero_after or DEFAULT_SCALE_TO_ZERO_S)}s"},
    }
    if spec.region:
        body["placement"] = {"region": spec.region}
    body.update(spec.options)
    try:
        raw = provider._api("POST", f"{provider._account_path}/deployments", retry=False,
                            params={"deploymentId": spec.name}, json=body)
    except ConflictError:  # our id: the deployment a lost answer already made
        raw = provider._api("GET", _path(provider, spec.name or ""))
    return to_deployment(provider, raw)


def get(provider: FireworksProvider, deployment_id: str) -> Deployment:
    """The deployment now (one read; a deleted one reads 404, reported as deleted)."""
    try:
        raw = provider._api("GET", _path(provider, deployment_id))
    except NotFoundError:
        return Deployment(id=deployment_id, provider=provider.name,
                          status=DeploymentStatus.DELETED, model="", endpoint="")
    return to_deployment(provider, raw)


def delete(provider: FireworksProvider, deployment_id: str) -> Deployment:
    provider._api("DELETE", _path(provider, deployment_id), idempotent=True)
    return get(provider, deployment_id)


def list_all(provider: FireworksProvider) -> Iterator[Deployment]:
    token: str | None = None
    while True:
        params = {"pageSize": 50, **({"pageToken": token} if token else {})}
        page = provider._api("GET", f"{provider._account_path}/deployments", params=params)
        for raw in page.get("deployments") or []:
            yield to_deployment(provider, raw)
        token = page.get("nextPageToken")
        if not token:
            return


def find(provider: FireworksProvider, name: str) -> Deployment | None:
    found = get(provider, name)
    return None if found.status is DeploymentStatus.DELETED else found


def to_deployment(provider: FireworksProvider, raw: dict[str, Any]) -> Deployment:
    """Fireworks' deployment object in our terms (price from the dated table x GPUs)."""
    name = raw["name"]
    model = raw.get("baseModel") or ""
    accelerator = raw.get("acceleratorType") or DEFAULT_ACCELERATOR
    count = int(raw.get("acceleratorCount") or 1)
    price = serving_price(provider.name, accelerator)
    hourly = price.usd_per_hour * count if price and price.usd_per_hour is not None else None
    status = STATES.get(raw.get("state") or "", DeploymentStatus.UNKNOWN)
    scale = (raw.get("autoscalingPolicy") or {}).get("scaleToZeroWindow")
    min_replicas = raw.get("minReplicaCount")
    idle = (f"scales to zero after {scale} without traffic (not billed then)"
            if scale and not min_replicas else "always on (min replicas > 0): billed every hour")
    error = (raw.get("status") or {}).get("message") or None
    return Deployment(
        id=name, provider=provider.name, status=status, provider_status=raw.get("state"),
        model=model, endpoint=f"{model}#{name}", base_url=f"{provider.base_url}/inference/v1",
        hardware=f"{count}x {accelerator}", price_per_hour=hourly,
        price_date=price.date if price else None, price_source=price.source if price else None,
        created_at=raw.get("createTime"), error=error if status is DeploymentStatus.FAILED
        else None,
        note=f"Fireworks on-demand deployment, billed per GPU hour while it exists; {idle}."
             f" Tear down: finetune undeploy {name}",
        provider_details=raw)
