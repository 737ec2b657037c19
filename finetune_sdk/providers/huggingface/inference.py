"""Chat with a Hugging Face model: an Inference Endpoint, or the Hub repo loaded locally.

A fine-tune pushed to a private Hub repo is not served by anyone until you create an Inference
Endpoint. With an endpoint (``ModelRef.endpoint`` or ``endpoint_url=``) we call its
OpenAI-style chat route through ``huggingface_hub.InferenceClient``; without one we download
the repo (``snapshot_download``) and generate with transformers on this machine.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from ..._http import call_translated
from ...types import ModelRef
from .token import find_token

__all__ = ["chat"]


def chat(model_ref: ModelRef, messages: list[dict[str, Any]], *,
         token: str | SecretStr | None = None, endpoint_url: str | None = None,
         max_tokens: int | None = None, temperature: float | None = None,
         top_p: float | None = None, seed: int | None = None, timeout: float | None = 120.0,
         **extra: Any) -> str:
    """One answer from the endpoint (``timeout`` seconds per request, None: no limit), or from
    a local transformers load of the repo."""
    # Optional here (a public repo needs none); the same lookup as the provider when absent.
    token = find_token(token)
    url = endpoint_url or model_ref.endpoint
    if url:
        from huggingface_hub import InferenceClient

        from .mapping import translate_error

        client = InferenceClient(model=url, token=token, timeout=timeout)
        # Raised outside the except: the hub's error (request, token) stays off __context__.
        out = call_translated(
            lambda: client.chat_completion(messages, max_tokens=max_tokens,
                                           temperature=temperature, top_p=top_p, seed=seed,
                                           **extra),
            lambda exc: translate_error(exc, [token]))
        return out.choices[0].message.content or ""
    sampling = {"top_p": top_p, "stop": extra.get("stop")}
    unsupported = sorted(k for k, v in sampling.items() if v is not None)
    if unsupported:  # local generation would ignore them and sample differently
        from ...errors import UnsupportedFeatureError

        raise UnsupportedFeatureError(
            "huggingface", f"{', '.join(unsupported)} without an Inference Endpoint",
            "The repo runs locally with max_tokens, temperature and seed only.")
    from huggingface_hub import snapshot_download

    from ...local.generate import chat_local

    path = snapshot_download(model_ref.id, token=token)
    return chat_local(path, messages, max_new_tokens=max_tokens or 64,
                      temperature=temperature or 0.0, seed=seed or 0)
