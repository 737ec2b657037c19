"""Plumbing two hosted adapters (Gemini on Vertex, Bedrock) share: the check of the per-request
``timeout`` argument, and the walk over a job list the vendor pages with a next-page token
(Vertex's ``page_token``, Bedrock's ``nextToken``).

Vendor-neutral: each adapter fetches its own pages (its SDK, its retry, its response checks)
and hands this module only ``(items, next token)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from ..errors import ConfigurationError

__all__ = ["MAX_PAGE_SIZE", "request_timeout", "token_pages"]

T = TypeVar("T")

MAX_PAGE_SIZE = 100
"""The largest page either vendor's list takes."""


def request_timeout(provider: str, timeout: float | None) -> float | None:
    """``timeout`` unchanged once it is seconds > 0 or None; ConfigurationError otherwise."""
    # type(), not isinstance: True is an int, and timeout=True is a mistake, not one second.
    if timeout is not None and not (type(timeout) in (int, float) and timeout > 0):
        raise ConfigurationError(f"{provider}: timeout must be seconds > 0 or None: {timeout!r}")
    return timeout


def token_pages(
    fetch_page: Callable[[str | None, int], tuple[Iterable[T], str | None]],
    *,
    limit: int | None = None,
    max_page_size: int = MAX_PAGE_SIZE,
) -> Iterator[T]:
    """The items of a token-paged list in the vendor's order, at most ``limit`` of them.

    ``fetch_page(token, page_size)`` reads one page (``token`` None for the first) and returns
    its items and the next page's token (None or "" on the last page). A page is read only when
    more items are wanted, so ``limit=0`` sends no request.
    """
    if limit is not None and limit <= 0:
        return
    page_size = min(limit or max_page_size, max_page_size)
    yielded = 0
    token: str | None = None
    while True:
        items, token = fetch_page(token, page_size)
        for item in items:
            yield item
            yielded += 1
            if limit is not None and yielded >= limit:
                return
        if not token:
            return
