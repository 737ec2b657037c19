"""Azure OpenAI deployments through ARM against the mocks (ARM + the resource's data plane):
deploy -> wait_ready -> chat on the deployment name -> undeploy; the Entra token goes only to ARM
and never shows; a dropped PUT is still one deployment; missing settings are named."""

from __future__ import annotations

from datetime import date

import httpx2
import pytest

from finetune_sdk import Client
from finetune_sdk.deployments import DeploymentStatus
from finetune_sdk.deployments.store import DeploymentStore
from finetune_sdk.errors import ConfigurationError, NotFoundError
from finetune_sdk.inference import chat
from finetune_sdk.providers.openai_compatible.adapter import AzureOpenAIProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl
from finetune_sdk.testing.mock_servers.azure_arm import AzureArmMockServer
from finetune_sdk.testing.mock_servers.openai_compatible import OpenAICompatibleMockServer
from finetune_sdk.types import JobSpec, JobStatus

BASE = "gpt-4.1-mini-2025-04-14"
TOKEN = "entra-token-SENTINEL-9d2b"
PUT = r"^PUT /subscriptions/.*/deployments/[^/]+$"


@pytest.fixture(autouse=True)
def no_ambient_azure(monkeypatch):
    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def data():
    return OpenAICompatibleMockServer.azure(resource="contoso")


@pytest.fixture
def arm(data):
    return AzureArmMockServer(data_plane=data)


@pytest.fixture
def http(arm, data):
    return httpx2.Client(transport=arm.transport_with(data))


def make(data, arm, http, **overrides) -> AzureOpenAIProvider:
    kwargs = dict(api_key=SENTINEL_SECRET, base_url=data.base_url, http_client=http,
                  subscription_id=arm.subscription, resource_group=arm.resource_group,
                  resource="contoso", arm_token=TOKEN, file_poll_interval=0,
                  today=lambda: date(2026, 12, 1),
                  retry=RetryPolicy(max_attempts=3, sleep=lambda s: None))
    kwargs.update(overrides)
    return AzureOpenAIProvider(**kwargs)


@pytest.fixture
def client(data, arm, http, tmp_path) -> Client:
    return Client(make(data, arm, http), ledger=tmp_path / "ledger.sqlite3")


@pytest.fixture
def model(client, data, tmp_path):
    provider = client.provider
    ref = provider.upload_dataset(write_chat_jsonl(tmp_path / "t.jsonl", 12))
    job = provider.create_job(JobSpec(base_model=BASE, training_file=ref))
    data.advance(job.id, JobStatus.SUCCEEDED)
    return client.models.resolve(provider.get_job(job.id))


def test_deploy_wait_chat_undeploy(client, data, arm, http, model) -> None:
    with pytest.raises(NotFoundError, match="deployment for this resource does not exist"):
        chat(model, "hi", api_key=SENTINEL_SECRET, http_client=http)
    dep = client.models.deploy(model)
    assert dep.status is DeploymentStatus.CREATING and dep.endpoint == dep.id
    [put] = arm.requests_to("PUT", r"/deployments/")
    assert put.headers["authorization"] == f"Bearer {TOKEN}"
    assert put.url.params["api-version"] == "2024-10-01"
    assert arm.body(put) == {"sku": {"name": "standard", "capacity": 1}, "properties": {
        "model": {"format": "OpenAI", "name": model.id, "version": "1"}}}
    assert not any(TOKEN in str(r.headers) for r in data.requests)  # the data plane never
    assert "billed per hour" in dep.note and dep.price_per_hour is None  # sees the token
    ready = client.models.wait_ready(dep, poll_interval=0)
    assert ready.ready and ready.model == model.id and ready.hardware == "standard x1"
    answer = chat(ready, "How much water?", api_key=SENTINEL_SECRET, http_client=http)
    assert answer == f"tuned answer from {dep.id}: How much water?"
    assert [d.id for d in client.models.list_deployments()] == [dep.id]
    gone = client.models.undeploy(ready, wait=True)
    assert gone.status is DeploymentStatus.DELETED and arm.deployments == {}
    assert data.deployments == {}
    assert DeploymentStore(client.ledger).get(dep.intent_key).status == "deleted"


def test_a_dropped_put_is_still_one_deployment(client, arm, model) -> None:
    arm.fail_next(timeout=True, after_processing=True, match=PUT)
    dep = client.models.deploy(model)
    assert len(arm.deployments) == 1 and client.models.deploy(model).id == dep.id
    assert len(arm.deployments) == 1


def test_the_token_never_shows(client, arm, model, caplog) -> None:
    arm.fail_next(403, match=PUT, body={"error": {"code": "AuthorizationFailed",
                                                  "message": f"token {TOKEN} may not"}})
    with pytest.raises(Exception) as info:
        client.models.deploy(model)
    assert TOKEN not in str(info.value) and TOKEN not in caplog.text
    assert TOKEN not in repr(client.provider) and TOKEN not in repr(
        DeploymentStore(client.ledger).list())


def test_missing_arm_settings_are_named(data, arm, http, model, tmp_path) -> None:
    bare = Client(make(data, arm, http, subscription_id=None, resource_group=None),
                  ledger=False)
    with pytest.raises(ConfigurationError, match="AZURE_SUBSCRIPTION_ID.*AZURE_RESOURCE_GROUP"):
        bare.models.deploy(model)
    no_token = Client(make(data, arm, http, arm_token=None), ledger=False)
    with pytest.raises(ConfigurationError, match="Entra ID token"):
        no_token.models.deploy(model)
