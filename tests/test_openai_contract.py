"""Contract tests: what the OpenAI adapter sends, and what the OpenAI mock answers, match the
published OpenAPI spec (tests/specs/openai-fine-tuning.openapi.json, MIT, openai/openai-openapi).

One flow drives every files / uploads / fine-tuning route through the real SDK; each request body
is validated against its operation's request schema and each response against its 200 schema.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import httpx2
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from finetune_sdk.providers.openai.adapter import OpenAIProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl
from finetune_sdk.testing.mock_servers.openai import OpenAIMockServer, parse_multipart
from finetune_sdk.types import Hyperparameters, JobSpec, JobStatus

SPEC_PATH = Path(__file__).parent / "specs" / "openai-fine-tuning.openapi.json"


def _openapi30_bounds(node: Any) -> Any:
    """The spec mixes OpenAPI 3.0 boolean ``exclusiveMinimum: true`` into a 3.1 document; read it
    as 3.0 meant it (exclusive bound = ``minimum``) instead of as the number 1."""
    if isinstance(node, dict):
        node = {k: _openapi30_bounds(v) for k, v in node.items()}
        for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
            if node.get(exclusive) is True and bound in node:
                node[exclusive] = node.pop(bound)
            elif node.get(exclusive) is False:
                node.pop(exclusive)
        return node
    if isinstance(node, list):
        return [_openapi30_bounds(v) for v in node]
    return node


SPEC = _openapi30_bounds(json.loads(SPEC_PATH.read_text()))
REGISTRY = Registry().with_resource(
    "urn:openai", Resource.from_contents(SPEC, default_specification=DRAFT202012)
)

pytestmark = pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")


def _operation(method: str, path: str) -> dict[str, Any]:
    """The spec operation for a request path like /v1/fine_tuning/jobs/ftjob-1/events."""
    local = path.removeprefix("/v1")
    for template, operations in SPEC["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$"
        if re.match(pattern, local) and method.lower() in operations:
            return operations[method.lower()]
    raise AssertionError(f"{method} {path} is not an operation of the spec")


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    ref = schema.get("$ref")
    root = {"$ref": "urn:openai" + ref} if ref else schema
    return Draft202012Validator(root, registry=REGISTRY)


def _errors(schema: dict[str, Any], instance: Any) -> list[str]:
    return [
        f"{list(e.absolute_path)}: {e.message}" for e in _validator(schema).iter_errors(instance)
    ]


def check_request(request: httpx2.Request) -> None:
    op = _operation(request.method, request.url.path)
    body_spec = op.get("requestBody")
    if body_spec is None:
        assert not request.content, f"{request.method} {request.url.path} sends no body"
        return
    content = body_spec["content"]
    if "multipart/form-data" in content:
        form = parse_multipart(request)
        instance: Any = {
            name: (value.decode() if filename is None else "<binary>")
            for name, (filename, value) in form.items()
        }
        schema = content["multipart/form-data"]["schema"]
    else:
        instance = json.loads(request.content)
        schema = content["application/json"]["schema"]
    errors = _errors(schema, instance)
    assert not errors, f"{request.method} {request.url.path} request: {errors}"


def check_response(request: httpx2.Request, response: httpx2.Response) -> None:
    if response.status_code != 200:
        return
    op = _operation(request.method, request.url.path)
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    body = json.loads(response.content)
    if op["operationId"] in {"pauseFineTuningJob"}:
        # The one known deviation: the spec has /pause but no "paused" status value.
        assert body["status"] == "paused"
        body = {**body, "status": "running"}
    errors = _errors(schema, body)
    assert not errors, f"{request.method} {request.url.path} response: {errors}"


class ContractRecorder:
    """Wraps the mock's handler: every exchange is validated against the spec."""

    def __init__(self, mock: OpenAIMockServer) -> None:
        self.mock = mock
        self.checked: list[str] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        response = self.mock.handle(request)
        request.read()
        check_request(request)
        response.read()
        check_response(request, response)
        self.checked.append(_operation(request.method, request.url.path)["operationId"])
        return response


@pytest.fixture
def recorder() -> ContractRecorder:
    return ContractRecorder(OpenAIMockServer())


@pytest.fixture
def provider(recorder: ContractRecorder) -> OpenAIProvider:
    return OpenAIProvider(
        api_key=SENTINEL_SECRET,
        base_url=recorder.mock.base_url,
        http_client=httpx2.Client(transport=httpx2.MockTransport(recorder.handle)),
        retry=RetryPolicy(max_attempts=2, sleep=lambda s: None),
        single_upload_limit=4096,
        upload_part_size=1024,
        file_poll_interval=0,
        today=lambda: date(2026, 11, 23),
    )


def _preference_file(path: Path, count: int = 12) -> Path:
    with path.open("w") as handle:
        for i in range(count):
            handle.write(
                json.dumps(
                    {
                        "input": {
                            "messages": [{"role": "user", "content": f"Is {i} glasses enough?"}]
                        },
                        "preferred_output": [{"role": "assistant", "content": "Usually, yes."}],
                        "non_preferred_output": [{"role": "assistant", "content": "Never."}],
                    }
                )
                + "\n"
            )
    return path


def test_every_exchange_matches_the_spec(provider, recorder, tmp_path):
    small = provider.upload_dataset(write_chat_jsonl(tmp_path / "small.jsonl", 12))
    big = provider.upload_dataset(write_chat_jsonl(tmp_path / "big.jsonl", 60))  # chunked
    assert big.bytes and big.bytes > 4096
    spec = JobSpec(
        base_model="gpt-4o-mini-2024-07-18",
        training_file=big,
        validation_file=small,
        output_name="contract",
        labels={"app": "hydration"},
        hyperparameters=Hyperparameters(
            epochs=3, batch_size=8, learning_rate_multiplier=0.5, seed=7
        ),
    )
    provider.preflight(spec)
    job = provider.create_job(spec)
    recorder.mock.advance(job.id, JobStatus.RUNNING)
    provider.pause_job(job.id)
    provider.resume_job(job.id)
    assert provider.find_job(spec.client_ref).id == job.id
    recorder.mock.advance(job.id, JobStatus.SUCCEEDED)
    assert list(provider.list_events(job.id))
    assert provider.list_checkpoints(job.id)
    assert list(provider.list_jobs())
    dpo_data = provider.upload_dataset(_preference_file(tmp_path / "pref.jsonl"))
    dpo = provider.create_job(
        JobSpec(
            base_model="gpt-4.1-mini-2025-04-14",
            training_file=dpo_data,
            method="dpo",
            hyperparameters=Hyperparameters(beta=0.1, epochs=2),
        )
    )
    provider.cancel_job(dpo.id)
    recorder.mock.seed_jobs(3)
    failed = provider.create_job(JobSpec(base_model="gpt-4o-mini-2024-07-18", training_file=small))
    recorder.mock.fail_job(failed.id, "line 3 is empty")
    assert provider.get_job(failed.id).error is not None
    covered = set(recorder.checked)
    assert covered >= {
        "createFile",
        "retrieveFile",
        "createUpload",
        "addUploadPart",
        "completeUpload",
        "createFineTuningJob",
        "retrieveFineTuningJob",
        "listPaginatedFineTuningJobs",
        "cancelFineTuningJob",
        "pauseFineTuningJob",
        "resumeFineTuningJob",
        "listFineTuningEvents",
        "listFineTuningJobCheckpoints",
    }, covered


def test_the_validator_catches_a_bad_create_body():
    op = _operation("POST", "/v1/fine_tuning/jobs")
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    bad = {
        "model": "gpt-4o-mini",
        "training_file": "file-1",
        "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 99}}},
    }
    assert _errors(schema, bad)
    assert not _errors(schema, {"model": "gpt-4o-mini", "training_file": "file-1"})


def test_the_validator_catches_a_bad_job_response():
    schema = _operation("GET", "/v1/fine_tuning/jobs/ftjob-1")["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    assert _errors(schema, {"id": "ftjob-1", "object": "fine_tuning.job"})
