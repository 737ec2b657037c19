"""Vertex: deploy reports the endpoint the tuning job created (nothing sent), wait_ready is at
once, chat goes to that endpoint, and undeploy removes it (undeployModel, then DELETE), after
which the endpoint no longer answers."""

from __future__ import annotations

import httpx2
import pytest
from test_gemini_conformance import make_provider

from finetune_sdk import Client
from finetune_sdk.deployments import DeploymentStatus
from finetune_sdk.deployments.store import DeploymentStore
from finetune_sdk.errors import NotFoundError
from finetune_sdk.inference import chat
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl
from finetune_sdk.testing.mock_servers.vertex import VertexMockServer
from finetune_sdk.types import JobSpec, JobStatus


@pytest.fixture
def mock() -> VertexMockServer:
    return VertexMockServer()


@pytest.fixture
def client(mock, tmp_path) -> Client:
    provider = make_provider(mock, SENTINEL_SECRET, RetryPolicy(max_attempts=3,
                                                                sleep=lambda s: None))
    return Client(provider, ledger=tmp_path / "ledger.sqlite3")


@pytest.fixture
def model(client, mock, tmp_path):
    provider = client.provider
    ref = provider.upload_dataset(write_chat_jsonl(tmp_path / "t.jsonl"))
    job = provider.create_job(JobSpec(base_model="gemini-3.5-flash", training_file=ref))
    mock.advance(job.id, JobStatus.SUCCEEDED)
    return client.models.resolve(provider.get_job(job.id))


def vertex_chat(dep, mock, question):
    return chat(dep, question, access_token=SENTINEL_SECRET, base_url=mock.base_url,
                http_client=httpx2.Client(transport=mock.transport()))


def test_deploy_reports_the_endpoint_chat_then_undeploy(client, mock, model) -> None:
    sent = len(mock.requests)
    dep = client.models.deploy(model)
    assert len(mock.requests) == sent  # the tuning job made the endpoint: nothing to create
    assert dep.ready and dep.id == model.endpoint and "billed per token" in dep.note
    assert client.models.wait_ready(dep).ready
    assert client.models.deploy(model).id == dep.id  # one row, one endpoint
    [row] = DeploymentStore(client.ledger).list(live=True)
    assert row.deployment_id == dep.id and row.status == "ready"
    assert "tuned answer" in vertex_chat(dep, mock, "How much water?")
    assert [d.id for d in client.models.list_deployments()] == [dep.id]
    gone = client.models.undeploy(dep, wait=True)
    assert gone.status is DeploymentStatus.DELETED
    assert len(mock.requests_to("POST", r":undeployModel$")) == 1
    assert len(mock.requests_to("DELETE", r"/endpoints/")) == 1
    with pytest.raises(NotFoundError):
        vertex_chat(dep, mock, "still there?")
    assert DeploymentStore(client.ledger).list(live=True) == []
    assert client.models.undeploy(dep.id).status is DeploymentStatus.DELETED  # idempotent
