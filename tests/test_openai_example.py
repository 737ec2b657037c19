"""examples/openai_workflow.py runs against the real OpenAI adapter and the OpenAI mock."""

from __future__ import annotations

import runpy
import sys
import time
from pathlib import Path

import pytest

from finetune_sdk.config import env_file_values
from finetune_sdk.providers.openai.adapter import OpenAIProvider
from finetune_sdk.testing.mock_servers.openai import OpenAIMockServer

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "openai_workflow.py"


@pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")
def test_openai_example_end_to_end(httpx2_mock, monkeypatch, tmp_path, capsys):
    mock = OpenAIMockServer(auto_advance=True)
    mock.mount(httpx2_mock)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FINETUNE_SDK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FINETUNE_PROVIDER", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-example-test")
    monkeypatch.setenv("OPENAI_BASE_URL", mock.base_url)
    monkeypatch.setattr(time, "sleep", lambda s: None)  # upload processing waits
    monkeypatch.setattr(OpenAIProvider, "poll_interval", lambda self: 0.0)  # job polling
    # every step except "test", which would call chat completions
    for step in ("prepare", "upload", "train", "status"):
        monkeypatch.setattr(sys, "argv", [str(EXAMPLE), step])
        runpy.run_path(str(EXAMPLE), run_name="__main__")
    env = env_file_values(tmp_path / ".env")
    (job,) = mock.jobs.values()
    assert env["OPENAI_FT_JOB_ID"] == job["id"] and job["status"] == "succeeded"
    assert env["OPENAI_FT_MODEL"] == job["fine_tuned_model"]
    assert env["OPENAI_TRAINING_FILE"] == job["training_file"]
    assert job["method"]["supervised"]["hyperparameters"]["n_epochs"] == 3
    assert "model ft:gpt-4.1-mini-2025-04-14:mock-org:health-coach:" in capsys.readouterr().out
