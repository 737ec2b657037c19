"""Fireworks deployments against the mock: deploy -> wait_ready -> chat -> undeploy, the body
we send (our deploymentId, scale to zero, GPUs), the dated price, and one deployment whatever
happens to the create (dropped answer, a rerun, a 503 storm)."""

from __future__ import annotations

import httpx2
import pytest

from finetune_sdk import Client
from finetune_sdk.deployments import DeploymentStatus
from finetune_sdk.deployments.store import DeploymentStore
from finetune_sdk.errors import ConfigurationError
from finetune_sdk.inference import chat
from finetune_sdk.providers.fireworks.adapter import FireworksProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl
from finetune_sdk.testing.mock_servers.fireworks import FireworksMockServer
from finetune_sdk.types import JobSpec, JobStatus

BASE = "accounts/fireworks/models/gpt-oss-20b"
CREATE = r"^POST /v1/accounts/[^/]+/deployments$"


@pytest.fixture
def mock():
    return FireworksMockServer()


@pytest.fixture
def http(mock):
    return httpx2.Client(transport=mock.transport())


@pytest.fixture
def client(mock, http, tmp_path) -> Client:
    provider = FireworksProvider(SENTINEL_SECRET, account_id=mock.account, base_url=mock.base_url,
                                 http_client=http, dataset_poll_interval=0,
                                 retry=RetryPolicy(max_attempts=3, sleep=lambda s: None))
    return Client(provider, ledger=tmp_path / "ledger.sqlite3")


@pytest.fixture
def model(client, mock, tmp_path):
    provider = client.provider
    ref = provider.upload_dataset(write_chat_jsonl(tmp_path / "t.jsonl", 12))
    job = provider.create_job(JobSpec(base_model=BASE, training_file=ref, output_name="coach"))
    mock.advance(job.id, JobStatus.SUCCEEDED)
    return client.models.resolve(provider.get_job(job.id))


def test_deploy_wait_chat_undeploy(client, mock, http, model) -> None:
    assert not model.ready_for_inference and "finetune deploy" in model.how_to_serve
    with pytest.raises(ConfigurationError, match="not deployed"):
        chat(model, "hi", api_key="k", http_client=http)
    dep = client.models.deploy(model)
    assert dep.status is DeploymentStatus.CREATING
    [create] = mock.requests_to("POST", r"/deployments$")
    assert create.url.params["deploymentId"] == dep.id.rsplit("/", 1)[1]
    body = mock.body(create)
    assert body["baseModel"] == model.id and body["minReplicaCount"] == 0
    assert body["autoscalingPolicy"] == {"scaleToZeroWindow": "3600s"}
    assert dep.hardware == "1x NVIDIA_H100_80GB" and dep.price_per_hour == 8.0
    assert dep.price_date.isoformat() == "2026-10-07" and "scales to zero" in dep.note
    ready = client.models.wait_ready(dep, poll_interval=0)
    assert ready.ready and ready.endpoint == f"{model.id}#{dep.id}"
    answer = chat(ready, "How much water?", api_key=SENTINEL_SECRET, http_client=http)
    assert answer.startswith("tuned answer from " + dep.id)
    assert [d.id for d in client.models.list_deployments()] == [dep.id]
    gone = client.models.undeploy(ready, wait=True)
    assert gone.status is DeploymentStatus.DELETED and mock.deployment_count() == 0
    row = DeploymentStore(client.ledger).get(dep.intent_key)
    assert row.status == "deleted" and row.deleted_at
    with pytest.raises(Exception, match="not deployed"):
        chat(ready, "still there?", api_key=SENTINEL_SECRET, http_client=http)


def test_two_gpus_cost_twice_and_options_travel(client, mock, model) -> None:
    dep = client.models.deploy(model, hardware="NVIDIA_H200_141GB", accelerator_count=2,
                               min_replicas=1, max_replicas=3, region="US_IOWA_1")
    body = mock.body(mock.requests_to("POST", r"/deployments$")[0])
    assert body["acceleratorCount"] == 2 and body["maxReplicaCount"] == 3
    assert body["placement"] == {"region": "US_IOWA_1"}
    assert dep.price_per_hour == 16.0 and "always on" in dep.note


def test_a_dropped_create_still_makes_one_deployment(client, mock, model) -> None:
    mock.fail_next(timeout=True, after_processing=True, match=CREATE)
    dep = client.models.deploy(model)
    assert mock.deployment_count() == 1
    assert client.models.deploy(model).id == dep.id and mock.deployment_count() == 1
    assert client.models.wait_ready(dep, poll_interval=0).ready


def test_a_resend_after_a_lost_answer_reads_the_409_as_the_same_deployment(client, mock, model):
    mock.fail_next(500, match=CREATE)  # ambiguous: looked up (not yet there), then resent
    mock.fail_next(timeout=True, after_processing=True, match=CREATE)
    dep = client.models.deploy(model)
    assert mock.deployment_count() == 1 and dep.intent_key


def test_503_forever_gives_up_after_the_policy_and_makes_nothing(client, mock, model) -> None:
    mock.fail_next(503, times=10, match=CREATE)
    with pytest.raises(Exception, match="503|injected"):
        client.models.deploy(model)
    assert len(mock.requests_to("POST", r"/deployments$")) == 3 and mock.deployment_count() == 0
    [row] = DeploymentStore(client.ledger).list()
    assert row.status == "create_failed"


def test_no_secret_in_the_deployment_or_the_ledger(client, model) -> None:
    dep = client.models.deploy(model)
    store = DeploymentStore(client.ledger)
    assert SENTINEL_SECRET not in repr(dep) + dep.model_dump_json()
    assert SENTINEL_SECRET not in repr(store.list())
