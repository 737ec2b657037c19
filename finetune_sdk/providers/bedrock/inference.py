"""Chat with a Bedrock model through bedrock-runtime ``converse`` (boto3): a base model id, or
the ARN of a custom model deployment (``client.models.deploy`` of a fine-tune).

Credentials, region and endpoint come as for the provider (``region=``, ``session=``,
``endpoint_url=``, ``profile=``...: a ``BedrockProvider`` is built from them, so errors are
translated and secrets masked the same way). botocore's retries are off; ``inference.chat``
retries under our RetryPolicy.
"""

from __future__ import annotations

from typing import Any

from ...types import ModelRef

__all__ = ["chat"]


def chat(model_ref: ModelRef, messages: list[dict[str, Any]], *,
         max_tokens: int | None = None, temperature: float | None = None,
         top_p: float | None = None, stop: list[str] | None = None, seed: int | None = None,
         **provider_kwargs: Any) -> str:
    """The first text block of ``converse``'s answer (``seed``: Bedrock has none; ignored)."""
    from .adapter import BedrockProvider

    provider = BedrockProvider(**provider_kwargs)
    system = [{"text": str(m.get("content", ""))} for m in messages if m.get("role") == "system"]
    turns = [{"role": "assistant" if m.get("role") == "assistant" else "user",
              "content": [{"text": str(m.get("content", ""))}]}
             for m in messages if m.get("role") != "system"]
    config = {k: v for k, v in {"maxTokens": max_tokens, "temperature": temperature,
                                "topP": top_p, "stopSequences": stop}.items() if v is not None}
    params: dict[str, Any] = {"modelId": model_ref.endpoint or model_ref.id, "messages": turns}
    if system:
        params["system"] = system
    if config:
        params["inferenceConfig"] = config
    try:
        answer = provider._call("bedrock-runtime", "converse", retry=False, **params)
    finally:
        provider.close()
    blocks = ((answer.get("output") or {}).get("message") or {}).get("content") or []
    return "".join(b.get("text", "") for b in blocks)
