"""Chat with a Together model (a base model or a fine-tune's output name) through the official
SDK's chat completions, retries off (``inference.chat`` retries under our RetryPolicy).

A fine-tune answers once it is served: from a dedicated endpoint, or serverless for the LoRA
adapters of some bases; otherwise Together answers with an error, which is passed on.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

from pydantic import SecretStr

from ..._http import call_translated
from ...config import resolve_secret, setting
from ...types import ModelRef

if TYPE_CHECKING:
    from together.types.chat import ChatCompletionMessageParam

__all__ = ["chat"]

# One SDK client per (key, base URL, timeout): an evaluation sends hundreds of requests.
_clients: dict[tuple[str, str, float | None], Any] = {}
_lock = threading.Lock()


def chat(model_ref: ModelRef, messages: list[dict[str, Any]], *,
         api_key: str | SecretStr | None = None, base_url: str | None = None,
         http_client: Any = None, timeout: float | None = 120.0, **params: Any) -> str:
    """One chat completion; ``params`` go to ``chat.completions.create`` (None values dropped).

    Args:
        api_key: else TOGETHER_API_KEY. base_url: else the ModelRef's (without ``/v1``), else
            TOGETHER_BASE_URL. http_client: an ``httpx2.Client`` or ``httpx.Client`` (tests).
    """
    import together

    from .adapter import DEFAULT_BASE_URL
    from .bridge import httpx_client
    from .logs import protect
    from .mapping import ensure_parsed, translate_error

    key = resolve_secret(api_key, "TOGETHER_API_KEY", provider="together").get_secret_value()
    root = (base_url or model_ref.base_url or setting(None, "TOGETHER_BASE_URL")
            or DEFAULT_BASE_URL).rstrip("/").removesuffix("/v1")
    with _lock:
        client = None if http_client is not None else _clients.get((key, root, timeout))
        if client is None:
            protect(key)
            client = together.Together(
                api_key=key, base_url=root, timeout=timeout, max_retries=0,
                http_client=None if http_client is None else httpx_client(http_client))
            if http_client is None:
                _clients[(key, root, timeout)] = client
    body = {k: v for k, v in params.items() if v is not None}
    # Plain dicts: the SDK's TypedDicts (one per role) describe the same JSON.
    wire = cast("list[ChatCompletionMessageParam]", messages)
    response = call_translated(
        lambda: ensure_parsed(client.chat.completions.create(
            model=model_ref.id, messages=wire, **body), [key]),
        lambda exc: translate_error(exc, [key]))
    return response.choices[0].message.content or ""
