"""The files half of the Together mock (``TogetherMockServer`` mixes it in).

``POST /v1/files`` (form fields purpose, file_name, file_type, checksum) answers 302 with a
presigned ``Location`` on this server and ``X-Together-File-Id``; ``PUT`` of the bytes there
(``put_headers`` records its headers, to prove the key never goes to storage);
``POST /v1/files/{id}/preprocess`` validates (``processing_status`` COMPLETED, or INVALID_FORMAT
with a ``validation_report`` when a line is not a chat/preference object or ``file_rejection``
is set); ``GET`` / ``DELETE /v1/files/{id}``, ``GET /v1/files``. ``processing_reads``: that many
reads of a new file show it ``RUNNING`` first.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx2

from ._openai_files import parse_multipart
from .base import route

__all__ = ["TogetherFileRoutes"]


class TogetherFileRoutes:
    """Routes over ``self.files`` / ``self.file_bytes`` of the Together mock."""

    files: dict[str, dict[str, Any]]
    file_bytes: dict[str, bytes]
    put_headers: list[dict[str, str]]
    file_rejection: str | None
    processing_reads: int
    _clock: int

    if TYPE_CHECKING:  # provided by the server class (MockServer and the Together mock)
        def _id(self, prefix: str) -> str: ...

        def _error(self, status: int, message: str) -> httpx2.Response: ...

        def json(self, status: int, body: Any,
                 headers: dict[str, str] | None = None) -> httpx2.Response: ...

    @route("POST", r"/v1/files")
    def upload_metadata(self, request: httpx2.Request) -> httpx2.Response:
        fields = {k: v.decode() for k, (_, v) in parse_multipart(request).items()}
        if fields.get("purpose") != "fine-tune" or not fields.get("file_name"):
            return self._error(400, "purpose 'fine-tune' and file_name are required")
        file_id = self._id("file-")
        self.files[file_id] = {
            "id": file_id, "object": "file", "bytes": 0, "created_at": 1764547200 + self._clock,
            "filename": fields["file_name"], "FileType": fields.get("file_type", "jsonl"),
            "purpose": "fine-tune", "processing_status": "PENDING",
            "checksum": fields.get("checksum")}
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        return httpx2.Response(302, headers={"Location": f"{origin}/mock-storage/{file_id}",
                                             "X-Together-File-Id": file_id})

    @route("PUT", r"/mock-storage/(?P<file_id>[^/]+)")
    def put_bytes(self, request: httpx2.Request, file_id: str) -> httpx2.Response:
        self.put_headers.append(dict(request.headers))
        if file_id not in self.files:
            return httpx2.Response(403, content=b"<Error>no such upload</Error>")
        self.file_bytes[file_id] = request.content
        self.files[file_id]["bytes"] = len(request.content)
        return httpx2.Response(200)

    def _validate(self, data: bytes) -> str | None:
        if self.file_rejection:
            return self.file_rejection
        for number, line in enumerate(data.splitlines(), 1):
            try:
                record = json.loads(line)
            except ValueError:
                return f"line {number}: not JSON"
            if not isinstance(record, dict) or not ({"messages", "input"} & set(record)):
                return f"line {number}: expected 'messages' or a preference pair"
        return None

    @route("POST", r"/v1/files/(?P<file_id>[^/]+)/preprocess")
    def preprocess(self, request: httpx2.Request, file_id: str) -> httpx2.Response:
        file = self.files.get(file_id)
        if file is None or file_id not in self.file_bytes:
            return self._error(404, f"file {file_id} has no uploaded content")
        data = self.file_bytes[file_id]
        problem = self._validate(data)
        preference = b'"preferred_output"' in data
        file["_final"] = {
            "processing_status": "INVALID_FORMAT" if problem else "COMPLETED",
            "validation_report": {
                "valid": problem is None, "file_id": file_id, "nlines": len(data.splitlines()),
                "dataset_format": "PREFERENCE_OPENAI" if preference else "CONVERSATION",
                **({"error": problem, "error_type": "INVALID_FORMAT"} if problem else {})}}
        file["_reads_left"] = self.processing_reads
        if not self.processing_reads:
            file.update(file.pop("_final"))
        else:
            file["processing_status"] = "RUNNING"
        return self.json(200, self._file(file))

    @staticmethod
    def _file(file: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in file.items() if k != "checksum" and not k.startswith("_")}

    @route("GET", r"/v1/files/(?P<file_id>[^/]+)")
    def retrieve_file(self, request: httpx2.Request, file_id: str) -> httpx2.Response:
        file = self.files.get(file_id)
        if file is None:
            return self._error(404, f"file {file_id} not found")
        if "_final" in file:
            file["_reads_left"] -= 1
            if file["_reads_left"] <= 0:
                file.update(file.pop("_final"))
        return self.json(200, self._file(file))

    @route("GET", r"/v1/files")
    def list_files(self, request: httpx2.Request) -> httpx2.Response:
        return self.json(200, {"object": "list",
                               "data": [self._file(f) for f in self.files.values()]})

    @route("DELETE", r"/v1/files/(?P<file_id>[^/]+)")
    def delete_file(self, request: httpx2.Request, file_id: str) -> httpx2.Response:
        if self.files.pop(file_id, None) is None:
            return self._error(404, f"file {file_id} not found")
        self.file_bytes.pop(file_id, None)
        return self.json(200, {"id": file_id, "object": "file", "deleted": True})
