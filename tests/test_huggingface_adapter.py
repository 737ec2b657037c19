"""Hugging Face specifics: Hub upload, the AutoTrain command built from Hyperparameters, the sdk
backend on run_uv_job, JobStage map, logs -> events/metrics, model repo resolution, dropped
connections on create, and secret hygiene."""

from __future__ import annotations

import json
import logging
import shlex

import httpx2
import pytest
from huggingface_hub import JobStage
from test_huggingface_conformance import make_provider, mount_hub_mock

from finetune_sdk import Client
from finetune_sdk.errors import (
    APITimeoutError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    UnsupportedFeatureError,
)
from finetune_sdk.lifecycle import create_job
from finetune_sdk.providers.huggingface import remote_train
from finetune_sdk.providers.huggingface.adapter import HuggingFaceOptions, HuggingFaceProvider
from finetune_sdk.providers.huggingface.commands import parse_metrics
from finetune_sdk.providers.huggingface.mapping import CLIENT_REF_LABEL, STATUS_MAP
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl
from finetune_sdk.types import DatasetRef, Hyperparameters, JobSpec, JobStatus, MetricPoint

BASE = "HuggingFaceTB/SmolLM2-135M-Instruct"
LORA = Hyperparameters(lora_rank=16, lora_alpha=32, lora_dropout=0.05,
                       lora_target_modules=["q_proj", "v_proj"], epochs=3, learning_rate=2e-4,
                       batch_size=4, max_seq_length=1024, seed=7)


@pytest.fixture
def mock(httpx2_mock, monkeypatch):
    return mount_hub_mock(httpx2_mock, monkeypatch)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def provider(mock, sleeps) -> HuggingFaceProvider:
    return make_provider(mock, retry=RetryPolicy(max_attempts=3, sleep=sleeps.append))


@pytest.fixture
def train(tmp_path):
    return write_chat_jsonl(tmp_path / "train.jsonl")


def start(provider, train):
    """A job created from the sample data (uploaded first)."""
    ref = provider.upload_dataset(train)
    return provider.create_job(JobSpec(base_model=BASE, training_file=ref))


def run_body(mock) -> dict:
    [request] = mock.requests_to("POST", r"^/api/jobs/[^/]+$")
    return json.loads(request.content)


def test_token_is_required_and_never_shown(monkeypatch, tmp_path):
    import huggingface_hub.constants

    # No saved `hf auth login` token either (tests/test_huggingface_token.py covers that one).
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "token"))
    with pytest.raises(ConfigurationError, match="HF_TOKEN"):
        HuggingFaceProvider(namespace="me")
    monkeypatch.setenv("HF_TOKEN", SENTINEL_SECRET)
    provider = HuggingFaceProvider(namespace="me")
    assert SENTINEL_SECRET not in repr(provider)


def test_upload_creates_private_dataset_repo_and_commits_file(provider, mock, train):
    ref = provider.upload_dataset(train)
    repo = mock.repos["datasets/mock-user/finetune-sdk-data"]
    assert repo["private"] is True
    path = ref.provider_details["path"]
    revision = ref.provider_details["revision"]
    assert ref.id == f"mock-user/finetune-sdk-data:{path}@{revision}"
    assert path.endswith("/train.jsonl") and len(revision) == 40 and ref.num_examples == 12
    first = json.loads(repo["files"][path].decode().splitlines()[0])
    assert first["messages"][0]["role"] == "system"
    # A second upload reuses the repo (409 handled by exist_ok) and the same path.
    assert provider.upload_dataset(train).provider_details["path"] == path


def test_autotrain_command_flags_from_hyperparameters(provider, mock, train):
    ref = provider.upload_dataset(train)
    valid = provider.upload_dataset(train, purpose="validation")
    spec = JobSpec(base_model=BASE, training_file=ref, validation_file=valid,
                   output_name="Therapy Support", hyperparameters=LORA, client_ref="ftsdk-t1",
                   options=HuggingFaceOptions(flavor="a100-large", timeout="3h",
                                              labels={"team": "care"}))
    provider.preflight(spec)
    job = provider.create_job(spec)
    body = run_body(mock)
    assert body["dockerImage"] == "huggingface/autotrain-advanced:latest"
    assert body["flavor"] == "a100-large" and body["timeoutSeconds"] == 3 * 3600
    assert body["labels"][CLIENT_REF_LABEL] == "ftsdk-t1" and body["labels"]["team"] == "care"
    assert body["secrets"] == {"HF_TOKEN": SENTINEL_SECRET}  # sent only as a job secret
    assert body["command"][:2] == ["sh", "-c"]
    script = body["command"][2]
    assert SENTINEL_SECRET not in script and SENTINEL_SECRET not in json.dumps(body["environment"])
    staging, train_cmd = script.rsplit(" && ", 1)
    argv = shlex.split(train_cmd)
    assert argv[:3] == ["autotrain", "llm", "--train"] and argv[-2:] == ["--token", "$HF_TOKEN"]
    flags = dict(zip(argv[3::1], argv[4::1], strict=False))
    expected = {"--model": BASE, "--project-name": "therapy-support", "--trainer": "sft",
                "--lora-r": "16", "--lora-alpha": "32", "--lora-dropout": "0.05",
                "--target-modules": "q_proj,v_proj", "--epochs": "3", "--lr": "0.0002",
                "--batch-size": "4", "--block-size": "1024", "--seed": "7",
                "--username": "mock-user", "--text-column": "messages",
                "--chat-template": "tokenizer", "--train-split": "train",
                "--valid-split": "validation", "--data-path": "/tmp/ftsdk-data"}
    for flag, value in expected.items():
        assert flags.get(flag) == value, flag
    assert "--peft" in argv and "--push-to-hub" in argv
    assert "cp /data/train/train.jsonl /tmp/ftsdk-data/train.jsonl" in staging
    assert {v["mountPath"] for v in body["volumes"]} == {"/data/train", "/data/validation"}
    assert all(v["type"] == "dataset" and v["revision"] for v in body["volumes"])
    assert job.status is JobStatus.QUEUED and job.client_ref == "ftsdk-t1"


def test_dataset_ref_rebuilt_from_its_id_still_mounts_the_revision(provider, mock, train):
    ref = provider.upload_dataset(train)
    bare = DatasetRef(id=ref.id, provider="huggingface")
    provider.create_job(JobSpec(base_model=BASE, training_file=bare))
    [volume] = run_body(mock)["volumes"]
    assert volume["source"] == "mock-user/finetune-sdk-data"
    assert volume["revision"] == ref.provider_details["revision"]
    assert volume["path"] == ref.provider_details["path"].rsplit("/", 1)[0]


def test_no_lora_fields_means_full_finetune_unless_forced(provider, mock, train):
    ref = provider.upload_dataset(train)
    provider.create_job(JobSpec(base_model=BASE, training_file=ref))
    assert "--peft" not in run_body(mock)["command"][2]


def test_sdk_backend_runs_our_trainer_with_run_uv_job(provider, mock, train):
    ref = provider.upload_dataset(train)
    spec = JobSpec(base_model=BASE, training_file=ref, output_name="coach", hyperparameters=LORA,
                   options={"backend": "sdk", "flavor": "l4x1"})
    provider.preflight(spec)
    job = provider.create_job(spec)
    body = run_body(mock)
    assert body["dockerImage"].startswith("ghcr.io/astral-sh/uv")
    command = body["command"]
    assert command[:2] == ["uv", "run"]
    assert command[command.index("--with") + 1] == "finetune-sdk[local,hf]"
    module_at = command.index("-m")
    assert command[module_at + 1] == "finetune_sdk.providers.huggingface.remote_train"
    args = remote_train.parse_args(command[module_at + 2:])
    assert args.output_repo == "mock-user/coach" and args.train == "/data/train/train.jsonl"
    assert json.loads(args.hyperparameters)["lora_rank"] == 16
    assert body["environment"]["FTSDK_OUTPUT_REPO"] == "mock-user/coach"
    assert job.provider_details["environment"]["FTSDK_BACKEND"] == "sdk"


def test_sdk_backend_refuses_dpo(provider, train):
    spec = JobSpec(base_model=BASE, training_file=train, method="dpo", options={"backend": "sdk"})
    with pytest.raises(UnsupportedFeatureError, match="backend=.sdk."):
        provider.preflight(spec)


def test_jobstage_map_is_complete():
    for stage in JobStage:
        assert stage.value in STATUS_MAP, stage
    assert STATUS_MAP["CANCELED"] is JobStatus.CANCELLED
    assert STATUS_MAP["ERROR"] is JobStatus.FAILED


def test_logs_become_events_and_loss_lines_metrics(provider, mock, train):
    job = start(provider, train)
    mock.add_log_lines(
        job.id,
        "Loading model...",
        "{'loss': 2.25, 'grad_norm': 0.8, 'learning_rate': 2e-05, 'epoch': 0.5}",
        "{'eval_loss': 1.9, 'epoch': 1.0}",
        '{"step": 12, "loss": 1.5, "epoch": 1.5}',
        "WARNING: low disk",
        f"ERROR: push failed with token={SENTINEL_SECRET}",
    )
    events = list(provider.list_events(job.id))
    assert [e.message for e in events][:1] == ["Loading model..."]
    assert events[-2].level == "warning" and events[-1].level == "error"
    assert all(SENTINEL_SECRET not in e.message for e in events)
    metrics = provider.get_metrics(job.id)
    assert metrics[0] == MetricPoint(step=1, epoch=0.5, train_loss=2.25, learning_rate=2e-05,
                                     extra={"grad_norm": 0.8})
    assert metrics[1].valid_loss == 1.9 and metrics[2].step == 12 and metrics[2].train_loss == 1.5


def test_parse_metrics_ignores_noise():
    assert parse_metrics(["loss went down", "{'loss': 'nan?'}", "{not a dict}"]) == []


def test_model_is_the_hub_repo_once_it_exists(provider, mock, train):
    spec = JobSpec(base_model=BASE, training_file=provider.upload_dataset(train),
                   output_name="coach")
    job = provider.create_job(spec)
    mock.set_raw_status(job.id, "COMPLETED")  # finished, but the push never happened
    done = provider.get_job(job.id)
    assert done.status is JobStatus.SUCCEEDED and done.output_model == "mock-user/coach"
    with pytest.raises(NotFoundError, match="does not exist"):
        provider.resolve_model(done)
    mock.add_model_repo("mock-user/coach")
    model = provider.resolve_model(done)
    assert model.id == "mock-user/coach" and model.needs_deployment and model.job_id == job.id


def test_dropped_connection_on_create_is_ambiguous_and_deduped(httpx2_mock, monkeypatch, train):
    import huggingface_hub.constants

    from finetune_sdk.testing.mock_servers.huggingface import HuggingFaceMockServer

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    server = HuggingFaceMockServer()
    drop = {"armed": False}

    def handle(request: httpx2.Request) -> httpx2.Response:
        response = server.handle(request)
        if drop["armed"] and request.method == "POST" and request.url.path == "/api/jobs/mock-user":
            drop["armed"] = False
            raise httpx2.RemoteProtocolError("Server disconnected without sending a response.")
        return response

    httpx2_mock.add_callback(handle, is_reusable=True, is_optional=True)
    provider = HuggingFaceProvider(SENTINEL_SECRET, namespace="mock-user",
                                   endpoint=server.base_url,
                                   retry=RetryPolicy(sleep=lambda s: None))
    ref = provider.upload_dataset(train)
    drop["armed"] = True
    with pytest.raises(APITimeoutError):  # huggingface_hub surfaces RemoteProtocolError
        provider.create_job(JobSpec(base_model=BASE, training_file=ref))
    assert server.job_count() == 1
    spec = JobSpec(base_model=BASE, training_file=ref)
    drop["armed"] = True
    found = create_job(provider, spec)  # the lifecycle finds it by label instead of resending
    assert server.job_count() == 2 and found.client_ref == spec.client_ref
    assert len(server.requests_to("POST", r"^/api/jobs/mock-user$")) == 2


def test_secret_never_in_errors_or_logs(provider, mock, train, caplog):
    caplog.set_level(logging.DEBUG)
    mock.fail_next(403, body={"error": f"token {SENTINEL_SECRET} lacks write access"}, times=5)
    with pytest.raises(PermissionDeniedError) as info:
        provider.upload_dataset(train)
    assert SENTINEL_SECRET not in str(info.value) and "403" in str(info.value)
    assert SENTINEL_SECRET not in caplog.text
    assert SENTINEL_SECRET not in repr(vars(provider))


def test_client_run_end_to_end(provider, mock, train):
    client = Client(provider, ledger=False)
    job = client.jobs.create(base_model=BASE, training_file=provider.upload_dataset(train),
                             output_name="e2e", hyperparameters=LORA)
    mock.advance(job.id, JobStatus.SUCCEEDED)
    final = client.jobs.wait(job.id, poll_interval=0, progress=False)
    assert client.models.resolve(final).id == "mock-user/e2e"


def test_remote_train_pushes_the_trained_folder(tmp_path, capsys):
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")

    class StubJobs:
        def run(self, **kwargs):
            self.kwargs = kwargs
            job = type("J", (), {"id": "j1", "status": JobStatus.SUCCEEDED, "progress": 1.0})()
            kwargs["on_update"](job)
            return job

        def metrics(self, job_id):
            return [MetricPoint(step=1, train_loss=2.0), MetricPoint(step=2, train_loss=1.0)]

    class StubClient:
        jobs = StubJobs()
        models = type("M", (), {"resolve": staticmethod(
            lambda job: type("R", (), {"id": f"local:{folder}"})())})()

    class StubHub:
        calls: list = []

        def create_repo(self, *a, **k):
            self.calls.append(("create_repo", a, k))

        def upload_folder(self, **k):
            self.calls.append(("upload_folder", k))

    hub = StubHub()
    code = remote_train.main(["--base-model", BASE, "--train", "/data/train/train.jsonl",
                              "--output-repo", "me/coach", "--hyperparameters", '{"lora_rank": 8}'],
                             client_factory=StubClient, hub=hub)
    assert code == 0
    assert StubClient.jobs.kwargs["hyperparameters"].lora_rank == 8
    upload = hub.calls[1][1]
    assert upload["folder_path"] == str(folder) and upload["repo_id"] == "me/coach"
    printed = capsys.readouterr().out
    assert parse_metrics(printed.splitlines())[-1].train_loss == 1.0


def test_namespace_is_asked_of_the_hub_once_when_not_configured(mock, train):
    provider = HuggingFaceProvider(SENTINEL_SECRET, endpoint=mock.base_url)
    start(provider, train)
    list(provider.list_jobs())
    assert provider.namespace == "mock-user"
    assert len(mock.requests_to("GET", r"^/api/whoami-v2$")) == 1


def test_extra_body_is_refused_not_dropped(provider, train):
    spec = JobSpec(base_model=BASE, training_file=train, extra_body={"x": 1})
    with pytest.raises(UnsupportedFeatureError, match="extra_args"):
        provider.preflight(spec)


def test_dropped_connection_over_a_real_socket_yields_one_job(monkeypatch, train):
    """huggingface_hub's shared httpx2 client against a loopback server that drops run_job."""
    import huggingface_hub.constants
    from huggingface_hub.utils import close_session

    from finetune_sdk.testing.mock_servers.huggingface import HuggingFaceMockServer

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    server = HuggingFaceMockServer()
    with server.serve() as url:
        provider = HuggingFaceProvider(SENTINEL_SECRET, namespace=server.namespace, endpoint=url,
                                       retry=RetryPolicy(sleep=lambda s: None))
        spec = JobSpec(base_model=BASE, training_file=provider.upload_dataset(train))
        server.fail_next(timeout=True, after_processing=True, match=r"^POST /api/jobs/[^/]+$")
        job = create_job(provider, spec)
        close_session()
    assert server.job_count() == 1 and job.client_ref == spec.client_ref
    assert len(server.requests_to("POST", r"^/api/jobs/[^/]+$")) == 1


# -- client-side timeout --------------------------------------------------------------------
def hub_timeouts(mock, pattern: str = r"^/api/") -> list[dict]:
    """The timeout each matching request carried into the transport (after every hook)."""
    import re

    return [r.extensions["timeout"] for r in mock.requests if re.search(pattern, r.url.path)]


def caps(seconds):
    return {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}


def test_timeout_caps_every_hub_request_the_provider_sends(mock, train):
    """huggingface_hub's shared client has no timeout; the provider's reaches each request:
    upload, run_job, inspect_job, the job list, cancel and the log replay."""
    provider = HuggingFaceProvider(SENTINEL_SECRET, namespace=mock.namespace,
                                   endpoint=mock.base_url, timeout=2.5)
    job = start(provider, train)
    provider.get_job(job.id)
    assert provider.find_job(job.client_ref).id == job.id
    mock.add_log_lines(job.id, "{'loss': 2.0, 'epoch': 0.5}")
    assert provider.get_metrics(job.id)
    provider.cancel_job(job.id)
    sent = hub_timeouts(mock)
    assert len(sent) >= 7 and sent == [caps(2.5)] * len(sent)


def test_a_shorter_timeout_huggingface_hub_chose_is_kept(mock, train):
    """fetch_job_logs(follow=False) reads with 5 s on purpose (a silent stream = drained)."""
    provider = HuggingFaceProvider(SENTINEL_SECRET, namespace=mock.namespace,
                                   endpoint=mock.base_url)
    job = start(provider, train)
    list(provider.list_events(job.id))
    [logs] = hub_timeouts(mock, r"/logs$")
    assert logs == caps(5)
    assert hub_timeouts(mock, r"^/api/jobs/[^/]+$")[0] == caps(60.0)  # run_job: the default


def test_timeout_is_not_global_state(mock, train):
    """Other code on huggingface_hub's shared client keeps its own (unbounded) timeout: outside
    a provider call, and on another thread while a provider call is running."""
    import threading

    from huggingface_hub.utils import get_session

    from finetune_sdk.providers.huggingface.http_timeout import request_timeout

    provider = HuggingFaceProvider(SENTINEL_SECRET, namespace=mock.namespace,
                                   endpoint=mock.base_url, timeout=1.5)
    start(provider, train)
    provider.get_job(start(provider, train).id)
    get_session().get(f"{mock.base_url}/api/whoami-v2")  # someone else's request
    assert hub_timeouts(mock, r"/whoami-v2$") == [caps(None)]
    with request_timeout(1.5):
        other = threading.Thread(
            target=lambda: get_session().get(f"{mock.base_url}/api/whoami-v2?other"))
        other.start()
        other.join()
        get_session().get(f"{mock.base_url}/api/whoami-v2?ours")
    assert hub_timeouts(mock, r"/whoami-v2$")[1:] == [caps(None), caps(1.5)]
    hooks = get_session().event_hooks["request"]
    assert len(hooks) == len(set(hooks)) and len(hooks) >= 2  # theirs kept, ours added once


@pytest.mark.parametrize("bad", [0, -5, "60", True])
def test_timeout_must_be_positive_seconds(bad):
    with pytest.raises(ConfigurationError, match="timeout"):
        HuggingFaceProvider(SENTINEL_SECRET, namespace="me", timeout=bad)


def test_held_answer_times_out_after_the_set_time_over_a_real_socket(monkeypatch, train):
    """huggingface_hub's shared client on a real socket: a held inspect_job fails in ~timeout
    (not never), as APITimeoutError, with no secret in the error or the repr."""
    import time

    import huggingface_hub.constants
    from faults_support import hang_after_processing
    from huggingface_hub.utils import close_session

    from finetune_sdk.testing.mock_servers.huggingface import HuggingFaceMockServer

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    server = HuggingFaceMockServer()
    with server.serve() as url:
        provider = HuggingFaceProvider(SENTINEL_SECRET, namespace=server.namespace, endpoint=url,
                                       retry=RetryPolicy(max_attempts=1), timeout=0.3)
        job = start(provider, train)
        try:
            with hang_after_processing(server, r"^GET /api/jobs/[^/]+/[^/]+$"):
                started = time.monotonic()
                with pytest.raises(APITimeoutError) as info:
                    provider.get_job(job.id)
                elapsed = time.monotonic() - started
        finally:
            close_session()  # its shared session would keep sockets to a server that is gone
    assert 0.3 <= elapsed < 3, elapsed
    assert SENTINEL_SECRET not in str(info.value)
    assert SENTINEL_SECRET not in repr(provider) and SENTINEL_SECRET not in repr(vars(provider))
