"""Bedrock on-demand custom model deployments: ``create_custom_model_deployment`` serves a custom
model ARN per token (no hourly bill, but it exists until deleted), called through
bedrock-runtime ``converse(modelId=<deployment ARN>)``.

The create carries ``clientRequestToken`` = our name: "if this token matches a previous request,
Bedrock ignores the request" (CreateCustomModelDeployment), so a resend answers the deployment
the first one made. It is sent once here (``retry=False``); the deployment lifecycle retries
and waits (``get`` reads once). States: Creating -> Active | Failed; deleted ones read 404.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ...deployments.model import Deployment, DeploymentSpec, DeploymentStatus
from ...errors import NotFoundError
from ...types import ModelRef

if TYPE_CHECKING:
    from .adapter import BedrockProvider

__all__ = ["STATES", "delete", "deploy", "find", "get", "list_all"]

STATES = {"Creating": DeploymentStatus.CREATING, "Active": DeploymentStatus.READY,
          "Failed": DeploymentStatus.FAILED}
NOTE = ("Bedrock on-demand deployment of a custom model: billed per token, nothing by the hour;"
        " it exists until deleted (finetune undeploy {id})")


def _token(name: str) -> str:
    """A clientRequestToken of ``name`` ([a-zA-Z0-9] and inner hyphens)."""
    return re.sub(r"[^a-zA-Z0-9-]", "-", name).strip("-")[:256] or "ftsdk"


def deploy(provider: BedrockProvider, model: ModelRef, spec: DeploymentSpec) -> Deployment:
    name = spec.name or ""
    params: dict[str, Any] = {"modelDeploymentName": name, "modelArn": model.id,
                              "clientRequestToken": _token(name),
                              "description": "created by finetune-sdk", **spec.options}
    answer = provider._call("bedrock", "create_custom_model_deployment", retry=False, **params)
    arn = answer["customModelDeploymentArn"]
    return _to_deployment(provider, {"customModelDeploymentArn": arn, "modelArn": model.id,
                                     "modelDeploymentName": name, "status": "Creating"})


def get(provider: BedrockProvider, deployment_id: str) -> Deployment:
    try:
        raw = provider._call("bedrock", "get_custom_model_deployment",
                             customModelDeploymentIdentifier=deployment_id)
    except NotFoundError:
        return Deployment(id=deployment_id, provider=provider.name,
                          status=DeploymentStatus.DELETED, model="", endpoint=deployment_id)
    return _to_deployment(provider, raw)


def delete(provider: BedrockProvider, deployment_id: str) -> Deployment:
    provider._call("bedrock", "delete_custom_model_deployment",
                   customModelDeploymentIdentifier=deployment_id)
    return get(provider, deployment_id)


def list_all(provider: BedrockProvider, **filters: Any) -> Iterator[Deployment]:
    token: str | None = None
    while True:
        params = {**filters, **({"nextToken": token} if token else {})}
        page = provider._call("bedrock", "list_custom_model_deployments", **params)
        for raw in page.get("modelDeploymentSummaries") or []:
            yield _to_deployment(provider, raw)
        token = page.get("nextToken")
        if not token:
            return


def find(provider: BedrockProvider, name: str) -> Deployment | None:
    for found in list_all(provider, nameContains=name):
        if found.provider_details.get("modelDeploymentName") == name:
            return found
    return None


def _to_deployment(provider: BedrockProvider, raw: dict[str, Any]) -> Deployment:
    arn = raw["customModelDeploymentArn"]
    raw = {**raw, "modelDeploymentName": raw.get("modelDeploymentName")
           or raw.get("customModelDeploymentName")}
    status = STATES.get(raw.get("status") or "", DeploymentStatus.UNKNOWN)
    created = raw.get("createdAt")
    return Deployment(
        id=arn, provider=provider.name, status=status, provider_status=raw.get("status"),
        model=raw.get("modelArn") or "", endpoint=arn, hardware="on-demand (per token)",
        created_at=created, price_source="billed per token (on-demand), not per hour",
        error=raw.get("failureMessage"), note=NOTE.format(id=arn),
        provider_details={k: (v.isoformat() if hasattr(v, "isoformat") else v)
                          for k, v in raw.items()})
