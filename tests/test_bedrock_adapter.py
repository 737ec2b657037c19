"""Bedrock specifics: the create request boto3 sends (names, token, per-model schema and
hyperparameters), preflight refusals before any upload, status details, names, botocore's
retries off, the end-to-end run from ``Client("bedrock")``, real S3 semantics (moto) and real
sockets (loopback)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from test_bedrock_conformance import BUCKET, make_provider, no_ambient_aws  # noqa: F401

from finetune_sdk import Client
from finetune_sdk.errors import (
    ConfigurationError,
    DatasetError,
    InternalServerError,
    ProviderNotInstalledError,
    UnsupportedFeatureError,
)
from finetune_sdk.provider import PreflightWarning
from finetune_sdk.providers.bedrock import mapping
from finetune_sdk.providers.bedrock.adapter import BedrockOptions, BedrockProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl
from finetune_sdk.testing.mock_servers.bedrock import BedrockMockServer
from finetune_sdk.types import Hyperparameters, JobSpec, JobStatus

NOVA = "amazon.nova-micro-v1:0:128k"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
LLAMA31 = "meta.llama3-1-8b-instruct-v1:0:128k"


@pytest.fixture
def mock() -> BedrockMockServer:
    return BedrockMockServer()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def provider(mock, sleeps) -> BedrockProvider:
    return make_provider(mock, SENTINEL_SECRET, RetryPolicy(max_attempts=3, sleep=sleeps.append))


@pytest.fixture
def train(tmp_path):
    return write_chat_jsonl(tmp_path / "train.jsonl", 40)


def created(mock) -> dict:
    [request] = mock.requests_to("POST", r"^/model-customization-jobs$")
    return json.loads(request.content)


def multi_turn(path, count=40):
    with path.open("w") as handle:
        for i in range(count):
            handle.write(json.dumps({"messages": [
                {"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"},
                {"role": "user", "content": "more?"}, {"role": "assistant", "content": "b"}]})
                + "\n")
    return path


# -- the create request -------------------------------------------------------------------
def test_nova_create_request_carries_the_intent_and_nova_names(provider, mock, train):
    ref = provider.upload_dataset(train)
    spec = JobSpec(base_model=NOVA, training_file=ref, output_name="Health coach v1",
                   hyperparameters=Hyperparameters(epochs=2, learning_rate=1e-5),
                   options=BedrockOptions(hyper_parameters={"learningRateWarmupSteps": 5}),
                   labels={"team": "health"})
    provider.preflight(spec)
    job = provider.create_job(spec)
    body = created(mock)
    assert body["jobName"] == spec.client_ref == body["clientRequestToken"]
    assert re.fullmatch(r"Health-coach-v1-[0-9a-f]{8}", body["customModelName"])
    assert body["roleArn"] == mock.role_arn and body["baseModelIdentifier"] == NOVA
    assert body["customizationType"] == "FINE_TUNING"
    assert body["hyperParameters"] == {"epochCount": "2", "learningRate": "0.00001",
                                       "learningRateWarmupSteps": "5"}
    assert body["trainingDataConfig"]["s3Uri"].endswith("/train.conversation.jsonl")
    assert body["outputDataConfig"]["s3Uri"] == "s3://ftsdk-test-bucket/tuning-data/outputs/"
    assert body["jobTags"] == [{"key": "team", "value": "health"}]
    line = json.loads(mock.objects[body["trainingDataConfig"]["s3Uri"]].splitlines()[0])
    assert line["schemaVersion"] == "bedrock-conversation-2024"
    assert line["system"] == [{"text": "You are a careful health coach."}]
    assert line["messages"][1] == {"role": "assistant",
                                   "content": [{"text": "About two litres on day 0; more if hot."}]}
    assert job.client_ref == spec.client_ref and job.status is JobStatus.VALIDATING


def test_claude_haiku_reads_the_messages_file_with_its_own_names(mock, train):
    provider = make_provider(mock, SENTINEL_SECRET, region="us-west-2")
    spec = JobSpec(base_model=HAIKU, training_file=provider.upload_dataset(train),
                   hyperparameters=Hyperparameters(epochs=3, batch_size=8,
                                                   learning_rate_multiplier=0.5))
    provider.preflight(spec)
    provider.create_job(spec)
    body = created(mock)
    assert body["hyperParameters"] == {"epochCount": "3", "batchSize": "8",
                                       "learningRateMultiplier": "0.5"}
    line = json.loads(mock.objects[body["trainingDataConfig"]["s3Uri"]].splitlines()[0])
    assert line["system"] == "You are a careful health coach."
    assert line["messages"][0]["content"].startswith("How much water")


def test_llama_31_trains_on_prompt_completion(mock, train):
    provider = make_provider(mock, SENTINEL_SECRET, region="us-west-2")
    spec = JobSpec(base_model=LLAMA31, training_file=provider.upload_dataset(train))
    provider.create_job(spec)
    uri = created(mock)["trainingDataConfig"]["s3Uri"]
    line = json.loads(mock.objects[uri].splitlines()[0])
    assert uri.endswith("/train.prompt_completion.jsonl")
    assert line == {"prompt": "You are a careful health coach.\n\nHow much water should I drink"
                              " on day 0?", "completion": "About two litres on day 0; more if hot."}


# -- refused before anything is uploaded ----------------------------------------------------
@pytest.mark.parametrize("base, hyper, error, says", [
    (HAIKU, {"learning_rate": 1e-5}, UnsupportedFeatureError, "learning_rate_multiplier"),
    (NOVA, {"batch_size": 8}, UnsupportedFeatureError, "Amazon Nova"),
    (NOVA, {"epochs": 6}, ConfigurationError, "range 1 to 5"),
    (LLAMA31, {"batch_size": 2}, ConfigurationError, "range 1 to 1"),
])
def test_per_model_hyperparameters_are_checked_before_upload(mock, train, base, hyper, error,
                                                              says):
    provider = make_provider(mock, SENTINEL_SECRET, region="us-west-2")
    client = Client(provider, ledger=False)
    with pytest.raises(error, match=says):
        client.jobs.create(base_model=base, training_file=train,
                           hyperparameters=Hyperparameters(**hyper))
    assert mock.requests == []


def test_unknown_extra_hyperparameter_is_refused(provider, mock, train):
    spec = JobSpec(base_model=NOVA, training_file=train,
                   options={"hyper_parameters": {"earlyStoppingPatience": 2}})
    with pytest.raises(UnsupportedFeatureError, match="earlyStoppingPatience"):
        provider.preflight(spec)
    assert mock.requests == []


def test_multi_turn_data_for_llama_31_is_refused_with_its_line(mock, tmp_path):
    provider = make_provider(mock, SENTINEL_SECRET, region="us-west-2")
    data = multi_turn(tmp_path / "chat.jsonl")
    with pytest.raises(DatasetError, match=r"chat.jsonl:1: .*single-turn"):
        Client(provider, ledger=False).jobs.create(base_model=LLAMA31, training_file=data)
    assert mock.requests == []
    # The same file trains Nova (multi-turn conversations), and the upload says why the
    # prompt/completion variant is missing, so a later Llama 3.1 create is refused clearly.
    ref = provider.upload_dataset(data)
    assert "prompt_completion" not in ref.provider_details["schemas"]
    with pytest.raises(ConfigurationError, match="single-turn"):
        provider.preflight(JobSpec(base_model=LLAMA31, training_file=ref))


def test_too_few_examples_for_the_model_is_refused(mock, tmp_path):
    provider = make_provider(mock, SENTINEL_SECRET, region="us-west-2")
    small = write_chat_jsonl(tmp_path / "small.jsonl", 12)
    with pytest.raises(DatasetError, match="32 to 10000 examples"):
        provider.preflight(JobSpec(base_model=HAIKU, training_file=small))


def test_preference_data_is_refused_at_upload(provider, mock, tmp_path):
    pref = tmp_path / "pref.jsonl"
    pref.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}],
                                "chosen": "hello", "rejected": "go away"}) + "\n")
    with pytest.raises(UnsupportedFeatureError, match="DPO"):
        provider.upload_dataset(pref)
    assert mock.objects == {}


def test_a_model_tuned_elsewhere_warns_about_the_region(provider, train):
    spec = JobSpec(base_model=HAIKU, training_file=write_chat_jsonl(train, 40))
    with pytest.warns(PreflightWarning, match="us-west-2"):
        provider.preflight(spec)


@pytest.mark.parametrize("missing, says", [
    ("role_arn", "FINETUNE_SDK_BEDROCK_ROLE_ARN"), ("bucket", "FINETUNE_SDK_BEDROCK_BUCKET"),
    ("region", "AWS_REGION"),
])
def test_missing_settings_are_named(mock, train, missing, says):
    provider = make_provider(mock, SENTINEL_SECRET, **{missing: None})
    if missing == "region":  # the session has a region too: the chain's last resort
        provider._session = None
    with pytest.raises(ConfigurationError, match=says) as info:
        provider.preflight(JobSpec(base_model=NOVA, training_file=train))
    assert SENTINEL_SECRET not in str(info.value)


def test_settings_come_from_the_environment(monkeypatch, mock):
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("FINETUNE_SDK_BEDROCK_BUCKET", "s3://env-bucket/p")
    monkeypatch.setenv("FINETUNE_SDK_BEDROCK_ROLE_ARN", mock.role_arn)
    provider = BedrockProvider(session=mock.session())
    assert (provider.region, provider.bucket, provider.prefix) == ("us-west-2", "env-bucket", "p")
    assert provider.role_arn == mock.role_arn


def test_without_boto3_the_pip_hint_is_given(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "boto3" else real(name, *a))
    with pytest.raises(ProviderNotInstalledError, match=r"finetune-sdk\[aws\]"):
        BedrockProvider(region="us-east-1")


def test_importing_the_sdk_and_the_adapter_loads_no_boto3():
    code = ("import sys, finetune_sdk, finetune_sdk.providers.bedrock.adapter\n"
            "print([m for m in ('boto3', 'botocore') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- statuses and names ---------------------------------------------------------------------
@pytest.mark.parametrize("raw, details, expected", [
    ("InProgress", {"validationDetails": {"status": "InProgress"}}, JobStatus.VALIDATING),
    ("InProgress", {"trainingDetails": {"status": "InProgress"}}, JobStatus.RUNNING),
    ("InProgress", None, JobStatus.RUNNING),
    ("Stopping", None, JobStatus.RUNNING),
    ("Stopped", None, JobStatus.CANCELLED),
    ("Completed", None, JobStatus.SUCCEEDED),
    ("Failed", None, JobStatus.FAILED),
    ("Paused", None, JobStatus.UNKNOWN),
])
def test_status_and_details_map_to_job_status(raw, details, expected):
    payload = {"jobArn": "arn:x", "status": raw, **({"statusDetails": details} if details else {})}
    assert mapping.job_from_bedrock(payload).status is expected


def test_names_fit_bedrock_patterns_and_are_stable():
    for ref in ("ftsdk-" + "a" * 24, "my_ref_1", "-leading", "x" * 63):
        name, token = mapping.job_name(ref), mapping.request_token(ref)
        assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9+\-.])*", name) and len(name) <= 63
        assert re.fullmatch(r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?", token)
        assert (name, token) == (mapping.job_name(ref), mapping.request_token(ref))
        model = mapping.custom_model_name(ref, "Coach / v2 (beta)")
        assert re.fullmatch(r"([0-9a-zA-Z][_-]?){1,63}", model)
    assert mapping.job_name("my_ref_1") != mapping.job_name("my-ref-1")


def test_find_job_wants_the_exact_name(provider, mock, train):
    ref = provider.upload_dataset(train)
    longer = provider.create_job(JobSpec(base_model=NOVA, training_file=ref,
                                         client_ref="intent-a-2"))
    assert provider.find_job("intent-a") is None
    mine = provider.create_job(JobSpec(base_model=NOVA, training_file=ref, client_ref="intent-a"))
    assert provider.find_job("intent-a").id == mine.id != longer.id


def test_a_409_for_our_job_name_attaches_to_that_job(provider, mock, train):
    spec = JobSpec(base_model=NOVA, training_file=provider.upload_dataset(train))
    first = provider.create_job(spec)
    mock.tokens.clear()  # Bedrock forgot the token (its window passed): the name still guards
    again = provider.create_job(spec)
    assert again.id == first.id and mock.job_count() == 1
    assert again.client_ref == spec.client_ref


def test_botocore_never_retries_on_its_own(provider, mock, train, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "5")  # a user's environment must not re-enable it
    spec = JobSpec(base_model=NOVA, training_file=provider.upload_dataset(train))
    mock.fail_next(500, times=10, match=r"^POST /model-customization-jobs$")
    with pytest.raises(InternalServerError):
        provider.create_job(spec)
    assert len(mock.requests_to("POST", r"^/model-customization-jobs$")) == 1


# -- end to end -------------------------------------------------------------------------------
def test_client_runs_upload_create_wait_model(mock, train):
    mock.auto_advance = True
    client = Client("bedrock", ledger=False, region=mock.region, bucket=BUCKET,
                    role_arn=mock.role_arn, session=mock.session(), endpoint_url=mock.base_url)
    seen: list[JobStatus] = []
    job = client.jobs.run(base_model=NOVA, training_file=train, output_name="coach",
                          hyperparameters={"epochs": 2}, poll_interval=0, progress=False,
                          on_update=lambda j: seen.append(j.status))
    assert job.status is JobStatus.SUCCEEDED and seen == [JobStatus.RUNNING, JobStatus.SUCCEEDED]
    model = client.models.resolve(job)
    assert re.fullmatch(r"arn:aws:bedrock:us-east-1:123456789012:custom-model/"
                        r"amazon\.nova-micro-v1:0:128k/[0-9a-f]{12}", model.id)
    assert model.needs_deployment and not model.ready_for_inference
    assert "create_custom_model_deployment" in model.how_to_serve
    assert client.jobs.metrics(job.id)[0].train_loss == pytest.approx(0.42)


def test_uploads_work_against_real_s3_semantics_in_moto(monkeypatch, train):
    """S3 answered by moto (XML, virtual-host addressing); Bedrock by our mock via
    AWS_ENDPOINT_URL_BEDROCK, the service-specific endpoint variable boto3 reads."""
    moto = pytest.importorskip("moto")
    import boto3

    mock = BedrockMockServer()
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", mock.base_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with moto.mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="moto-bucket")
        session = boto3.Session(region_name="us-east-1")
        session.events.register("before-send", mock._botocore_send)  # bedrock only (see below)
        provider = BedrockProvider(session=session, bucket="s3://moto-bucket/data",
                                   role_arn=mock.role_arn, retry=RetryPolicy(sleep=lambda s: None))
        ref = provider.upload_dataset(train)
        key = ref.id.removeprefix("s3://moto-bucket/")
        stored = boto3.client("s3", region_name="us-east-1").get_object(
            Bucket="moto-bucket", Key=key)["Body"].read()
        assert json.loads(stored.splitlines()[0])["schemaVersion"] == "bedrock-conversation-2024"
        assert provider.bucket == "moto-bucket" and mock.objects == {}  # moto answered S3


def test_full_run_over_real_sockets(mock, train):
    mock.auto_advance = True
    with mock.serve() as url:
        provider = BedrockProvider(region="us-east-1", bucket=BUCKET, role_arn=mock.role_arn,
                                   endpoint_url=url, aws_access_key_id="AKIDLOOPBACK",
                                   aws_secret_access_key=SENTINEL_SECRET, timeout=5,
                                   retry=RetryPolicy(sleep=lambda s: None))
        client = Client(provider, ledger=False)
        job = client.jobs.run(base_model=NOVA, training_file=train, poll_interval=0,
                              progress=False)
        assert client.models.resolve(job).id.startswith("arn:aws:bedrock:us-east-1:")
    assert any(r.method == "PUT" and "/ftsdk-test-bucket/tuning-data/" in r.url.path
               for r in mock.requests)
    assert all(SENTINEL_SECRET not in str(dict(r.headers)) for r in mock.requests)


def test_strict_false_drops_what_the_model_lacks_with_a_warning(provider, mock, train):
    spec = JobSpec(base_model=NOVA, training_file=provider.upload_dataset(train), strict=False,
                   hyperparameters=Hyperparameters(epochs=2, batch_size=8, lora_rank=8))
    with pytest.warns(PreflightWarning) as caught:
        provider.preflight(spec)
    messages = [str(w.message) for w in caught]
    assert any("batch_size" in m and "Amazon Nova" in m for m in messages)
    assert sum("lora_rank" in m for m in messages) == 1  # said once, by the shared preflight
    provider.create_job(spec)
    assert created(mock)["hyperParameters"] == {"epochCount": "2"}


# -- rules, samples, parsers --------------------------------------------------------------------
SAMPLES = __import__("pathlib").Path(__file__).resolve().parent.parent / "examples" / "data"


def test_rule_pack_matches_the_adapter_and_the_samples_pass():
    from finetune_sdk.data.rules import rules_for
    from finetune_sdk.data.validate import validate_file

    assert rules_for("bedrock").methods == BedrockProvider.capabilities.methods
    for name in ("health_chats.jsonl", "therapy_support.jsonl", "menstrual_health.jsonl"):
        report = validate_file(SAMPLES / name, provider="bedrock", base_model=NOVA)
        assert report.ok, [str(f) for f in report.findings]
    assert not validate_file(SAMPLES / "preferences.jsonl", provider="bedrock").ok


def test_any_answer_shape_is_a_job_or_our_error():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from finetune_sdk.errors import FinetuneError
    from finetune_sdk.types import Job

    values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
    keys = st.sampled_from(["jobArn", "status", "statusDetails", "failureMessage",
                            "outputModelArn", "baseModelArn", "hyperParameters", "endTime",
                            "creationTime", "trainingMetrics", "validationMetrics"])

    @settings(max_examples=200, deadline=None)
    @given(st.dictionaries(keys, values, max_size=8) | values)
    def run(body):
        for parse in (mapping.job_from_bedrock, mapping.metrics_of):
            try:
                result = parse(body)
            except FinetuneError:
                continue
            assert isinstance(result, (Job, list))

    run()
