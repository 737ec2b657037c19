"""A per-provider HTTP timeout for huggingface_hub, which only has one process-wide client.

huggingface_hub 2.x sends every request through one shared ``httpx2.Client`` (``get_session()``),
built with ``timeout=None``, and ``HfApi`` has no client or timeout of its own: ``run_job``,
``inspect_job``, ``create_repo``... take no ``timeout=``. Its only knob, ``set_client_factory``,
is global: it would replace a factory the user set and change every other library's requests
in the process.

So we add one request event hook to whichever shared client exists. The hook does nothing unless
a provider call is running in the current thread/context (a ``ContextVar``, the pattern
huggingface_hub uses for its own download flag); then it caps each part of the request's timeout
(connect, read, write, pool) at the provider's value. A timeout huggingface_hub chose itself and
that is already shorter (5 s to drain a log replay) is kept, and everyone else's requests keep
theirs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["add_hook", "request_timeout"]

_LIMIT: ContextVar[float | None] = ContextVar("finetune_sdk_hf_timeout", default=None)
_INSTALL_LOCK = threading.Lock()


def _cap_timeout(request: Any) -> None:
    """httpx2 request hook: cap the request's timeouts at the active provider's limit."""
    limit = _LIMIT.get()
    if limit is None:
        return
    current = dict(request.extensions.get("timeout") or {})
    capped = {
        part: limit if current.get(part) is None else min(current[part], limit)
        for part in ("connect", "read", "write", "pool")
    }
    # The transport reads the timeout from here after the hooks ran.
    request.extensions = {**request.extensions, "timeout": capped}


def add_hook(session: Any, event: str, hook: Any) -> None:
    """Add ``hook`` to the shared client's ``event`` ("request"/"response") hooks, once."""
    if hook in session.event_hooks.get(event, []):
        return
    with _INSTALL_LOCK:
        hooks = session.event_hooks
        if hook not in hooks.get(event, []):
            # Replace the dict (the setter copies lists) rather than append in place, so a
            # request being sent on another thread never sees the list change under it.
            session.event_hooks = {**hooks, event: [*hooks.get(event, []), hook]}


@contextmanager
def request_timeout(seconds: float | None) -> Iterator[None]:
    """Within this block, huggingface_hub requests sent from this context wait at most
    ``seconds`` to connect and for each read/write (``None``: leave them unbounded)."""
    if seconds is None:
        yield
        return
    from huggingface_hub.utils import get_session

    # Again each time: close_session() builds a fresh client.
    add_hook(get_session(), "request", _cap_timeout)
    token = _LIMIT.set(float(seconds))
    try:
        yield
    finally:
        _LIMIT.reset(token)
