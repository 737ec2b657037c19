"""Vertex: a tuning job creates its own endpoint, so "deploy" creates nothing. It reports that
endpoint as a Deployment (tracked in the ledger, so ``finetune deployments`` lists it and
``finetune undeploy`` removes it); tuned Gemini endpoints are billed per token, like the base.

Undeploy is Vertex's two steps: ``:undeployModel`` for each model on the endpoint, then
``DELETE`` the endpoint (an endpoint with models on it cannot be deleted). The REST calls go
through google-genai's own API client (its auth, base URL and ``v1beta1``), one request each,
translated like every Vertex call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ...deployments.model import Deployment, DeploymentSpec, DeploymentStatus
from ...errors import ConfigurationError, NotFoundError
from ...types import ModelRef

if TYPE_CHECKING:
    from .adapter import GeminiProvider

__all__ = ["delete", "deploy", "find", "get", "list_all"]

NOTE = ("Vertex created this endpoint with the tuning job; it is billed per token, like the base"
        " model, not per hour. Remove it: finetune undeploy {id}")


def _request(provider: GeminiProvider, method: str, path: str,
             body: dict[str, Any] | None = None, *, retry: bool = True) -> dict[str, Any]:
    api = provider._client()._api_client
    answer = provider._call(lambda: api.request(method, path, dict(body or {})), retry=retry)
    text = getattr(answer, "body", None) or "{}"
    data: dict[str, Any] = json.loads(text) if isinstance(text, str) else dict(text)
    return data


def deploy(provider: GeminiProvider, model: ModelRef, spec: DeploymentSpec) -> Deployment:
    """The endpoint the tuning job made (nothing is sent)."""
    if not model.endpoint:
        raise ConfigurationError(
            f"Vertex reports no endpoint for {model.id}: deploy the tuned model with Vertex's"
            " endpoints.deployModel first (not done by this SDK)")
    return Deployment(
        id=model.endpoint, provider=provider.name, status=DeploymentStatus.READY,
        provider_status="DEPLOYED", model=(model.provider_details or {}).get("model") or model.id,
        endpoint=model.endpoint, hardware="Vertex managed (per token)",
        price_source="billed per token, like the base model", note=NOTE.format(id=model.endpoint))


def get(provider: GeminiProvider, deployment_id: str) -> Deployment:
    try:
        raw = _request(provider, "get", deployment_id)
    except NotFoundError:
        return Deployment(id=deployment_id, provider=provider.name,
                          status=DeploymentStatus.DELETED, model="", endpoint=deployment_id)
    return _to_deployment(provider, raw)


def delete(provider: GeminiProvider, deployment_id: str) -> Deployment:
    """Undeploy every model on the endpoint, then delete the endpoint."""
    current = _request(provider, "get", deployment_id)
    for deployed in current.get("deployedModels") or []:
        _request(provider, "post", f"{deployment_id}:undeployModel",
                 {"deployedModelId": deployed["id"]})
    _request(provider, "delete", deployment_id)
    return get(provider, deployment_id)


def list_all(provider: GeminiProvider) -> Iterator[Deployment]:
    path = f"projects/{provider.project}/locations/{provider.location}/endpoints"
    token: str | None = None
    while True:
        page = _request(provider, "get", path + (f"?pageToken={token}" if token else ""))
        for raw in page.get("endpoints") or []:
            yield _to_deployment(provider, raw)
        token = page.get("nextPageToken")
        if not token:
            return


def find(provider: GeminiProvider, name: str) -> Deployment | None:
    return None  # nothing is created under our name: a repeated deploy sends nothing either


def _to_deployment(provider: GeminiProvider, raw: dict[str, Any]) -> Deployment:
    models = raw.get("deployedModels") or []
    name = raw["name"]
    return Deployment(
        id=name, provider=provider.name,
        status=DeploymentStatus.READY if models else DeploymentStatus.DELETING,
        provider_status="DEPLOYED" if models else "NO_MODEL", endpoint=name,
        model=models[0].get("model", "") if models else "",
        hardware="Vertex managed (per token)", created_at=raw.get("createTime"),
        price_source="billed per token, like the base model", note=NOTE.format(id=name),
        provider_details=raw)
