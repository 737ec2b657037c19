"""A stateful fake of Amazon Bedrock model customization (the REST paths boto3 calls) and of
the S3 PutObject the uploads use, on one endpoint (as ``AWS_ENDPOINT_URL`` points both there).

moto 5.2.5 has these operations, but its jobs never leave ``InProgress`` and it ignores
``clientRequestToken`` (a resent create is a second job): not enough for lifecycle or
duplicate-job tests. Here a repeated token returns the first job, as Bedrock documents; jobs
move through validation, training and the end states; the create is checked like Bedrock would
(name patterns, role ARN, uploaded S3 data in the base model's schema, per-model
hyperparameter names); errors are rest-json (``x-amzn-ErrorType`` + ``{"message"}``). Custom model
deployments and bedrock-runtime ``converse`` are in ``_bedrock_deployments.py``.

Mount it on boto3 either way:
- in process: ``BedrockProvider(session=server.session(), endpoint_url=server.base_url)``
  (a botocore ``before-send`` hook answers from ``handle``; no sockets);
- over sockets: ``with server.serve() as url: BedrockProvider(endpoint_url=url, ...)``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx2

from ...types import JobStatus
from ._bedrock_deployments import DeploymentRoutes
from .base import MockServer, route

__all__ = ["BedrockMockServer"]

_JOBS = r"/model-customization-jobs"
_TYPES = {400: "ValidationException", 401: "UnrecognizedClientException",
          403: "AccessDeniedException", 404: "ResourceNotFoundException",
          409: "ConflictException", 429: "ThrottlingException",
          500: "InternalServerException", 503: "ServiceUnavailableException"}
_NAMES = {"jobName": r"[a-zA-Z0-9](-*[a-zA-Z0-9+\-.])*",
          "customModelName": r"([0-9a-zA-Z][_-]?){1,63}",
          "clientRequestToken": r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?",
          "roleArn": r"arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+"}
# Base model prefix -> (data schema check, hyperparameter names Bedrock accepts).
_MODELS = {
    "amazon.nova": ("conversation", {"epochCount", "learningRate", "learningRateWarmupSteps"}),
    "anthropic.claude-3-haiku": ("messages", {"epochCount", "batchSize", "learningRateMultiplier",
                                              "earlyStoppingThreshold",
                                              "earlyStoppingPatience"}),
    "meta.llama3-1-": ("prompt_completion", {"epochCount", "batchSize", "learningRate"}),
    "meta.llama3-2-": ("conversation", {"epochCount", "batchSize", "learningRate"}),
}
_STEPS = ("validationDetails", "dataProcessingDetails", "trainingDetails")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _schema_of(line: dict[str, Any]) -> str:
    if "prompt" in line and "completion" in line:
        return "prompt_completion"
    messages = line.get("messages") or [{}]
    if line.get("schemaVersion") or isinstance(messages[0].get("content"), list):
        return "conversation"
    return "messages"


class BedrockMockServer(DeploymentRoutes, MockServer):
    """Bedrock customization jobs and custom models, plus the S3 objects uploaded for them."""

    base_url = "https://bedrock.mock.invalid"
    region = "us-east-1"
    account = "123456789012"
    role_arn = "arn:aws:iam::123456789012:role/BedrockFineTuning"

    def __init__(self, *, auto_advance: bool = False,
                 buckets: tuple[str, ...] = ("ftsdk-test-bucket",)) -> None:
        super().__init__()
        self.auto_advance = auto_advance
        """True: every read of a job moves it one step (validating -> training -> Completed)."""
        self.jobs: dict[str, dict[str, Any]] = {}
        """jobArn -> the job as GetModelCustomizationJob answers it."""
        self.tokens: dict[str, str] = {}
        """clientRequestToken -> jobArn (the idempotency record)."""
        self.custom_models: dict[str, dict[str, Any]] = {}
        self.buckets = set(buckets)
        self.objects: dict[str, bytes] = {}
        """s3:// URI -> bytes put there."""
        self._next = 0

    # -- rest-json errors -------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        return {"__type": _TYPES.get(status, "InternalServerException"), "message": message}

    def _error(self, status: int, message: str, kind: str | None = None) -> httpx2.Response:
        kind = kind or _TYPES.get(status, "InternalServerException")
        return self.json(status, {"message": message},
                         {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/",
                          "x-amzn-RequestId": "req-mock"})

    def _arn(self, kind: str, base: str) -> str:
        self._next += 1
        return (f"arn:aws:bedrock:{self.region}:{self.account}:{kind}/{base}/"
                f"{self._next:012x}")

    # -- customization jobs -------------------------------------------------------------------
    @route("POST", _JOBS)
    def create(self, request: httpx2.Request) -> httpx2.Response:
        body = self.body(request)
        for field in ("jobName", "customModelName", "roleArn", "baseModelIdentifier",
                      "trainingDataConfig", "outputDataConfig"):
            if not body.get(field):
                return self._error(400, f"1 validation error detected: {field} is required")
        for field, pattern in _NAMES.items():
            if field in body and not re.fullmatch(pattern, str(body[field])):
                return self._error(400, f"Value '{body[field]}' at '{field}' failed to satisfy"
                                        f" constraint: Member must satisfy regular expression"
                                        f" pattern: {pattern}")
        token = body.get("clientRequestToken")
        if token and token in self.tokens:  # "Bedrock ignores the request": the same job
            return self.json(201, {"jobArn": self.tokens[token]})
        if any(j["jobName"] == body["jobName"] for j in self.jobs.values()):
            return self._error(409, f"A model customization job named {body['jobName']}"
                                    " already exists")
        if body["customModelName"] in {j["outputModelName"] for j in self.jobs.values()}:
            return self._error(409, f"A custom model named {body['customModelName']}"
                                    " already exists")
        base = body["baseModelIdentifier"]
        problem = self._check_data(body, base)
        if problem:
            return self._error(400, problem)
        arn = self._arn("model-customization-job", base)
        now = _now()
        self.jobs[arn] = {
            "jobArn": arn, "jobName": body["jobName"], "outputModelName": body["customModelName"],
            "clientRequestToken": token, "roleArn": body["roleArn"], "status": "InProgress",
            "statusDetails": {s: {"status": "NotStarted"} for s in _STEPS},
            "creationTime": now, "lastModifiedTime": now,
            "baseModelArn": f"arn:aws:bedrock:{self.region}::foundation-model/{base}",
            "hyperParameters": body.get("hyperParameters") or {},
            "trainingDataConfig": body["trainingDataConfig"],
            "validationDataConfig": body.get("validationDataConfig") or {"validators": []},
            "outputDataConfig": body["outputDataConfig"],
            "customizationType": body.get("customizationType", "FINE_TUNING"),
            "jobTags": body.get("jobTags") or [],
        }
        self.jobs[arn]["statusDetails"]["validationDetails"]["status"] = "InProgress"
        if token:
            self.tokens[token] = arn
        return self.json(201, {"jobArn": arn})

    def _check_data(self, body: dict[str, Any], base: str) -> str | None:
        expected, names = next((v for k, v in _MODELS.items() if base.startswith(k)),
                               ("conversation", None))
        for name, value in (body.get("hyperParameters") or {}).items():
            if names is not None and name not in names:
                return f"The hyperparameter {name} is not supported for {base}"
            try:
                float(value)
            except (TypeError, ValueError):
                return f"The hyperparameter {name} has an invalid value {value!r}"
        uris = [body["trainingDataConfig"].get("s3Uri")]
        uris += [v.get("s3Uri") for v in
                 (body.get("validationDataConfig") or {}).get("validators", [])]
        for uri in uris:
            if uri not in self.objects:
                return f"Unable to access the data at {uri}: check the S3 URI and the role"
            first = self.objects[uri].split(b"\n", 1)[0]
            try:
                schema = _schema_of(json.loads(first))
            except (ValueError, AttributeError, IndexError):
                return f"{uri} is not valid JSONL"
            if schema != expected:
                return f"{uri}: the records do not match the {expected} format {base} takes"
        if not str(body["outputDataConfig"].get("s3Uri", "")).startswith("s3://"):
            return "outputDataConfig.s3Uri must be an s3:// URI"
        return None

    def _find(self, ident: str) -> dict[str, Any] | None:
        return self.jobs.get(ident) or next(
            (j for j in self.jobs.values() if j["jobName"] == ident), None)

    @route("GET", _JOBS + r"/(?P<ident>.+)")
    def get(self, request: httpx2.Request, ident: str) -> httpx2.Response:
        job = self._find(ident)
        if job is None:
            return self._error(404, f"Model customization job {ident} not found")
        if job["status"] == "Stopping":
            self._set(job, "Stopped")
        elif self.auto_advance and job["status"] == "InProgress":
            training = job["statusDetails"]["trainingDetails"]["status"]
            self._set(job, "Completed" if training == "InProgress" else "InProgress",
                      training=training != "InProgress")
        return self.json(200, {k: v for k, v in job.items() if k != "jobTags"})

    @route("GET", _JOBS)
    def list(self, request: httpx2.Request) -> httpx2.Response:
        params = request.url.params
        jobs = sorted(self.jobs.values(), key=lambda j: j["jobArn"],
                      reverse=params.get("sortOrder", "Descending") == "Descending")
        if params.get("nameContains"):
            jobs = [j for j in jobs if params["nameContains"] in j["jobName"]]
        if params.get("statusEquals"):
            jobs = [j for j in jobs if j["status"] == params["statusEquals"]]
        size = min(int(params.get("maxResults") or 100), self.page_size)
        start = int(params.get("nextToken") or 0)
        page: dict[str, Any] = {"modelCustomizationJobSummaries": [
            self._summary(j) for j in jobs[start:start + size]]}
        if start + size < len(jobs):
            page["nextToken"] = str(start + size)
        return self.json(200, page)

    def _summary(self, job: dict[str, Any]) -> dict[str, Any]:
        keys = ("jobArn", "baseModelArn", "jobName", "status", "statusDetails", "creationTime",
                "lastModifiedTime", "customizationType")
        summary: dict[str, Any] = {k: job[k] for k in keys if k in job}
        summary["customModelName"] = job["outputModelName"]
        if job.get("outputModelArn"):
            summary["customModelArn"] = job["outputModelArn"]
        if job.get("endTime"):
            summary["endTime"] = job["endTime"]
        return summary

    @route("POST", _JOBS + r"/(?P<ident>.+)/stop")
    def stop(self, request: httpx2.Request, ident: str) -> httpx2.Response:
        job = self._find(ident)
        if job is None:
            return self._error(404, f"Model customization job {ident} not found")
        if job["status"] != "InProgress":
            return self._error(400, f"Job {ident} is {job['status']} and cannot be stopped")
        self._set(job, "Stopping")
        return self.json(200, {})

    @route("GET", r"/custom-models/(?P<ident>.+)")
    def get_custom_model(self, request: httpx2.Request, ident: str) -> httpx2.Response:
        model = self.custom_models.get(ident) or next(
            (m for m in self.custom_models.values() if m["modelName"] == ident), None)
        if model is None:
            return self._error(404, f"Custom model {ident} not found")
        return self.json(200, model)

    # -- S3 (path style) ------------------------------------------------------------------
    @route("PUT", r"/(?P<bucket>[^/]+)/(?P<key>.+)")
    def s3_put_object(self, request: httpx2.Request, bucket: str, key: str) -> httpx2.Response:
        if bucket not in self.buckets:
            xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchBucket</Code>"
                   f"<Message>The specified bucket does not exist</Message><BucketName>{bucket}"
                   "</BucketName><RequestId>req-mock</RequestId></Error>")
            return httpx2.Response(404, content=xml.encode(),
                                   headers={"content-type": "application/xml"})
        self.objects[f"s3://{bucket}/{key}"] = bytes(request.content)
        return httpx2.Response(200, headers={"ETag": '"mock-etag"', "x-amz-request-id": "req"})

    # -- state ----------------------------------------------------------------------------
    def _set(self, job: dict[str, Any], status: str, *, training: bool = False) -> None:
        job["status"] = status
        job["lastModifiedTime"] = _now()
        details = job["statusDetails"]
        if status == "InProgress":
            details["validationDetails"]["status"] = "Completed"
            details["dataProcessingDetails"]["status"] = "Completed"
            details["trainingDetails"]["status"] = "InProgress" if training else "NotStarted"
            return
        job["endTime"] = _now()
        if status == "Completed":
            for step in _STEPS:
                details[step]["status"] = "Completed"
            base = job["baseModelArn"].rsplit("foundation-model/", 1)[-1]
            arn = self._arn("custom-model", base)
            job["outputModelArn"] = arn
            job["trainingMetrics"] = {"trainingLoss": 0.42}
            if job["validationDataConfig"].get("validators"):
                job["validationMetrics"] = [{"validationLoss": 0.51}]
            self.custom_models[arn] = {"modelArn": arn, "modelName": job["outputModelName"],
                                       "jobArn": job["jobArn"], "modelStatus": "Active",
                                       "baseModelArn": job["baseModelArn"],
                                       "creationTime": _now()}
        elif status in ("Stopping", "Stopped", "Failed"):
            for step in _STEPS:
                if details[step]["status"] == "InProgress":
                    details[step]["status"] = status if status != "Failed" else "Failed"
            if status == "Stopping":
                job.pop("endTime", None)

    def _job(self, job_id: str) -> dict[str, Any]:
        job = self._find(job_id)
        if job is None:
            raise KeyError(job_id)
        return job

    def advance(self, job_id: str, status: JobStatus) -> None:
        raw = {JobStatus.VALIDATING: None, JobStatus.QUEUED: None,
               JobStatus.RUNNING: "InProgress", JobStatus.SUCCEEDED: "Completed",
               JobStatus.FAILED: "Failed", JobStatus.CANCELLED: "Stopped"}
        if status not in raw:
            raise ValueError(f"Bedrock jobs have no {status.value} state")
        with self.lock:
            job, state = self._job(job_id), raw[status]
            if state is None:  # back to validating
                job["status"] = "InProgress"
                job["statusDetails"] = {s: {"status": "NotStarted"} for s in _STEPS}
                job["statusDetails"]["validationDetails"]["status"] = "InProgress"
            else:
                self._set(job, state, training=True)

    def fail_job(self, job_id: str, message: str) -> None:
        with self.lock:
            job = self._job(job_id)
            self._set(job, "Failed")
            job["failureMessage"] = message

    def set_raw_status(self, job_id: str, raw: str) -> None:
        with self.lock:
            self._job(job_id)["status"] = raw

    def seed_jobs(self, count: int) -> None:
        with self.lock:
            for i in range(count):
                base = "amazon.nova-micro-v1:0:128k"
                arn = self._arn("model-customization-job", base)
                self.jobs[arn] = {
                    "jobArn": arn, "jobName": f"seeded-{i}-{self._next}",
                    "outputModelName": f"seeded-{i}-{self._next}", "status": "Completed",
                    "statusDetails": {s: {"status": "Completed"} for s in _STEPS},
                    "creationTime": _now(), "roleArn": self.role_arn,
                    "baseModelArn": f"arn:aws:bedrock:{self.region}::foundation-model/{base}",
                    "trainingDataConfig": {"s3Uri": "s3://seed/train.jsonl"},
                    "validationDataConfig": {"validators": []},
                    "outputDataConfig": {"s3Uri": "s3://seed/out/"}}

    def job_count(self) -> int:
        return len(self.jobs)

    # -- the in-process mount for boto3 ---------------------------------------------------------
    def session(self, *, region: str | None = None, access_key: str = "AKIDMOCKEXAMPLE",
                secret_key: str = "mock-secret-key", token: str | None = None) -> Any:
        """A ``boto3.Session`` whose clients are answered by :meth:`handle`, in process."""
        import boto3

        session = boto3.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                aws_session_token=token, region_name=region or self.region)
        session.events.register("before-send", self._botocore_send)
        return session

    def _botocore_send(self, request: Any, **_: Any) -> Any:
        """botocore ``AWSPreparedRequest`` -> :meth:`handle` -> ``AWSResponse``; transport
        faults become botocore's own exceptions (connect refused / read timeout)."""
        from botocore import exceptions as bx
        from botocore.awsrequest import AWSResponse

        body = request.body
        if hasattr(body, "read"):
            position = body.tell()
            content = body.read()
            body.seek(position)
        else:
            content = body if isinstance(body, bytes) else (body or "").encode()
        headers = {k: v.decode() if isinstance(v, bytes) else str(v)
                   for k, v in request.headers.items()}
        outgoing = httpx2.Request(request.method, request.url, headers=headers, content=content)
        try:
            response = self.handle(outgoing)
        except httpx2.ConnectError:
            raise bx.EndpointConnectionError(endpoint_url=request.url) from None
        except httpx2.TransportError as exc:
            raise bx.ReadTimeoutError(endpoint_url=request.url, error=str(exc)) from None
        payload = response.read()

        class _Raw:
            def stream(self, *args: Any, **kwargs: Any) -> Any:
                yield payload

        return AWSResponse(request.url, response.status_code, dict(response.headers), _Raw())
