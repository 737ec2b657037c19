"""Tuning data into Cloud Storage: the one seam between the adapter and google-cloud-storage.

google-cloud-storage talks HTTP through ``requests`` (not httpx2), so it cannot be intercepted
like google-genai. The adapter therefore takes any object shaped like ``storage.Client``
(``client.bucket(name).blob(path).upload_from_filename(file, content_type=...)``): the real one
by default, ``VertexMockServer.storage_client()`` in tests. ``STORAGE_EMULATOR_HOST`` (honoured by
google-cloud-storage) points the real client at an emulator. A ``timeout`` is passed only to the
real client (the adapter knows when it built one), so a custom client keeps the shape above.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..._http import excerpt
from ...errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConfigurationError,
    redact,
    status_error,
)

__all__ = ["parse_bucket", "translate_storage_error", "upload_file"]

PROVIDER = "gemini"


def parse_bucket(value: str) -> tuple[str, str]:
    """``"bucket"``, ``"bucket/prefix"`` or ``"gs://bucket/prefix"`` -> (bucket, prefix)."""
    rest = value.strip().removeprefix("gs://").strip("/")
    bucket, _, prefix = rest.partition("/")
    if not bucket or any(c in bucket for c in " :"):
        raise ConfigurationError(
            f"gemini: {value!r} is not a Cloud Storage bucket (expected 'my-bucket' or"
            " 'gs://my-bucket/some/prefix')"
        )
    return bucket, prefix


def default_storage_client(project: str, credentials: Any) -> Any:
    """The real google-cloud-storage client (imported here so tests never need it)."""
    from google.cloud import storage

    return storage.Client(project=project, credentials=credentials)


def upload_file(storage_client: Any, bucket: str, name: str, path: str, **kwargs: Any) -> str:
    """Upload ``path`` to ``gs://bucket/name`` and return that URI (``kwargs``, e.g.
    ``timeout``, go to ``upload_from_filename``)."""
    blob = storage_client.bucket(bucket).blob(name)
    blob.upload_from_filename(path, content_type="application/jsonl", **kwargs)
    return f"gs://{bucket}/{name}"


def translate_storage_error(
    exc: BaseException, secrets: Iterable[str | None] = ()
) -> BaseException:
    """google-api-core / requests errors from an upload as our error tree (others unchanged)."""
    secrets = list(secrets)
    if isinstance(exc, APIError):
        return exc
    try:
        from google.api_core import exceptions as core_errors
    except ImportError:  # pragma: no cover - comes with google-cloud-storage
        return exc
    if isinstance(exc, core_errors.RetryError) and exc.cause is not None:
        # google-cloud-storage's own retry gave up (its deadline): report what last failed.
        return translate_storage_error(exc.cause, secrets)
    if isinstance(exc, core_errors.GoogleAPICallError):
        response = getattr(exc, "response", None)
        headers = dict(getattr(response, "headers", None) or {})
        code = int(exc.code or 500)
        return status_error(
            code,
            # The message may be a whole (echoing) error page: masked, then cut.
            f"Cloud Storage upload failed: {excerpt(str(exc.message), secrets, limit=500)}",
            provider=PROVIDER,
            request_id=headers.get("x-guploader-uploadid") or headers.get("x-request-id"),
            provider_code=getattr(exc, "reason", None),
        )
    if type(exc).__module__.startswith(("requests", "urllib3")) or isinstance(exc, OSError):
        # The upload is content-addressed, so retrying a half-finished one is harmless.
        message = redact(f"Cloud Storage upload failed: {type(exc).__name__}: {exc}", secrets)
        if _is_read_timeout(exc):
            return APITimeoutError(message, provider=PROVIDER)
        return APIConnectionError(message, provider=PROVIDER)
    return exc


def _is_read_timeout(exc: BaseException) -> bool:
    """A requests/urllib3 timeout after connecting (the server may have the object already)."""
    if type(exc).__name__ == "ReadTimeoutError":  # urllib3's, when it escapes unwrapped
        return True
    try:
        import requests
    except ImportError:  # pragma: no cover - comes with google-cloud-storage
        return isinstance(exc, TimeoutError)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    return isinstance(exc, (requests.exceptions.Timeout, TimeoutError))
