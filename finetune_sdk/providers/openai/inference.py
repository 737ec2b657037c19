"""Chat with an OpenAI model (base or ``ft:...``) through the official SDK's chat completions."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

from pydantic import SecretStr

from ..._http import call_translated
from ...config import resolve_secret, setting
from ...types import ModelRef

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

__all__ = ["chat"]

# One SDK client per (key, base URL, org): an evaluation sends hundreds of requests and should
# reuse connections. Only clients we built are kept (a caller's http_client is theirs).
_clients: dict[tuple[str, str | None, str | None, float | None], Any] = {}
_lock = threading.Lock()


def chat(model_ref: ModelRef, messages: list[dict[str, Any]], *,
         api_key: str | SecretStr | None = None, base_url: str | None = None,
         http_client: Any = None, organization: str | None = None,
         timeout: float | None = 120.0, **params: Any) -> str:
    """One chat completion; ``params`` go to ``chat.completions.create`` (None values dropped).

    Args:
        api_key: else OPENAI_API_KEY. base_url: else the ModelRef's, else OPENAI_BASE_URL.
        http_client: an ``httpx2.Client`` (proxies, tests).
        timeout: seconds per request (None: no limit), as for the Fireworks endpoint.
    """
    import openai

    from .mapping import translate_error

    key = resolve_secret(api_key, "OPENAI_API_KEY", provider="openai")
    root = base_url or model_ref.base_url or setting(None, "OPENAI_BASE_URL")
    cache_key = (key.get_secret_value(), root, organization, timeout)
    with _lock:
        client = None if http_client is not None else _clients.get(cache_key)
        if client is None:
            # max_retries=0: inference.chat retries under our RetryPolicy, once, not twice
            client = openai.OpenAI(api_key=key.get_secret_value(), base_url=root,
                                   organization=organization, http_client=http_client,
                                   max_retries=0, timeout=timeout)
            if http_client is None:
                _clients[cache_key] = client
    body = {k: v for k, v in params.items() if v is not None}
    # Plain dicts: the SDK's TypedDicts (one per role) describe the same JSON.
    wire = cast("list[ChatCompletionMessageParam]", messages)
    # call_translated raises ours outside the except: the SDK's error (its request carries the
    # key) never ends up on __context__.
    response = call_translated(
        lambda: client.chat.completions.create(model=model_ref.id, messages=wire, **body),
        lambda exc: translate_error(exc, [key.get_secret_value()]))
    return response.choices[0].message.content or ""
