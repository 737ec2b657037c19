"""One retry owner for Hub calls: inside a provider call, huggingface_hub does not retry.

Some ``HfApi`` methods send their requests through huggingface_hub's ``http_backoff``. It
retries a 408/429/5xx answer up to 5 more times and sleeps for real (1, 2, 4, 8, 8 s) between
them, out of reach of our RetryPolicy: ``upload_file``'s preupload request, for example.
Inside our own retry loop that made 4 x 6 = 24 POSTs, and about 90 s of hidden sleeping, under
a persistent 503. ``http_backoff`` has no per-call switch, and changing its defaults would
change every other library's requests in the process.

So one response hook on huggingface_hub's shared client (installed like ``http_timeout``'s,
and idle outside a provider call, so everyone else's requests keep their retries) raises such an
answer at once as the ``HfHubHTTPError`` that ``hf_raise_for_status`` would raise after the
retries. ``http_backoff`` lets that error through (it retries only transport errors and answers
it was handed back), and ``mapping.translate_error`` turns it into our error, Retry-After
included: ``self.retry`` decides whether and when to send again.

A transport error (connect error, timeout) raised inside ``http_backoff`` never reaches a hook,
so huggingface_hub still retries those in the few methods that use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from .http_timeout import add_hook

__all__ = ["HUB_RETRIED_STATUSES", "hub_retries_off"]

HUB_RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""The answers ``http_backoff`` retries (huggingface_hub 2.x's default status codes)."""

_OURS: ContextVar[bool] = ContextVar("finetune_sdk_hf_retries_ours", default=False)


def _raise_retryable(response: Any) -> None:
    """httpx2 response hook: within a provider call, an answer huggingface_hub would retry is
    raised now, before ``http_backoff`` sees it."""
    if not _OURS.get() or response.status_code not in HUB_RETRIED_STATUSES:
        return
    from huggingface_hub.utils import hf_raise_for_status

    response.read()  # the error's message comes from the body; a hook sees it unread
    hf_raise_for_status(response)


@contextmanager
def hub_retries_off() -> Iterator[None]:
    """Within this block, huggingface_hub requests sent from this context are never retried by
    huggingface_hub on a 408/429/5xx answer: the caller's retry policy owns them."""
    from huggingface_hub.utils import get_session

    # Again each time: close_session() builds a fresh client.
    add_hook(get_session(), "response", _raise_retryable)
    token = _OURS.set(True)
    try:
        yield
    finally:
        _OURS.reset(token)
