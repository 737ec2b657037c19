"""httpx2 plumbing shared by adapters: transport errors and error statuses -> our error tree.

Adapters on official SDKs translate those SDKs' exceptions themselves, but end up here for the
message/request-id extraction so every provider reports errors the same way, and for
:func:`call_translated`, which keeps the vendor's exception (it may quote the key) off ours.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

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

__all__ = [
    "call_translated",
    "error_message",
    "excerpt",
    "json_body",
    "raise_for_response",
    "request_id",
    "sent_credentials",
    "translate_transport",
]

T = TypeVar("T")

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-goog-request-id", "x-amzn-trace-id")

_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "x-api-key", "api-key",
                       "x-goog-api-key")

# Sent-before-failure is what matters for dedupe: these prove the request never left.
_NEVER_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)


def call_translated(fn: Callable[[], T], translate: Callable[[Exception], BaseException]) -> T:
    """``fn()``, a failure replaced by ``translate(exc)`` (returning ``exc`` re-raises it).

    Raised *after* the ``except`` block: inside it Python would set ``__context__`` to the vendor
    exception (``from None`` only hides it from tracebacks), and that exception, its response
    and its body keep the unmasked key for anyone walking the chain.
    """
    try:
        return fn()
    except Exception as exc:
        mapped = translate(exc)
        if mapped is exc:
            raise
    raise mapped from None


def sent_credentials(exc: object) -> list[str]:
    """The credentials the failed request carried (header values, and the token after the
    scheme), read off the exception's (or response's) request or response: masked even when the
    adapter never saw them, e.g. an OAuth token google-auth fetched for a Vertex call."""
    found: list[str] = []
    for holder in (exc, getattr(exc, "response", None)):
        try:
            request: Any = getattr(holder, "request", None)
            headers = request.headers
        except (AttributeError, RuntimeError):  # httpx2 raises RuntimeError when unset
            continue
        for name in _CREDENTIAL_HEADERS:
            value = headers.get(name) if hasattr(headers, "get") else None
            if value:
                found += [str(value), str(value).split(None, 1)[-1]]
    return found


def excerpt(text: str, secrets: Iterable[str | None] = (), limit: int = 80) -> str:
    """The start of a raw body for an error message, secrets masked before and after the cut (so
    neither the whole key nor a cut-off head of it survives)."""
    secrets = list(secrets)
    return redact(redact(text, secrets)[:limit], secrets)


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
    secrets = [*secrets, *sent_credentials(response)]
    try:
        body: Any = response.json()
    except (ValueError, UnicodeDecodeError):
        body = redact(response.text, secrets)  # masked before the message cuts it short
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


def json_body(
    response: httpx2.Response, *, provider: str, secrets: Iterable[str | None] = ()
) -> Any:
    """The parsed JSON body, or APIResponseValidationError naming what was wrong (the quoted
    start of the body masked: a proxy's page may echo the request's Authorization header)."""
    secrets = [*secrets, *sent_credentials(response)]
    try:
        return response.json()
    except (json.JSONDecodeError, ValueError, UnicodeDecodeError) as exc:
        # Only the reason goes on: the exception itself keeps the whole body (.doc / .object).
        reason = excerpt(str(exc), secrets, limit=200)
    raise APIResponseValidationError(
        f"expected a JSON body from {response.request.method} {response.request.url.path},"
        f" got {excerpt(response.text, secrets)!r} ({reason})",
        provider=provider,
        request_id=request_id(response.headers),
    ) from None
