"""OpenAI and Together serve a fine-tune by its id: deploy answers at once ("no deployment
needed"), wait_ready and undeploy have nothing to do, chat works against the mock, and nothing
is written to the ledger or sent to the vendor."""

from __future__ import annotations

from datetime import date

import httpx2

from finetune_sdk import Client
from finetune_sdk.deployments.store import DeploymentStore
from finetune_sdk.inference import chat
from finetune_sdk.providers.openai.adapter import OpenAIProvider
from finetune_sdk.providers.together.adapter import TogetherProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl
from finetune_sdk.testing.mock_servers.openai import OpenAIMockServer
from finetune_sdk.testing.mock_servers.together import TogetherMockServer
from finetune_sdk.types import JobSpec, JobStatus


def finished_model(client, mock, tmp_path, base):
    provider = client.provider
    ref = provider.upload_dataset(write_chat_jsonl(tmp_path / "t.jsonl", 12))
    job = provider.create_job(JobSpec(base_model=base, training_file=ref))
    mock.advance(job.id, JobStatus.SUCCEEDED)
    return client.models.resolve(provider.get_job(job.id))


def check_serverless(client, mock, model, **chat_kwargs) -> None:
    before = len(mock.requests)
    dep = client.models.deploy(model)
    assert dep.serverless and dep.ready and dep.endpoint == model.id
    assert "no deployment needed" in dep.note and dep.accrued_usd() == 0.0
    assert len(mock.requests) == before  # nothing was sent
    assert client.models.wait_ready(dep) is dep
    answer = chat(dep, "How much water?", api_key=SENTINEL_SECRET, **chat_kwargs)
    assert model.id in answer and "How much water?" in answer  # the fine-tune answered
    assert client.models.undeploy(dep) is dep and len(mock.requests) == before + 1
    assert DeploymentStore(client.ledger).list() == []


def test_openai(tmp_path) -> None:
    mock = OpenAIMockServer()
    http = httpx2.Client(transport=mock.transport())
    provider = OpenAIProvider(SENTINEL_SECRET, base_url=mock.base_url, http_client=http,
                              file_poll_interval=0, today=lambda: date(2026, 12, 1),
                              retry=RetryPolicy(sleep=lambda s: None))
    client = Client(provider, ledger=tmp_path / "l.sqlite3")
    model = finished_model(client, mock, tmp_path, "gpt-4.1-mini-2025-04-14")
    check_serverless(client, mock, model, http_client=http)
    assert client.models.list_deployments() == []


def test_together(tmp_path) -> None:
    mock = TogetherMockServer()
    http = httpx2.Client(transport=mock.transport())
    provider = TogetherProvider(SENTINEL_SECRET, base_url=mock.base_url, http_client=http,
                                dataset_poll_interval=0, retry=RetryPolicy(sleep=lambda s: None))
    client = Client(provider, ledger=tmp_path / "l.sqlite3")
    model = finished_model(client, mock, tmp_path,
                           "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference")
    dep = client.models.deploy(model)
    assert "dedicated endpoint" in dep.note  # where the base has no serverless LoRA
    mock.served.add(model.id)  # a base whose LoRA adapters Together serves serverless
    check_serverless(client, mock, model, http_client=http)
    assert client.models.list_deployments() == []

