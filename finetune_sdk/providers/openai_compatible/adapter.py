"""The OpenAI adapter with another profile: ``openai-compatible``, ``azure-openai``, ``nebius``.

Each class is ``OpenAIProvider`` plus a ``profile`` (the preset modules' data) and, where the
service has them, its typed options and a way to find its API root. Uploads, create-once, the
metadata that carries client_ref, retries, error translation and secrets handling are the OpenAI
adapter's own code, unchanged.

```python
Client("openai-compatible", base_url="https://my-server/v1", api_key="...")
Client("azure-openai", resource="my-resource")     # AZURE_OPENAI_API_KEY
Client("nebius")                                   # NEBIUS_API_KEY
```
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import SecretStr

from ...config import setting
from ...types import ProviderOptions
from ..openai.adapter import OpenAIProvider
from ..openai.profile import Profile
from . import azure, generic, nebius

__all__ = ["AzureOpenAIOptions", "AzureOpenAIProvider", "NebiusProvider",
           "OpenAICompatibleOptions", "OpenAICompatibleProvider"]


class OpenAICompatibleOptions(ProviderOptions):
    """Job settings of an OpenAI-compatible service (``JobSpec.options``)."""

    allow_unlisted_model: bool = True
    """False: refuse a base model the service's catalog lacks instead of warning."""


class AzureOpenAIOptions(OpenAICompatibleOptions):
    """Azure OpenAI job settings."""

    training_type: Literal["Standard", "GlobalStandard", "developerTier"] | None = None
    """Azure's training tier, sent as ``trainingType``; None: Azure's default. The open models
    (Ministral, Qwen, Llama, gpt-oss) train on GlobalStandard only."""


class OpenAICompatibleProvider(OpenAIProvider):
    """Any server with OpenAI's fine-tuning API: ``base_url`` (or OPENAI_COMPATIBLE_BASE_URL)
    and ``api_key`` (or OPENAI_COMPATIBLE_API_KEY)."""

    profile: ClassVar[Profile] = generic.PROFILE
    options_type: ClassVar[type[ProviderOptions]] = OpenAICompatibleOptions


class NebiusProvider(OpenAIProvider):
    """Nebius Token Factory (NEBIUS_API_KEY; base URL NEBIUS_BASE_URL or Nebius's own)."""

    profile: ClassVar[Profile] = nebius.PROFILE
    options_type: ClassVar[type[ProviderOptions]] = OpenAICompatibleOptions


class AzureOpenAIProvider(OpenAIProvider):
    """Azure OpenAI's v1 fine-tuning API; a succeeded job's model must be deployed (ARM)."""

    profile: ClassVar[Profile] = azure.PROFILE
    options_type: ClassVar[type[ProviderOptions]] = AzureOpenAIOptions

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        resource: str | None = None,
        base_url: str | None = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        arm_token: str | SecretStr | None = None,
        management_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Args:
        api_key: else AZURE_OPENAI_API_KEY (environment or .env).
        resource: the ``<resource>`` of ``https://<resource>.openai.azure.com``.
        base_url: the whole v1 root instead (else AZURE_OPENAI_BASE_URL, AZURE_OPENAI_ENDPOINT
            + ``/openai/v1``, AZURE_OPENAI_RESOURCE).
        subscription_id / resource_group: where the resource lives, for deployments through
            ARM (AZURE_SUBSCRIPTION_ID / AZURE_RESOURCE_GROUP).
        arm_token: an Entra ID token for https://management.azure.com (default: azure-identity's
            DefaultAzureCredential, when installed); the API key does not work there.
        management_url: the ARM root (default https://management.azure.com; tests, sovereign
            clouds).
        kwargs: as for OpenAIProvider (http_client, retry, timeout, ...).
        """
        super().__init__(api_key, base_url=azure.base_url_for(base_url, resource), **kwargs)
        self.resource = resource or azure.resource_of(self.base_url)
        self.subscription_id = setting(subscription_id, "AZURE_SUBSCRIPTION_ID")
        self.resource_group = setting(resource_group, "AZURE_RESOURCE_GROUP")
        token = arm_token.get_secret_value() if isinstance(arm_token, SecretStr) else arm_token
        self._arm_token = SecretStr(token) if token else None
        self.management_url = (management_url or "https://management.azure.com").rstrip("/")

    def option_fields(self, options: Any) -> dict[str, Any]:
        kind = getattr(options, "training_type", None)
        return {"trainingType": kind} if kind else {}

    def serving_details(self, model: str) -> dict[str, Any]:
        """The ARM request that deploys ``model`` (subscription and resource group unknown
        here: ``{placeholders}``)."""
        return {"arm_deployment": azure.arm_deployment(model, resource=self.resource)}
