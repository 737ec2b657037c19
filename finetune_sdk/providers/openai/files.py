"""Getting a converted dataset into OpenAI: one ``files.create``, or the chunked Uploads API,
then waiting until OpenAI has processed the file.

Every request goes through the adapter's ``call`` (our retry policy + error translation): a part
is retried on its own, and ``complete`` only when it surely never arrived (a repeat would be
refused as already completed).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import DatasetError

__all__ = ["MAX_FILE_BYTES", "MAX_PART_BYTES", "MAX_UPLOAD_BYTES", "upload_file", "wait_processed"]

MAX_FILE_BYTES = 512 * 1024 * 1024
"""``POST /files`` takes at most this much; larger files go through ``/uploads``."""
MAX_PART_BYTES = 64 * 1024 * 1024
MAX_UPLOAD_BYTES = 8 * 1024 * 1024 * 1024
MIME_TYPE = "text/jsonl"

Call = Callable[..., Any]


def upload_file(
    client: Any, call: Call, filename: str, data: bytes, *, single_limit: int, part_size: int
) -> dict[str, Any]:
    """Upload ``data`` for fine-tuning; returns the file object (as JSON)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise DatasetError(
            f"{len(data)} bytes after conversion; OpenAI takes at most {MAX_UPLOAD_BYTES}",
            file=filename,
        )
    if len(data) <= single_limit:
        created = call(lambda: client.files.create(file=(filename, data), purpose="fine-tune"))
        return created.model_dump(mode="json")
    upload = call(
        lambda: client.uploads.create(
            filename=filename, purpose="fine-tune", bytes=len(data), mime_type=MIME_TYPE
        )
    )
    part_ids: list[str] = []
    for start in range(0, len(data), part_size):
        chunk = data[start : start + part_size]
        part = call(lambda chunk=chunk: client.uploads.parts.create(upload.id, data=chunk))
        part_ids.append(part.id)
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    done = call(
        lambda: client.uploads.complete(upload.id, part_ids=part_ids, md5=md5), idempotent=False
    )
    if done.status != "completed" or done.file is None:
        raise DatasetError(
            f"OpenAI did not complete the upload (status {done.status!r})", file=filename
        )
    return done.file.model_dump(mode="json")


def wait_processed(
    client: Any,
    call: Call,
    file_obj: dict[str, Any],
    source: Path,
    *,
    poll_interval: float,
    timeout: float,
) -> dict[str, Any]:
    """Poll until the file is ``processed``; ``error`` is a DatasetError with OpenAI's reason.

    The file ``status`` is deprecated upstream: when it never settles within ``timeout`` the
    file is returned as it is and the job's own validation has the last word.
    """
    deadline = time.monotonic() + timeout
    while True:
        status = file_obj.get("status")
        if status == "error":
            detail = file_obj.get("status_details") or "no details given"
            raise DatasetError(
                f"OpenAI rejected the file {file_obj['id']}: {detail}", file=str(source)
            )
        if status in (None, "processed") or time.monotonic() > deadline:
            return file_obj
        time.sleep(poll_interval)
        file_id = file_obj["id"]
        file_obj = call(lambda f=file_id: client.files.retrieve(f)).model_dump(mode="json")
