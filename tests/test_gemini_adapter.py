"""Gemini/Vertex specifics: Vertex-only configuration, adapter-size enum, state map, the create
request google-genai sends, model/metrics mapping, error translation and secret hygiene."""

from __future__ import annotations

import json
import logging

import httpx2
import pytest
from google.genai import types as genai_types
from test_gemini_conformance import make_provider

from finetune_sdk import Client
from finetune_sdk.errors import (
    APIConnectionError,
    AuthenticationError,
    ConfigurationError,
    InternalServerError,
    RateLimitError,
    UnsupportedFeatureError,
)
from finetune_sdk.lifecycle import create_job
from finetune_sdk.provider import PreflightWarning
from finetune_sdk.providers.gemini.adapter import GeminiOptions, GeminiProvider
from finetune_sdk.providers.gemini.mapping import CLIENT_REF_LABEL, STATUS_MAP
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl
from finetune_sdk.testing.mock_servers.vertex import VertexMockServer
from finetune_sdk.types import DatasetRef, Hyperparameters, JobSpec, JobStatus

BASE = "gemini-3.5-flash"


@pytest.fixture
def mock() -> VertexMockServer:
    return VertexMockServer()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def provider(mock, sleeps) -> GeminiProvider:
    return make_provider(mock, SENTINEL_SECRET, RetryPolicy(max_attempts=3, sleep=sleeps.append))


@pytest.fixture
def train(tmp_path):
    return write_chat_jsonl(tmp_path / "train.jsonl")


def start(provider, train):
    """A job created from the sample data (uploaded first)."""
    ref = provider.upload_dataset(train)
    return provider.create_job(JobSpec(base_model=BASE, training_file=ref))


def created_body(mock: VertexMockServer) -> dict:
    [request] = mock.requests_to("POST", r"/tuningJobs$")
    return json.loads(request.content)


# -- Vertex only ----------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["argument", "GOOGLE_API_KEY", "GEMINI_API_KEY"])
def test_api_key_only_fails_fast_with_the_vertex_message(how, monkeypatch, mock):
    kwargs = {}
    if how == "argument":
        kwargs["api_key"] = SENTINEL_SECRET
    else:
        monkeypatch.setenv(how, SENTINEL_SECRET)
    with pytest.raises(ConfigurationError) as info:
        GeminiProvider(**kwargs)
    message = str(info.value)
    for needed in ("Vertex", "Developer API", "cannot tune", "project", "location", "bucket",
                   "application-default", "GOOGLE_CLOUD_PROJECT"):
        assert needed in message
    assert SENTINEL_SECRET not in message
    assert mock.requests == []


def test_api_key_only_fails_in_the_client_before_any_upload(monkeypatch, tmp_path):
    monkeypatch.setenv("GEMINI_API_KEY", SENTINEL_SECRET)
    with pytest.raises(ConfigurationError, match="tuning runs only on Vertex AI"):
        Client("vertex", ledger=False)


def test_no_project_at_all_says_what_to_set():
    with pytest.raises(ConfigurationError, match="no Google Cloud project") as info:
        GeminiProvider()
    assert "GOOGLE_CLOUD_PROJECT" in str(info.value)
    assert "API key alone" not in str(info.value)


def test_environment_configures_project_location_bucket(monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-project")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    monkeypatch.setenv("FINETUNE_SDK_GCS_BUCKET", "gs://env-bucket/some/prefix")
    provider = GeminiProvider(access_token=SENTINEL_SECRET)
    assert (provider.project, provider.location) == ("env-project", "europe-west4")
    assert (provider.bucket, provider.prefix) == ("env-bucket", "some/prefix")


def test_missing_bucket_refuses_upload_before_sending(mock, train):
    provider = make_provider(mock, SENTINEL_SECRET, bucket=None)
    storage = provider._storage_client
    with pytest.raises(ConfigurationError, match="FINETUNE_SDK_GCS_BUCKET"):
        provider.upload_dataset(train)
    assert storage.uploads == [] and mock.requests == []


# -- upload and create ----------------------------------------------------------------------
def test_upload_writes_gemini_format_to_gcs(provider, mock, train):
    ref = provider.upload_dataset(train)
    assert ref.id.startswith("gs://ftsdk-test-bucket/tuning-data/")
    assert ref.id.endswith("-train.jsonl")
    assert ref.num_examples == 12
    lines = mock.objects[ref.id].decode().splitlines()
    first = json.loads(lines[0])
    assert {c["role"] for c in first["contents"]} <= {"user", "model"}
    assert "systemInstruction" in first
    again = provider.upload_dataset(train)
    assert again.id == ref.id  # content-addressed: a re-upload is the same object


def test_transient_gcs_failure_is_retried(provider, mock, train, sleeps):
    provider._storage_client.fail_uploads = 1
    ref = provider.upload_dataset(train)
    assert ref.id in mock.objects and len(sleeps) == 1


def test_create_request_carries_hyperparameters_labels_and_validation(provider, mock, train):
    ref = provider.upload_dataset(train)
    valid = provider.upload_dataset(train, purpose="validation")
    spec = JobSpec(
        base_model=BASE, training_file=ref, validation_file=valid, output_name="period-coach",
        labels={"team": "health"}, client_ref="ftsdk-abc123",
        hyperparameters=Hyperparameters(epochs=3, learning_rate_multiplier=0.5, lora_rank=16),
    )
    provider.preflight(spec)
    job = provider.create_job(spec)
    body = created_body(mock)
    assert body["baseModel"] == BASE
    assert body["tunedModelDisplayName"] == "period-coach"
    assert body["labels"] == {"team": "health", CLIENT_REF_LABEL: "ftsdk-abc123"}
    sft = body["supervisedTuningSpec"]
    assert sft["trainingDatasetUri"] == ref.id and sft["validationDatasetUri"] == valid.id
    assert sft["hyperParameters"] == {
        "epochCount": 3, "learningRateMultiplier": 0.5, "adapterSize": "ADAPTER_SIZE_SIXTEEN"}
    assert job.client_ref == "ftsdk-abc123" and job.status is JobStatus.QUEUED


@pytest.mark.parametrize("setting", [{"lora_rank": 3}, {"lora_rank": 64}, {"adapter_size": 12}])
def test_adapter_size_outside_the_enum_is_refused_before_upload(provider, mock, train, setting):
    hp = {k: v for k, v in setting.items() if k == "lora_rank"}
    options = {k: v for k, v in setting.items() if k == "adapter_size"}
    spec = JobSpec(base_model=BASE, training_file=train,
                   hyperparameters=Hyperparameters(**hp), options=options or None)
    with pytest.raises(UnsupportedFeatureError, match="1, 2, 4, 8, 16, 32"):
        provider.preflight(spec)
    with pytest.raises(UnsupportedFeatureError):
        Client(provider, ledger=False).jobs.create(spec)
    assert mock.requests == [] and mock.objects == {}


def test_learning_rate_rules_follow_the_model_family(provider, train):
    with pytest.raises(UnsupportedFeatureError, match="learning_rate_multiplier for Gemini"):
        provider.preflight(JobSpec(base_model=BASE, training_file=train,
                                   hyperparameters=Hyperparameters(learning_rate=1e-4)))
    with pytest.raises(UnsupportedFeatureError, match="open models"):
        provider.preflight(JobSpec(base_model="meta/llama3_1@llama-3.1-8b", training_file=train,
                                   hyperparameters=Hyperparameters(learning_rate_multiplier=2)))


def test_invalid_vertex_label_is_refused(provider, train):
    with pytest.raises(ConfigurationError, match="not a valid Vertex label"):
        provider.preflight(JobSpec(base_model=BASE, training_file=train, labels={"Team": "x"}))


def test_options_pass_through(provider, mock, train):
    ref = provider.upload_dataset(train)
    spec = JobSpec(base_model=BASE, training_file=ref, options=GeminiOptions(
        adapter_size=4, description="menstrual health coach", export_last_checkpoint_only=False))
    provider.create_job(spec)
    body = created_body(mock)
    assert body["description"] == "menstrual health coach"
    assert body["supervisedTuningSpec"]["hyperParameters"]["adapterSize"] == "ADAPTER_SIZE_FOUR"
    assert body["supervisedTuningSpec"]["exportLastCheckpointOnly"] is False


def test_create_is_sent_once_on_5xx_and_then_found_by_label(provider, mock, train):
    spec = JobSpec(base_model=BASE, training_file=provider.upload_dataset(train))
    mock.fail_next(500, match=r"POST .*/tuningJobs$")
    with pytest.raises(InternalServerError):
        provider.create_job(spec)
    assert len(mock.requests_to("POST", r"/tuningJobs$")) == 1  # google-genai did not resend
    mock.fail_next(timeout=True, after_processing=True, match=r"POST .*/tuningJobs$")
    job = create_job(provider, spec)
    assert mock.job_count() == 1 and job.client_ref == spec.client_ref


def test_client_create_with_ledger_dedupes_after_timeout(provider, mock, train, tmp_path):
    client = Client(provider, ledger=tmp_path / "ledger.db")
    ref = provider.upload_dataset(train)
    mock.fail_next(timeout=True, after_processing=True, match=r"POST .*/tuningJobs$")
    job = client.jobs.create(base_model=BASE, training_file=ref, client_ref="ftsdk-once")
    again = client.jobs.create(base_model=BASE, training_file=ref, client_ref="ftsdk-once")
    assert job.id == again.id and mock.job_count() == 1


# -- states, model, metrics -----------------------------------------------------------------
def test_state_map_covers_every_vertex_job_state():
    for state in genai_types.JobState:
        assert state.value in STATUS_MAP, state
    assert STATUS_MAP["JOB_STATE_CANCELLING"] is JobStatus.RUNNING
    assert STATUS_MAP["JOB_STATE_PAUSED"] is JobStatus.PAUSED
    assert STATUS_MAP["JOB_STATE_UPDATING"] is JobStatus.RUNNING
    assert STATUS_MAP["JOB_STATE_EXPIRED"] is JobStatus.FAILED


def test_quota_wait_is_queued(provider, mock, train):
    job = start(provider, train)
    mock.wait_for_quota(job.id)
    seen = provider.get_job(job.id)
    assert seen.status is JobStatus.QUEUED and seen.provider_status == "JOB_STATE_PENDING"


def test_succeeded_job_resolves_to_the_endpoint_with_metrics(provider, mock, train):
    spec = JobSpec(base_model=BASE, training_file=provider.upload_dataset(train),
                   hyperparameters=Hyperparameters(epochs=3))
    job = provider.create_job(spec)
    mock.advance(job.id, JobStatus.RUNNING)
    running = provider.get_job(job.id)
    assert running.progress == pytest.approx(1 / 3)
    mock.advance(job.id, JobStatus.SUCCEEDED)
    done = provider.get_job(job.id)
    assert done.trained_tokens == 3456
    model = provider.resolve_model(done)
    assert model.id.startswith("projects/mock-project/locations/us-central1/endpoints/")
    assert model.endpoint == model.id and model.ready_for_inference and not model.needs_deployment
    assert "generate_content" in model.how_to_serve
    assert model.provider_details["model"].endswith("@1")
    [point] = provider.get_metrics(job.id)
    assert point.step == 30 and point.epoch == 3
    assert point.extra["tuning_dataset_example_count"] == 12


def test_short_job_id_is_expanded(provider, mock, train):
    job = start(provider, train)
    assert provider.get_job(job.id.rsplit("/", 1)[1]).id == job.id


# -- errors and secrets ---------------------------------------------------------------------
def test_vendor_error_keeps_message_code_and_request_id(provider, mock):
    mock.fail_next(429, body={"error": {"code": 429, "message": "Quota exceeded for tuning jobs",
                                        "status": "RESOURCE_EXHAUSTED"}}, times=5)
    with pytest.raises(RateLimitError) as info:
        list(provider.list_jobs(limit=1))
    err = info.value
    assert "Quota exceeded" in str(err) and err.provider_code == "RESOURCE_EXHAUSTED"
    assert err.request_id == "req_mock_fault"


def test_connect_error_is_connection_error(provider, mock):
    mock.fail_next(timeout=True, times=5)
    with pytest.raises(APIConnectionError):
        provider.get_job("projects/mock-project/locations/us-central1/tuningJobs/1")


def test_secret_never_in_repr_errors_or_logs(provider, mock, train, caplog):
    caplog.set_level(logging.DEBUG)
    job = start(provider, train)
    mock.fail_job(job.id, f"bad token {SENTINEL_SECRET}")
    failed = provider.get_job(job.id)
    expired = {"error": {"code": 401, "message": f"token {SENTINEL_SECRET} expired"}}
    mock.fail_next(401, body=expired)
    with pytest.raises(AuthenticationError) as info:
        provider.get_job(job.id)
    assert SENTINEL_SECRET not in str(info.value)
    assert SENTINEL_SECRET not in repr(provider) and SENTINEL_SECRET not in repr(vars(provider))
    assert SENTINEL_SECRET not in caplog.text
    # Bearer header did carry it (so the test would notice a leak of real traffic)
    assert mock.requests[-1].headers["authorization"] == f"Bearer {SENTINEL_SECRET}"
    assert failed.status is JobStatus.FAILED


def test_httpx2_mock_fixture_also_intercepts(httpx2_mock, train):
    server = VertexMockServer()
    server.mount(httpx2_mock)
    provider = GeminiProvider(project=server.project, location=server.location, bucket="b",
                              access_token="t", base_url=server.base_url,
                              storage_client=server.storage_client(),
                              http_client=httpx2.Client())
    job = start(provider, train)
    assert server.job_count() == 1 and provider.get_job(job.id).id == job.id


def test_real_storage_client_uploads_to_the_mock_over_loopback(mock, train, monkeypatch):
    """The default google-cloud-storage path (it uses requests, so a real socket) end to end."""
    with mock.serve() as url:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
        provider = make_provider(mock, SENTINEL_SECRET, storage_client=None)
        ref = provider.upload_dataset(train)
    assert json.loads(mock.objects[ref.id].decode().splitlines()[0])["contents"]
    job = provider.create_job(JobSpec(base_model=BASE, training_file=ref))
    assert job.status is JobStatus.QUEUED


def test_preference_tuning_sends_beta_in_the_preference_spec(provider, mock):
    uri = "gs://ftsdk-test-bucket/tuning-data/prefs.jsonl"
    mock.objects[uri] = b"{}\n"
    ref = DatasetRef(id=uri, provider="gemini", uri=uri, kind="preference")
    spec = JobSpec(base_model=BASE, training_file=ref, method="dpo",
                   hyperparameters=Hyperparameters(beta=0.2, epochs=1))
    # No tunable Gemini lists DPO since 2.5 retired: preflight warns but still lets it through.
    with pytest.warns(PreflightWarning, match="DPO"):
        provider.preflight(spec)
    job = provider.create_job(spec)
    body = created_body(mock)
    assert "supervisedTuningSpec" not in body
    assert body["preferenceOptimizationSpec"]["hyperParameters"] == {"epochCount": 1, "beta": 0.2}
    assert job.method == "dpo"


def test_local_path_is_refused_by_create(provider):
    spec = JobSpec(base_model=BASE, training_file="train.jsonl")
    with pytest.raises(ConfigurationError, match="gs:// DatasetRef"):
        provider.create_job(spec)


def test_find_job_falls_back_when_vertex_rejects_the_filter(provider, mock, train):
    spec = JobSpec(base_model=BASE, training_file=provider.upload_dataset(train))
    job = provider.create_job(spec)
    mock.seed_jobs(5)
    mock.reject_filters = True
    found = provider.find_job(spec.client_ref)
    assert found is not None and found.id == job.id and found.client_ref == spec.client_ref
    assert provider.find_job("ftsdk-other") is None


def test_extra_body_is_merged_into_the_create_request(provider, mock, train):
    spec = JobSpec(base_model=BASE, training_file=provider.upload_dataset(train),
                   extra_body={"encryptionSpec": {"kmsKeyName": "projects/p/keys/k"}})
    provider.create_job(spec)
    body = created_body(mock)
    assert body["encryptionSpec"] == {"kmsKeyName": "projects/p/keys/k"}
    assert len(mock.requests_to("POST", r"/tuningJobs$")) == 1


def test_dropped_connection_over_a_real_socket_yields_one_job(mock, train):
    """google-genai's own httpx2 client against a loopback server that drops the create."""
    with mock.serve() as url:
        provider = make_provider(mock, SENTINEL_SECRET, RetryPolicy(sleep=lambda s: None),
                                 base_url=url, http_client=None)
        spec = JobSpec(base_model=BASE, training_file=provider.upload_dataset(train))
        mock.fail_next(timeout=True, after_processing=True, match=r"POST .*/tuningJobs$")
        job = create_job(provider, spec)
        provider.close()
    assert mock.job_count() == 1 and job.client_ref == spec.client_ref
    assert len(mock.requests_to("POST", r"/tuningJobs$")) == 1


# -- client-side timeout --------------------------------------------------------------------
def sent_timeouts(mock: VertexMockServer) -> list[dict]:
    """The timeout each tuning request carried into the httpx2 transport."""
    return [r.extensions["timeout"] for r in mock.requests if "/tuningJobs" in r.url.path]


@pytest.mark.parametrize(("timeout", "expected"), [(2.5, 2.5), (0.0001, 0.001), (None, None)])
def test_timeout_reaches_google_genai_requests_on_a_passed_http_client(mock, train, timeout,
                                                                       expected):
    """google-genai takes whole milliseconds and sets them on every request it builds, also on
    a client it was handed; None leaves them unbounded (google-genai's default)."""
    provider = make_provider(mock, SENTINEL_SECRET, timeout=timeout)
    job = start(provider, train)
    provider.get_job(job.id)
    list(provider.list_jobs())
    parts = {"connect": expected, "read": expected, "write": expected, "pool": expected}
    assert sent_timeouts(mock) == [parts] * 3


def test_default_timeout_is_60_seconds(mock, train):
    provider = make_provider(mock, SENTINEL_SECRET)
    start(provider, train)
    assert provider.timeout == 60.0 and sent_timeouts(mock)[0]["read"] == 60.0


@pytest.mark.parametrize("bad", [0, -1, "60", True, float("nan")])
def test_timeout_must_be_positive_seconds(bad):
    with pytest.raises(ConfigurationError, match="timeout"):
        GeminiProvider(project="p", access_token=SENTINEL_SECRET, timeout=bad)


def test_held_answer_times_out_after_the_set_time_over_a_real_socket(mock, train):
    """google-genai's own httpx2 client (no http_client): a held GET fails in ~timeout."""
    import time

    from faults_support import hang_after_processing

    from finetune_sdk.errors import APITimeoutError

    with mock.serve() as url:
        provider = make_provider(mock, SENTINEL_SECRET, RetryPolicy(max_attempts=1),
                                 base_url=url, http_client=None, timeout=0.3)
        job = start(provider, train)
        provider._client()  # built outside the timed window (google-genai takes ~1 s)
        with hang_after_processing(mock, r"^GET .*/tuningJobs/\d+$"):
            started = time.monotonic()
            with pytest.raises(APITimeoutError) as info:
                provider.get_job(job.id)
            elapsed = time.monotonic() - started
        provider.close()
    assert 0.3 <= elapsed < 3, elapsed
    assert SENTINEL_SECRET not in str(info.value)
    assert SENTINEL_SECRET not in repr(provider) and SENTINEL_SECRET not in repr(vars(provider))


def test_real_storage_client_upload_honours_the_timeout(mock, train, monkeypatch):
    """google-cloud-storage gets ``timeout``: a held upload times out in ~0.5 s (not its 60 s
    default) and its own retry sends it again; the object name is content-addressed."""
    import time

    from faults_support import hang_after_processing

    with mock.serve() as url:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
        provider = make_provider(mock, SENTINEL_SECRET, storage_client=None, timeout=0.5)
        with hang_after_processing(mock, r"^POST /upload/storage/") as arrived:
            started = time.monotonic()
            ref = provider.upload_dataset(train)
            elapsed = time.monotonic() - started
        assert arrived.is_set()
    assert elapsed < 4, elapsed
    assert len(mock.requests_to("POST", r"^/upload/storage/")) == 2 and ref.id in mock.objects


def test_injected_storage_client_is_called_without_a_timeout(provider, mock, train):
    """A custom ``storage_client`` keeps the documented call shape (no new keyword)."""
    ref = provider.upload_dataset(train)  # VertexMockServer's fake takes no ``timeout``
    assert ref.id in mock.objects


def test_storage_timeouts_translate_to_our_errors():
    import requests
    from google.api_core import exceptions as core_errors

    from finetune_sdk.errors import APITimeoutError
    from finetune_sdk.providers.gemini.storage import translate_storage_error

    read = translate_storage_error(requests.exceptions.ReadTimeout(f"t {SENTINEL_SECRET}"),
                                   [SENTINEL_SECRET])
    assert isinstance(read, APITimeoutError) and SENTINEL_SECRET not in str(read)
    connect = translate_storage_error(requests.exceptions.ConnectTimeout("no route"))
    assert isinstance(connect, APIConnectionError) and not isinstance(connect, APITimeoutError)
    gave_up = core_errors.RetryError("deadline", cause=requests.exceptions.ReadTimeout("t"))
    assert isinstance(translate_storage_error(gave_up), APITimeoutError)
