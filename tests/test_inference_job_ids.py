"""`finetune chat` / `finetune eval` given a job id: resolved through the ledger or the id's shape
(provider.get_job then resolve_model), with or without -p. A Vertex job id used to go to Vertex
as a model (404), and any job id failed once -p was passed (it was taken for a model id)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from finetune_sdk.cli import _register_commands
from finetune_sdk.cli.app import app
from finetune_sdk.client import Client
from finetune_sdk.errors import ConfigurationError
from finetune_sdk.inference import job_provider, resolve_target
from finetune_sdk.providers import fake_inference
from finetune_sdk.testing.mock_servers.openai import OpenAIMockServer
from finetune_sdk.testing.mock_servers.vertex import VertexMockServer
from finetune_sdk.types import JobStatus

SAMPLE = (Path(__file__).resolve().parents[1] / "finetune_sdk" / "data" / "samples"
          / "health_chats.jsonl")
QUESTION = "Is walking after dinner good for blood sugar?"
runner = CliRunner()
_register_commands()


def _fake_job(tmp_path: Path, *, ledger: bool = True) -> str:
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(SAMPLE.read_text().splitlines()[:20]) + "\n")
    client = Client("fake", ledger=None if ledger else False)
    return client.jobs.run(base_model="base", training_file=train, poll_interval=0.0).id


@pytest.mark.parametrize("with_p", [False, True])
def test_chat_with_a_fake_job_id_talks_to_the_tuned_model(tmp_path, with_p):
    job_id = _fake_job(tmp_path)
    before = dict(fake_inference.calls)
    args = ["chat", job_id, "-m", QUESTION] + (["-p", "fake"] if with_p else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    asked = {m for m, n in fake_inference.calls.items() if n > before.get(m, 0)}
    assert asked == {f"fake:ft-{job_id}"}  # the job's model, not the job id taken as a model
    assert "walking" in result.output  # the tuned fake reuses the question's words


def test_a_job_missing_from_the_ledger_is_found_by_its_shape(tmp_path):
    job_id = _fake_job(tmp_path, ledger=False)
    ref = resolve_target(job_id, "fake")
    assert ref.id == f"fake:ft-{job_id}" and ref.job_id == job_id
    assert resolve_target(job_id).id == ref.id  # the shape names the provider too


def test_eval_with_p_resolves_the_tuned_job(tmp_path):
    job_id = _fake_job(tmp_path)
    out = tmp_path / "report"
    result = runner.invoke(app, ["eval", "--base", "base", "--tuned", job_id, "-p", "fake",
                                 "--data", str(SAMPLE), "--limit", "10", "--out", str(out),
                                 "--no-cache"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    data = json.loads((out / "report.json").read_text())
    assert data["tuned"] == f"fake:ft-{job_id}" and data["base"] == "base"


def test_a_job_of_another_provider_says_which(tmp_path):
    job_id = _fake_job(tmp_path)
    with pytest.raises(ConfigurationError, match=f"job {job_id} ran on fake.*-p fake"):
        resolve_target(job_id, "openai")
    result = runner.invoke(app, ["chat", job_id, "-p", "openai", "-m", "hi"])
    assert result.exit_code == 2 and "ran on fake" in result.output


def test_model_ids_stay_model_ids():
    for model, provider in (("gpt-4o-mini", "openai"), ("ft:gpt-4o-mini:org::abc", None),
                            ("accounts/fireworks/models/llama-v3p1-8b-instruct", None),
                            ("projects/p/locations/l/endpoints/42", None),
                            ("HuggingFaceTB/SmolLM2-135M-Instruct", "huggingface")):
        assert job_provider(model, provider) is None, model
        ref = resolve_target(model, provider)
        assert ref.id == model and ref.job_id is None
    assert job_provider("projects/p/locations/l/tuningJobs/123") == "gemini"
    assert job_provider("123") is None and job_provider("123", "gemini") == "gemini"
    assert job_provider("ftjob-abc123") == "openai"
    assert job_provider("accounts/a/supervisedFineTuningJobs/ftsdk-1") == "fireworks"
    assert job_provider("ftsdk-1", "fireworks") == "fireworks"
    assert job_provider("me/0123456789abcdef01234567") == "huggingface"


# -- against the mock servers -----------------------------------------------------------------
@pytest.fixture
def vertex(httpx2_mock, monkeypatch) -> VertexMockServer:
    import google.auth
    from google.oauth2.credentials import Credentials

    mock = VertexMockServer()
    mock.mount(httpx2_mock)
    for name, value in {"GOOGLE_CLOUD_PROJECT": mock.project,
                        "GOOGLE_CLOUD_LOCATION": mock.location,
                        "GOOGLE_VERTEX_BASE_URL": mock.base_url}.items():
        monkeypatch.setenv(name, value)
    far = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=3650)
    creds = Credentials(token="ya29.test-token", expiry=far)
    monkeypatch.setattr(google.auth, "default", lambda *a, **k: (creds, mock.project))
    return mock


def _vertex_job(mock: VertexMockServer) -> str:
    mock.seed_jobs(1)
    [name] = mock.jobs
    mock.advance(name, JobStatus.SUCCEEDED)
    return name


@pytest.mark.parametrize("how", ["full name", "full name -p", "number -p"])
def test_chat_with_a_vertex_job_id_reaches_its_endpoint(vertex, how):
    name = _vertex_job(vertex)
    target = name.rsplit("/", 1)[1] if how.startswith("number") else name
    args = ["chat", target, "-m", QUESTION] + (["-p", "gemini"] if how.endswith("-p") else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    endpoint = vertex.jobs[name]["tunedModel"]["endpoint"]
    assert f"tuned answer from {endpoint.rsplit('/', 1)[1]}" in result.output
    [generate] = vertex.requests_to("POST", r":generateContent$")
    assert generate.url.path.endswith(f"{endpoint}:generateContent")


def test_the_vertex_mock_refuses_a_job_name_as_a_model(vertex):
    """What the old code sent: the job's name as the model (a 404 on Vertex too)."""
    from finetune_sdk import inference
    from finetune_sdk.errors import NotFoundError
    from finetune_sdk.types import ModelRef

    name = _vertex_job(vertex)
    with pytest.raises(NotFoundError):
        inference.chat(ModelRef(id=name, provider="gemini"), "hi", retry=None)


def test_openai_job_id_with_and_without_p(httpx2_mock, monkeypatch, tmp_path):
    mock = OpenAIMockServer()
    mock.mount(httpx2_mock)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", mock.base_url)
    train = tmp_path / "t.jsonl"
    train.write_text("\n".join(SAMPLE.read_text().splitlines()[:12]) + "\n")
    client = Client("openai", ledger=False, file_poll_interval=0)
    job = client.jobs.create(base_model="gpt-4.1-mini-2025-04-14", training_file=train)
    mock.advance(job.id, JobStatus.SUCCEEDED)
    for provider in ("openai", None):  # not in the ledger: the ftjob- shape says openai
        ref = resolve_target(job.id, provider)
        assert ref.provider == "openai" and ref.id.startswith("ft:") and ref.job_id == job.id
    from finetune_sdk.errors import NotFoundError

    with pytest.raises(NotFoundError, match="shape of openai job ids.*--provider"):
        resolve_target("ftjob-doesnotexist")
