"""Together adapter behaviour beyond the conformance suite: the create body (our
Hyperparameters, LoRA, DPO, options), the intent tag in ``suffix``, uploads (Together's own file
check, rejection, processing), cancel, events/checkpoints/metrics, the late output name,
estimates, configuration, and the whole loop through ``Client("together")``."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings

import httpx2
import pytest

pytest.importorskip("together")

from finetune_sdk import Client  # noqa: E402
from finetune_sdk.errors import (  # noqa: E402
    ConfigurationError,
    DatasetError,
    JobError,
    ProviderNotInstalledError,
    UnsupportedFeatureError,
)
from finetune_sdk.provider import PreflightWarning  # noqa: E402
from finetune_sdk.providers.together import mapping  # noqa: E402
from finetune_sdk.providers.together.adapter import TogetherProvider  # noqa: E402
from finetune_sdk.providers.together.request import TogetherOptions  # noqa: E402
from finetune_sdk.retry import RetryPolicy  # noqa: E402
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl  # noqa: E402
from finetune_sdk.testing.mock_servers.together import TogetherMockServer  # noqa: E402
from finetune_sdk.types import Hyperparameters, JobSpec, JobStatus  # noqa: E402

BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


@pytest.fixture(autouse=True)
def _no_together_env(monkeypatch):
    for name in ("TOGETHER_API_KEY", "TOGETHER_BASE_URL", "TOGETHER_PROJECT_ID", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mock():
    return TogetherMockServer()


@pytest.fixture
def sleeps():
    return []


def make(mock, sleeps=None, **overrides):
    kwargs = dict(api_key=SENTINEL_SECRET, base_url=mock.base_url,
                  http_client=httpx2.Client(transport=mock.transport()), dataset_poll_interval=0,
                  retry=RetryPolicy(max_attempts=3,
                                    sleep=(sleeps if sleeps is not None else []).append))
    kwargs.update(overrides)
    return TogetherProvider(**kwargs)


@pytest.fixture
def provider(mock, sleeps):
    return make(mock, sleeps)


@pytest.fixture
def train(tmp_path):
    return write_chat_jsonl(tmp_path / "train.jsonl", 12)


def spec_for(ref, **fields):
    return JobSpec(base_model=fields.pop("base_model", BASE), training_file=ref, **fields)


def created(provider, mock, spec):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreflightWarning)
        provider.preflight(spec)
    job = provider.create_job(spec)
    return job, mock.creates[-1]


# -- the create body ------------------------------------------------------------------------
def test_hyperparameters_become_the_sdk_request(provider, mock, train):
    hp = Hyperparameters(epochs=3, learning_rate=2e-4, batch_size=16, lora_rank=8, lora_alpha=32,
                         lora_dropout=0.05, lora_target_modules=["q_proj", "v_proj"],
                         warmup_ratio=0.1, max_seq_length=2048, seed=7)
    job, body = created(provider, mock, spec_for(provider.upload_dataset(train),
                                                 hyperparameters=hp, output_name="coach"))
    assert body["n_epochs"] == 3 and body["learning_rate"] == 2e-4 and body["batch_size"] == 16
    assert body["warmup_ratio"] == 0.1 and body["max_seq_length"] == 2048
    assert body["random_seed"] == 7
    assert body["training_type"] == {
        "type": "Lora", "lora_r": 8, "lora_alpha": 32, "lora_dropout": 0.05,
        "lora_trainable_modules": "q_proj,v_proj"}
    assert body["training_method"] == {"method": "sft", "train_on_inputs": "auto"}
    assert body["suffix"].startswith("coach-ftsdk-") and len(body["suffix"]) <= 40
    assert job.hyperparameters["lora_rank"] == 8 and job.method == "sft"


def test_defaults_leave_lora_to_together_and_a_validation_file_gets_evals(provider, mock, train,
                                                                          tmp_path):
    valid = provider.upload_dataset(write_chat_jsonl(tmp_path / "valid.jsonl", 3))
    _, body = created(provider, mock, spec_for(provider.upload_dataset(train),
                                               validation_file=valid))
    assert "training_type" not in body  # Together's default (LoRA)
    assert body["batch_size"] == "max" and body["n_epochs"] == 1
    assert body["validation_file"] == valid.id and body["n_evals"] == 1


def test_full_fine_tuning_and_options(provider, mock, train):
    options = TogetherOptions(lora=False, n_checkpoints=3, lr_scheduler_type="linear",
                              weight_decay=0.01, packing=False, n_evals=0)
    _, body = created(provider, mock, spec_for(provider.upload_dataset(train), options=options))
    assert body["training_type"] == {"type": "Full"}
    assert body["n_checkpoints"] == 3 and body["weight_decay"] == 0.01
    assert body["lr_scheduler"]["lr_scheduler_type"] == "linear" and body["packing"] is False


def test_dpo_sends_the_preference_method_with_beta(provider, mock, tmp_path):
    import json

    data = tmp_path / "prefs.jsonl"
    data.write_text("".join(json.dumps({
        "input": {"messages": [{"role": "user", "content": f"q{i}"}]},
        "preferred_output": [{"role": "assistant", "content": "good"}],
        "non_preferred_output": [{"role": "assistant", "content": "bad"}]}) + "\n"
        for i in range(4)))
    ref = provider.upload_dataset(data)
    assert ref.kind == "preference"
    assert b'"preferred_output"' in mock.file_bytes[ref.id]
    _, body = created(provider, mock, spec_for(ref, method="dpo",
                                               hyperparameters=Hyperparameters(beta=0.2)))
    assert body["training_method"]["method"] == "dpo"
    assert body["training_method"]["dpo_beta"] == 0.2


@pytest.mark.parametrize(("spec_fields", "match"), [
    (dict(hyperparameters=Hyperparameters(learning_rate_multiplier=2.0)), "learning_rate_mult"),
    (dict(hyperparameters=Hyperparameters(beta=0.1)), "beta with method='sft'"),
    (dict(hyperparameters=Hyperparameters(lora_rank=8), options={"lora": False}), "lora=False"),
])
def test_preflight_refuses_what_together_would_ignore_or_reject(provider, spec_fields, match):
    with pytest.raises(UnsupportedFeatureError, match=match):
        provider.preflight(spec_for("file-x", **spec_fields))


def test_wandb_needs_a_key_and_the_key_goes_only_into_that_create(mock, train):
    spec_fields = dict(options={"wandb_project_name": "coach"})
    with pytest.raises(ConfigurationError, match="WANDB_API_KEY"):
        make(mock).preflight(spec_for("file-x", **spec_fields))
    provider = make(mock, wandb_api_key="wandb-SENTINEL-key")
    assert "wandb-SENTINEL-key" not in repr(vars(provider))
    _, body = created(provider, mock, spec_for(provider.upload_dataset(train), **spec_fields))
    assert body["wandb_key"] == "wandb-SENTINEL-key" and body["wandb_project_name"] == "coach"
    _, plain = created(provider, mock, spec_for(provider.upload_dataset(train)))
    assert "wandb_key" not in plain


def test_labels_and_a_long_output_name_are_warned_about(provider):
    spec = spec_for("file-x", labels={"app": "coach"}, output_name="health-coach-large-v2")
    with pytest.warns(PreflightWarning) as caught:
        provider.preflight(spec)
    text = " ".join(str(w.message) for w in caught)
    assert "no labels" in text and "becomes the suffix 'health-co-ftsdk-" in text


def test_a_batch_size_over_the_model_limit_is_refused_naming_it(provider, train):
    spec = spec_for(provider.upload_dataset(train),
                    hyperparameters=Hyperparameters(batch_size=512, lora_rank=8))
    with pytest.raises(UnsupportedFeatureError, match="maximum allowed value of 96"):
        provider.create_job(spec)


# -- the intent tag in suffix -------------------------------------------------------------------
def test_every_client_ref_gets_a_fixed_tag_read_back_exactly():
    derived = "ftsdk-0123456789abcdef01234567"
    assert mapping.ref_tag(derived) == derived
    mine = mapping.ref_tag("my-run_1")
    assert mine.startswith("ftsdk-") and len(mine) == 30 and mine != mapping.ref_tag("run_1")
    spec = JobSpec(base_model=BASE, training_file="file-x", client_ref=derived,
                   output_name="Coach v2 / ßeta")
    suffix = mapping.suffix_for(spec)
    assert suffix == f"Coach-v2-{derived}" and mapping.tag_of(suffix) == derived
    assert mapping.tag_of(derived) == derived
    for other in (None, "", "coach", "xftsdk-0123456789abcdef01234567", "ftsdk-0123"):
        assert mapping.tag_of(other) is None


def test_find_job_matches_the_tag_and_only_it(provider, mock, train):
    ref = provider.upload_dataset(train)
    mine = provider.create_job(spec_for(ref, client_ref="nightly-2026-12-03"))
    provider.create_job(spec_for(ref, client_ref="2026-12-03"))
    mock.seed_jobs(3)
    found = provider.find_job("nightly-2026-12-03")
    assert found is not None and found.id == mine.id
    assert found.client_ref == "nightly-2026-12-03"
    assert provider.find_job("nightly") is None


def test_list_is_newest_first_and_limited(provider, mock):
    mock.seed_jobs(4)
    jobs = list(provider.list_jobs())
    assert [j.id for j in jobs] == sorted(mock.jobs, reverse=True)
    assert len(list(provider.list_jobs(limit=2))) == 2


# -- statuses, progress, failures -----------------------------------------------------------------
def test_every_documented_status_is_mapped():
    assert mapping.STATUS_MAP == {
        "pending": JobStatus.QUEUED, "queued": JobStatus.QUEUED, "running": JobStatus.RUNNING,
        "compressing": JobStatus.RUNNING, "uploading": JobStatus.RUNNING,
        "cancel_requested": JobStatus.RUNNING, "cancelled": JobStatus.CANCELLED,
        "error": JobStatus.FAILED, "user_error": JobStatus.FAILED,
        "completed": JobStatus.SUCCEEDED}
    job = mapping.job_from_wire({"id": "ft-1", "status": "new_thing"})
    assert job.status is JobStatus.UNKNOWN and job.provider_status == "new_thing"


def test_progress_poll_hint_and_a_user_error_with_its_message():
    running = mapping.job_from_wire({"id": "ft-1", "status": "running", "n_epochs": 4,
                                     "epochs_completed": 1,
                                     "progress": {"estimate_available": True,
                                                  "seconds_remaining": 900}})
    assert running.progress == 0.25 and running.poll_after == 60.0
    failed = mapping.job_from_wire({"id": "ft-1", "status": "user_error", "events": [
        {"level": "info", "message": "started"},
        {"level": "error", "type": "job_error", "message": "line 7: no assistant turn"}]})
    assert failed.error.message == "line 7: no assistant turn"
    assert failed.error.code == "user_error"
    bare = mapping.job_from_wire({"id": "ft-1", "status": "error"})
    assert "gave no message" in bare.error.message


def test_cancel_is_requested_then_cancelled(provider, mock, train):
    job = provider.create_job(spec_for(provider.upload_dataset(train)))
    asked = provider.cancel_job(job.id)
    assert asked.provider_status == "cancel_requested" and not asked.status.is_terminal
    assert provider.get_job(job.id).status is JobStatus.CANCELLED


def test_events_checkpoints_and_metrics(provider, mock, train):
    job = provider.create_job(spec_for(provider.upload_dataset(train)))
    mock.advance(job.id, JobStatus.RUNNING)
    mock.advance(job.id, JobStatus.SUCCEEDED)
    events = list(provider.list_events(job.id))
    assert events[0].type == "job_pending" and events[-1].type == "job_complete"
    assert [e.type for e in provider.list_events(job.id, limit=1)] == ["job_complete"]
    assert any(e.data.get("total_steps") == 4 for e in events)
    checkpoints = provider.list_checkpoints(job.id)
    assert [c.id for c in checkpoints] == [f"{job.id}:2", f"{job.id}:4"]
    points = provider.get_metrics(job.id)
    assert [p.step for p in points] == [1, 2, 3, 4]
    assert points[-1].valid_loss == pytest.approx(0.55) and points[0].learning_rate == 1e-5


def test_a_late_output_name_is_read_again_by_resolve(mock, train):
    mock.late_output_name = True
    provider = make(mock)
    job = provider.create_job(spec_for(provider.upload_dataset(train)))
    mock.advance(job.id, JobStatus.SUCCEEDED)
    done = provider.get_job(job.id)
    assert done.status is JobStatus.SUCCEEDED and done.output_model is None
    model = provider.resolve_model(done)
    assert model.id.startswith("mockuser/Meta-Llama-3.1-8B-Instruct-Reference-")
    assert model.needs_deployment and not model.ready_for_inference
    assert "dedicated endpoint" in model.how_to_serve


def test_resolve_without_any_output_name_says_so(provider, mock, train):
    job = provider.create_job(spec_for(provider.upload_dataset(train)))
    mock.set_raw_status(job.id, "completed")  # completed, but Together named no model yet
    with pytest.raises(JobError, match="no model_output_name yet"):
        provider.resolve_model(provider.get_job(job.id))


# -- uploads ----------------------------------------------------------------------------------
def test_upload_runs_together_check_and_puts_the_bytes_without_the_key(provider, mock, train,
                                                                       monkeypatch):
    import together.lib

    checked = []
    real = together.lib.check_file
    monkeypatch.setattr(together.lib, "check_file",
                        lambda path, **kw: checked.append(path.name) or real(path, **kw))
    ref = provider.upload_dataset(train)
    assert checked == ["train.jsonl"] and mock.files[ref.id]["filename"] == "train.jsonl"
    assert ref.status == "ready" and ref.num_examples == 12 and ref.bytes == len(
        mock.file_bytes[ref.id])
    [put] = mock.put_headers
    assert "authorization" not in {k.lower() for k in put}
    paths = [f"{r.method} {r.url.path}" for r in mock.requests]
    assert paths == ["POST /v1/files", f"PUT /mock-storage/{ref.id}",
                     f"POST /v1/files/{ref.id}/preprocess"]


def test_together_check_refusal_is_a_dataset_error_with_the_line(tmp_path):
    from finetune_sdk.providers.together.files import together_check

    bad = tmp_path / "wire.jsonl"
    bad.write_text('{"messages": []}\n[1, 2]\n')
    with pytest.raises(DatasetError, match="JSON object") as info:
        together_check(bad, tmp_path / "chats.jsonl")
    assert info.value.line == 2 and info.value.file.endswith("chats.jsonl")


def test_the_sdks_own_file_refusal_is_a_dataset_error():
    from together.lib import FileTypeError

    mapped = mapping.translate_error(FileTypeError("File size 51.0GB exceeds maximum"))
    assert isinstance(mapped, DatasetError) and "exceeds maximum" in str(mapped)


def test_a_file_together_rejects_is_a_dataset_error_and_deleted(mock, train):
    mock.file_rejection = "line 4: assistant message has no content"
    client = Client(make(mock), ledger=False)
    with pytest.raises(DatasetError, match="line 4: assistant message has no content"):
        client.datasets.upload(train)
    assert mock.files == {}  # the lifecycle discards it: Together would keep it stored


def test_a_processing_file_is_waited_for_by_the_client(mock, train):
    mock.processing_reads = 2
    client = Client(make(mock), ledger=False)
    ref = client.datasets.upload(train, wait=False)
    assert ref.status == "processing"
    assert client.datasets.wait(ref, poll_interval=0).status == "ready"


# -- estimates ----------------------------------------------------------------------------------
def test_the_estimate_rides_along_and_low_funds_are_logged(provider, mock, train, caplog):
    mock.credit_limit = 0.0
    with caplog.at_level(logging.WARNING, logger="finetune_sdk"):
        job = provider.create_job(spec_for(provider.upload_dataset(train),
                                           hyperparameters=Hyperparameters(epochs=2)))
    estimate = job.provider_details["price_estimate"]
    assert estimate["estimation_available"] is True and estimate["allowed_to_proceed"] is False
    assert estimate["estimated_train_token_count"] == mock.files[
        job.provider_details["training_file"]]["bytes"] / 4 * 2
    assert "credit limit" in caplog.text
    assert provider.price_estimate(spec_for(job.provider_details["training_file"]))[
        "estimated_total_price"] > 0


# -- configuration ------------------------------------------------------------------------------
def test_credentials_and_base_url_come_from_the_environment(monkeypatch, mock):
    with pytest.raises(ConfigurationError, match="TOGETHER_API_KEY"):
        TogetherProvider()
    monkeypatch.setenv("TOGETHER_API_KEY", SENTINEL_SECRET)
    monkeypatch.setenv("TOGETHER_BASE_URL", "https://proxy.example/v1/")
    provider = TogetherProvider()
    assert provider.base_url == "https://proxy.example"
    assert SENTINEL_SECRET not in repr(provider) and SENTINEL_SECRET not in repr(vars(provider))


def test_an_httpx_client_is_used_as_it_is(mock):
    import httpx

    from finetune_sdk.providers.together.bridge import httpx_client

    mine = httpx.Client()
    assert httpx_client(mine) is mine
    assert isinstance(httpx_client(httpx2.Client(transport=mock.transport())), httpx.Client)


def test_missing_sdk_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "together" else real(name, *a))
    with pytest.raises(ProviderNotInstalledError, match=r"finetune-sdk\[together\]"):
        TogetherProvider(api_key="k")


def test_importing_the_adapter_loads_no_sdk():
    code = ("import sys, finetune_sdk\n"
            "import finetune_sdk.providers.together.adapter\n"
            "import finetune_sdk.providers.together.dataset\n"
            "print('together' in sys.modules, 'httpx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split()[0] == "False"


# -- the whole loop -------------------------------------------------------------------------------
def test_client_runs_upload_create_wait_and_resolves_the_model(mock, train):
    client = Client("together", api_key=SENTINEL_SECRET, base_url=mock.base_url,
                    http_client=httpx2.Client(transport=mock.transport()),
                    retry=RetryPolicy(sleep=lambda s: None))
    mock.auto_advance = True
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreflightWarning)
        job = client.jobs.run(base_model=BASE, training_file=train, output_name="coach",
                              hyperparameters={"epochs": 2, "lora_rank": 8}, poll_interval=0,
                              progress=False, on_update=lambda j: seen.append(j.provider_status))
    assert job.status is JobStatus.SUCCEEDED
    assert seen == ["pending", "running", "completed"]  # compressing/uploading: still running
    model = client.models.resolve(job)
    assert model.id == job.output_model and model.provider == "together"
    assert client.ledger.get(job.client_ref).model_id == model.id
    assert mock.job_count() == 1 and len(mock.creates) == 1
