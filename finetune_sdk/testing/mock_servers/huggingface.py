"""A stateful fake of the Hugging Face Hub and HF Jobs endpoints that huggingface_hub 2.x calls.

Hub: ``POST /api/repos/create`` (409 when it exists), ``POST /api/{type}s/{repo}/preupload/{rev}``
and ``POST /api/{type}s/{repo}/commit/{rev}`` (the ndjson commit ``upload_file`` sends; every file
"regular", so no LFS/Xet round trips), ``GET /api/models/{repo}`` (``model_info``/``repo_exists``).
Jobs: ``POST /api/jobs/{ns}`` (run_job / run_uv_job), ``GET /api/jobs/{ns}/{id}``,
``GET /api/jobs/{ns}`` (``label=k=v`` and ``stage=`` filters, paged with a GitHub-style ``Link``
header that huggingface_hub's ``paginate`` follows), ``POST /api/jobs/{ns}/{id}/cancel``,
``GET /api/jobs/{ns}/{id}/logs`` (server-sent events), ``GET /api/jobs/hardware`` (prices).
Errors carry ``X-Error-Message`` and
``X-Request-Id`` like the Hub.

Mount it with ``server.mount(httpx2_mock)`` (huggingface_hub uses one shared httpx2 client).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx2

from ...types import JobStatus
from .base import MockServer, route

__all__ = ["HuggingFaceMockServer"]

_REPO = r"(?P<repo_id>[^/]+/[^/]+)"
_STAGE = {
    JobStatus.QUEUED: "SCHEDULING",
    JobStatus.VALIDATING: "SCHEDULING",
    JobStatus.RUNNING: "RUNNING",
    JobStatus.SUCCEEDED: "COMPLETED",
    JobStatus.FAILED: "ERROR",
    JobStatus.CANCELLED: "CANCELED",
}
_TERMINAL = {"COMPLETED", "ERROR", "CANCELED", "DELETED"}


def _origin(request: httpx2.Request) -> str:
    """The URL the client used (huggingface_hub checks returned URLs against its endpoint)."""
    return f"{request.url.scheme}://{request.url.netloc.decode()}"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class HuggingFaceMockServer(MockServer):
    """Hub repos + HF Jobs, with real JobStage strings and job logs."""

    base_url = "https://hf.mock.invalid"
    namespace = "mock-user"

    def __init__(self, *, auto_advance: bool = False) -> None:
        super().__init__()
        self.auto_advance = auto_advance
        """True: every inspect moves a job one step (SCHEDULING -> RUNNING -> COMPLETED, with
        loss lines in its log and the model repo pushed)."""
        self.jobs: dict[str, dict[str, Any]] = {}
        self.logs: dict[str, list[str]] = {}
        self.repos: dict[str, dict[str, Any]] = {}
        """"{type}s/{repo_id}" -> {"private": bool, "files": {path: bytes}}."""
        self._counter = 0

    def error_body(self, status: int, message: str) -> Any:
        return {"error": message}

    def _error(self, status: int, message: str) -> httpx2.Response:
        return self.json(status, {"error": message}, {"x-error-message": message})

    # -- Hub ------------------------------------------------------------------------------
    @route("POST", r"/api/repos/create")
    def create_repo(self, request: httpx2.Request) -> httpx2.Response:
        body = self.body(request)
        owner = body.get("organization") or self.namespace
        key = f"{body.get('type') or 'model'}s/{owner}/{body['name']}"
        url = f"{_origin(request)}/{key}"
        if key in self.repos:
            # Like the Hub, the 409 still names the repo (huggingface_hub reads "url" from it).
            message = "You already created this repo"
            return self.json(409, {"error": message, "url": url}, {"x-error-message": message})
        private = body.get("visibility") == "private" or bool(body.get("private"))
        self.repos[key] = {"private": private, "files": {}}
        return self.json(200, {"url": url, "name": f"{owner}/{body['name']}"})

    @route("POST", r"/api/(?P<kind>models|datasets|spaces)/" + _REPO + r"/preupload/(?P<rev>[^/]+)")
    def preupload(
        self, request: httpx2.Request, kind: str, repo_id: str, rev: str
    ) -> httpx2.Response:
        if f"{kind}/{repo_id}" not in self.repos:
            return self._error(404, "Repository not found")
        files = self.body(request).get("files", [])
        return self.json(200, {"files": [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
            for f in files
        ], "commitOid": "0" * 40})

    @route("POST", r"/api/(?P<kind>models|datasets|spaces)/" + _REPO + r"/commit/(?P<rev>[^/]+)")
    def commit(self, request: httpx2.Request, kind: str, repo_id: str, rev: str) -> httpx2.Response:
        repo = self.repos.get(f"{kind}/{repo_id}")
        if repo is None:
            return self._error(404, "Repository not found")
        for line in request.content.decode().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            if item.get("key") == "file":
                value = item["value"]
                repo["files"][value["path"]] = base64.b64decode(value["content"])
        self._counter += 1
        oid = f"{self._counter:040x}"
        return self.json(200, {"commitUrl": f"{_origin(request)}/{kind}/{repo_id}/commit/{oid}",
                               "commitOid": oid, "success": True})

    @route("GET", r"/api/models/" + _REPO)
    def model_info(self, request: httpx2.Request, repo_id: str) -> httpx2.Response:
        if f"models/{repo_id}" not in self.repos:
            return self._error(404, "Repository not found")
        body = {"id": repo_id, "modelId": repo_id, "private": True, "sha": "a" * 40,
                "siblings": []}
        parameters = self.repos[f"models/{repo_id}"].get("parameters")
        if parameters:  # the Hub's count of the safetensors weights (expand=safetensors)
            body["safetensors"] = {"parameters": {"BF16": parameters}, "total": parameters}
        return self.json(200, body)

    def add_model_repo(self, repo_id: str, *, parameters: int | None = None) -> None:
        """Make a model repo exist (what a finished training push does); ``parameters``: the
        safetensors parameter count model_info reports."""
        with self.lock:
            repo = self.repos.setdefault(f"models/{repo_id}", {"private": True, "files": {}})
            if parameters:
                repo["parameters"] = parameters

    @route("GET", r"/api/whoami-v2")
    def whoami(self, request: httpx2.Request) -> httpx2.Response:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return self._error(401, "Invalid credentials in Authorization header")
        return self.json(200, {"type": "user", "name": self.namespace, "orgs": []})

    # -- Jobs -----------------------------------------------------------------------------
    # Routes are tried in method-name order: list_hardware comes before list_jobs, whose
    # /api/jobs/{ns} pattern would also match "hardware".
    @route("GET", r"/api/jobs/hardware")
    def list_hardware(self, request: httpx2.Request) -> httpx2.Response:
        """``list_jobs_hardware()``: flavors with a per-minute cost (set ``server.hardware`` to
        a list of (name, USD per minute) to change them)."""
        rows = getattr(self, "hardware", [("cpu-basic", 0.000167), ("a10g-small", 0.0175),
                                          ("h200", 0.083333)])
        return self.json(200, [
            {"name": name, "prettyName": name, "cpu": "4 vCPU", "ram": "15 GB",
             "ephemeralStorage": "110 GB", "accelerator": None,
             "unitCostMicroUSD": round(cost * 1e6), "unitCostUSD": cost, "unitLabel": "minute"}
            for name, cost in rows])

    @route("POST", r"/api/jobs/(?P<ns>[^/]+)")
    def run_job(self, request: httpx2.Request, ns: str) -> httpx2.Response:
        body = self.body(request)
        if not body.get("command") or not (body.get("dockerImage") or body.get("spaceId")):
            return self._error(400, "command and dockerImage (or spaceId) are required")
        self._counter += 1
        job_id = f"{self._counter:024x}"
        job = {
            "id": job_id,
            "createdAt": _now(),
            "owner": {"id": "u" * 24, "name": ns, "type": "user"},
            "initiator": {"type": "user", "id": "u" * 24, "name": ns},
            "status": {"stage": "SCHEDULING", "message": None},
            **{k: v for k, v in body.items() if k != "secrets"},
            # The Hub never echoes secret values back, only their names.
            "secrets": sorted((body.get("secrets") or {}).keys()),
        }
        self.jobs[job_id] = job
        self.logs[job_id] = []
        return self.json(200, job)

    @route("GET", r"/api/jobs/(?P<ns>[^/]+)/(?P<job_id>[0-9a-f]+)")
    def inspect(self, request: httpx2.Request, ns: str, job_id: str) -> httpx2.Response:
        job = self.jobs.get(job_id)
        if job is None or job["owner"]["name"] != ns:
            return self._error(404, f"Job {job_id} not found")
        if self.auto_advance and job["status"]["stage"] == "SCHEDULING":
            self._set(job, "RUNNING")
            self.logs[job_id] += [f"{{'loss': {2.0 - i * 0.3:.2f}, 'learning_rate': 0.0002,"
                                  f" 'epoch': {i + 1}.0}}" for i in range(3)]
        elif self.auto_advance and job["status"]["stage"] == "RUNNING":
            self.advance(job_id, JobStatus.SUCCEEDED)
        return self.json(200, job)

    @route("GET", r"/api/jobs/(?P<ns>[^/]+)")
    def list_jobs(self, request: httpx2.Request, ns: str) -> httpx2.Response:
        params = request.url.params
        jobs = [j for j in self.jobs.values() if j["owner"]["name"] == ns]
        jobs.sort(key=lambda j: j["id"], reverse=True)
        for label in params.get_list("label"):
            key, _, value = label.partition("=")
            jobs = [j for j in jobs if (j.get("labels") or {}).get(key) == value]
        stages = params.get_list("stage")
        if stages:
            jobs = [j for j in jobs if j["status"]["stage"] in stages]
        start = int(params.get("cursor") or 0)
        page = jobs[start : start + self.page_size]
        headers: dict[str, str] = {}
        if start + self.page_size < len(jobs):
            query = [(k, v) for k, v in params.multi_items() if k != "cursor"]
            query.append(("cursor", str(start + self.page_size)))
            next_url = request.url.copy_with(params=query)
            headers["link"] = f'<{next_url}>; rel="next"'
        return self.json(200, page, headers)

    @route("POST", r"/api/jobs/(?P<ns>[^/]+)/(?P<job_id>[0-9a-f]+)/cancel")
    def cancel(self, request: httpx2.Request, ns: str, job_id: str) -> httpx2.Response:
        job = self.jobs.get(job_id)
        if job is None or job["owner"]["name"] != ns:
            return self._error(404, f"Job {job_id} not found")
        if job["status"]["stage"] not in _TERMINAL:
            self._set(job, "CANCELED")
        return httpx2.Response(200, headers={"x-request-id": "req_mock"})

    @route("GET", r"/api/jobs/(?P<ns>[^/]+)/(?P<job_id>[0-9a-f]+)/logs")
    def job_logs(self, request: httpx2.Request, ns: str, job_id: str) -> httpx2.Response:
        if job_id not in self.jobs:
            return self._error(404, f"Job {job_id} not found")
        lines = ["===== Job started at 2026-11-23 04:00:00 =====", *self.logs[job_id]]
        events = "".join(
            "data: " + json.dumps({"data": line, "timestamp": _now()}) + "\n\n" for line in lines
        )
        return httpx2.Response(200, content=events.encode(),
                               headers={"content-type": "text/event-stream"})

    # -- state ----------------------------------------------------------------------------
    def _set(self, job: dict[str, Any], stage: str, message: str | None = None) -> None:
        job["status"] = {"stage": stage, "message": message}
        if stage == "RUNNING":
            job.setdefault("startedAt", _now())
        if stage in _TERMINAL:
            job.setdefault("startedAt", _now())
            job["finishedAt"] = _now()

    def advance(self, job_id: str, status: JobStatus) -> None:
        with self.lock:
            job = self.jobs[job_id]
            self._set(job, _STAGE[status])
            if status is JobStatus.SUCCEEDED:
                repo = (job.get("environment") or {}).get("FTSDK_OUTPUT_REPO")
                if repo:
                    self.add_model_repo(repo)

    def fail_job(self, job_id: str, message: str) -> None:
        with self.lock:
            self.logs[job_id].append(f"ERROR: {message}")
            self._set(self.jobs[job_id], "ERROR", message)

    def set_raw_status(self, job_id: str, raw: str) -> None:
        with self.lock:
            self.jobs[job_id]["status"] = {"stage": raw, "message": None}

    def add_log_lines(self, job_id: str, *lines: str) -> None:
        """Append lines to a job's log (what the training container prints)."""
        with self.lock:
            self.logs[job_id].extend(lines)

    def seed_jobs(self, count: int) -> None:
        with self.lock:
            for i in range(count):
                self._counter += 1
                job_id = f"{self._counter:024x}"
                self.jobs[job_id] = {
                    "id": job_id, "createdAt": _now(), "dockerImage": "python:3.12",
                    "command": ["true"], "flavor": "cpu-basic", "labels": {"seeded": str(i)},
                    "owner": {"id": "u" * 24, "name": self.namespace, "type": "user"},
                    "status": {"stage": "COMPLETED", "message": None},
                }
                self.logs[job_id] = []

    def job_count(self) -> int:
        return len(self.jobs)
