"""A stateful fake of the Fireworks control plane (``/v1/accounts/{account}/...``).

Routes: datasets create (client-chosen ``datasetId``, 409 ALREADY_EXISTS on a repeat), get,
``:upload`` (multipart), ``:getUploadEndpoint`` -> a signed URL on this server, ``PUT`` to it
(refused with 403 when it carries an Authorization header or the signed headers are wrong),
``:validateUpload``; a dataset reads ``UPLOADING`` once after its bytes arrive, then ``READY``.
``supervisedFineTuningJobs`` create (``?supervisedFineTuningJobId=``, 409 on a repeat; 409 too,
or 400 with ``output_model_conflict_status``, when its ``outputModel`` is another job's), get, list
(``pageSize`` / ``pageToken``), ``:cancel`` (CANCELLING, then CANCELLED on the next read),
``:resume``, DELETE; ``models`` get; ``deployments`` create (``?deploymentId=``, 409 on a repeat),
get (CREATING once, then READY; DELETING once, then 404), list, DELETE; and the inference route
``/inference/v1/chat/completions`` for ``model#deployment`` while READY. Errors are gRPC-gateway
style ``{"code", "message", "details"}``. Requests to the account API without ``Bearer`` get 401.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import httpx2

from ...types import JobStatus
from ._fireworks_deployments import DeploymentRoutes
from ._lookup import with_record
from ._openai_files import parse_multipart
from .base import MockServer, route

__all__ = ["FireworksMockServer"]

_ACCT = r"/v1/accounts/(?P<account>[^/]+)"
_DS = _ACCT + r"/datasets/(?P<dataset_id>[a-z][a-z0-9-]*)"
_JOBS = _ACCT + r"/supervisedFineTuningJobs"
_JOB = _JOBS + r"/(?P<job_id>[a-z][a-z0-9-]*)"
_GRPC = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_RAW = {
    JobStatus.VALIDATING: "JOB_STATE_VALIDATING",
    JobStatus.QUEUED: "JOB_STATE_PENDING",
    JobStatus.RUNNING: "JOB_STATE_RUNNING",
    JobStatus.PAUSED: "JOB_STATE_PAUSED",
    JobStatus.SUCCEEDED: "JOB_STATE_COMPLETED",
    JobStatus.FAILED: "JOB_STATE_FAILED",
    JobStatus.CANCELLED: "JOB_STATE_CANCELLED",
}
_NEXT = {"JOB_STATE_CREATING": JobStatus.RUNNING, "JOB_STATE_RUNNING": JobStatus.SUCCEEDED}
_ENDED = {
    "JOB_STATE_COMPLETED",
    "JOB_STATE_FAILED",
    "JOB_STATE_CANCELLED",
    "JOB_STATE_EXPIRED",
    "JOB_STATE_EARLY_STOPPED",
}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _short(name: str) -> str:
    """The id at the end of a resource name (``accounts/a/supervisedFineTuningJobs/<id>``)."""
    return name.rsplit("/", 1)[-1]


class FireworksMockServer(DeploymentRoutes, MockServer):
    """Fireworks datasets, SFT jobs, models and deployments with the real state strings."""

    base_url = "https://fireworks.mock.invalid"
    account = "mock-account"

    def __init__(self, *, auto_advance: bool = False) -> None:
        super().__init__()
        self.auto_advance = auto_advance
        """True: every read of a job moves it one step (CREATING -> RUNNING -> COMPLETED)."""
        self.datasets: dict[str, dict[str, Any]] = {}
        self.dataset_bytes: dict[str, bytes] = {}
        self.signed: dict[str, dict[str, Any]] = {}
        """token -> {dataset, filename, size} for signed upload URLs handed out."""
        self.jobs: dict[str, dict[str, Any]] = {}
        self.models: dict[str, dict[str, Any]] = {}
        self.deployments: dict[str, dict[str, Any]] = {}
        self._seq = 0
        self.dataset_rejection: str | None = None
        """Set to a reason: datasets fail validation with it (``status.code`` INVALID_ARGUMENT)."""
        self.output_model_conflict_status = 409
        """What a create gets when its output model exists or another job writes it: 409
        ALREADY_EXISTS, or 400 (INVALID_ARGUMENT) for the other form clients have to read."""

    def error_body(self, status: int, message: str) -> Any:
        return {"code": _GRPC.get(status, "UNKNOWN"), "message": message, "details": []}

    def _error(self, status: int, message: str) -> httpx2.Response:
        return self.json(status, self.error_body(status, message))

    def _dispatch(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path.startswith("/v1/accounts/") and not request.headers.get(
            "authorization", ""
        ).startswith("Bearer "):
            return self._error(401, "missing or invalid API key")
        return super()._dispatch(request)

    # -- datasets -------------------------------------------------------------------------
    @route("POST", _ACCT + r"/datasets")
    def create_dataset(self, request: httpx2.Request, account: str) -> httpx2.Response:
        body = self.body(request)
        dataset_id = body.get("datasetId") or ""
        if not dataset_id[:1].isalpha() or not dataset_id.replace("-", "").isalnum():
            return self._error(400, f"invalid datasetId {dataset_id!r}")
        name = f"accounts/{account}/datasets/{dataset_id}"
        if name in self.datasets:
            return self._error(409, f"dataset {name} already exists")
        spec = body.get("dataset") or {}
        self.datasets[name] = {
            "name": name,
            "displayName": dataset_id,
            "state": "UPLOADING",
            "status": {"code": "OK", "message": ""},
            "format": spec.get("format", "CHAT"),
            "exampleCount": spec.get("exampleCount", "0"),
            "userUploaded": {},
            "createTime": _now(),
            "updateTime": _now(),
        }
        return self.json(200, self.datasets[name])

    def _dataset_or_404(self, account: str, dataset_id: str) -> dict[str, Any] | httpx2.Response:
        dataset = self.datasets.get(f"accounts/{account}/datasets/{dataset_id}")
        if dataset is None:
            return self._error(404, f"dataset {dataset_id} not found")
        return dataset

    @route("GET", _DS)
    @with_record("_dataset_or_404")
    def get_dataset(self, request: httpx2.Request, dataset: dict[str, Any]) -> httpx2.Response:
        answer = dict(dataset)
        if dataset.get("_processing"):  # the bytes arrived; READY from the next read on
            dataset.pop("_processing")
            answer.pop("_processing")
            if self.dataset_rejection:
                dataset["status"] = {"code": "INVALID_ARGUMENT", "message": self.dataset_rejection}
                answer["status"] = dataset["status"]
            else:
                dataset["state"] = "READY"
        return self.json(200, answer)

    def _received(self, name: str, data: bytes) -> None:
        self.dataset_bytes[name] = data
        self.datasets[name]["_processing"] = True
        self.datasets[name]["updateTime"] = _now()

    @route("POST", _DS + r":upload")
    @with_record("_dataset_or_404")
    def upload(self, request: httpx2.Request, dataset: dict[str, Any]) -> httpx2.Response:
        form = parse_multipart(request)
        if "file" not in form:
            return self._error(400, "multipart field 'file' is required")
        self._received(dataset["name"], form["file"][1])
        return self.json(200, {})

    @route("POST", _DS + r":getUploadEndpoint")
    @with_record("_dataset_or_404")
    def get_upload_endpoint(
        self, request: httpx2.Request, dataset: dict[str, Any]
    ) -> httpx2.Response:
        sizes = self.body(request).get("filenameToSize") or {}
        urls = {}
        for filename, size in sizes.items():
            token = secrets.token_hex(8)
            self.signed[token] = {
                "dataset": dataset["name"],
                "filename": filename,
                "size": int(size),
            }
            urls[filename] = str(
                request.url.copy_with(
                    path=f"/signed-upload/{token}", query=b"X-Goog-Signature=mock"
                )
            )
        return self.json(200, {"filenameToSignedUrls": urls})

    @route("PUT", r"/signed-upload/(?P<token>[0-9a-f]+)")
    def signed_put(self, request: httpx2.Request, token: str) -> httpx2.Response:
        grant = self.signed.get(token)
        if grant is None:
            return httpx2.Response(404, text="NoSuchUpload")
        size = grant["size"]
        if "authorization" in request.headers:
            return httpx2.Response(403, text="signed URLs reject an Authorization header")
        if (
            request.headers.get("content-type") != "application/octet-stream"
            or request.headers.get("x-goog-content-length-range") != f"{size},{size}"
            or len(request.content) != size
        ):
            return httpx2.Response(403, text="SignatureDoesNotMatch")
        grant["data"] = request.content
        return httpx2.Response(200)

    @route("POST", _DS + r":validateUpload")
    @with_record("_dataset_or_404")
    def validate_upload(self, request: httpx2.Request, dataset: dict[str, Any]) -> httpx2.Response:
        parts = [g for g in self.signed.values() if g["dataset"] == dataset["name"]]
        if not parts or any("data" not in g for g in parts):
            return self._error(400, "no uploaded file to validate")
        self._received(dataset["name"], b"".join(g["data"] for g in parts))
        return self.json(200, {})

    # -- jobs -----------------------------------------------------------------------------
    def _new_job(
        self, account: str, job_id: str, body: dict[str, Any], state: str = "JOB_STATE_CREATING"
    ) -> dict[str, Any]:
        name = f"accounts/{account}/supervisedFineTuningJobs/{job_id}"
        job = {
            "name": name,
            "displayName": body.get("displayName", job_id),
            "state": state,
            "status": {"code": "OK", "message": ""},
            "createTime": _now(),
            "updateTime": _now(),
            "createdBy": "mock@example.com",
            "jobProgress": {"percent": 0, "epoch": 0},
            **{k: v for k, v in body.items() if k != "displayName"},
        }
        job.setdefault("outputModel", f"accounts/{account}/models/{job_id}")
        if not str(job["outputModel"]).startswith("accounts/"):
            job["outputModel"] = f"accounts/{account}/models/{job['outputModel']}"
        self.jobs[name] = job
        return job

    @route("POST", _JOBS)
    def create_job(self, request: httpx2.Request, account: str) -> httpx2.Response:
        body = self.body(request)
        self._seq += 1
        job_id = request.url.params.get("supervisedFineTuningJobId") or f"sftj-{self._seq:06d}"
        if f"accounts/{account}/supervisedFineTuningJobs/{job_id}" in self.jobs:
            return self._error(409, f"supervisedFineTuningJob {job_id} already exists")
        if not body.get("baseModel"):
            return self._error(400, "baseModel is required")
        output = str(body.get("outputModel") or job_id)
        if not output.startswith("accounts/"):
            output = f"accounts/{account}/models/{output}"
        # A model name is never reused: not one a finished job wrote, nor one a job will write.
        if output in self.models or any(j.get("outputModel") == output
                                        for j in self.jobs.values()):
            return self._error(self.output_model_conflict_status,
                               f"output model {output} already exists")
        for field in ("dataset", "evaluationDataset"):
            ds = body.get(field)
            if field == "dataset" and not ds:
                return self._error(400, "dataset is required")
            if ds and self.datasets.get(ds, {}).get("state") != "READY":
                return self._error(400, f"{field} {ds} is not READY")
        return self.json(200, self._new_job(account, job_id, body))

    @route("GET", _JOBS)
    def list_jobs(self, request: httpx2.Request, account: str) -> httpx2.Response:
        jobs = [
            j
            for j in reversed(list(self.jobs.values()))
            if j["name"].startswith(f"accounts/{account}/")
        ]
        start = int(request.url.params.get("pageToken") or 0)
        size = min(int(request.url.params.get("pageSize") or 50), self.page_size)
        body: dict[str, Any] = {
            "supervisedFineTuningJobs": jobs[start : start + size],
            "totalSize": len(jobs),
        }
        if start + size < len(jobs):
            body["nextPageToken"] = str(start + size)
        return self.json(200, body)

    def _job_or_404(self, account: str, job_id: str) -> dict[str, Any] | httpx2.Response:
        job = self.jobs.get(f"accounts/{account}/supervisedFineTuningJobs/{job_id}")
        if job is None:
            return self._error(404, f"supervisedFineTuningJob {job_id} not found")
        return job

    @route("GET", _JOB)
    @with_record("_job_or_404")
    def get_job(self, request: httpx2.Request, job: dict[str, Any]) -> httpx2.Response:
        answer = dict(job)
        if job["state"] == "JOB_STATE_CANCELLING":  # cancellation lands by the next read
            job["state"] = "JOB_STATE_CANCELLED"
        elif self.auto_advance and job["state"] in _NEXT:
            self.advance(job["name"], _NEXT[job["state"]])
        return self.json(200, answer)

    @route("POST", _JOB + r":cancel")
    @with_record("_job_or_404")
    def cancel_job(self, request: httpx2.Request, job: dict[str, Any]) -> httpx2.Response:
        if job["state"] in _ENDED:
            return self._error(400, f"job {_short(job['name'])} already ended ({job['state']})")
        job["state"] = "JOB_STATE_CANCELLING"
        return self.json(200, {})

    @route("POST", _JOB + r":resume")
    @with_record("_job_or_404")
    def resume_job(self, request: httpx2.Request, job: dict[str, Any]) -> httpx2.Response:
        if job["state"] != "JOB_STATE_PAUSED":
            return self._error(400, f"job {_short(job['name'])} is not paused ({job['state']})")
        job["state"] = "JOB_STATE_RUNNING"
        return self.json(200, job)

    @route("DELETE", _JOB)
    @with_record("_job_or_404")
    def delete_job(self, request: httpx2.Request, job: dict[str, Any]) -> httpx2.Response:
        job["state"] = "JOB_STATE_DELETING"
        return self.json(200, {})

    # -- models and deployments -----------------------------------------------------------
    @route("GET", _ACCT + r"/models/(?P<model_id>[^/]+)")
    def get_model(self, request: httpx2.Request, account: str, model_id: str) -> httpx2.Response:
        model = self.models.get(f"accounts/{account}/models/{model_id}")
        if model is None:
            return self._error(404, f"model {model_id} not found")
        return self.json(200, model)

    # -- neutral hooks --------------------------------------------------------------------
    def _find(self, job_id: str) -> dict[str, Any]:
        short = _short(job_id)
        for name, job in self.jobs.items():
            if _short(name) == short:
                return job
        raise KeyError(job_id)

    def advance(self, job_id: str, status: JobStatus) -> None:
        with self.lock:
            job = self._find(job_id)
            job["state"] = _RAW[status]
            job["updateTime"] = _now()
            if status is JobStatus.RUNNING:
                job["jobProgress"] = {"percent": 40, "epoch": 1, "inputTokens": "2048"}
            if status is JobStatus.SUCCEEDED:
                job["jobProgress"] = {
                    "percent": 100,
                    "epoch": job.get("epochs", 1),
                    "inputTokens": "4096",
                }
                job["completedTime"] = _now()
                self.models[job["outputModel"]] = {
                    "name": job["outputModel"],
                    "kind": "HF_PEFT_ADDON",
                    "state": "READY",
                    "baseModel": job.get("baseModel"),
                    "createTime": _now(),
                }

    def fail_job(self, job_id: str, message: str) -> None:
        with self.lock:
            job = self._find(job_id)
            job.update(
                state="JOB_STATE_FAILED",
                completedTime=_now(),
                status={"code": "INVALID_ARGUMENT", "message": message},
            )

    def set_raw_status(self, job_id: str, raw: str) -> None:
        with self.lock:
            self._find(job_id)["state"] = raw

    def seed_jobs(self, count: int) -> None:
        with self.lock:
            for _ in range(count):
                self._seq += 1
                self._new_job(
                    self.account,
                    f"seeded-{self._seq:06d}",
                    {"baseModel": "accounts/fireworks/models/llama-v3p1-8b-instruct"},
                    state="JOB_STATE_COMPLETED",
                )

    def job_count(self) -> int:
        return len(self.jobs)
