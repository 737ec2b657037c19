"""Hugging Face Inference Endpoints through huggingface_hub against the mock: deploy ->
wait_ready -> chat on the endpoint URL -> pause/resume -> undeploy, the vendor's own price,
scale to zero by default, and one endpoint whatever happens to the create."""

from __future__ import annotations

import huggingface_hub.constants
import pytest

from finetune_sdk import Client
from finetune_sdk.deployments import DeploymentStatus
from finetune_sdk.deployments.store import DeploymentStore
from finetune_sdk.inference import chat
from finetune_sdk.providers.huggingface.adapter import HuggingFaceProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import SENTINEL_SECRET
from finetune_sdk.testing.mock_servers.hf_endpoints import HuggingFaceEndpointsMockServer

REPO = "mock-user/health-coach"
CREATE = r"^POST /v2/endpoint/[^/]+$"


@pytest.fixture
def mock(httpx2_mock, monkeypatch) -> HuggingFaceEndpointsMockServer:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    server = HuggingFaceEndpointsMockServer()
    server.mount(httpx2_mock)
    server.add_model_repo(REPO)  # what a finished job pushed
    return server


@pytest.fixture
def client(mock, tmp_path) -> Client:
    provider = HuggingFaceProvider(SENTINEL_SECRET, namespace=mock.namespace,
                                   endpoint=mock.base_url,
                                   retry=RetryPolicy(max_attempts=3, sleep=lambda s: None))
    return Client(provider, ledger=tmp_path / "ledger.sqlite3")


def test_deploy_wait_chat_pause_resume_undeploy(client, mock) -> None:
    dep = client.models.deploy(REPO)
    assert dep.status is DeploymentStatus.CREATING and dep.id.startswith("mock-user/ftsdk-")
    body = mock.body(mock.requests_to("POST", r"^/v2/endpoint/mock-user$")[0])
    assert body["model"]["repository"] == REPO and body["compute"]["instanceType"] == "nvidia-a10g"
    assert body["compute"]["scaling"] == {"minReplica": 0, "maxReplica": 1,
                                          "scaleToZeroTimeout": 60}
    assert dep.price_per_hour == 1.0 and dep.price_date and "pricePerHour" in dep.price_source
    assert "scales to zero after 60 min" in dep.note
    ready = client.models.wait_ready(dep, poll_interval=0)
    assert ready.ready and ready.endpoint == f"https://{dep.id.split('/')[1]}.endpoints.mock.invalid"
    assert chat(ready, "How much water?", token=SENTINEL_SECRET) == (
        f"tuned answer from {REPO}: How much water?")
    row = DeploymentStore(client.ledger).get(dep.intent_key)
    assert row.price_per_hour == 1.0 and row.endpoint == ready.endpoint  # kept from the deploy
    paused = client.provider.pause_deployment(dep.id)
    assert paused.status is DeploymentStatus.PAUSED
    resumed = client.models.wait_ready(client.provider.resume_deployment(dep.id),
                                       poll_interval=0)
    assert resumed.ready
    assert [d.id for d in client.models.list_deployments()] == [dep.id]
    gone = client.models.undeploy(resumed, wait=True)
    assert gone.status is DeploymentStatus.DELETED and mock.endpoint_count() == 0
    assert DeploymentStore(client.ledger).get(dep.intent_key).status == "deleted"


def test_a_dropped_create_still_makes_one_endpoint(client, mock) -> None:
    mock.fail_next(timeout=True, after_processing=True, match=CREATE)
    dep = client.models.deploy(REPO)
    assert mock.endpoint_count() == 1
    assert client.models.deploy(REPO).id == dep.id and mock.endpoint_count() == 1


def test_a_resend_answered_409_reads_the_endpoint_it_made(client, mock) -> None:
    mock.fail_next(timeout=True, after_processing=True, match=CREATE)  # made, answer lost
    mock.fail_next(500, times=3, match=r"^GET /v2/endpoint/[^/]+/[^/]+$")  # lookup fails too
    dep = client.models.deploy(REPO)
    assert len(mock.requests_to("POST", r"^/v2/endpoint/[^/]+$")) == 2  # resent: 409
    assert mock.endpoint_count() == 1 and dep.status is DeploymentStatus.CREATING


def test_hardware_and_always_on(client, mock) -> None:
    dep = client.models.deploy(REPO, hardware="nvidia-l4", min_replicas=1, max_replicas=2)
    scaling = mock.body(mock.requests_to("POST", r"^/v2/endpoint/")[0])["compute"]["scaling"]
    assert scaling["minReplica"] == 1 and scaling["maxReplica"] == 2
    assert dep.price_per_hour == 0.8 and "always on" in dep.note


def test_the_token_never_reaches_the_deployment_or_ledger(client) -> None:
    dep = client.models.deploy(REPO)
    assert SENTINEL_SECRET not in dep.model_dump_json() + repr(
        DeploymentStore(client.ledger).list())
