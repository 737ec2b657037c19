"""The OpenAI-compatible providers from the shell: ``finetune providers`` lists them,
``validate`` / ``convert`` use each service's rules, ``models --tunable`` shows Azure's dates,
and ``finetune train -p azure-openai`` / ``-p nebius`` / ``-p openai-compatible`` run upload ->
create -> wait -> model id against the mock (through the official openai SDK), once per intent,
without ever printing the key."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from finetune_sdk.cli import _register_commands
from finetune_sdk.cli.app import app
from finetune_sdk.providers.openai.adapter import OpenAIProvider
from finetune_sdk.testing.conformance import write_chat_jsonl
from finetune_sdk.testing.mock_servers.openai_compatible import OpenAICompatibleMockServer

_register_commands()
runner = CliRunner()
KEY = "azk-SENTINEL-cli-5d2e8a"
_ENV = ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_RESOURCE", "NEBIUS_API_KEY", "NEBIUS_BASE_URL",
        "OPENAI_COMPATIBLE_API_KEY", "OPENAI_COMPATIBLE_BASE_URL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def invoke(*args: object):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture
def chats(tmp_path):
    return write_chat_jsonl(tmp_path / "chats.jsonl", 12)


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)  # file processing waits
    monkeypatch.setattr(OpenAIProvider, "poll_interval", lambda self: 0.0)  # job polling


def test_providers_lists_the_profiles_with_their_capabilities():
    result = invoke("providers", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["azure-openai"]["needs_deployment"] is True
    assert data["azure-openai"]["new_jobs_until"] is None  # not OpenAI's 2027-01-06
    assert data["azure-openai"]["sunset"].startswith("gpt-4.1 family: training until 2027-04-14")
    assert data["nebius"]["methods"] == ["sft"] and data["nebius"]["sunset"] is None
    generic = data["openai-compatible"]
    assert generic["installed"] and generic["pause_resume"] is False
    assert "azure-openai" in invoke("providers").output


def test_validate_uses_azures_rules(tmp_path, chats):
    assert invoke("validate", chats, "-p", "azure-openai").exit_code == 0
    few = write_chat_jsonl(tmp_path / "few.jsonl", 5)
    result = invoke("validate", few, "-p", "azure", "--json")
    assert result.exit_code == 2
    report = json.loads(result.output)
    assert report["provider"] == "azure-openai"
    assert [f["code"] for f in report["findings"]] == ["too_few_examples"]
    assert "azure-openai needs at least 10" in report["findings"][0]["message"]
    assert invoke("validate", few, "-p", "nebius").exit_code == 0  # no minimum known


def test_convert_writes_openai_wire_lines_for_each_profile(tmp_path, chats):
    for target, shown in (("azure", "azure-openai"), ("nebius", "nebius"),
                          ("openai-compatible", "openai-compatible")):
        out = tmp_path / f"{shown}.jsonl"
        result = invoke("convert", chats, "--to", target, "-o", out, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["target"] == shown
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(lines) == 12 and set(lines[0]) == {"messages"}


def test_models_tunable_shows_azures_dates():
    result = invoke("models", "--tunable", "-p", "azure-openai", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in json.loads(result.output)["models"]}
    assert rows["gpt-4.1-2025-04-14"]["jobs_until"] == "2027-04-14"
    assert rows["gpt-4.1-2025-04-14"]["shutdown"] == "2027-10-14"


def test_train_on_azure_runs_to_a_model_id_once_per_intent(httpx2_mock, monkeypatch, chats,
                                                           fast):
    mock = OpenAICompatibleMockServer.azure(auto_advance=True)
    mock.mount(httpx2_mock)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://ftsdk-mock.openai.azure.com/")
    # gpt-oss-20b: an open model (GlobalStandard only) with no dates, so today does not matter
    args = ("train", chats, "-p", "azure-openai", "-m", "gpt-oss-20b", "--suffix", "coach",
            "--option", "training_type=GlobalStandard", "--epochs", "2")
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    (job,) = mock.jobs.values()
    assert job["status"] == "succeeded" and job["trainingType"] == "GlobalStandard"
    assert f"model id: {job['fine_tuned_model']}" in result.output
    assert job["fine_tuned_model"].startswith("gpt-oss-20b.ft-")
    assert all(r.url.path.startswith("/openai/v1/") for r in mock.requests)
    again = invoke(*args)  # the same request attaches to the job it started
    assert again.exit_code == 0, again.output
    assert mock.job_count() == 1 and len(mock.requests_to("POST", r"fine_tuning/jobs$")) == 1
    assert KEY not in result.output + again.output


def test_train_refuses_a_long_azure_suffix_before_sending(httpx2_mock, monkeypatch, chats):
    mock = OpenAICompatibleMockServer.azure()
    mock.mount(httpx2_mock)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE", "ftsdk-mock")
    result = invoke("train", chats, "-p", "azure-openai", "-m", "gpt-oss-20b",
                    "--suffix", "a-suffix-of-19-char")
    assert result.exit_code != 0 and "over 18 characters" in result.output
    assert mock.requests == [] and KEY not in result.output


def test_train_without_azure_settings_names_them(monkeypatch, chats):
    result = invoke("train", chats, "-p", "azure-openai", "-m", "gpt-oss-20b")
    assert result.exit_code != 0
    assert "AZURE_OPENAI_API_KEY" in result.output or "AZURE_OPENAI_RESOURCE" in result.output


@pytest.mark.parametrize("provider, env", [
    ("nebius", {"NEBIUS_API_KEY": KEY}),
    ("openai-compatible", {"OPENAI_COMPATIBLE_API_KEY": KEY,
                           "OPENAI_COMPATIBLE_BASE_URL": "https://api.tokenfactory.nebius.com/v1"}),
])
def test_train_on_nebius_by_preset_or_by_base_url(httpx2_mock, monkeypatch, chats, fast,
                                                  provider, env):
    mock = OpenAICompatibleMockServer.nebius(auto_advance=True)
    mock.mount(httpx2_mock)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = invoke("train", chats, "-p", provider, "-m", "meta-llama/Llama-3.1-8B-Instruct",
                    "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    (job,) = mock.jobs.values()
    assert out["model"]["id"] == job["fine_tuned_model"] and out["job"]["provider"] == provider
    assert out["model"]["needs_deployment"] is False
    assert KEY not in result.output
