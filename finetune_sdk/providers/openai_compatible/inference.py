"""Chat with an Azure OpenAI deployment (or any OpenAI-compatible model): the OpenAI chat path
with the service's own key and API root (AZURE_OPENAI_API_KEY; the ModelRef's base URL, else the
resource from AZURE_OPENAI_RESOURCE / _ENDPOINT / _BASE_URL). Azure's ``model`` is the
deployment name."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from ...config import resolve_secret
from ...types import ModelRef
from ..openai.inference import chat as openai_chat

__all__ = ["chat"]


def chat(model_ref: ModelRef, messages: list[dict[str, Any]], *,
         api_key: str | SecretStr | None = None, base_url: str | None = None,
         resource: str | None = None, **params: Any) -> str:
    from . import azure

    key = resolve_secret(api_key, "AZURE_OPENAI_API_KEY", provider="azure-openai")
    root = base_url or model_ref.base_url or azure.base_url_for(None, resource)
    return openai_chat(model_ref, messages, api_key=key, base_url=root, **params)
