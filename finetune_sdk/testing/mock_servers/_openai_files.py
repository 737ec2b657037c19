"""Files and Uploads routes of the OpenAI mock (a mixin of ``OpenAIMockServer``), and the
multipart parsing the mocks share.

A file reads ``uploaded`` once, then ``processed``, or ``error`` when a line is not a chat or
preference example (or ``file_rejection`` is set). ``complete`` checks the byte count and md5.
Files are listed newest first (``purpose`` filter, ``after`` cursor), give their bytes back
(``GET /v1/files/{id}/content``) and can be deleted, so a test can check that a failed upload
leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import time
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import httpx2

from .base import route

__all__ = ["OpenAIFilesMixin", "parse_multipart"]


def parse_multipart(request: httpx2.Request) -> dict[str, tuple[str | None, bytes]]:
    """Form fields of a multipart/form-data request: name -> (filename, bytes)."""
    content_type = request.headers.get("content-type", "")
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.content
    )
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            # A leaf part decodes to bytes (None when empty); only a nested multipart would
            # give a Message, and a form field is never one.
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            fields[str(name)] = (part.get_filename(), data)
    return fields


def _valid_line(line: bytes) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and ("messages" in record or "input" in record)


class OpenAIFilesMixin:
    """``/v1/files`` and ``/v1/uploads``; state lives on the server (files, uploads, parts)."""

    files: dict[str, dict[str, Any]]
    file_bytes: dict[str, bytes]
    uploads: dict[str, dict[str, Any]]
    parts: dict[str, bytes]
    file_rejection: str | None
    _id: Any
    _error: Any
    json: Any
    body: Any
    _page: Any

    # -- files ----------------------------------------------------------------------------
    def _new_file(self, filename: str, data: bytes, purpose: str) -> dict[str, Any]:
        file_id = self._id("file-")
        self.files[file_id] = {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "uploaded",
        }
        self.file_bytes[file_id] = data
        return self.files[file_id]

    @route("POST", r"/v1/files")
    def create_file(self, request: httpx2.Request) -> httpx2.Response:
        form = parse_multipart(request)
        if "file" not in form or "purpose" not in form:
            return self._error(400, "'file' and 'purpose' are required", param="file")
        filename, data = form["file"]
        purpose = form["purpose"][1].decode()
        if purpose == "fine-tune" and not (filename or "").endswith(".jsonl"):
            return self._error(
                400, "Invalid file format for Fine-Tuning API. Must be .jsonl", param="file"
            )
        return self.json(200, self._new_file(filename or "upload", data, purpose))

    @route("GET", r"/v1/files")
    def list_files(self, request: httpx2.Request) -> httpx2.Response:
        params = request.url.params
        found = [
            f
            for f in self.files.values()
            if params.get("purpose") in (None, f["purpose"])
        ]
        newest_first = params.get("order", "desc") != "asc"
        return self._page(list(reversed(found)) if newest_first else found, params)

    @route("DELETE", r"/v1/files/(?P<file_id>[^/]+)")
    def delete_file(self, request: httpx2.Request, file_id: str) -> httpx2.Response:
        if self.files.pop(file_id, None) is None:
            return self._error(404, f"No such File object: {file_id}", param="id")
        self.file_bytes.pop(file_id, None)
        return self.json(200, {"id": file_id, "object": "file", "deleted": True})

    @route("GET", r"/v1/files/(?P<file_id>[^/]+)")
    def retrieve_file(self, request: httpx2.Request, file_id: str) -> httpx2.Response:
        file = self.files.get(file_id)
        if file is None:
            return self._error(404, f"No such File object: {file_id}", param="id")
        if file["status"] == "uploaded":  # processing takes one read
            bad = [
                n
                for n, line in enumerate(self.file_bytes[file_id].splitlines(), 1)
                if line.strip() and not _valid_line(line)
            ]
            reason = self.file_rejection
            if bad and reason is None:
                reason = f"Invalid file format: line {bad[0]} is not a training example"
            if reason is not None:
                file["status"] = "error"
                file["status_details"] = reason
                return self.json(200, file)
            file["status"] = "processed"
            return self.json(200, {**file, "status": "uploaded"})
        return self.json(200, file)

    @route("GET", r"/v1/files/(?P<file_id>[^/]+)/content")
    def file_content(self, request: httpx2.Request, file_id: str) -> httpx2.Response:
        """The file's bytes as uploaded (what ``finetune migrate`` downloads)."""
        if file_id not in self.files:
            return self._error(404, f"No such File object: {file_id}", param="id")
        return httpx2.Response(200, content=self.file_bytes[file_id],
                               headers={"content-type": "application/octet-stream",
                                        "x-request-id": "req_mock"})

    # -- uploads --------------------------------------------------------------------------
    @route("POST", r"/v1/uploads")
    def create_upload(self, request: httpx2.Request) -> httpx2.Response:
        body = self.body(request)
        missing = [k for k in ("filename", "purpose", "bytes", "mime_type") if k not in body]
        if missing:
            return self._error(400, f"missing {missing}", param=missing[0])
        upload_id = self._id("upload_")
        now = int(time.time())
        self.uploads[upload_id] = {
            "id": upload_id,
            "object": "upload",
            "bytes": body["bytes"],
            "created_at": now,
            "filename": body["filename"],
            "purpose": body["purpose"],
            "status": "pending",
            "expires_at": now + 3600,
        }
        return self.json(200, self.uploads[upload_id])

    @route("POST", r"/v1/uploads/(?P<upload_id>[^/]+)/parts")
    def add_part(self, request: httpx2.Request, upload_id: str) -> httpx2.Response:
        upload = self.uploads.get(upload_id)
        if upload is None:
            return self._error(404, f"No such Upload: {upload_id}")
        if upload["status"] != "pending":
            return self._error(400, f"Upload {upload_id} is {upload['status']}")
        form = parse_multipart(request)
        if "data" not in form:
            return self._error(400, "'data' is required", param="data")
        part_id = self._id("part_")
        self.parts[part_id] = form["data"][1]
        return self.json(
            200,
            {
                "id": part_id,
                "object": "upload.part",
                "upload_id": upload_id,
                "created_at": int(time.time()),
            },
        )

    @route("POST", r"/v1/uploads/(?P<upload_id>[^/]+)/complete")
    def complete_upload(self, request: httpx2.Request, upload_id: str) -> httpx2.Response:
        upload = self.uploads.get(upload_id)
        if upload is None:
            return self._error(404, f"No such Upload: {upload_id}")
        if upload["status"] != "pending":
            return self._error(400, f"Upload {upload_id} is already {upload['status']}")
        body = self.body(request)
        unknown = [p for p in body.get("part_ids", []) if p not in self.parts]
        if unknown:
            return self._error(400, f"unknown part ids {unknown}", param="part_ids")
        data = b"".join(self.parts[p] for p in body.get("part_ids", []))
        if len(data) != upload["bytes"]:
            return self._error(
                400, f"expected {upload['bytes']} bytes, parts hold {len(data)}", param="part_ids"
            )
        if body.get("md5") and body["md5"] != hashlib.md5(data, usedforsecurity=False).hexdigest():
            return self._error(400, "md5 does not match the uploaded bytes", param="md5")
        upload["status"] = "completed"
        upload["file"] = self._new_file(upload["filename"], data, upload["purpose"])
        return self.json(200, upload)

    @route("POST", r"/v1/uploads/(?P<upload_id>[^/]+)/cancel")
    def cancel_upload(self, request: httpx2.Request, upload_id: str) -> httpx2.Response:
        upload = self.uploads.get(upload_id)
        if upload is None:
            return self._error(404, f"No such Upload: {upload_id}")
        if upload["status"] != "pending":
            return self._error(400, f"Upload {upload_id} is already {upload['status']}")
        upload["status"] = "cancelled"
        return self.json(200, upload)
