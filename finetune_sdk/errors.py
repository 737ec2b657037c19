"""The error tree. Every error the SDK raises on purpose is a ``FinetuneError``.

```text
FinetuneError
├── ConfigurationError (ValueError)          missing key/env var, unknown provider, bad options
│   └── ProviderNotInstalledError (ImportError)   the extra is missing; message has the pip hint
├── UnsupportedFeatureError (NotImplementedError) .provider, .feature
├── DatasetError (ValueError)                .file, .line, .field
│   ├── DatasetValidationError               .findings (every problem, line-numbered)
│   └── SensitiveDataError                   hosted upload of unscrubbed sensitive data refused
├── BudgetExceededError (ValueError)         cost estimate above JobSpec.max_usd
├── APIError                                 .provider, .request_id
│   ├── APIConnectionError                   the request surely never reached the server
│   │   └── APITimeoutError (TimeoutError)   it may have reached it (ambiguous)
│   ├── APIResponseValidationError           the server answered something we cannot parse
│   └── APIStatusError                       .status_code, .body, .provider_code, .retry_after
│       ├── BadRequestError 400 · AuthenticationError 401 · PermissionDeniedError 403
│       ├── NotFoundError 404 · ConflictError 409 · UnprocessableEntityError 422
│       ├── RateLimitError 429               .retry_after (seconds) when the server said so
│       └── InternalServerError >= 500
├── JobError                                 .job
│   ├── JobFailedError
│   └── JobCancelledError
├── WaitTimeoutError (TimeoutError)          .last (the last Job seen)
├── LedgerError                              the local job ledger cannot be read or written
└── LocalTrainerError                        worker crash, missing [local] extra, bad device
```

Messages never contain secrets: adapters pass vendor messages through :func:`redact` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .types import Job

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ConfigurationError",
    "ConflictError",
    "DatasetError",
    "DatasetValidationError",
    "FinetuneError",
    "InternalServerError",
    "JobCancelledError",
    "JobError",
    "JobFailedError",
    "LedgerError",
    "LocalTrainerError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProviderNotInstalledError",
    "RateLimitError",
    "SensitiveDataError",
    "UnprocessableEntityError",
    "UnsupportedFeatureError",
    "WaitTimeoutError",
    "redact",
    "redact_body",
    "status_error",
]


class FinetuneError(Exception):
    """Base class of every error raised by finetune_sdk."""


class ConfigurationError(FinetuneError, ValueError):
    """Something the caller must set or fix before anything is sent (keys, names, options)."""


class ProviderNotInstalledError(ConfigurationError, ImportError):
    """The provider's optional dependencies are not installed."""


class UnsupportedFeatureError(FinetuneError, NotImplementedError):
    """The provider cannot do what was asked (an operation or a hyperparameter)."""

    def __init__(self, provider: str, feature: str, hint: str | None = None) -> None:
        self.provider = provider
        self.feature = feature
        message = f"{provider} does not support {feature}"
        super().__init__(f"{message}. {hint}" if hint else message)


class DatasetError(FinetuneError, ValueError):
    """A dataset file cannot be used; points at the file, line and field when known."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file, self.line, self.field = file, line, field
        where = ":".join(str(p) for p in (file, line) if p is not None)
        prefix = f"{where}: " if where else ""
        suffix = f" (field {field})" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")


class DatasetValidationError(DatasetError):
    """Validation found errors; ``findings`` lists every one of them."""

    def __init__(self, message: str, findings: list[Any], *, file: str | None = None) -> None:
        self.findings = findings
        super().__init__(message, file=file)


class SensitiveDataError(DatasetError):
    """A dataset marked sensitive was about to leave the machine unscrubbed."""


class BudgetExceededError(FinetuneError, ValueError):
    """The cost estimate is above the caller's ``max_usd``."""

    def __init__(self, message: str, estimate: Any = None) -> None:
        self.estimate = estimate
        super().__init__(message)


class APIError(FinetuneError):
    """A call to a provider's API failed."""

    def __init__(
        self, message: str, *, provider: str | None = None, request_id: str | None = None
    ) -> None:
        self.provider = provider
        self.request_id = request_id
        self.message = message
        parts = [f"[{provider}] " if provider else "", message]
        if request_id:
            parts.append(f" (request id {request_id})")
        super().__init__("".join(parts))


class APIConnectionError(APIError):
    """The connection failed before the request could have been processed."""


class APITimeoutError(APIConnectionError, TimeoutError):
    """The request timed out; the server may or may not have acted on it."""


class APIResponseValidationError(APIError):
    """The server's answer was not what the API documents (bad JSON, missing fields)."""


class APIStatusError(APIError):
    """The server answered with an error status."""

    status_code: int = 0

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        provider: str | None = None,
        request_id: str | None = None,
        body: Any = None,
        provider_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        if status_code is not None:
            self.status_code = status_code
        self.body = body
        self.retry_after = retry_after
        self.provider_code = provider_code
        super().__init__(
            f"HTTP {self.status_code}: {message}", provider=provider, request_id=request_id
        )


class BadRequestError(APIStatusError):
    status_code = 400


class AuthenticationError(APIStatusError):
    status_code = 401


class PermissionDeniedError(APIStatusError):
    status_code = 403


class NotFoundError(APIStatusError):
    status_code = 404


class ConflictError(APIStatusError):
    status_code = 409


class UnprocessableEntityError(APIStatusError):
    status_code = 422


class RateLimitError(APIStatusError):
    """HTTP 429. ``retry_after`` holds the server's hint in seconds, when it gave one."""

    status_code = 429


class InternalServerError(APIStatusError):
    status_code = 500


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error(
    status_code: int,
    message: str,
    *,
    provider: str | None = None,
    request_id: str | None = None,
    body: Any = None,
    provider_code: str | None = None,
    retry_after: float | None = None,
) -> APIStatusError:
    """Build the right ``APIStatusError`` subclass for an HTTP status code."""
    cls = _STATUS_CLASSES.get(status_code)
    if cls is None:
        cls = InternalServerError if status_code >= 500 else APIStatusError
    kwargs: dict[str, Any] = dict(
        status_code=status_code,
        provider=provider,
        request_id=request_id,
        body=body,
        provider_code=provider_code,
        retry_after=retry_after,
    )
    return cls(message, **kwargs)


class JobError(FinetuneError):
    """A job ended in a state the caller did not want."""

    def __init__(self, message: str, job: Job) -> None:
        self.job = job
        super().__init__(message)


class JobFailedError(JobError):
    """The job failed; ``job.error`` carries the vendor's message."""


class JobCancelledError(JobError):
    """The job was cancelled."""


class WaitTimeoutError(FinetuneError, TimeoutError):
    """``wait()`` gave up before the job finished; ``last`` is the last Job seen."""

    def __init__(self, message: str, last: Any) -> None:
        self.last = last
        super().__init__(message)


class LedgerError(FinetuneError):
    """The local job ledger cannot be read or written."""


class CreateOutcomeUnknownError(FinetuneError):
    """A create was sent, no answer came, and no lookup found the job: it may exist.

    Nothing is sent again for this intent until ``finetune reconcile`` (or a later run of the
    same call) finds the job or shows it was never made. ``client_ref`` names the intent.
    """

    def __init__(self, message: str, *, provider: str, client_ref: str) -> None:
        self.provider = provider
        self.client_ref = client_ref
        super().__init__(message)


class IntentBusyError(FinetuneError):
    """Another live process is creating the job for this intent and did not finish in time."""

    def __init__(self, message: str, *, client_ref: str) -> None:
        self.client_ref = client_ref
        super().__init__(message)


class LocalTrainerError(FinetuneError):
    """The local trainer cannot run (missing extra, crashed worker, bad device)."""


_BEARER = re.compile(r"(?i)(bearer\s+|api[_-]?key[=:\s\"']+|token[=:\s\"']+)[A-Za-z0-9._\-]{8,}")

MIN_SECRET_PREFIX = 8
"""A body cut off in the middle of a key still shows its first characters: a run of at least this
many leading characters of a secret is masked like the whole secret (shorter runs say nothing)."""


def redact_body(body: Any, secrets: Iterable[str | None] = ()) -> Any:
    """A vendor response body with secrets masked (some APIs quote the caller's key back)."""
    import json

    secrets = list(secrets)
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", "replace")
    if isinstance(body, str):
        return redact(body, secrets)
    try:
        return json.loads(redact(json.dumps(body), secrets))
    except (TypeError, ValueError):
        return None


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Replace every known secret (as sent, or URL-/HTML-/JSON-escaped as a page may quote it,
    or cut off after at least ``MIN_SECRET_PREFIX`` characters), and anything that looks like a
    bearer token, with ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            for form in _quoted_forms(secret):
                text = text.replace(form, "***")
            if len(secret) > MIN_SECRET_PREFIX:
                text = _mask_prefixes(text, secret)
    return _BEARER.sub(lambda m: m.group(1) + "***", text)


def _quoted_forms(secret: str) -> list[str]:
    """The secret as sent and as an echoing page may have escaped it."""
    import html
    import json
    from urllib.parse import quote

    forms = [secret, quote(secret, safe=""), html.escape(secret), json.dumps(secret)[1:-1]]
    return sorted(set(forms), key=len, reverse=True)


def _mask_prefixes(text: str, secret: str) -> str:
    """Mask each run that starts like ``secret`` for at least MIN_SECRET_PREFIX characters: what
    is left of the key when a proxy or a length limit cut the body in the middle of it."""
    head = secret[:MIN_SECRET_PREFIX]
    pieces: list[str] = []
    start = 0
    found = text.find(head)
    while found != -1:
        end = found + MIN_SECRET_PREFIX
        while end < len(text) and end - found < len(secret) and text[end] == secret[end - found]:
            end += 1
        pieces += [text[start:found], "***"]
        start = end
        found = text.find(head, start)
    pieces.append(text[start:])
    return "".join(pieces)


class FineTuningEligibilityError(PermissionDeniedError, UnsupportedFeatureError):
    """The vendor no longer lets this account create fine-tuning jobs (OpenAI's wind-down).

    Raised for OpenAI's 403 on job create (organisations without recent fine-tuning activity)
    and, before anything is sent, by preflight once the provider-wide cutoff has passed. It is a
    PermissionDeniedError (what the API said) and an UnsupportedFeatureError (what preflight
    refuses), so callers catching either keep working. ``cutoff`` is the provider-wide date.
    """

    status_code = 403
    provider: str  # always set: narrows APIError's ``str | None`` to UnsupportedFeatureError's

    def __init__(self, message: str, *, provider: str, cutoff: Any = None,
                 request_id: str | None = None, body: Any = None,
                 provider_code: str | None = None) -> None:
        # Both parents' __init__ chains would pass different arguments to each other: set the
        # attributes of each here and build the one-line message once.
        self.provider, self.request_id, self.message = provider, request_id, message
        self.body, self.provider_code, self.retry_after = body, provider_code, None
        self.feature, self.cutoff = "creating fine-tuning jobs", cutoff
        Exception.__init__(self, f"[{provider}] {message}"
                           + (f" (request id {request_id})" if request_id else ""))


__all__.append("FineTuningEligibilityError")
