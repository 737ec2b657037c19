"""httpx2 plumbing shared by adapters: transport errors and error statuses -> our error tree.

Adapters on official SDKs translate those SDKs' exceptions themselves, but end up here for the
message/request-id extraction so every provider reports errors the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import httpx2

from .errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    redact,
    redact_body,
    status_error,
)
from .retry import parse_retry_after

__all__ = ["error_message", "json_body", "raise_for_response", "request_id", "translate_transport"]

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-goog-request-id", "x-amzn-trace-id")

# Sent-before-failure is what matters for dedupe: these prove the request never left.
_NEVER_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)


def request_id(headers: Any) -> str | None:
    """The vendor's request id, from the first header that carries one."""
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name) if headers is not None else None
        if value:
            return str(value)
    return None


def translate_transport(
    exc: Exception, *, provider: str, secrets: Iterable[str | None] = ()
) -> APIError:
    """A transport failure as APIConnectionError (never sent) or APITimeoutError (ambiguous)."""
    detail = redact(f"{type(exc).__name__}: {exc}", secrets)
    if isinstance(exc, _NEVER_SENT):
        return APIConnectionError(f"could not connect ({detail})", provider=provider)
    return APITimeoutError(
        f"no complete answer after the request was sent ({detail})", provider=provider
    )


def error_message(body: Any) -> tuple[str | None, str | None]:
    """(message, vendor code) from the common JSON error shapes."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            message = err.get("message") or err.get("detail") or err.get("error")
            code = err.get("code") or err.get("status") or err.get("type")
            return (str(message) if message else None, str(code) if code is not None else None)
        if isinstance(err, str):
            return err, None
    if isinstance(body, str) and body.strip():
        return body.strip()[:500], None
    return None, None


def raise_for_response(
    response: httpx2.Response,
    *,
    provider: str,
    secrets: Iterable[str | None] = (),
    parse_error: Callable[[Any], tuple[str | None, str | None]] = error_message,
) -> None:
    """Raise the matching APIStatusError for a 4xx/5xx response; do nothing otherwise."""
    if response.status_code < 400:
        return
    try:
        body: Any = response.json()
    except (ValueError, UnicodeDecodeError):
        body = response.text
    secrets = list(secrets)
    message, code = parse_error(body)
    message = redact(message or response.reason_phrase or "error", secrets)
    body = redact_body(body, secrets)  # kept on the exception: it may quote the key back
    raise status_error(
        response.status_code,
        message,
        provider=provider,
        request_id=request_id(response.headers),
        body=body,
        provider_code=code,
        retry_after=parse_retry_after(response.headers),
    )


def json_body(response: httpx2.Response, *, provider: str) -> Any:
    """The parsed JSON body, or APIResponseValidationError naming what was wrong."""
    try:
        return response.json()
    except (json.JSONDecodeError, ValueError, UnicodeDecodeError) as exc:
        raise APIResponseValidationError(
            f"expected a JSON body from {response.request.method} {response.request.url.path},"
            f" got {response.text[:80]!r} ({exc})",
            provider=provider,
            request_id=request_id(response.headers),
        ) from None
