"""Route handlers that act on the one record their URL names (a job, a dataset): the lookup and
its 404 written once for every such route of a vendor fake.

``@with_record("_job_or_404")`` under ``@route(...)``: the server's ``_job_or_404(**groups)``
(the route's named groups) returns the record, or the vendor's own 404 response, which is
answered as it is; otherwise the handler runs as ``handler(request, record)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import httpx2

from .base import Handler

__all__ = ["with_record"]


def with_record(lookup: str) -> Callable[[Handler], Handler]:
    """Give the decorated handler the record that the server's ``lookup`` method finds."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def handle(server: Any, request: httpx2.Request, **groups: str) -> httpx2.Response:
            record = getattr(server, lookup)(**groups)
            if isinstance(record, httpx2.Response):
                return record
            return handler(server, request, record)

        return handle

    return wrap
