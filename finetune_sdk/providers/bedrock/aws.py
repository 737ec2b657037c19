"""The boto3 seam: sessions and clients with botocore's retries off, S3 locations, and botocore
exceptions translated into our error tree with the credentials masked.

One retry owner per call: botocore's client ``Config`` gets ``total_max_attempts=1`` (``{
"max_attempts": 1}`` alone still retries once, and botocore would resend a dropped create by
itself), so ``RetryPolicy`` and the lifecycle decide every resend. botocore ignores
``Retry-After``; the translation reads it off the answer so our policy can honour it.

Credentials follow boto3's default chain (env, shared profile, SSO, container/instance role)
unless keys are passed; whatever the chain found is read once only to be masked in messages.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ..._http import excerpt
from ...errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    PermissionDeniedError,
    RateLimitError,
    redact,
    redact_body,
    status_error,
)
from ...retry import parse_retry_after

__all__ = ["client_config", "credential_secrets", "parse_s3", "translate_error"]

PROVIDER = "bedrock"

# Error codes that mean the same thing whatever HTTP status a service answers them with.
_THROTTLING = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException",
                         "SlowDown", "RequestLimitExceeded", "RequestThrottled",
                         "ProvisionedThroughputExceededException"})
_AUTH = frozenset({"UnrecognizedClientException", "InvalidSignatureException",
                   "SignatureDoesNotMatch", "InvalidClientTokenId", "ExpiredTokenException",
                   "ExpiredToken", "InvalidAccessKeyId", "InvalidToken",
                   "MissingAuthenticationTokenException", "IncompleteSignature"})
_DENIED = frozenset({"AccessDeniedException", "AccessDenied"})


def parse_s3(value: str) -> tuple[str, str]:
    """``bucket``, ``bucket/prefix`` or ``s3://bucket/prefix`` -> (bucket, prefix)."""
    rest = value.strip().removeprefix("s3://").strip("/")
    bucket, _, prefix = rest.partition("/")
    if not bucket or any(c in bucket for c in " :"):
        raise ConfigurationError(
            f"bedrock: {value!r} is not an S3 location (expected 'my-bucket' or"
            " 's3://my-bucket/some/prefix')")
    return bucket, prefix


def client_config(*, timeout: float | None, s3: bool, path_style: bool) -> Any:
    """botocore ``Config``: no retries of its own, our timeouts, path-style S3 for emulators."""
    from botocore.config import Config

    kwargs: dict[str, Any] = {"retries": {"total_max_attempts": 1, "mode": "standard"}}
    if timeout is not None:
        kwargs.update(connect_timeout=timeout, read_timeout=timeout)
    if s3:
        if path_style:
            kwargs["s3"] = {"addressing_style": "path"}
        # A plain PutObject needs no checksum; "when_supported" would add one (and, on some
        # versions, an aws-chunked body that S3-compatible stores reject).
        kwargs["request_checksum_calculation"] = "when_required"
    try:
        return Config(**kwargs)
    except TypeError:  # botocore older than 1.36 has no checksum setting
        kwargs.pop("request_checksum_calculation", None)
        return Config(**kwargs)


def credential_secrets(session: Any, explicit: Iterable[str | None] = ()) -> list[str]:
    """Every credential value a request may carry (to mask in messages), never logged."""
    found = [s for s in explicit if s]
    bearer = os.environ.get("AWS_BEARER_TOKEN_BEDROCK")
    if bearer:
        found.append(bearer)
    try:
        creds = session.get_credentials() if session is not None else None
        frozen = creds.get_frozen_credentials() if creds is not None else None
    except Exception:  # noqa: BLE001 - a broken profile is reported by the call that needs it
        frozen = None
    if frozen is not None:
        found += [v for v in (frozen.secret_key, frozen.token, frozen.access_key) if v]
    return found


def translate_error(exc: BaseException, secrets: Iterable[str | None] = ()) -> BaseException:
    """A botocore/boto3 exception as our error (anything else unchanged)."""
    if isinstance(exc, APIError):
        return exc
    try:
        from botocore import exceptions as bx
    except ImportError:  # pragma: no cover - the adapter refuses to start without boto3
        return exc
    secrets = list(secrets)
    if isinstance(exc, bx.ClientError):
        return _client_error(exc, secrets)
    detail = redact(f"{type(exc).__name__}: {exc}", secrets)
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError,
                        bx.ProfileNotFound, bx.NoRegionError, bx.TokenRetrievalError)):
        return ConfigurationError(
            f"bedrock: AWS credentials or region missing ({detail}). Use the default chain"
            " (AWS_PROFILE / AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY / a role), or pass"
            " aws_access_key_id=... and aws_secret_access_key=..., and region=...")
    if isinstance(exc, bx.ParamValidationError):
        return ConfigurationError(f"bedrock: invalid request parameters ({detail})")
    # Never sent: the connection (or TLS) never came up, so a resend cannot duplicate.
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError,
                        bx.ProxyConnectionError, bx.SSLError)):
        return APIConnectionError(f"could not connect ({detail})", provider=PROVIDER)
    # Sent, then no complete answer: the server may have acted on it.
    if isinstance(exc, (bx.ReadTimeoutError, bx.ConnectionClosedError, bx.HTTPClientError)):
        return APITimeoutError(f"no complete answer after the request was sent ({detail})",
                               provider=PROVIDER)
    if isinstance(exc, bx.ResponseParserError):
        return APIResponseValidationError(
            f"the AWS answer could not be parsed ({excerpt(str(exc), secrets, limit=200)})",
            provider=PROVIDER)
    return exc


def _client_error(exc: Any, secrets: list[str | None]) -> APIError:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    headers = meta.get("HTTPHeaders") or {}
    code = str(error.get("Code") or "") or None
    status = int(meta.get("HTTPStatusCode") or 0) or _status_of(code)
    message = excerpt(str(error.get("Message") or code or "error"), secrets, limit=500)
    if code:
        message = f"{code}: {message}"
    kwargs: dict[str, Any] = dict(
        provider=PROVIDER, request_id=meta.get("RequestId") or headers.get("x-amzn-requestid"),
        body=redact_body({"Error": error}, secrets), provider_code=code,
        retry_after=parse_retry_after(headers))
    if code in _THROTTLING:
        return RateLimitError(message, status_code=status if status == 429 else 429, **kwargs)
    if code in _AUTH:
        return AuthenticationError(message, status_code=status or 401, **kwargs)
    if code in _DENIED:
        return PermissionDeniedError(message, status_code=status or 403, **kwargs)
    return status_error(status, message, **kwargs)


def _status_of(code: str | None) -> int:
    """An HTTP status for an error botocore reported without one (rare: a synthesised error)."""
    if code and code.isdigit():
        return int(code)
    return 500
