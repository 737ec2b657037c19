"""OpenAI adapter behaviour beyond the conformance suite: uploads, sunset, hyperparameters,
events/metrics/checkpoints, pause/resume, errors and secrets, and the no-duplicate-job rule over
real sockets."""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from datetime import date

import httpx2
import pytest

from finetune_sdk.errors import (
    APITimeoutError,
    BadRequestError,
    ConfigurationError,
    DatasetError,
    InternalServerError,
    UnsupportedFeatureError,
)
from finetune_sdk.lifecycle import create_job
from finetune_sdk.provider import PreflightWarning
from finetune_sdk.providers.openai import mapping
from finetune_sdk.providers.openai.adapter import OpenAIProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl
from finetune_sdk.testing.mock_servers.openai import OpenAIMockServer
from finetune_sdk.types import Hyperparameters, JobSpec, JobStatus

BASE = "gpt-4o-mini-2024-07-18"
TODAY = date(2026, 11, 23)


@pytest.fixture
def mock():
    return OpenAIMockServer()


@pytest.fixture
def sleeps():
    return []


def make(mock, sleeps=None, **overrides):
    kwargs = dict(
        api_key=SENTINEL_SECRET,
        base_url=mock.base_url,
        http_client=httpx2.Client(transport=mock.transport()),
        retry=RetryPolicy(max_attempts=3, sleep=(sleeps if sleeps is not None else []).append),
        file_poll_interval=0,
        today=lambda: TODAY,
    )
    kwargs.update(overrides)
    return OpenAIProvider(**kwargs)


@pytest.fixture
def provider(mock, sleeps):
    return make(mock, sleeps)


@pytest.fixture
def train(tmp_path):
    return write_chat_jsonl(tmp_path / "train.jsonl", 12)


def spec_for(ref, **fields):
    return JobSpec(base_model=fields.pop("base_model", BASE), training_file=ref, **fields)


# -- uploads ------------------------------------------------------------------------------
def test_small_file_is_one_request_and_waits_until_processed(provider, mock, train):
    ref = provider.upload_dataset(train)
    assert ref.id.startswith("file-") and ref.num_examples == 12
    assert mock.files[ref.id]["status"] == "processed"
    assert len(mock.requests_to("POST", r"^/v1/files$")) == 1
    assert len(mock.requests_to("GET", rf"^/v1/files/{ref.id}$")) >= 1
    assert not mock.requests_to("POST", r"^/v1/uploads")
    assert mock.file_bytes[ref.id].count(b"\n") == 12


def test_large_file_goes_through_chunked_uploads(mock, train):
    provider = make(mock, single_upload_limit=1000, upload_part_size=700)
    ref = provider.upload_dataset(train)
    parts = mock.requests_to("POST", r"^/v1/uploads/[^/]+/parts$")
    assert len(parts) == -(-ref.bytes // 700) >= 2
    complete = json.loads(mock.requests_to("POST", r"/complete$")[0].content)
    assert complete["part_ids"] == sorted(complete["part_ids"])  # sent in file order
    data = mock.file_bytes[ref.id]
    assert len(data) == ref.bytes and hashlib.sha256(data).hexdigest() == ref.sha256
    assert complete["md5"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert not mock.requests_to("POST", r"^/v1/files$")


def test_a_failed_part_is_retried_alone(mock, train, sleeps):
    provider = make(mock, sleeps, single_upload_limit=1000, upload_part_size=700)
    mock.fail_next(503, match=r"/parts$")
    ref = provider.upload_dataset(train)
    assert len(sleeps) == 1
    assert len(mock.file_bytes[ref.id]) == ref.bytes


def test_a_file_openai_rejects_is_a_clear_dataset_error(provider, mock, train):
    mock.file_rejection = "line 4: messages must end with an assistant turn"
    with pytest.raises(DatasetError, match="rejected the file file-.*line 4: messages must end"):
        provider.upload_dataset(train)


def test_missing_file_is_a_dataset_error(provider, tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        provider.upload_dataset(tmp_path / "nope.jsonl")


# -- preflight ----------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")
def test_sunset_warns_before_the_date(provider, train):
    spec = spec_for("file-x")
    with pytest.warns(PreflightWarning, match="stops accepting new fine-tuning jobs on 2027-01-06"):
        messages = provider.preflight(spec)
    assert any("44 days left" in m for m in messages)
    assert any("shut down on 2027-01-14" in m for m in messages)  # gpt-4o-mini retires too


@pytest.mark.parametrize("today", [date(2027, 1, 6), date(2027, 3, 1)])
def test_sunset_refuses_on_and_after_the_date(mock, today):
    provider = make(mock, today=lambda: today)
    with pytest.raises(UnsupportedFeatureError, match="2027-01-06") as info:
        provider.preflight(spec_for("file-x"))
    assert "fireworks" in str(info.value) and "local" in str(info.value)
    assert not mock.requests  # refused before anything was sent


def test_lora_fields_are_refused_with_a_clear_message(provider):
    spec = spec_for("file-x", hyperparameters=Hyperparameters(lora_rank=16, lora_alpha=32))
    with pytest.raises(UnsupportedFeatureError, match=r"LoRA hyperparameters \(lora_rank, lora_al"):
        provider.preflight(spec)


@pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")
def test_unlisted_base_model_warns_or_refuses(provider):
    with pytest.warns(PreflightWarning, match="not in the list of tunable OpenAI models"):
        provider.preflight(spec_for("file-x", base_model="gpt-9-turbo"))
    strict = spec_for("file-x", base_model="gpt-9-turbo", options={"allow_unlisted_model": False})
    with pytest.raises(UnsupportedFeatureError, match="gpt-9-turbo"):
        provider.preflight(strict)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        provider.preflight(spec_for("file-x", base_model="ft:gpt-4o-mini-2024-07-18:org:a:b"))


@pytest.mark.parametrize(
    "hp, method, match",
    [
        (Hyperparameters(beta=0.5), "sft", "beta with method='sft'"),
        (Hyperparameters(batch_size=512), "sft", "batch_size=512"),
        (Hyperparameters(epochs=60), "sft", "epochs=60"),
        (Hyperparameters(learning_rate=1e-4), "sft", "learning_rate"),
    ],
)
def test_out_of_range_hyperparameters_are_refused(provider, hp, method, match):
    with pytest.raises(UnsupportedFeatureError, match=match):
        provider.preflight(spec_for("file-x", hyperparameters=hp, method=method))


# -- jobs ---------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")
def test_create_body_carries_method_metadata_suffix_seed(provider, mock, train):
    ref = provider.upload_dataset(train)
    spec = spec_for(
        ref,
        validation_file=ref,
        output_name="hydration",
        labels={"app": "h"},
        hyperparameters=Hyperparameters(
            epochs=3, batch_size=4, learning_rate_multiplier=0.5, seed=11
        ),
    )
    job = provider.create_job(spec)
    body = json.loads(mock.requests_to("POST", r"^/v1/fine_tuning/jobs$")[0].content)
    assert body["method"] == {
        "type": "supervised",
        "supervised": {
            "hyperparameters": {"n_epochs": 3, "batch_size": 4, "learning_rate_multiplier": 0.5}
        },
    }
    assert body["metadata"] == {"app": "h", "ftsdk_client_ref": spec.client_ref}
    assert body["suffix"] == "hydration" and body["seed"] == 11
    assert body["validation_file"] == ref.id and "hyperparameters" not in body
    assert job.client_ref == spec.client_ref and job.labels == {"app": "h"}
    assert job.status is JobStatus.VALIDATING and job.provider_status == "validating_files"


def test_dpo_body_has_beta(provider, mock):
    spec = spec_for("file-x", method="dpo", hyperparameters=Hyperparameters(beta=0.2))
    body = mapping.create_body(spec, "file-x", None)
    assert body["method"] == {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}}


def test_every_documented_status_is_mapped():
    documented = ["validating_files", "queued", "running", "succeeded", "failed", "cancelled"]
    spec = json.loads(open("tests/specs/openai-fine-tuning.openapi.json").read())
    assert (
        spec["components"]["schemas"]["FineTuningJob"]["properties"]["status"]["enum"] == documented
    )
    for raw in documented:
        assert mapping.STATUS_MAP[raw] is not JobStatus.UNKNOWN
    assert {mapping.STATUS_MAP[r] for r in ("succeeded", "failed", "cancelled")} == {
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
    }


def started(provider, train, **fields):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return provider.create_job(spec_for(provider.upload_dataset(train), **fields))


def test_pause_and_resume(provider, mock, train):
    job = started(provider, train)
    mock.advance(job.id, JobStatus.RUNNING)
    assert provider.pause_job(job.id).status is JobStatus.PAUSED
    assert provider.get_job(job.id).status is JobStatus.PAUSED
    assert provider.resume_job(job.id).status is JobStatus.RUNNING


def test_events_walk_every_page_oldest_first(provider, mock, train):
    job = started(provider, train)
    mock.advance(job.id, JobStatus.RUNNING)
    mock.advance(job.id, JobStatus.SUCCEEDED)
    events = list(provider.list_events(job.id))
    assert len(events) == len(mock.events[job.id]) >= 6
    assert len(mock.requests_to("GET", r"/events$")) >= 3  # page size 2
    assert events[0].message.startswith("Created fine-tuning job")
    assert events[-1].message == "The job has successfully completed"
    assert [e.id for e in events] == [e["id"] for e in mock.events[job.id]]
    newest = list(provider.list_events(job.id, limit=2))
    assert [e.id for e in newest] == [e.id for e in events[-2:]]


def test_metrics_from_events_and_checkpoints(provider, mock, train):
    job = started(provider, train)
    mock.advance(job.id, JobStatus.RUNNING)
    mock.advance(job.id, JobStatus.SUCCEEDED)
    points = provider.get_metrics(job.id)
    assert [p.step for p in points] == [1, 2, 3, 4]
    assert points[0].train_loss == pytest.approx(2.0) and points[3].valid_loss == pytest.approx(
        0.55
    )
    assert points[0].extra["train_mean_token_accuracy"] == 0.5
    checkpoints = provider.list_checkpoints(job.id)
    assert [c.step for c in checkpoints] == [2, 4]
    assert checkpoints[-1].model_id.endswith(":ckpt-step-4")


def test_model_ref_is_ready_serverless(provider, mock, train):
    job = started(provider, train, output_name="coach")
    mock.advance(job.id, JobStatus.SUCCEEDED)
    model = provider.resolve_model(provider.get_job(job.id))
    assert model.id.startswith(f"ft:{BASE}:mock-org:coach:")
    assert model.ready_for_inference and not model.needs_deployment


def test_find_job_uses_the_metadata_filter(provider, mock, train):
    job = started(provider, train)
    mock.seed_jobs(5)
    found = provider.find_job(job.client_ref)
    assert found is not None and found.id == job.id
    listed = mock.requests_to("GET", r"^/v1/fine_tuning/jobs$")[-1]
    assert listed.url.params["metadata[ftsdk_client_ref]"] == job.client_ref


# -- errors, retries and secrets ----------------------------------------------------------
def test_sdk_retries_are_off_so_a_create_is_sent_once(provider, mock, train, sleeps):
    ref = provider.upload_dataset(train)
    mock.fail_next(500, match=r"^POST /v1/fine_tuning/jobs$")
    with pytest.raises(InternalServerError):
        provider.create_job(spec_for(ref))
    assert len(mock.requests_to("POST", r"^/v1/fine_tuning/jobs$")) == 1 and sleeps == []


def test_vendor_message_and_request_id_are_kept(provider, mock):
    mock.fail_next(
        400,
        body={
            "error": {
                "message": "Model gpt-x is not available for fine-tuning",
                "type": "invalid_request_error",
                "param": "model",
                "code": "model_not_available",
            }
        },
    )
    with pytest.raises(BadRequestError) as info:
        provider.get_job("ftjob-1")
    err = info.value
    assert "gpt-x is not available" in str(err) and err.request_id == "req_mock_fault"
    assert err.provider_code == "model_not_available" and err.provider == "openai"


def test_secret_never_in_errors_or_logs(provider, mock, caplog):
    caplog.set_level(logging.DEBUG)
    mock.fail_next(
        401,
        body={
            "error": {
                "message": f"Incorrect API key provided: {SENTINEL_SECRET}",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        },
    )
    with pytest.raises(Exception) as info:
        list(provider.list_jobs(limit=1))
    assert "Incorrect API key" in str(info.value)
    assert SENTINEL_SECRET not in str(info.value) and SENTINEL_SECRET not in repr(info.value)
    assert SENTINEL_SECRET not in caplog.text
    assert SENTINEL_SECRET not in repr(provider) and SENTINEL_SECRET not in repr(vars(provider))


def test_no_key_is_a_configuration_error(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        OpenAIProvider()


def test_httpx2_mock_fixture_intercepts_the_sdk(httpx2_mock, train):
    server = OpenAIMockServer()
    server.mount(httpx2_mock)
    provider = OpenAIProvider(
        SENTINEL_SECRET, base_url=server.base_url, file_poll_interval=0, today=lambda: TODAY
    )
    job = started(provider, train)
    assert server.job_count() == 1 and provider.get_job(job.id).id == job.id
    sent = server.requests_to("POST", r"^/v1/fine_tuning/jobs$")[0]
    assert sent.headers["authorization"] == f"Bearer {SENTINEL_SECRET}"


def test_dropped_create_over_real_sockets_makes_one_job(train):
    server = OpenAIMockServer()
    with server.serve() as url:
        provider = OpenAIProvider(
            SENTINEL_SECRET,
            base_url=f"{url}/v1",
            timeout=5,
            retry=RetryPolicy(sleep=lambda s: None),
            file_poll_interval=0,
            today=lambda: TODAY,
        )
        spec = spec_for(provider.upload_dataset(train))
        server.fail_next(timeout=True, after_processing=True, match=r"^POST /v1/fine_tuning/jobs$")
        with pytest.raises(APITimeoutError):  # the connection dropped after the job was made
            provider.create_job(spec)
        assert server.job_count() == 1
        server.fail_next(timeout=True, after_processing=True, match=r"^POST /v1/fine_tuning/jobs$")
        spec2 = spec.model_copy(update={"client_ref": "ftsdk-second-intent"})
        job = create_job(provider, spec2)
        assert server.job_count() == 2 and job.client_ref == "ftsdk-second-intent"
        assert len(server.requests_to("POST", r"^/v1/fine_tuning/jobs$")) == 2
        provider.close()


def test_labels_must_fit_in_metadata(provider):
    too_many = spec_for("file-x", labels={f"k{i}": "v" for i in range(16)})
    with pytest.raises(UnsupportedFeatureError, match="16 given"):
        provider.preflight(too_many)
    too_long = spec_for("file-x", labels={"note": "x" * 513})
    with pytest.raises(UnsupportedFeatureError, match="too long: \\['note'\\]"):
        provider.preflight(too_long)


def test_the_sdk_client_never_retries_by_itself(provider):
    assert provider._client().max_retries == 0


@pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")
def test_a_create_that_never_connected_is_sent_again(provider, mock, train, sleeps):
    spec = spec_for(provider.upload_dataset(train))
    mock.fail_next(timeout=True, match=r"^POST /v1/fine_tuning/jobs$")  # connection refused
    job = create_job(provider, spec)
    assert mock.job_count() == 1 and job.client_ref == spec.client_ref
    assert len(mock.requests_to("POST", r"^/v1/fine_tuning/jobs$")) == 2 and len(sleeps) == 1
    # never sent, so no lookup was needed before resending
    assert not [
        r
        for r in mock.requests_to("GET", r"^/v1/fine_tuning/jobs$")
        if "metadata[ftsdk_client_ref]" in str(r.url)
    ]


@pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")
def test_a_502_on_create_is_looked_up_over_the_window_and_never_resent(provider, mock, train):
    """A 502 may hide a created job: look it up (several times), never send it again."""
    from finetune_sdk.errors import APIStatusError

    spec = spec_for(provider.upload_dataset(train))
    mock.fail_next(502, match=r"^POST /v1/fine_tuning/jobs$")
    with pytest.raises(APIStatusError):
        create_job(provider, spec)
    assert mock.job_count() == 0 and len(mock.requests_to("POST", r"^/v1/fine_tuning/jobs$")) == 1
    lookups = mock.requests_to("GET", r"^/v1/fine_tuning/jobs$")
    assert len(lookups) == len(provider.retry.lookup_delays()) > 1
    assert lookups[0].url.params["metadata[ftsdk_client_ref]"] == spec.client_ref


@pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")
def test_a_503_on_create_was_refused_before_any_work_so_it_is_sent_again(provider, mock, train):
    spec = spec_for(provider.upload_dataset(train))
    mock.fail_next(503, match=r"^POST /v1/fine_tuning/jobs$")
    job = create_job(provider, spec)
    assert mock.job_count() == 1 and job.client_ref == spec.client_ref


def test_running_job_progress_comes_from_metrics_events(provider, mock, train):
    job = started(provider, train)
    assert provider.get_job(job.id).progress is None  # validating: no events call
    assert not mock.requests_to("GET", r"/events$")
    mock.advance(job.id, JobStatus.RUNNING)  # mock emits steps 1 and 2 of 4
    assert provider.get_job(job.id).progress == pytest.approx(0.5)
    mock.advance(job.id, JobStatus.SUCCEEDED)
    assert provider.get_job(job.id).progress == 1.0


def test_close_leaves_a_passed_http_client_open(mock):
    http = httpx2.Client(transport=mock.transport())
    provider = make(mock, http_client=http)
    list(provider.list_jobs(limit=1))
    provider.close()
    assert not http.is_closed
    assert list(provider.list_jobs(limit=1)) == []  # a fresh SDK client on the same transport


def test_missing_sdk_names_the_extra(monkeypatch):
    import importlib.util

    from finetune_sdk.errors import ProviderNotInstalledError

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "openai" else real(name, *a)
    )
    with pytest.raises(ProviderNotInstalledError, match=r"finetune-sdk\[openai\]"):
        OpenAIProvider(SENTINEL_SECRET)
