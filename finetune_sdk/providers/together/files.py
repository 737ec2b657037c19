"""Getting a converted dataset into Together: our conversion, Together's own local file check,
then the SDK's upload (metadata POST, a 302 to a presigned URL, a PUT of the bytes, then
``/v1/files/{id}/preprocess``), and the file's validation state as a DatasetRef.

Nothing here waits: a file Together is still validating comes back ``processing`` and the
lifecycle polls ``TogetherProvider.get_dataset`` (one read each time).
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path
from typing import Any

from ...errors import APIResponseValidationError, DatasetError
from ...types import DatasetRef

__all__ = ["REJECTED", "dump", "rejection", "state_of", "together_check", "upload"]

REJECTED = ("INVALID_FORMAT", "FAILED")
"""``processing_status`` values of a file Together will not train on."""


def dump(obj: Any) -> dict[str, Any]:
    """An SDK model as the JSON Together sent (aliases such as ``model_output_name``)."""
    if isinstance(obj, dict):
        return obj
    dumped = obj.model_dump(mode="json", by_alias=True, warnings=False)
    if not isinstance(dumped, dict):  # pragma: no cover - models dump to dicts
        raise APIResponseValidationError("expected a JSON object", provider="together")
    return dumped


def state_of(file_obj: dict[str, Any]) -> str:
    """Our dataset status for a Together file: ready, processing or failed."""
    status = file_obj.get("processing_status")
    if status in REJECTED:
        return "failed"
    return "ready" if status in (None, "COMPLETED") else "processing"


def rejection(file_obj: dict[str, Any]) -> str:
    """Why Together rejected a file (its validation report, else the status)."""
    report = file_obj.get("validation_report") or {}
    reason = report.get("error") or f"processing_status {file_obj.get('processing_status')}"
    return f"Together rejected the file {file_obj.get('id')}: {reason}"


def together_check(named: Path, source: Path) -> None:
    """The together SDK's ``check_file`` on the converted file (UTF-8, one JSON object a line,
    size, sample count): a refusal is a DatasetError naming the source and line."""
    from together.lib import check_file

    report = check_file(named, purpose="fine-tune")
    if not report.get("is_check_passed"):
        message = str(report.get("message") or "the file check failed").replace(
            str(named), source.name)
        line = report.get("line_number")
        raise DatasetError(f"Together's file check refused it: {message}", file=str(source),
                           line=line if isinstance(line, int) else None)


def upload(provider: Any, source: Path) -> DatasetRef:
    """Convert ``source``, check it Together's way, upload it; the ref as Together left it."""
    from ...data.convert import wire_file
    from .dataset import write_wire_jsonl

    with wire_file(source, write_wire_jsonl, prefix="together-wire-") as wire, \
            tempfile.TemporaryDirectory(prefix="together-upload-") as tmp:
        # Together keeps the name the file was sent under: the source's, not a temp name.
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", source.stem) or "data"
        named = Path(tmp) / f"{stem}.jsonl"
        named.write_bytes(wire.data)
        together_check(named, source)
        client = provider._client()
        # check=False: the check just ran; a retried upload need not read the file twice.
        file_obj = dump(provider._call(
            lambda: client.files.upload(named, purpose="fine-tune", check=False)))
        method, count, data = wire.method, wire.examples, wire.data
    state = state_of(file_obj)
    if state == "failed" and not file_obj.get("validation_report"):
        # The SDK's upload() rebuilds the answer without the report: read it for the reason.
        file_id = file_obj["id"]
        file_obj = dump(provider._call(lambda: client.files.retrieve(file_id)))
    return DatasetRef(
        id=file_obj["id"], provider=provider.name,
        uri=f"{provider.base_url}/v1/files/{file_obj['id']}", filename=source.name,
        bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), num_examples=count,
        kind="preference" if method == "dpo" else "chat", status=state,  # type: ignore[arg-type]
        error=rejection(file_obj) if state == "failed" else None, provider_details=file_obj)
