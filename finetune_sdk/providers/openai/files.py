"""Getting a converted dataset into OpenAI: one ``files.create``, or the chunked Uploads API;
then what a file's processing ``status`` means (``with_state``). Nothing here waits: the
lifecycle polls ``OpenAIProvider.get_dataset`` and calls ``discard_dataset`` on a file that will
never train.

Every request goes through the adapter's ``call`` (our retry policy + error translation): a part
is retried on its own, and ``complete`` only when it surely never arrived (a repeat would be
refused as already completed).

A create whose answer was lost may still have made a file (a timeout after OpenAI stored it, a
5xx, a garbled 200). Such files are billed storage nobody will use, so after any such attempt the
files of the same name, purpose and size created since the upload began (newest first, at most
one per lost attempt, never the one returned) are deleted; so is a file whose processing failed
(by the lifecycle, through ``delete_file``). Cleanup is best effort: its own failures are logged,
the upload's error is what is raised.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from ...errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    DatasetError,
    FinetuneError,
)
from ...types import DatasetRef

__all__ = ["MAX_FILE_BYTES", "MAX_PART_BYTES", "MAX_UPLOAD_BYTES", "delete_file", "upload_file",
           "with_state"]

MAX_FILE_BYTES = 512 * 1024 * 1024
"""``POST /files`` takes at most this much; larger files go through ``/uploads``."""
MAX_PART_BYTES = 64 * 1024 * 1024
MAX_UPLOAD_BYTES = 8 * 1024 * 1024 * 1024
MIME_TYPE = "text/jsonl"

Call = Callable[..., Any]

log = logging.getLogger(__name__)

CLOCK_SKEW = 60.0
"""Seconds a file's server-side ``created_at`` may lead our clock and still count as ours."""
MAX_LIST_PAGES = 10
"""How far back the orphan search pages (newest first) before it stops looking."""


class _Lost:
    """Counts the create attempts that may have made a file nobody got an answer for."""

    def __init__(self) -> None:
        self.count = 0

    def attempt(self, send: Callable[[], Any]) -> Callable[[], Any]:
        def once() -> Any:
            self.count += 1  # until the answer is read: a garbled 200 made the file too
            try:
                return send()
            except Exception as exc:
                if _surely_not_created(exc):
                    self.count -= 1
                raise

        return once


def _surely_not_created(exc: Exception) -> bool:
    """Refused or never sent: a 4xx (bar 408), a 503, or a connection that never opened."""
    from .mapping import translate_error

    mapped = translate_error(exc)
    if isinstance(mapped, APIStatusError):
        return mapped.status_code == 503 or (400 <= mapped.status_code < 500
                                             and mapped.status_code != 408)
    return isinstance(mapped, APIConnectionError) and not isinstance(mapped, APITimeoutError)


def upload_file(
    client: Any, call: Call, filename: str, data: bytes, *, single_limit: int, part_size: int
) -> dict[str, Any]:
    """Upload ``data`` for fine-tuning; returns the file object (as JSON). Files left behind by
    lost attempts are deleted, on success as on failure."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise DatasetError(
            f"{len(data)} bytes after conversion; OpenAI takes at most {MAX_UPLOAD_BYTES}",
            file=filename,
        )
    started, lost = time.time(), _Lost()
    try:
        if len(data) <= single_limit:
            created = call(lost.attempt(
                lambda: client.files.create(file=(filename, data), purpose="fine-tune")))
            file_obj = created.model_dump(mode="json")
        else:
            file_obj = _upload_in_parts(client, call, filename, data, part_size, lost)
    except Exception:
        _remove_orphans(client, call, filename, len(data), started, lost.count, keep=None)
        raise
    lost.count -= 1  # the answered attempt made the file we return
    _remove_orphans(client, call, filename, len(data), started, lost.count, keep=file_obj["id"])
    return file_obj


def _upload_in_parts(
    client: Any, call: Call, filename: str, data: bytes, part_size: int, lost: _Lost
) -> dict[str, Any]:
    upload = call(
        lambda: client.uploads.create(
            filename=filename, purpose="fine-tune", bytes=len(data), mime_type=MIME_TYPE
        )
    )
    try:
        part_ids: list[str] = []
        for start in range(0, len(data), part_size):
            chunk = data[start : start + part_size]
            part = call(lambda chunk=chunk: client.uploads.parts.create(upload.id, data=chunk))
            part_ids.append(part.id)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        done = call(
            lost.attempt(lambda: client.uploads.complete(upload.id, part_ids=part_ids, md5=md5)),
            idempotent=False,
        )
    except Exception:
        # A pending upload would hold its parts for an hour; one that did complete refuses this.
        _quietly(lambda: call(lambda: client.uploads.cancel(upload.id)),
                 f"cancel upload {upload.id}")
        raise
    if done.status != "completed" or done.file is None:
        raise DatasetError(
            f"OpenAI did not complete the upload (status {done.status!r})", file=filename
        )
    return done.file.model_dump(mode="json")


def _remove_orphans(
    client: Any, call: Call, filename: str, size: int, since: float, lost: int,
    *, keep: str | None,
) -> None:
    """Delete up to ``lost`` files named ``filename`` of ``size`` bytes created since ``since``."""
    if lost <= 0:
        return

    def orphans() -> list[str]:
        found: list[str] = []
        after: str | None = None
        for _ in range(MAX_LIST_PAGES):
            kwargs: dict[str, Any] = {"purpose": "fine-tune", "order": "desc", "limit": 100}
            if after:
                kwargs["after"] = after
            page = call(lambda kwargs=kwargs: client.files.list(**kwargs))
            items = [i.model_dump(mode="json") for i in page.data]
            for item in items:
                if (item.get("filename") == filename and item.get("bytes") == size
                        and item.get("id") != keep
                        and (item.get("created_at") or 0) >= since - CLOCK_SKEW):
                    found.append(item["id"])
            older = [i for i in items if (i.get("created_at") or 0) < since - CLOCK_SKEW]
            if older or not page.has_more or not items:
                break
            after = items[-1]["id"]
        return found[:lost]  # newest first: ours came last

    for file_id in _quietly(orphans, f"list files to find orphans of {filename}") or []:
        log.info("deleting %s, left behind by a failed upload of %s", file_id, filename)
        def delete(f: str = file_id) -> Any:
            return call(lambda: client.files.delete(f))

        _quietly(delete, f"delete orphan file {file_id}")


def _quietly(fn: Callable[[], Any], what: str) -> Any:
    """Best-effort cleanup: a failure is logged (our errors are already redacted), not raised."""
    try:
        return fn()
    except Exception as exc:
        # Only our (already redacted) errors are quoted; anything else by its type alone.
        log.warning("could not %s: %s", what, exc if isinstance(exc, FinetuneError) else
                    type(exc).__name__)
        return None


def with_state(ref: DatasetRef, file_obj: dict[str, Any]) -> DatasetRef:
    """``ref`` carrying the file's processing ``status`` as ours (and OpenAI's reason).

    ``status`` is deprecated upstream: a file without one is taken as ready (the job's own
    validation has the last word), as is ``processed``; ``error`` failed; the rest (uploaded,
    pending, running) is still processing.
    """
    status, error = file_obj.get("status"), None
    if status == "error":
        detail = file_obj.get("status_details") or "no details given"
        state, error = "failed", f"OpenAI rejected the file {file_obj.get('id')}: {detail}"
    elif status in (None, "processed"):
        state = "ready"
    else:
        state = "processing"
    return ref.model_copy(update={"status": state, "error": error, "provider_details": file_obj})


def delete_file(client: Any, call: Call, file_id: str) -> None:
    """Delete a file that will never train (rejected or unreadable), best effort."""
    _quietly(lambda: call(lambda: client.files.delete(file_id)), f"delete file {file_id}")
