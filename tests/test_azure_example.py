"""examples/azure_openai_workflow.py runs against the Azure profile and the Azure mock, step by
step as a user would (ids kept in .env), and ends with the ARM deployment it needs."""

from __future__ import annotations

import runpy
import sys
import time
from pathlib import Path

import pytest

from finetune_sdk.config import env_file_values
from finetune_sdk.providers.openai.adapter import OpenAIProvider
from finetune_sdk.testing.mock_servers.openai_compatible import OpenAICompatibleMockServer

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "azure_openai_workflow.py"
KEY = "azk-example-SENTINEL-41d9"


@pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")
def test_azure_example_end_to_end(httpx2_mock, monkeypatch, tmp_path, capsys):
    mock = OpenAICompatibleMockServer.azure(resource="contoso", auto_advance=True)
    mock.mount(httpx2_mock)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FINETUNE_SDK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FINETUNE_PROVIDER", "azure-openai")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com/")
    for name in ("AZURE_OPENAI_BASE_URL", "AZURE_OPENAI_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(time, "sleep", lambda s: None)  # upload processing waits
    monkeypatch.setattr(OpenAIProvider, "poll_interval", lambda self: 0.0)  # job polling
    for step in ("prepare", "upload", "train", "status", "deploy"):
        monkeypatch.setattr(sys, "argv", [str(EXAMPLE), step])
        runpy.run_path(str(EXAMPLE), run_name="__main__")
    env = env_file_values(tmp_path / ".env")
    (job,) = mock.jobs.values()
    assert env["AZURE_FT_JOB_ID"] == job["id"] and job["status"] == "succeeded"
    assert env["AZURE_FT_MODEL"] == job["fine_tuned_model"]
    assert job["fine_tuned_model"].startswith("gpt-4.1-mini-2025-04-14.ft-")
    assert job["trainingType"] == "Standard" and job["suffix"] == "health-coach"
    assert all(r.url.path.startswith("/openai/v1/") for r in mock.requests)
    out = capsys.readouterr().out
    assert "needs a deployment first" in out
    assert "PUT https://management.azure.com/" in out and "/accounts/contoso/deployments/" in out
    assert KEY not in out
