"""Azure OpenAI as a profile of the OpenAI adapter: where the API root comes from, Azure's own
limits and options, no OpenAI sunset, the deployment a fine-tune needs, the fault cells that
must never make a second paid job, and the key that is never shown."""

from __future__ import annotations

import json
import logging
import warnings
from datetime import date

import httpx2
import pytest

from finetune_sdk import Client
from finetune_sdk.errors import (
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    CreateOutcomeUnknownError,
    DatasetError,
    FineTuningEligibilityError,
    InternalServerError,
    PermissionDeniedError,
    UnsupportedFeatureError,
)
from finetune_sdk.lifecycle import create_job
from finetune_sdk.provider import PreflightWarning
from finetune_sdk.providers.openai_compatible import azure
from finetune_sdk.providers.openai_compatible.adapter import AzureOpenAIProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import write_chat_jsonl
from finetune_sdk.testing.mock_servers.openai_compatible import OpenAICompatibleMockServer
from finetune_sdk.types import JobSpec, JobStatus

KEY = "azk-SENTINEL-3c1b9e7f0a"
BASE = "gpt-4.1-mini-2025-04-14"
TODAY = date(2026, 12, 3)
CREATE = r"^POST /openai/v1/fine_tuning/jobs$"
JOBS = r"^/openai/v1/fine_tuning/jobs$"
_ENV = ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_RESOURCE", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_ADMIN_KEY")

pytestmark = pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")


@pytest.fixture(autouse=True)
def no_azure_env(monkeypatch, tmp_path):
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's


@pytest.fixture
def mock():
    return OpenAICompatibleMockServer.azure()


@pytest.fixture
def sleeps():
    return []


def make(mock, sleeps=None, **overrides):
    kwargs = dict(api_key=KEY, base_url=mock.base_url,
                  http_client=httpx2.Client(transport=lambda_transport(mock)),
                  retry=RetryPolicy(max_attempts=3, sleep=(sleeps if sleeps is not None
                                                           else []).append),
                  file_poll_interval=0, today=lambda: TODAY)
    kwargs.update(overrides)
    return AzureOpenAIProvider(**kwargs)


def lambda_transport(mock):
    # Late-bound, so a test that wraps mock.handle still sees every request.
    return httpx2.MockTransport(lambda request: mock.handle(request))


@pytest.fixture
def provider(mock, sleeps):
    return make(mock, sleeps)


@pytest.fixture
def train(tmp_path):
    return write_chat_jsonl(tmp_path / "train.jsonl", 12)


def spec_for(provider, train, **fields):
    return JobSpec(base_model=fields.pop("base_model", BASE),
                   training_file=provider.upload_dataset(train), **fields)


# -- where the API is -------------------------------------------------------------------------
def test_resource_builds_the_v1_root_and_the_key_comes_from_azure_env(monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-must-not-be-used")
    provider = AzureOpenAIProvider(resource="contoso")
    assert provider.base_url == "https://contoso.openai.azure.com/openai/v1"
    assert provider._api_key.get_secret_value() == KEY
    assert provider.resource == "contoso"


@pytest.mark.parametrize("env, value, root", [
    ("AZURE_OPENAI_ENDPOINT", "https://east.openai.azure.com/",
     "https://east.openai.azure.com/openai/v1"),
    ("AZURE_OPENAI_BASE_URL", "https://proxy.example.invalid/openai/v1/",
     "https://proxy.example.invalid/openai/v1"),
    ("AZURE_OPENAI_RESOURCE", "west-ft", "https://west-ft.openai.azure.com/openai/v1"),
])
def test_the_root_from_the_environment(monkeypatch, env, value, root):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv(env, value)
    assert AzureOpenAIProvider().base_url == root


def test_without_resource_or_key_the_error_names_what_to_set(monkeypatch):
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_RESOURCE, AZURE_OPENAI_ENDPOINT"):
        AzureOpenAIProvider(api_key=KEY)
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_API_KEY"):
        AzureOpenAIProvider(resource="contoso")
    with pytest.raises(ConfigurationError, match="not an Azure resource name"):
        AzureOpenAIProvider(api_key=KEY, resource="evil.example.com/x")
    with pytest.raises(ConfigurationError, match="OpenAI's headers"):
        AzureOpenAIProvider(api_key=KEY, resource="contoso", organization="org-1")


def test_client_by_name_and_alias(monkeypatch, mock):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    for name in ("azure-openai", "azure"):
        client = Client(name, resource="contoso", ledger=False)
        assert isinstance(client.provider, AzureOpenAIProvider)
        assert client.provider.name == "azure-openai"


def test_client_runs_upload_create_wait_to_a_model_id(monkeypatch, train):
    mock = OpenAICompatibleMockServer.azure(resource="contoso", auto_advance=True)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with Client("azure-openai", resource="contoso", file_poll_interval=0, today=lambda: TODAY,
                http_client=httpx2.Client(transport=lambda_transport(mock))) as client:
        job = client.jobs.run(base_model=BASE, training_file=train, output_name="coach",
                              poll_interval=0, progress=False)
        model = client.models.resolve(job)
        again = client.jobs.create(base_model=BASE, training_file=train, output_name="coach")
    assert job.status is JobStatus.SUCCEEDED and job.provider == "azure-openai"
    assert model.id == mock.jobs[job.id]["fine_tuned_model"] and model.needs_deployment
    assert again.id == job.id and mock.job_count() == 1  # the same intent attaches


def test_client_dropped_create_leaves_exactly_one_job(monkeypatch, train):
    mock = OpenAICompatibleMockServer.azure()
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with Client("azure", base_url=mock.base_url, file_poll_interval=0, today=lambda: TODAY,
                http_client=httpx2.Client(transport=lambda_transport(mock)),
                retry=RetryPolicy(sleep=lambda s: None)) as client:
        mock.fail_next(timeout=True, after_processing=True, match=CREATE)
        job = client.jobs.create(base_model=BASE, training_file=train)
        assert client.ledger.get(job.client_ref).job_id == job.id
        assert client.jobs.create(base_model=BASE, training_file=train).id == job.id
    assert mock.job_count() == 1 and len(mock.requests_to("POST", JOBS)) == 1


def test_openai_org_and_admin_env_never_reach_azure(monkeypatch, mock, train):
    monkeypatch.setenv("OPENAI_ORG_ID", "org-private")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-private")
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-private")
    provider = make(mock)
    provider.create_job(spec_for(provider, train))
    for request in mock.requests:
        assert "openai-organization" not in request.headers
        assert "openai-project" not in request.headers
        assert request.headers["authorization"] == f"Bearer {KEY}"


# -- Azure's rules ------------------------------------------------------------------------------
def test_suffix_over_18_characters_is_refused_before_upload(provider, mock, train):
    spec = JobSpec(base_model=BASE, training_file=train, output_name="x" * 19)
    with pytest.raises(UnsupportedFeatureError, match="over 18 characters.*at most 18"):
        provider.preflight(spec)
    assert not mock.requests
    provider.preflight(spec.model_copy(update={"output_name": "x" * 18}))


def test_the_mock_refuses_a_long_suffix_like_azure(provider, mock, train):
    spec = spec_for(provider, train, output_name="x" * 19)  # preflight skipped on purpose
    with pytest.raises(APIStatusError, match="at most 18 characters"):
        provider.create_job(spec)


def test_training_type_option_becomes_extra_body(provider, mock, train):
    job = provider.create_job(spec_for(provider, train, options={"training_type": "developerTier"}))
    body = json.loads(mock.requests_to("POST", JOBS)[-1].content)
    assert body["trainingType"] == "developerTier"
    assert mock.jobs[job.id]["trainingType"] == "developerTier"
    plain = provider.create_job(spec_for(provider, train))
    assert "trainingType" not in json.loads(mock.requests_to("POST", JOBS)[-1].content)
    assert mock.jobs[plain.id]["trainingType"] is None


def test_an_unknown_training_type_is_refused_naming_the_choices(provider, train):
    spec = JobSpec(base_model=BASE, training_file=train, options={"training_type": "Premium"})
    with pytest.raises(ConfigurationError, match="GlobalStandard"):
        provider.preflight(spec)


def test_no_uploads_api_and_files_over_512_mb_are_refused(provider, mock, train):
    assert provider.single_upload_limit == 512 * 1024**2
    assert make(mock, single_upload_limit=10).single_upload_limit == 512 * 1024**2
    provider.upload_dataset(train)
    assert not mock.requests_to("POST", r"/uploads")
    with pytest.raises(DatasetError, match="Azure OpenAI takes at most 536870912"):
        azure.PROFILE.limits.check_upload(512 * 1024**2 + 1, "Azure OpenAI", train)


# -- dates: Azure's, never OpenAI's 2027-01-06 --------------------------------------------------
def test_openai_cutoff_does_not_apply_but_azures_dates_do(mock):
    after_openai = make(mock, today=lambda: date(2027, 2, 1))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        found = after_openai.preflight(JobSpec(base_model=BASE, training_file="file-x"))
    assert not any("2027-01-06" in m for m in found)
    assert any("no new jobs from 2027-04-14" in m for m in found)
    assert any("shut down on 2027-10-14" in m for m in found)
    assert all(issubclass(w.category, PreflightWarning) for w in seen)
    after_azure = make(mock, today=lambda: date(2027, 4, 14))
    with pytest.raises(UnsupportedFeatureError, match="closed to new tuning jobs since 2027-04-14"):
        after_azure.preflight(JobSpec(base_model=BASE, training_file="file-x"))
    assert AzureOpenAIProvider.capabilities.new_jobs_until is None


def test_continuing_an_azure_fine_tune_checks_its_base(provider):
    found = provider.check_spec(JobSpec(base_model=f"{BASE}.ft-0e208cf33a6a466994aff31a08aba678",
                                        training_file="file-x"))
    assert any("2027-04-14" in m for m in found)
    unknown = provider.check_spec(JobSpec(base_model="gpt-9", training_file="file-x"))
    assert len(unknown) == 1 and "tunable Azure OpenAI models" in unknown[0]
    with pytest.raises(UnsupportedFeatureError, match="gpt-9"):
        provider.check_spec(JobSpec(base_model="gpt-9", training_file="file-x",
                                    options={"allow_unlisted_model": False}))


def test_a_403_on_create_is_azures_refusal_not_openais_wind_down(provider, mock, train):
    spec = spec_for(provider, train)
    mock.fail_next(403, match=CREATE, body={"error": {"message": "training not available",
                                                      "type": "x", "param": None, "code": None}})
    with pytest.raises(PermissionDeniedError) as info:
        provider.create_job(spec)
    assert not isinstance(info.value, FineTuningEligibilityError)
    assert info.value.provider == "azure-openai" and "[azure-openai]" in str(info.value)


# -- the model needs a deployment -------------------------------------------------------------
def test_resolve_model_says_it_needs_an_arm_deployment(provider, mock, train):
    job = provider.create_job(spec_for(provider, train, output_name="coach"))
    mock.advance(job.id, JobStatus.SUCCEEDED)
    model = provider.resolve_model(provider.get_job(job.id))
    assert model.id.startswith(f"{BASE}.ft-") and len(model.id.split(".ft-")[1]) == 32
    assert model.needs_deployment and not model.ready_for_inference
    assert "ARM control plane" in model.how_to_serve and model.id in model.how_to_serve
    arm = model.provider_details["arm_deployment"]
    assert arm["method"] == "PUT" and "/accounts/ftsdk-mock/deployments/" in arm["url"]
    assert arm["url"].endswith("?api-version=2024-10-01")
    assert arm["body"]["properties"]["model"] == {"format": "OpenAI", "name": model.id,
                                                  "version": "1"}
    assert KEY not in json.dumps(arm)
    checkpoints = provider.list_checkpoints(job.id)
    assert checkpoints and all(c.id.startswith("ftchkpt-") for c in checkpoints)


def test_arm_deployment_fills_what_it_is_given():
    arm = azure.arm_deployment("m.ft-1", resource="r", subscription="s", resource_group="g",
                               deployment="coach", sku="GlobalStandard", capacity=5)
    assert arm["url"] == ("https://management.azure.com/subscriptions/s/resourceGroups/g/providers"
                          "/Microsoft.CognitiveServices/accounts/r/deployments/coach"
                          "?api-version=2024-10-01")
    assert arm["body"]["sku"] == {"name": "GlobalStandard", "capacity": 5}
    assert azure.resource_of("https://r.openai.azure.com/openai/v1") == "r"
    assert azure.resource_of("https://proxy.example.invalid/v1") is None


# -- faults: at most one paid job ------------------------------------------------------------
def test_dropped_create_in_process_makes_exactly_one_job(provider, mock, train):
    spec = spec_for(provider, train)
    mock.fail_next(timeout=True, after_processing=True, match=CREATE)
    job = create_job(provider, spec)
    assert mock.job_count() == 1 and job.client_ref == spec.client_ref
    assert len(mock.requests_to("POST", JOBS)) == 1


def test_dropped_create_over_real_sockets_makes_one_job(train):
    mock = OpenAICompatibleMockServer.azure()
    with mock.serve() as url:
        provider = AzureOpenAIProvider(KEY, base_url=f"{url}/openai/v1", timeout=5,
                                       retry=RetryPolicy(sleep=lambda s: None),
                                       file_poll_interval=0, today=lambda: TODAY)
        spec = spec_for(provider, train)
        mock.fail_next(timeout=True, after_processing=True, match=CREATE)
        with pytest.raises(APITimeoutError):  # the SDK alone: no resend, the error is ours
            provider.create_job(spec)
        assert mock.job_count() == 1
        mock.fail_next(timeout=True, after_processing=True, match=CREATE)
        job = create_job(provider, spec.model_copy(update={"client_ref": "ftsdk-second"}))
        assert mock.job_count() == 2 and job.client_ref == "ftsdk-second"
        assert len(mock.requests_to("POST", JOBS)) == 2
        provider.close()


def test_read_timeout_after_create_is_looked_up_not_resent(provider, mock, train):
    spec = spec_for(provider, train)
    mock.fail_next(timeout=True, after_processing=True, match=CREATE)
    job = create_job(provider, spec)
    lookups = mock.requests_to("GET", JOBS)
    assert lookups and lookups[0].url.params["metadata[ftsdk_client_ref]"] == spec.client_ref
    assert job.id in mock.jobs and mock.job_count() == 1


def test_a_service_that_drops_metadata_stops_instead_of_paying_twice(train, tmp_path):
    """Whether Azure keeps job metadata is not confirmed: if it does not, a lost create cannot
    be found by its client_ref, and the call must stop (reconcile), never send again."""
    from finetune_sdk.ledger import Ledger

    mock = OpenAICompatibleMockServer.azure(keeps_metadata=False)
    provider = make(mock)
    spec = spec_for(provider, train)
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    mock.fail_next(timeout=True, after_processing=True, match=CREATE)
    with pytest.raises(CreateOutcomeUnknownError, match="finetune reconcile"):
        create_job(provider, spec, ledger=ledger)
    assert mock.job_count() == 1
    assert len(mock.requests_to("POST", JOBS)) == 1
    with pytest.raises(CreateOutcomeUnknownError):  # a rerun does not send it either
        create_job(provider, spec, ledger=ledger)
    assert mock.job_count() == 1


def test_429_with_retry_after_on_poll_and_on_create(provider, mock, train, sleeps):
    spec = spec_for(provider, train)
    mock.fail_next(429, retry_after=3, match=CREATE)
    job = create_job(provider, spec)
    assert mock.job_count() == 1 and sleeps == [3.0]
    mock.fail_next(429, retry_after=7)
    assert provider.get_job(job.id).id == job.id and sleeps == [3.0, 7.0]


def test_5xx_on_create_is_looked_up_never_resent_and_on_poll_retried(provider, mock, train,
                                                                      sleeps):
    spec = spec_for(provider, train)
    mock.fail_next(502, match=CREATE)
    with pytest.raises(APIStatusError):
        create_job(provider, spec)
    assert mock.job_count() == 0
    assert len(mock.requests_to("POST", JOBS)) == 1
    sleeps.clear()
    mock.fail_next(500, match=CREATE)
    with pytest.raises(InternalServerError):
        provider.create_job(spec)  # the adapter alone sends once
    job = create_job(provider, spec.model_copy(update={"client_ref": "ftsdk-after-5xx"}))
    mock.fail_next(503, times=2)
    assert provider.get_job(job.id).id == job.id and len(sleeps) == 2


def test_malformed_json_and_unknown_status(provider, mock, train):
    job = provider.create_job(spec_for(provider, train))
    mock.fail_next(malformed=True)
    with pytest.raises(APIResponseValidationError) as info:
        provider.get_job(job.id)
    assert info.value.provider == "azure-openai"
    mock.set_raw_status(job.id, "pending_deployment_quota")
    seen = provider.get_job(job.id)
    assert seen.status is JobStatus.UNKNOWN and seen.provider_status == "pending_deployment_quota"
    del mock.jobs[job.id]["id"]  # a shape the parser cannot read
    with pytest.raises(APIResponseValidationError, match=r"^\[azure-openai\]"):
        provider.get_job(job.id)


# -- the key ------------------------------------------------------------------------------------
def test_the_azure_key_is_never_printed(monkeypatch, mock, train, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    provider = AzureOpenAIProvider(base_url=mock.base_url, file_poll_interval=0,
                                   http_client=httpx2.Client(transport=lambda_transport(mock)),
                                   retry=RetryPolicy(max_attempts=2, sleep=lambda s: None),
                                   today=lambda: TODAY)
    mock.fail_next(401, body={"error": {"message": f"Access denied: bad key {KEY}",
                                        "type": "invalid_request_error", "param": None,
                                        "code": "401"}})
    with pytest.raises(Exception) as info:
        list(provider.list_jobs(limit=1))
    chain, error = [], info.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    job = provider.create_job(spec_for(provider, train))
    mock.advance(job.id, JobStatus.SUCCEEDED)
    model = provider.resolve_model(provider.get_job(job.id))
    shown = " ".join([*(str(e) + repr(e) for e in chain), repr(provider), repr(vars(provider)),
                      caplog.text, *capsys.readouterr(), model.model_dump_json(), repr(job)])
    assert "Access denied" in shown
    assert KEY not in shown
