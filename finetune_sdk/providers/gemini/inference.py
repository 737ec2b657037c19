"""Chat with a tuned Gemini model: ``generate_content`` on its Vertex endpoint (google-genai).

Chat messages become Gemini ``contents`` (roles user/model) plus a ``system_instruction``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
from typing import Any

from pydantic import SecretStr

from ..._http import call_translated
from ...config import setting
from ...errors import ConfigurationError
from ...types import ModelRef

__all__ = ["chat", "to_contents"]

_RESOURCE = re.compile(r"projects/([^/]+)/locations/([^/]+)/")
# Clients we built, reused across calls (an evaluation sends hundreds of requests).
_clients: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()


def to_contents(messages: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """(system instruction, contents) in Gemini's shape."""
    system = [str(m.get("content", "")) for m in messages if m.get("role") == "system"]
    contents = [
        {"role": "model" if m.get("role") == "assistant" else "user",
         "parts": [{"text": str(m.get("content", ""))}]}
        for m in messages if m.get("role") != "system"
    ]
    return ("\n\n".join(system) if system else None), contents


def chat(model_ref: ModelRef, messages: list[dict[str, Any]], *, project: str | None = None,
         location: str | None = None, credentials: Any = None,
         access_token: str | SecretStr | None = None, base_url: str | None = None,
         http_client: Any = None, max_tokens: int | None = None,
         temperature: float | None = None, top_p: float | None = None,
         seed: int | None = None, stop: list[str] | None = None,
         timeout: float | None = 120.0, **extra: Any) -> str:
    """``client.models.generate_content(model=<endpoint>, ...)``; project and location come
    from the arguments, the endpoint's resource name, then GOOGLE_CLOUD_PROJECT/LOCATION.
    ``timeout``: seconds per request (None: no limit)."""
    from google import genai
    from google.genai import types

    from .mapping import translate_error

    model = model_ref.endpoint or model_ref.id
    found = _RESOURCE.match(model)
    project = (project or (found.group(1) if found else None)
               or setting(None, "GOOGLE_CLOUD_PROJECT"))
    location = (location or (found.group(2) if found else None)
                or setting(None, "GOOGLE_CLOUD_LOCATION") or "us-central1")
    if not project:
        raise ConfigurationError("gemini: no Google Cloud project (pass project= or set"
                                 " GOOGLE_CLOUD_PROJECT); tuned models live on Vertex only")
    token = access_token.get_secret_value() if isinstance(access_token, SecretStr) else access_token
    if credentials is None and token:
        from google.oauth2.credentials import Credentials

        far = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=3650)
        credentials = Credentials(token=token, expiry=far)
    options: dict[str, Any] = {}
    base_url = setting(base_url, "GOOGLE_VERTEX_BASE_URL")  # like the adapter: .env too
    if base_url:
        options["base_url"] = base_url
    if http_client is not None:
        options["httpx_client"] = http_client
    if timeout is not None:
        options["timeout"] = max(1, math.ceil(timeout * 1000))  # google-genai takes ms
    system, contents = to_contents(messages)
    config = types.GenerateContentConfig(
        system_instruction=system, max_output_tokens=max_tokens, temperature=temperature,
        top_p=top_p, seed=seed, stop_sequences=stop, **extra)
    cache_key = (project, location, token, None if token else credentials,
                 options.get("base_url"), timeout)

    def generate() -> Any:
        with _lock:
            client = None if http_client is not None else _clients.get(cache_key)
            if client is None:
                client = genai.Client(
                    vertexai=True, project=project, location=location, credentials=credentials,
                    http_options=types.HttpOptions(**options) if options else None)
                if http_client is None:
                    _clients[cache_key] = client
        return client.models.generate_content(model=model, contents=contents, config=config)

    # Raised outside the except: google-genai's error (it may quote the token) stays off
    # __context__.
    response = call_translated(generate, lambda exc: translate_error(exc, [token]))
    return response.text or ""
