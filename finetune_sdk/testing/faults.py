"""Injected failures, one queue for every fake: the HTTP mock servers and the offline ``fake``
provider take the same ``fail_next(...)`` arguments and fire them the same way."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["Fault", "FaultQueue"]


@dataclass
class Fault:
    """One injected failure for the next matching request."""

    status: int | None = 500
    retry_after: float | str | None = None
    body: Any = None
    match: str | None = None
    """Regex on "METHOD /path"; None matches every request."""
    timeout: bool = False
    """Raise a transport error instead of answering."""
    after_processing: bool = False
    """With timeout: let the server act on the request first (the create *did* arrive)."""
    malformed: bool = False
    """Answer 200 with a body that is not JSON."""
    delay: float = 0.0
    """Act on the request (and answer) only this many seconds after it arrived: over
    ``serve()`` a create that lands after the client's read timeout (a slow vendor)."""


class FaultQueue:
    """Faults waiting for their request, first match first (thread-safe)."""

    def __init__(self, lock: threading.RLock | None = None) -> None:
        self.lock = lock or threading.RLock()
        self.pending: list[Fault] = []

    def add(self, fault: Fault, times: int = 1) -> None:
        with self.lock:
            self.pending.extend([fault] * times)

    def take(self, key: str, *, after_processing: bool | None = None) -> Fault | None:
        """The first fault matching ``key`` ("METHOD /path"), removed; with
        ``after_processing`` only one meant for that moment (before/after the server acts)."""
        with self.lock:
            for i, fault in enumerate(self.pending):
                if after_processing is not None and fault.after_processing != after_processing:
                    continue
                if fault.match is None or re.search(fault.match, key):
                    return self.pending.pop(i)
        return None

    def clear(self) -> None:
        with self.lock:
            self.pending.clear()

    def __len__(self) -> int:
        return len(self.pending)
