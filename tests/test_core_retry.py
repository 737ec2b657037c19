"""RetryPolicy: Retry-After parsing and capping, idempotency rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from finetune_sdk.errors import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
    status_error,
)
from finetune_sdk.retry import RetryPolicy, parse_retry_after


def test_retry_after_seconds_ms_and_http_date() -> None:
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    date = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"Retry-After": date}, now=now) == 30.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


def test_retry_after_is_honoured_and_capped() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=3, max_retry_after=10, sleep=sleeps.append)
    calls = iter([
        status_error(429, "slow down", retry_after=4),
        status_error(429, "slow down", retry_after=3600),
    ])

    def flaky() -> str:
        exc = next(calls, None)
        if exc:
            raise exc
        return "ok"

    assert policy.call(flaky, idempotent=False) == "ok"
    assert sleeps == [4.0, 10.0]


@pytest.mark.parametrize(
    ("exc", "idempotent", "expected"),
    [
        (RateLimitError("x"), False, True),
        (APIConnectionError("x"), False, True),
        (APITimeoutError("x"), False, False),
        (APITimeoutError("x"), True, True),
        (InternalServerError("x", status_code=503), False, False),
        (InternalServerError("x", status_code=503), True, True),
        (BadRequestError("x"), True, False),
        (ValueError("x"), True, False),
    ],
)
def test_idempotency_rules(exc: Exception, idempotent: bool, expected: bool) -> None:
    assert RetryPolicy().is_retryable(exc, idempotent=idempotent) is expected


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=3, sleep=sleeps.append)
    attempts = []

    def always_503() -> None:
        attempts.append(1)
        raise status_error(503, "down")

    with pytest.raises(InternalServerError):
        policy.call(always_503)
    assert len(attempts) == 3 and len(sleeps) == 2
    assert all(0 < s <= policy.max_delay for s in sleeps)


def test_status_error_picks_the_class() -> None:
    assert isinstance(status_error(502, "bad gateway"), InternalServerError)
    assert status_error(404, "gone").status_code == 404
    assert type(status_error(418, "teapot")).__name__ == "APIStatusError"
