"""Chat with a Fireworks model over its OpenAI-compatible endpoint (plain httpx2, no SDK).

A fine-tuned LoRA answers only once deployed: call it as ``accounts/a/models/m#<deployment>``
(see ``FireworksProvider.deploy``); an undeployed ModelRef is refused with that hint.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx2
from pydantic import SecretStr

from ..._http import call_translated, json_body, raise_for_response, translate_transport
from ...config import resolve_secret, setting
from ...errors import APIResponseValidationError, ConfigurationError
from ...types import ModelRef

__all__ = ["DEFAULT_BASE_URL", "chat"]

DEFAULT_BASE_URL = "https://api.fireworks.ai"

_shared: httpx2.Client | None = None
_lock = threading.Lock()


def _client(timeout: float) -> httpx2.Client:
    """One pooled client for every call (an evaluation sends hundreds)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = httpx2.Client(timeout=timeout)
        return _shared


def chat(model_ref: ModelRef, messages: list[dict[str, Any]], *,
         api_key: str | SecretStr | None = None, base_url: str | None = None,
         http_client: httpx2.Client | None = None, timeout: float = 120.0,
         **params: Any) -> str:
    """POST ``{base}/inference/v1/chat/completions`` and return the first choice's text."""
    if not model_ref.ready_for_inference and "#" not in model_ref.id:
        raise ConfigurationError(
            f"fireworks model {model_ref.id} is not deployed; "
            + (model_ref.how_to_serve or "create a deployment first")
        )
    key = resolve_secret(api_key, "FIREWORKS_API_KEY", provider="fireworks").get_secret_value()
    root = (base_url or setting(None, "FIREWORKS_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    url = (model_ref.base_url.rstrip("/") if model_ref.base_url and not base_url
           else f"{root}/inference/v1") + "/chat/completions"
    body = {"model": model_ref.id, "messages": messages,
            **{k: v for k, v in params.items() if v is not None}}
    client = http_client or _client(timeout)

    def translate(exc: Exception) -> BaseException:
        if isinstance(exc, httpx2.TransportError):
            return translate_transport(exc, provider="fireworks", secrets=[key])
        return exc

    # Raised outside the except: the transport error holds the request, Authorization and all,
    # and would stay reachable on __context__.
    response = call_translated(
        lambda: client.post(url, json=body, headers={"Authorization": f"Bearer {key}"},
                            timeout=timeout),
        translate)
    raise_for_response(response, provider="fireworks", secrets=[key])
    data = json_body(response, provider="fireworks")
    try:
        return data["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError):
        raise APIResponseValidationError(
            f"fireworks chat answer has no choices[0].message.content: {str(data)[:200]}",
            provider="fireworks") from None
