"""Cancelling sync code that ``AsyncClient`` runs in a worker thread.

A thread cannot be interrupted, so ``AsyncClient`` abandons it on cancellation (the awaiting task
returns at once) and sets an event the thread can see through a ``ContextVar`` (anyio runs the
thread in a copy of the caller's context). The lifecycle's pauses (dataset, deployment and job
waits, intent-claim waits) and ``RetryPolicy``'s backoff sleep through ``sleep`` here: it wakes
as soon as the event is set and raises ``Cancelled``, so the abandoned thread stops at its next
pause instead of polling or retrying on for minutes. Outside such a thread ``sleep`` is
``time.sleep``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Cancelled", "cancel_with", "check", "sleep"]

_EVENT: ContextVar[threading.Event | None] = ContextVar("finetune_sdk_cancel", default=None)


class Cancelled(BaseException):  # noqa: N818 - named like asyncio.CancelledError's role
    """The ``AsyncClient`` call this thread works for was cancelled.

    A BaseException, like ``asyncio.CancelledError``: no ``except Exception`` (a retry loop, a
    best-effort cleanup) swallows it, while ``except BaseException`` cleanups (releasing an
    intent claim) still run.
    """


@contextmanager
def cancel_with(event: threading.Event) -> Iterator[None]:
    """Within this block (in this thread/context), ``event.set()`` cancels ``sleep``."""
    token = _EVENT.set(event)
    try:
        yield
    finally:
        _EVENT.reset(token)


def check() -> None:
    """Raise ``Cancelled`` if the current call was cancelled."""
    event = _EVENT.get()
    if event is not None and event.is_set():
        raise Cancelled("cancelled by the AsyncClient caller")


def sleep(seconds: float) -> None:
    """``time.sleep``, except that a cancelled AsyncClient call wakes it with ``Cancelled``."""
    event = _EVENT.get()
    if event is None:
        time.sleep(max(0.0, seconds))
        return
    if event.wait(max(0.0, seconds)):
        raise Cancelled("cancelled by the AsyncClient caller")
