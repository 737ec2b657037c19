"""A stateful fake of the Vertex AI tuning API (the ``v1beta1`` REST paths google-genai calls),
plus a fake Cloud Storage client for the upload seam.

Routes: ``POST .../tuningJobs`` (create), ``GET .../tuningJobs/{id}``, ``GET .../tuningJobs``
(``pageSize`` / ``pageToken`` / ``filter=labels.k="v"``), ``POST .../tuningJobs/{id}:cancel``
(asynchronous: CANCELLING, then CANCELLED on the next read, like Vertex), and
``POST .../endpoints/{id}:generateContent`` on a succeeded job's endpoint (its get, undeploy and
delete: ``_vertex_endpoints.py``). Errors use Google's
``{"error": {"code", "message", "status"}}`` shape. Creates are refused (400 INVALID_ARGUMENT)
when the training URI was never uploaded through :meth:`storage_client` or the adapter size is
outside the enum, as Vertex would.

Wire it to google-genai with ``http_options=HttpOptions(httpx_client=httpx2.Client(
transport=server.transport()), base_url=server.base_url)`` or ``server.mount(httpx2_mock)``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, cast

import httpx2

from ...types import JobStatus
from ._vertex_endpoints import EndpointRoutes
from .base import MockServer, route

__all__ = ["FakeStorageClient", "VertexMockServer"]

_JOBS = r"/v1beta1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/tuningJobs"
_ADAPTER_SIZES = {
    "ADAPTER_SIZE_ONE", "ADAPTER_SIZE_TWO", "ADAPTER_SIZE_FOUR", "ADAPTER_SIZE_EIGHT",
    "ADAPTER_SIZE_SIXTEEN", "ADAPTER_SIZE_THIRTY_TWO",
}
_GRPC_STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
}
_RAW = {
    JobStatus.VALIDATING: "JOB_STATE_PENDING",
    JobStatus.QUEUED: "JOB_STATE_QUEUED",
    JobStatus.RUNNING: "JOB_STATE_RUNNING",
    JobStatus.PAUSED: "JOB_STATE_PAUSED",
    JobStatus.SUCCEEDED: "JOB_STATE_SUCCEEDED",
    JobStatus.FAILED: "JOB_STATE_FAILED",
    JobStatus.CANCELLED: "JOB_STATE_CANCELLED",
}
_ENDED = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class VertexMockServer(EndpointRoutes, MockServer):
    """Vertex ``tuningJobs`` with real state strings, and the GCS objects uploaded for them."""

    base_url = "https://vertex.mock.invalid"
    project = "mock-project"
    location = "us-central1"

    def __init__(self, *, require_uploaded_data: bool = True, auto_advance: bool = False) -> None:
        super().__init__()
        self.reject_filters = False
        """True: answer every ``filter=`` with 400 (the filter syntax is undocumented for
        tuningJobs; the adapter must still find jobs by label)."""
        self.auto_advance = auto_advance
        """True: every read of a job moves it one step (PENDING -> RUNNING -> SUCCEEDED)."""
        self.jobs: dict[str, dict[str, Any]] = {}
        self.objects: dict[str, bytes] = {}
        """gs:// URI -> bytes uploaded through :meth:`storage_client`."""
        self.require_uploaded_data = require_uploaded_data
        self._next_id = 1000

    def error_body(self, status: int, message: str) -> Any:
        return {"error": {"code": status, "message": message,
                          "status": _GRPC_STATUS.get(status, "UNKNOWN")}}

    def _error(self, status: int, message: str) -> httpx2.Response:
        return self.json(status, self.error_body(status, message))

    # -- routes ---------------------------------------------------------------------------
    @route("POST", _JOBS)
    def create(self, request: httpx2.Request, project: str, location: str) -> httpx2.Response:
        body = self.body(request)
        spec_key = next(
            (k for k in ("supervisedTuningSpec", "preferenceOptimizationSpec") if k in body), None
        )
        if not body.get("baseModel") and not body.get("preTunedModel"):
            return self._error(400, "baseModel is required")
        if spec_key is None:
            return self._error(
                400, "a supervisedTuningSpec or preferenceOptimizationSpec is required"
            )
        spec = body[spec_key]
        for field in ("trainingDatasetUri", "validationDatasetUri"):
            uri = spec.get(field)
            if uri is None:
                continue
            if not str(uri).startswith("gs://"):
                return self._error(400, f"{field} must be a gs:// URI, got {uri}")
            if self.require_uploaded_data and uri not in self.objects:
                return self._error(400, f"{field} {uri} does not exist or is not readable")
        if spec.get("trainingDatasetUri") is None:
            return self._error(400, "trainingDatasetUri is required")
        size = spec.get("hyperParameters", {}).get("adapterSize")
        if size is not None and size not in _ADAPTER_SIZES:
            return self._error(400, f"Invalid value at 'tuning_job.{spec_key}.hyper_parameters."
                                    f"adapter_size': {size}")
        for key, value in (body.get("labels") or {}).items():
            if not re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", key) or not re.fullmatch(
                r"[a-z0-9_-]{0,63}", str(value)
            ):
                return self._error(400, f"invalid label {key}={value}")
        self._next_id += 1
        name = f"projects/{project}/locations/{location}/tuningJobs/{self._next_id}"
        job = {
            **body,
            "name": name,
            "state": "JOB_STATE_PENDING",
            "createTime": _now(),
            "updateTime": _now(),
        }
        self.jobs[name] = job
        return self.json(200, job)

    @route("GET", _JOBS + r"/(?P<job_id>[^/:]+)")
    def get(
        self, request: httpx2.Request, project: str, location: str, job_id: str
    ) -> httpx2.Response:
        name = f"projects/{project}/locations/{location}/tuningJobs/{job_id}"
        job = self.jobs.get(name)
        if job is None:
            return self._error(404, f"TuningJob {name} not found")
        if job["state"] == "JOB_STATE_CANCELLING":
            self._set(job, "JOB_STATE_CANCELLED")
        elif self.auto_advance and job["state"] in ("JOB_STATE_PENDING", "JOB_STATE_RUNNING"):
            following = {"JOB_STATE_PENDING": "JOB_STATE_RUNNING",
                         "JOB_STATE_RUNNING": "JOB_STATE_SUCCEEDED"}
            self._set(job, following[job["state"]])
        return self.json(200, job)

    @route("GET", _JOBS)
    def list(self, request: httpx2.Request, project: str, location: str) -> httpx2.Response:
        params = request.url.params
        prefix = f"projects/{project}/locations/{location}/"
        jobs = [j for n, j in self.jobs.items() if n.startswith(prefix)]
        jobs.sort(key=lambda j: int(j["name"].rsplit("/", 1)[1]), reverse=True)
        wanted = params.get("filter")
        if wanted and self.reject_filters:
            return self._error(400, f"Unsupported filter: {wanted}")
        if wanted:
            match = re.fullmatch(r'labels\.([a-z0-9_-]+)\s*=\s*"?([^"]*)"?', wanted.strip())
            if match is None:
                return self._error(400, f"unsupported filter {wanted}")
            key, value = match.groups()
            jobs = [j for j in jobs if (j.get("labels") or {}).get(key) == value]
        size = min(int(params.get("pageSize") or self.page_size), self.page_size)
        start = int(params.get("pageToken") or 0)
        page = jobs[start : start + size]
        body: dict[str, Any] = {"tuningJobs": page}
        if start + size < len(jobs):
            body["nextPageToken"] = str(start + size)
        return self.json(200, body)

    @route("POST", _JOBS + r"/(?P<job_id>[^/:]+):cancel")
    def cancel(
        self, request: httpx2.Request, project: str, location: str, job_id: str
    ) -> httpx2.Response:
        name = f"projects/{project}/locations/{location}/tuningJobs/{job_id}"
        job = self.jobs.get(name)
        if job is None:
            return self._error(404, f"TuningJob {name} not found")
        if job["state"] in _ENDED:
            return self._error(400, f"TuningJob {name} is already in a final state")
        self._set(job, "JOB_STATE_CANCELLING")
        return self.json(200, {})

    # -- state ----------------------------------------------------------------------------
    @route("POST", r"/v1beta1/(?P<endpoint>projects/[^/]+/locations/[^/]+/endpoints/[^/:]+)"
                   r":generateContent")
    def generate(self, request: httpx2.Request, endpoint: str) -> httpx2.Response:
        """An answer from the endpoint of a succeeded job (404 for any other resource, as
        Vertex answers a tuning job's or a retired endpoint's name)."""
        if endpoint not in self.live_endpoints():  # undeployed or deleted ones answer 404
            return self._error(404, f"Endpoint `{endpoint}` not found.")
        contents = self.body(request).get("contents") or [{}]
        question = " ".join(part.get("text", "") for part in contents[-1].get("parts", []))
        answer = f"tuned answer from {endpoint.rsplit('/', 1)[1]}: {question}"
        return self.json(200, {"candidates": [{"content": {"role": "model",
                                                           "parts": [{"text": answer}]},
                                               "finishReason": "STOP"}]})

    def _set(self, job: dict[str, Any], state: str) -> None:
        job["state"] = state
        job["updateTime"] = _now()
        if state == "JOB_STATE_RUNNING":
            job.setdefault("startTime", _now())
            job["tuningJobState"] = "TUNING_JOB_STATE_TUNING"
            job["tuningJobMetadata"] = {"completedEpochCount": "1", "completedStepCount": "10"}
        if state in _ENDED:
            job.setdefault("startTime", _now())
            job["endTime"] = _now()
        if state == "JOB_STATE_CANCELLED":
            job["error"] = {"code": 1, "message": "CANCELLED"}
        if state == "JOB_STATE_SUCCEEDED":
            number = job["name"].rsplit("/", 1)[1]
            base = job["name"].split("/tuningJobs/")[0]
            job["tunedModel"] = {
                "model": f"{base}/models/{number}01@1",
                "endpoint": f"{base}/endpoints/{number}02",
            }
            job["tuningDataStats"] = {"supervisedTuningDataStats": {
                "tuningDatasetExampleCount": "12", "totalBillableTokenCount": "3456",
                "tuningStepCount": "30"}}
            epochs = (job.get("supervisedTuningSpec", {}).get("hyperParameters", {})
                      .get("epochCount", 3))
            job["tuningJobMetadata"] = {"completedEpochCount": str(epochs),
                                        "completedStepCount": "30"}

    def _job(self, job_id: str) -> dict[str, Any]:
        for name, job in self.jobs.items():
            if name == job_id or name.endswith("/" + job_id):
                return job
        raise KeyError(job_id)

    def advance(self, job_id: str, status: JobStatus) -> None:
        with self.lock:
            self._set(self._job(job_id), _RAW[status])

    def wait_for_quota(self, job_id: str) -> None:
        """Put a job in the long "waiting for quota" sub-state Vertex uses."""
        with self.lock:
            job = self._job(job_id)
            job["state"] = "JOB_STATE_PENDING"
            job["tuningJobState"] = "TUNING_JOB_STATE_WAITING_FOR_QUOTA"

    def fail_job(self, job_id: str, message: str) -> None:
        with self.lock:
            job = self._job(job_id)
            self._set(job, "JOB_STATE_FAILED")
            job["error"] = {"code": 3, "message": message}

    def set_raw_status(self, job_id: str, raw: str) -> None:
        with self.lock:
            self._job(job_id)["state"] = raw

    def seed_jobs(self, count: int) -> None:
        with self.lock:
            for i in range(count):
                self._next_id += 1
                name = (f"projects/{self.project}/locations/{self.location}/tuningJobs/"
                        f"{self._next_id}")
                self.jobs[name] = {
                    "name": name, "state": "JOB_STATE_SUCCEEDED", "baseModel": "gemini-2.5-flash",
                    "createTime": _now(), "labels": {"seeded": str(i)},
                }

    def job_count(self) -> int:
        return len(self.jobs)

    # -- Cloud Storage --------------------------------------------------------------------
    # The JSON API paths google-cloud-storage uses for a small upload, for tests that run the
    # real client against ``serve()`` with STORAGE_EMULATOR_HOST (it talks ``requests``).
    @route("GET", r"/storage/v1/b/(?P<bucket>[^/]+)")
    def gcs_bucket(self, request: httpx2.Request, bucket: str) -> httpx2.Response:
        return self.json(200, {"kind": "storage#bucket", "name": bucket, "id": bucket})

    @route("POST", r"/upload/storage/v1/b/(?P<bucket>[^/]+)/o")
    def gcs_upload(self, request: httpx2.Request, bucket: str) -> httpx2.Response:
        from email.parser import BytesParser
        from email.policy import HTTP

        if request.url.params.get("uploadType") != "multipart":
            return self._error(400, "this mock serves uploadType=multipart only")
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + request.content)
        metadata_part, media_part = list(message.iter_parts())
        # decode=True on a non-multipart part gives bytes; typeshed's overloads cannot tell.
        metadata = json.loads(cast(bytes, metadata_part.get_payload(decode=True)))
        data = cast(bytes, media_part.get_payload(decode=True))
        self.objects[f"gs://{bucket}/{metadata['name']}"] = data
        return self.json(200, {"kind": "storage#object", "bucket": bucket,
                               "name": metadata["name"], "size": str(len(data)),
                               "generation": "1", "contentType": media_part.get_content_type()})

    def storage_client(self) -> FakeStorageClient:
        """A google-cloud-storage-shaped client whose uploads land in :attr:`objects`."""
        return FakeStorageClient(self)


class FakeStorageClient:
    """``client.bucket(b).blob(n).upload_from_filename(path)`` into a VertexMockServer."""

    def __init__(self, server: VertexMockServer) -> None:
        self.server = server
        self.fail_uploads = 0
        """How many next uploads raise ``google.api_core.exceptions.ServiceUnavailable``."""
        self.uploads: list[str] = []

    def bucket(self, name: str) -> Any:
        client = self

        class _Bucket:
            def blob(self, blob_name: str) -> Any:
                class _Blob:
                    def upload_from_filename(
                        self, filename: str, content_type: str | None = None
                    ) -> None:
                        if client.fail_uploads:
                            client.fail_uploads -= 1
                            from google.api_core import exceptions

                            raise exceptions.ServiceUnavailable("backend unavailable")
                        uri = f"gs://{name}/{blob_name}"
                        with open(filename, "rb") as handle:
                            client.server.objects[uri] = handle.read()
                        client.uploads.append(uri)

                return _Blob()

        return _Bucket()
