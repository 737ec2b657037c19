"""Azure OpenAI deployments through the ARM control plane: a fine-tuned model answers on the
resource's data plane only under the name of a deployment, billed per hour while it exists.

``PUT .../accounts/{resource}/deployments/{name}`` is create-or-update by a name we choose, so a
resent PUT is the same deployment, never a second one. It needs an Entra ID bearer token for
https://management.azure.com (``arm_token=`` on the provider, else azure-identity's
``DefaultAzureCredential`` when installed); the API key does not work there. The token is sent
only to the ARM host and masked in every error. Chat then calls the data plane
(``/openai/v1/chat/completions``) with ``model=<deployment name>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx2

from ..._http import call_translated, json_body, raise_for_response, translate_transport
from ...deployments.meter import serving_price
from ...deployments.model import Deployment, DeploymentSpec, DeploymentStatus
from ...errors import ConfigurationError, NotFoundError
from ...types import ModelRef
from . import azure

if TYPE_CHECKING:
    from .adapter import AzureOpenAIProvider

__all__ = ["STATES", "delete", "deploy", "find", "get", "list_all"]

STATES = {
    "Accepted": DeploymentStatus.CREATING, "Creating": DeploymentStatus.CREATING,
    "Updating": DeploymentStatus.READY, "Succeeded": DeploymentStatus.READY,
    "Failed": DeploymentStatus.FAILED, "Canceled": DeploymentStatus.FAILED,
    "Deleting": DeploymentStatus.DELETING,
}
ARM_SCOPE = "https://management.azure.com/.default"


def _token(provider: AzureOpenAIProvider) -> str:
    if provider._arm_token is not None:
        return provider._arm_token.get_secret_value()
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise ConfigurationError(
            "azure-openai deployments go through ARM, which needs an Entra ID token (not the API"
            " key): pass arm_token=... to the provider (e.g. from `az account get-access-token"
            " --resource https://management.azure.com`), or pip install azure-identity"
        ) from None
    token: str = DefaultAzureCredential().get_token(ARM_SCOPE).token
    return token


def _root(provider: AzureOpenAIProvider) -> str:
    missing = [n for n, v in (("subscription_id (AZURE_SUBSCRIPTION_ID)", provider.subscription_id),
                              ("resource_group (AZURE_RESOURCE_GROUP)", provider.resource_group),
                              ("resource (AZURE_OPENAI_RESOURCE)", provider.resource)) if not v]
    if missing:
        raise ConfigurationError("azure-openai deployments need " + ", ".join(missing))
    return (f"{provider.management_url}/subscriptions/{provider.subscription_id}/resourceGroups/"
            f"{provider.resource_group}/providers/Microsoft.CognitiveServices/accounts/"
            f"{provider.resource}/deployments")


def _arm(provider: AzureOpenAIProvider, method: str, url: str, *, idempotent: bool = True,
         retry: bool = True, **kwargs: Any) -> Any:
    token = _token(provider)
    secrets = [token, provider._api_key.get_secret_value()]
    http = provider._http_client if isinstance(provider._http_client, httpx2.Client) else None

    def once() -> Any:
        client = http or httpx2.Client(timeout=provider.timeout)
        try:
            response = call_translated(
                lambda: client.request(method, url, params={"api-version": azure.ARM_API_VERSION},
                                       headers={"Authorization": f"Bearer {token}"}, **kwargs),
                lambda exc: translate_transport(exc, provider=provider.name, secrets=secrets)
                if isinstance(exc, httpx2.TransportError) else exc)
        finally:
            if http is None:
                client.close()
        raise_for_response(response, provider=provider.name, secrets=secrets)
        return json_body(response, provider=provider.name, secrets=secrets) if (
            response.content) else {}

    return provider.retry.call(once, idempotent=idempotent) if retry else once()


def deploy(provider: AzureOpenAIProvider, model: ModelRef, spec: DeploymentSpec) -> Deployment:
    """One PUT by our name (create-or-update: a resend is the same deployment)."""
    request = azure.arm_deployment(model.id, resource=provider.resource, deployment=spec.name,
                                   sku=spec.hardware or "standard",
                                   capacity=spec.accelerator_count or 1)
    body = {**request["body"], **spec.options}
    raw = _arm(provider, "PUT", f"{_root(provider)}/{request['deployment']}", retry=False,
               json=body)
    return _to_deployment(provider, raw)


def get(provider: AzureOpenAIProvider, deployment_id: str) -> Deployment:
    name = deployment_id.rsplit("/", 1)[-1]
    try:
        raw = _arm(provider, "GET", f"{_root(provider)}/{name}")
    except NotFoundError:
        return Deployment(id=name, provider=provider.name, status=DeploymentStatus.DELETED,
                          model="", endpoint=name)
    return _to_deployment(provider, raw)


def delete(provider: AzureOpenAIProvider, deployment_id: str) -> Deployment:
    _arm(provider, "DELETE", f"{_root(provider)}/{deployment_id.rsplit('/', 1)[-1]}")
    return get(provider, deployment_id)


def list_all(provider: AzureOpenAIProvider) -> Iterator[Deployment]:
    url: str | None = _root(provider)
    while url:
        page = _arm(provider, "GET", url)
        for raw in page.get("value") or []:
            yield _to_deployment(provider, raw)
        url = page.get("nextLink")


def find(provider: AzureOpenAIProvider, name: str) -> Deployment | None:
    found = get(provider, name)
    return None if found.status is DeploymentStatus.DELETED else found


def _to_deployment(provider: AzureOpenAIProvider, raw: dict[str, Any]) -> Deployment:
    props = raw.get("properties") or {}
    sku = raw.get("sku") or {}
    state = props.get("provisioningState") or ""
    hardware = f"{sku.get('name', '?')} x{sku.get('capacity', 1)}"
    price = serving_price(provider.name, sku.get("name"))
    name = raw["name"]
    return Deployment(
        id=name, provider=provider.name, status=STATES.get(state, DeploymentStatus.UNKNOWN),
        provider_status=state or None, model=(props.get("model") or {}).get("name") or "",
        endpoint=name, base_url=provider.base_url, hardware=hardware,
        price_per_hour=price.usd_per_hour if price else None,
        price_date=price.date if price else None, price_source=price.source if price else None,
        created_at=(raw.get("systemData") or {}).get("createdAt"),
        error=(props.get("error") or {}).get("message") if state == "Failed" else None,
        note=("Azure OpenAI deployment of a fine-tune: billed per hour while it exists"
              " (hourly price not in our table; see Azure's pricing page), whether or not it is"
              f" used. Tear down: finetune undeploy {name}"),
        provider_details={"arm_id": raw.get("id"), "sku": sku, "properties": props})
