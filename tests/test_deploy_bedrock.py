"""Bedrock custom model deployments against the mock (boto3 in process): deploy -> wait_ready ->
converse -> undeploy, the clientRequestToken that makes a resent create the same deployment,
a dropped create, and a custom model that is refused until deployed."""

from __future__ import annotations

import pytest
from test_bedrock_conformance import BUCKET, make_provider, no_ambient_aws  # noqa: F401

from finetune_sdk import Client
from finetune_sdk.deployments import DeploymentStatus
from finetune_sdk.deployments.store import DeploymentStore
from finetune_sdk.errors import BadRequestError
from finetune_sdk.inference import chat
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl
from finetune_sdk.testing.mock_servers.bedrock import BedrockMockServer
from finetune_sdk.types import JobSpec, JobStatus

NOVA = "amazon.nova-micro-v1:0:128k"
CREATE = r"^POST /model-customization/custom-model-deployments$"


@pytest.fixture
def mock() -> BedrockMockServer:
    return BedrockMockServer()


@pytest.fixture
def client(mock, tmp_path) -> Client:
    provider = make_provider(mock, SENTINEL_SECRET, RetryPolicy(max_attempts=3,
                                                                sleep=lambda s: None))
    return Client(provider, ledger=tmp_path / "ledger.sqlite3")


@pytest.fixture
def model(client, mock, tmp_path):
    provider = client.provider
    ref = provider.upload_dataset(write_chat_jsonl(tmp_path / "t.jsonl", 40))
    job = provider.create_job(JobSpec(base_model=NOVA, training_file=ref, output_name="coach"))
    mock.advance(job.id, JobStatus.SUCCEEDED)
    return client.models.resolve(provider.get_job(job.id))


def chat_kwargs(mock) -> dict:
    return dict(region=mock.region, session=mock.session(secret_key=SENTINEL_SECRET),
                endpoint_url=mock.base_url)


def test_deploy_wait_converse_undeploy(client, mock, model) -> None:
    with pytest.raises(BadRequestError, match="not deployed"):
        chat(model, "hi", **chat_kwargs(mock))  # a custom model ARN is not callable on demand
    dep = client.models.deploy(model)
    assert dep.status is DeploymentStatus.CREATING and dep.id.startswith(
        "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/")
    create = mock.body(mock.requests_to("POST", r"custom-model-deployments$")[0])
    assert create["modelArn"] == model.id and create["clientRequestToken"].startswith("ftsdk-")
    assert create["modelDeploymentName"] == create["clientRequestToken"]
    assert dep.price_per_hour is None and "per token" in dep.note
    ready = client.models.wait_ready(dep, poll_interval=0)
    assert ready.ready and ready.endpoint == dep.id and ready.model == model.id
    answer = chat(ready, "How much water?", **chat_kwargs(mock))
    assert answer == f"tuned answer from {create['modelDeploymentName']}: How much water?"
    assert [d.id for d in client.models.list_deployments()] == [dep.id]
    gone = client.models.undeploy(ready, wait=True)
    assert gone.status is DeploymentStatus.DELETED and mock.deployments == {}
    assert DeploymentStore(client.ledger).get(dep.intent_key).status == "deleted"


def test_a_dropped_create_still_makes_one_deployment(client, mock, model) -> None:
    mock.fail_next(timeout=True, after_processing=True, match=CREATE)
    dep = client.models.deploy(model)
    assert len(mock.deployments) == 1 and dep.id in mock.deployments
    assert client.models.deploy(model).id == dep.id and len(mock.deployments) == 1


def test_a_resent_create_carries_the_same_token(client, mock, model) -> None:
    mock.fail_next(500, match=CREATE)  # after the vendor acted? looked up, then resent
    mock.fail_next(503, match=CREATE)
    client.models.deploy(model)
    tokens = {mock.body(r)["clientRequestToken"]
              for r in mock.requests_to("POST", r"custom-model-deployments$")}
    assert len(tokens) == 1 and len(mock.deployments) == 1


def test_credentials_never_reach_the_deployment_or_ledger(client, model) -> None:
    dep = client.models.deploy(model)
    assert SENTINEL_SECRET not in dep.model_dump_json() + repr(
        DeploymentStore(client.ledger).list())
