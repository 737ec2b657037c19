"""Keep our secrets out of the together SDK's log records.

At DEBUG the SDK logs every request's options, body included ("Request options: {...
'json_data': {...}}"), and a create that logs to W&B carries the W&B key in its body. A filter
on each ``together.*`` logger masks the secrets of every TogetherProvider made in this process
(the API key too, should a future SDK log its headers) before any handler sees the record.
"""

from __future__ import annotations

import logging
import threading

from ...errors import redact

__all__ = ["protect"]

_secrets: set[str] = set()
_lock = threading.Lock()


class _MaskSecrets(logging.Filter):
    """Rewrites a record whose message holds a known secret (masked, arguments dropped)."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _lock:
            secrets = list(_secrets)
        if not secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's to report, not ours
            return True
        masked = redact(message, secrets)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_FILTER = _MaskSecrets()


def protect(*secrets: str | None) -> None:
    """Mask ``secrets`` in every ``together`` logger (call after ``import together``)."""
    with _lock:
        _secrets.update(s for s in secrets if s)
    names = [n for n in list(logging.Logger.manager.loggerDict) if n.split(".")[0] == "together"]
    for name in ["together", *names]:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
