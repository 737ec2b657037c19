"""Fireworks adapter behaviour beyond the conformance suite: dataset upload paths (small,
signed URL, 409 reuse), idempotent job create, state map, progress, deployments, errors and
secrets, and the no-duplicate-job rule over real sockets."""

from __future__ import annotations

import json
import logging

import httpx2
import pytest

from finetune_sdk.errors import (
    ConfigurationError,
    ConflictError,
    DatasetError,
    InternalServerError,
    RateLimitError,
    UnsupportedFeatureError,
)
from finetune_sdk.lifecycle import create_job
from finetune_sdk.providers.fireworks import mapping
from finetune_sdk.providers.fireworks.adapter import FireworksProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl
from finetune_sdk.testing.mock_servers.fireworks import FireworksMockServer
from finetune_sdk.types import Hyperparameters, JobSpec, JobStatus

BASE = "accounts/fireworks/models/gpt-oss-20b"


@pytest.fixture
def mock():
    return FireworksMockServer()


@pytest.fixture
def sleeps():
    return []


def make(mock, sleeps=None, **overrides):
    kwargs = dict(
        api_key=SENTINEL_SECRET,
        account_id=mock.account,
        base_url=mock.base_url,
        http_client=httpx2.Client(transport=mock.transport()),
        retry=RetryPolicy(max_attempts=3, sleep=(sleeps if sleeps is not None else []).append),
        dataset_poll_interval=0,
    )
    kwargs.update(overrides)
    return FireworksProvider(**kwargs)


@pytest.fixture
def provider(mock, sleeps):
    return make(mock, sleeps)


@pytest.fixture
def train(tmp_path):
    return write_chat_jsonl(tmp_path / "train.jsonl", 12)


# -- datasets -----------------------------------------------------------------------------
def test_small_file_uses_upload_and_waits_until_ready(provider, mock, train):
    ref = provider.upload_dataset(train)
    assert (
        ref.id
        == f"accounts/mock-account/datasets/{mapping.dataset_id_for(mock.dataset_bytes[ref.id])}"
    )
    assert mock.datasets[ref.id]["state"] == "READY" and ref.num_examples == 12
    assert len(mock.requests_to("POST", r":upload$")) == 1
    assert not mock.requests_to("POST", r":getUploadEndpoint$")
    assert len(mock.requests_to("GET", r"/datasets/ftsdk-[0-9a-f]+$")) >= 2  # UPLOADING, READY
    create = json.loads(mock.requests_to("POST", r"/datasets$")[0].content)
    assert create["dataset"] == {"userUploaded": {}, "exampleCount": "12", "format": "CHAT"}


def test_large_file_goes_through_a_signed_url_without_auth(mock, train):
    provider = make(mock, single_upload_limit=100)
    ref = provider.upload_dataset(train)
    assert not mock.requests_to("POST", r":upload$")
    ask = json.loads(mock.requests_to("POST", r":getUploadEndpoint$")[0].content)
    assert ask == {"filenameToSize": {"train.jsonl": str(ref.bytes)}}
    (put,) = mock.requests_to("PUT", r"^/signed-upload/")
    assert "authorization" not in put.headers
    assert put.headers["x-goog-content-length-range"] == f"{ref.bytes},{ref.bytes}"
    assert put.headers["content-type"] == "application/octet-stream"
    assert len(mock.requests_to("POST", r":validateUpload$")) == 1
    assert len(mock.dataset_bytes[ref.id]) == ref.bytes
    assert mock.datasets[ref.id]["state"] == "READY"


def test_the_signed_url_refuses_an_auth_header(mock):
    """The mock really checks what the adapter test relies on."""
    mock.datasets["accounts/mock-account/datasets/d"] = {"name": "accounts/mock-account/datasets/d"}
    client = httpx2.Client(transport=mock.transport())
    answer = client.post(
        f"{mock.base_url}/v1/accounts/mock-account/datasets/d:getUploadEndpoint",
        json={"filenameToSize": {"f.jsonl": "3"}},
        headers={"Authorization": "Bearer k"},
    ).json()
    url = answer["filenameToSignedUrls"]["f.jsonl"]
    headers = {"Content-Type": "application/octet-stream", "X-Goog-Content-Length-Range": "3,3"}
    denied = client.put(url, content=b"abc", headers={**headers, "Authorization": "Bearer k"})
    assert denied.status_code == 403
    assert client.put(url, content=b"abc", headers=headers).status_code == 200


def test_rerun_reuses_the_ready_dataset_after_409(provider, mock, train):
    first = provider.upload_dataset(train)
    second = provider.upload_dataset(train)
    assert second.id == first.id and len(mock.datasets) == 1
    assert len(mock.requests_to("POST", r"/datasets$")) == 2  # the second got 409 ALREADY_EXISTS
    assert len(mock.requests_to("POST", r":upload$")) == 1  # ...and uploaded nothing


def test_a_half_uploaded_dataset_is_uploaded_again(provider, mock, train):
    mock.fail_next(500, match=r":upload$", times=3)
    with pytest.raises(InternalServerError):
        provider.upload_dataset(train)
    ref = provider.upload_dataset(train)  # 409 -> UPLOADING -> upload again
    assert mock.datasets[ref.id]["state"] == "READY"


def test_a_dataset_fireworks_rejects_is_a_dataset_error(provider, mock, train):
    mock.dataset_rejection = "line 2: unsupported role 'narrator'"
    with pytest.raises(DatasetError, match="rejected dataset ftsdk-.*unsupported role"):
        provider.upload_dataset(train)


def test_too_few_examples_are_refused_before_upload(provider, mock, tmp_path):
    with pytest.raises(DatasetError, match="at least 3"):
        provider.upload_dataset(write_chat_jsonl(tmp_path / "two.jsonl", 2))
    assert not mock.requests


# -- jobs ---------------------------------------------------------------------------------
def full_spec(ref, **fields):
    return JobSpec(
        base_model=BASE,
        training_file=ref,
        validation_file=ref,
        output_name="health-chat",
        hyperparameters=Hyperparameters(
            epochs=2, learning_rate=1e-4, lora_rank=16, batch_size=8, max_seq_length=4096
        ),
        options={"batch_size_tokens": 32768, "early_stop": True},
        **fields,
    )


def test_create_body_and_client_chosen_id(provider, mock, train):
    ref = provider.upload_dataset(train)
    spec = full_spec(ref)
    provider.preflight(spec)
    job = provider.create_job(spec)
    (sent,) = mock.requests_to("POST", r"/supervisedFineTuningJobs$")
    assert (
        sent.url.params["supervisedFineTuningJobId"]
        == mapping.job_id_for(spec.client_ref)
        == job.id
    )
    body = json.loads(sent.content)
    assert body == {
        "baseModel": BASE,
        "dataset": ref.id,
        "evaluationDataset": ref.id,
        "displayName": "health-chat",
        "outputModel": "health-chat",
        "epochs": 2,
        "learningRate": 1e-4,
        "loraRank": 16,
        "maxContextLength": 4096,
        "batchSizeSamples": 8,
        "batchSize": 32768,
        "earlyStop": True,
    }
    assert job.client_ref == spec.client_ref and job.status is JobStatus.QUEUED


def test_repeated_create_gets_409_and_returns_the_same_job(provider, mock, train, sleeps):
    spec = full_spec(provider.upload_dataset(train))
    first = provider.create_job(spec)
    again = provider.create_job(spec)
    assert again.id == first.id and mock.job_count() == 1
    assert sleeps == []  # 409 means "exists": fetched, never retried


def test_409_is_not_retryable():
    assert not RetryPolicy().is_retryable(ConflictError("exists"), idempotent=True)


def test_429_on_create_is_retried_with_retry_after(provider, mock, train, sleeps):
    spec = full_spec(provider.upload_dataset(train))
    mock.fail_next(429, retry_after=3, match=r"^POST .*/supervisedFineTuningJobs$")
    job = create_job(provider, spec)  # the lifecycle owns the retry; the adapter sends once
    assert sleeps == [3.0] and mock.job_count() == 1 and job.id


def test_rate_limit_error_keeps_the_vendor_message(provider, mock):
    mock.fail_next(
        429,
        times=5,
        body={"code": "RESOURCE_EXHAUSTED", "message": "account quota of 6000 RPM exceeded"},
    )
    with pytest.raises(RateLimitError, match="6000 RPM") as info:
        provider.get_job("some-job")
    assert info.value.request_id == "req_mock_fault"
    assert info.value.provider_code == "RESOURCE_EXHAUSTED"


@pytest.mark.parametrize(
    "ref, expected",
    [
        ("ftsdk-0123abcd", "ftsdk-0123abcd"),
        ("My_Run", "my-run"),
        ("42-run", "j-42-run"),
    ],
)
def test_job_ids_follow_the_fireworks_pattern(ref, expected):
    assert mapping.job_id_for(ref) == expected


def test_every_documented_state_is_mapped():
    documented = (
        "JOB_STATE_UNSPECIFIED JOB_STATE_CREATING JOB_STATE_RUNNING JOB_STATE_COMPLETED "
        "JOB_STATE_FAILED JOB_STATE_CANCELLED JOB_STATE_DELETING JOB_STATE_WRITING_RESULTS "
        "JOB_STATE_VALIDATING JOB_STATE_DELETING_CLEANING_UP JOB_STATE_PENDING JOB_STATE_EXPIRED "
        "JOB_STATE_RE_QUEUEING JOB_STATE_CREATING_INPUT_DATASET JOB_STATE_IDLE "
        "JOB_STATE_CANCELLING JOB_STATE_EARLY_STOPPED JOB_STATE_PAUSED"
    ).split()
    assert set(documented) == set(mapping.STATUS_MAP)
    assert mapping.STATUS_MAP["JOB_STATE_EARLY_STOPPED"] is JobStatus.SUCCEEDED
    assert mapping.STATUS_MAP["JOB_STATE_EXPIRED"].is_terminal
    assert not mapping.STATUS_MAP["JOB_STATE_CANCELLING"].is_terminal


def test_progress_and_tokens(provider, mock, train):
    job = provider.create_job(full_spec(provider.upload_dataset(train)))
    mock.advance(job.id, JobStatus.RUNNING)
    running = provider.get_job(job.id)
    assert running.progress == pytest.approx(0.4) and running.trained_tokens == 2048
    mock.set_raw_status(job.id, "JOB_STATE_EARLY_STOPPED")
    assert provider.get_job(job.id).status is JobStatus.SUCCEEDED


def test_resume_a_paused_job(provider, mock, train):
    job = provider.create_job(full_spec(provider.upload_dataset(train)))
    mock.advance(job.id, JobStatus.PAUSED)
    assert provider.get_job(job.id).status is JobStatus.PAUSED
    assert provider.resume_job(job.id).status is JobStatus.RUNNING
    with pytest.raises(UnsupportedFeatureError, match="fireworks"):
        provider.pause_job(job.id)


def test_model_needs_a_deployment_and_deploy_makes_it_servable(provider, mock, train):
    job = provider.create_job(full_spec(provider.upload_dataset(train)))
    mock.advance(job.id, JobStatus.SUCCEEDED)
    model = provider.resolve_model(provider.get_job(job.id))
    assert model.id == "accounts/mock-account/models/health-chat"
    assert model.needs_deployment and not model.ready_for_inference
    assert "deploy" in model.how_to_serve
    from finetune_sdk.deployments import DeploymentSpec

    served = provider.deploy(model, DeploymentSpec(name="d1"))  # the create, once
    assert served.endpoint == model.id + "#accounts/mock-account/deployments/d1"
    reads = [provider.get_deployment(served.id).status.value for _ in range(2)]
    assert reads == ["creating", "ready"]  # one read each: the lifecycle does the waiting


def test_events_and_metrics_are_unsupported(provider):
    with pytest.raises(UnsupportedFeatureError, match="fireworks does not support events"):
        provider.list_events("x")
    with pytest.raises(UnsupportedFeatureError):
        provider.get_metrics("x")


# -- credentials and secrets --------------------------------------------------------------
def test_missing_key_or_account_is_a_configuration_error(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("FIREWORKS_API_KEY", "FIREWORKS_ACCOUNT_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="FIREWORKS_API_KEY"):
        FireworksProvider()
    with pytest.raises(ConfigurationError, match="FIREWORKS_ACCOUNT_ID"):
        FireworksProvider("key")
    monkeypatch.setenv("FIREWORKS_API_KEY", "k")
    monkeypatch.setenv("FIREWORKS_ACCOUNT_ID", "acct")
    monkeypatch.setenv("FIREWORKS_BASE_URL", "https://fw.example")
    provider = FireworksProvider()
    assert provider.account_id == "acct" and provider.base_url == "https://fw.example"


def test_secret_never_in_errors_or_logs(provider, mock, caplog):
    caplog.set_level(logging.DEBUG)
    mock.fail_next(
        401, body={"code": "UNAUTHENTICATED", "message": f"invalid api key {SENTINEL_SECRET}"}
    )
    with pytest.raises(Exception) as info:
        provider.get_job("x")
    assert "invalid api key" in str(info.value)
    assert SENTINEL_SECRET not in str(info.value) and SENTINEL_SECRET not in caplog.text
    assert SENTINEL_SECRET not in repr(provider) and SENTINEL_SECRET not in repr(vars(provider))


def test_httpx2_mock_fixture_intercepts(httpx2_mock, train):
    server = FireworksMockServer()
    server.mount(httpx2_mock)
    provider = FireworksProvider(
        SENTINEL_SECRET,
        account_id=server.account,
        base_url=server.base_url,
        dataset_poll_interval=0,
    )
    job = provider.create_job(full_spec(provider.upload_dataset(train)))
    assert server.job_count() == 1 and provider.get_job(job.id).id == job.id


def test_dropped_create_over_real_sockets_makes_one_job(train):
    server = FireworksMockServer()
    with server.serve() as url:
        provider = FireworksProvider(
            SENTINEL_SECRET,
            account_id=server.account,
            base_url=url,
            timeout=5,
            retry=RetryPolicy(sleep=lambda s: None),
            dataset_poll_interval=0,
            single_upload_limit=100,
        )
        spec = full_spec(provider.upload_dataset(train))  # signed URL over loopback too
        server.fail_next(
            timeout=True, after_processing=True, match=r"^POST .*/supervisedFineTuningJobs$"
        )
        job = create_job(provider, spec)
        assert server.job_count() == 1 and job.client_ref == spec.client_ref
        # resent with the same id -> 409 -> fetched: two POSTs, one job
        assert len(server.requests_to("POST", r"/supervisedFineTuningJobs$")) == 2
        provider.close()


def test_labels_are_not_dropped_silently(provider):
    from finetune_sdk.provider import PreflightWarning

    spec = JobSpec(base_model=BASE, training_file="d", labels={"app": "coach"})
    with pytest.warns(PreflightWarning, match="no labels; \\['app'\\] stay in the local ledger"):
        provider.preflight(spec)
